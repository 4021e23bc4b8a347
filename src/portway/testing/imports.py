"""What a piece of code imports, measured in a fresh interpreter.

Handler shims and ``import portway`` must stay light (no cloud SDK, no plugin scan), so
tests check the modules they load. The measure is *what the code added*: modules that
were already present when the interpreter finished starting are not counted. That start
set is not empty and differs between environments: a ``.pth`` file in site-packages runs
at start-up (functions-framework's namespace-package ``.pth`` registers the bare
``google`` and ``google.cloud`` namespaces in every interpreter of the environment),
which no code of portway's asked for.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

_PROBE = """\
import sys
_started_with = set(sys.modules)
{code}
_imported = sorted(set(sys.modules) - _started_with)
import json as _json
print(_json.dumps(_imported))
"""


def modules_imported_by(
    code: str, *, cwd: Path | None = None, interpreter_args: Sequence[str] = ()
) -> set[str]:
    """Run ``code`` in a fresh interpreter; return the modules it imported.

    Modules present before ``code`` ran (interpreter start-up, ``site`` and its ``.pth``
    files) are left out. Raises ``subprocess.CalledProcessError`` if ``code`` fails.
    """
    result = subprocess.run(
        [sys.executable, *interpreter_args, "-c", _PROBE.format(code=code)],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def cloud_sdk_modules(modules: set[str], roots: Sequence[str]) -> list[str]:
    """The names in ``modules`` that are ``roots`` or lie under one of them."""
    return sorted(
        name
        for name in modules
        if any(name == root or name.startswith(root + ".") for root in roots)
    )
