"""``portway run --reload``: restart the runtime whenever the project's code changes.

The runtime itself runs in a child process (``portway run`` without ``--reload``);
watchfiles watches the project's ``.py`` and ``.toml`` files, and on a change stops the
child with SIGINT (a graceful stop: running handlers finish, the rest is given back to
the queues) and starts a new one, which imports the changed code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchfiles import Change


RELOAD_CHILD = "PORTWAY_RELOAD_CHILD"


def die_with_watcher() -> None:
    """In the runtime a watcher started: exit when the watcher dies (Linux)."""
    if os.environ.pop(RELOAD_CHILD, None):
        from portway.local.worker import die_with_parent

        die_with_parent()


def run_with_reload(arguments: list[str], root: Path, state: Path) -> None:
    from watchfiles import PythonFilter, run_process

    watch_filter = PythonFilter(ignore_paths=[state], extra_extensions=(".toml",))
    command = [sys.executable, "-m", "portway", *arguments]

    def changed(changes: set[tuple[Change, str]]) -> None:
        files = sorted({Path(path).name for _, path in changes})
        print(f"portway: {', '.join(files)} changed; restarting", flush=True)

    # The runtime dies with this watcher, even when the watcher is killed outright.
    os.environ[RELOAD_CHILD] = "1"
    run_process(
        root,
        target=" ".join(_quote(part) for part in command),
        target_type="command",
        watch_filter=watch_filter,
        callback=changed,
        sigint_timeout=15,
    )


def _quote(part: str) -> str:
    import shlex

    return shlex.quote(part)
