"""Fixtures of the local provider's tests: its stage database, and ``portway run`` for real."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from portway.local.database import StageLayout, connect

STAGE_CONFIG = 'app = "pipeline:app"\n\n[stages.dev]\nprovider = "local"\n'


class LocalRun:
    """A project in a temporary folder and its ``portway run`` process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / ".portway" / "dev"
        self.process: subprocess.Popen[str] | None = None
        self.log = root / "run.log"

    def start(self, *arguments: str, wait: bool = True) -> LocalRun:
        info = self.state / "runtime.json"
        info.unlink(missing_ok=True)
        with self.log.open("a") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "portway", "run", "--workers", "2", *arguments],
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        if wait:
            _wait_until(lambda: info.exists() or self.process.poll() is not None, 60, "start")
            if self.process.poll() is not None:
                raise AssertionError(f"portway run exited at start:\n{self.output()}")
        return self

    @property
    def port(self) -> int:
        return int(json.loads((self.state / "runtime.json").read_text())["port"])

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait; return the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def portway(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run another ``portway`` command in the project."""
        result = subprocess.run(
            [sys.executable, "-m", "portway", *arguments],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"portway {' '.join(arguments)} failed:\n{result.stderr}")
        return result

    def read(self, name: str) -> list[str]:
        """Lines handlers appended to ``<project>/seen/<name>``."""
        path = self.root / "seen" / name
        return path.read_text().splitlines() if path.exists() else []


def _wait_until(condition: Callable[[], object], seconds: float, what: str) -> None:
    """Poll ``condition`` until it is true; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        time.sleep(0.02)


RECORDER = '''
import os

def record(name: str, line: str) -> None:
    """Append one line to seen/<name> (one write: atomic with O_APPEND)."""
    os.makedirs("seen", exist_ok=True)
    descriptor = os.open(os.path.join("seen", name), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(descriptor, (line + "\\n").encode())
    finally:
        os.close(descriptor)
'''


@pytest.fixture
def wait_until() -> Callable[[Callable[[], object], float, str], None]:
    """``wait_until(condition, seconds, what)``: poll with a deadline, fail naming what."""
    return _wait_until


@pytest.fixture
def local_run(tmp_path: Path) -> Iterator[Callable[[str], LocalRun]]:
    """``local_run(pipeline_source)``: write the project; the run is stopped afterwards.

    The pipeline source can call ``record(name, line)`` to leave observations.
    """
    runs: list[LocalRun] = []

    def make(source: str, config: str = STAGE_CONFIG) -> LocalRun:
        (tmp_path / "pipeline.py").write_text(RECORDER + textwrap.dedent(source), encoding="utf-8")
        (tmp_path / "portway.toml").write_text(config, encoding="utf-8")
        run = LocalRun(tmp_path)
        runs.append(run)
        return run

    yield make
    for run in runs:
        if run.process is not None and run.process.poll() is None:
            run.process.terminate()  # a graceful stop, so a --reload watcher stops its child
            try:
                run.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                run.process.kill()
                run.process.wait()
    os.environ.pop("PORTWAY_STAGE", None)


@pytest.fixture
def layout(tmp_path: Path) -> StageLayout:
    """A local stage's folders in a temporary directory."""
    return StageLayout(tmp_path / "stage")


@pytest.fixture
def db(layout: StageLayout) -> Iterator[sqlite3.Connection]:
    """The stage database, opened as the store opens it."""
    connection = connect(layout)
    yield connection
    connection.close()
