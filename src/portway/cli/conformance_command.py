"""``portway conformance --provider NAME``: the conformance suite against an installed provider.

It runs pytest, in a fresh interpreter, on a one-line test module written to a
temporary folder (``from portway.testing.suite import *``), with the plugin's
``--portway-provider NAME``: the same "fixture and import" a backend's own test suite
uses, the fixture here being the harness the provider offers. The exit code is
pytest's: 0 when every test passed or was skipped for a capability the provider does
not declare (each skip is listed with its reason).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from portway.cli.errors import EXIT_UNAVAILABLE, fail, reports_errors
from portway.providers import registry

SUITE_MODULE = '''"""The portway conformance suite, run by `portway conformance`."""

from portway.testing.suite import *  # noqa: F403
'''

# The user's own pytest configuration (from the current folder) is not read: the
# suite tests the provider, not the project, and must behave the same everywhere.
PYTEST_INI = """[pytest]
addopts = -ra --strict-markers
"""


@reports_errors
def conformance_command(
    provider: Annotated[str, typer.Option("--provider", "-p", help="Installed provider to test.")],
    keyword: Annotated[
        str | None,
        typer.Option(
            "-k", help="Only run tests matching this pytest expression.", show_default=False
        ),
    ] = None,
    exit_first: Annotated[
        bool, typer.Option("--exitfirst", "-x", help="Stop at the first failure.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="One line per test, with its outcome.")
    ] = False,
) -> None:
    """Run the conformance suite against an installed provider.

    Exits with pytest's code: 0 when every test passed or was skipped for a capability
    the provider does not declare.
    """
    if importlib.util.find_spec("pytest") is None:
        raise fail(
            "portway conformance runs on pytest, which is not installed: "
            + escape("pip install 'portway[testing]'"),
            EXIT_UNAVAILABLE,
        )
    # Fails here, in one line, for a provider that is not installed or has no harness.
    registry().provider(provider).conformance_harness()
    arguments = ["-p", "portway", "-p", "no:cacheprovider", "--portway-provider", provider]
    if keyword:
        arguments += ["-k", keyword]
    arguments += ["-x"] * exit_first + ["-v"] * verbose
    with tempfile.TemporaryDirectory(prefix="portway-conformance-suite-") as folder:
        root = Path(folder)
        (root / "test_conformance.py").write_text(SUITE_MODULE, encoding="utf-8")
        (root / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
        command = [sys.executable, "-m", "pytest", str(root), "-c", str(root / "pytest.ini")]
        code = subprocess.call([*command, "--rootdir", str(root), *arguments])
    raise typer.Exit(code)
