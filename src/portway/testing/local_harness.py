"""The local provider's harness: ``portway run`` in a subprocess, on a throwaway stage.

:meth:`LocalHarness.start` writes a project in a temporary folder (a ``portway.toml``
naming the pipeline and one local stage whose state lives in that folder), starts
``python -m portway run`` there exactly as a user would, and waits for the runtime to
announce itself in ``runtime.json`` (its pid and HTTP port). Dead letters are read
from the stage's database as ``portway dlq list`` reads them; :meth:`stop` sends
SIGTERM, the runtime's graceful stop, and removes the folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING

from portway.testing.harness import DeadLetter, HttpReply, tail
from portway.testing.workspace import (
    HarnessError,
    WorkspaceHarness,
    copy_pipeline_module,
    request_local,
)

if TYPE_CHECKING:
    from portway.config import ProjectConfig
    from portway.dataplane import Binding
    from portway.model import Pipeline

STAGE = "conformance"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

__all__ = ["HarnessError", "LocalHarness"]


class LocalHarness(WorkspaceHarness):
    """Runs the pipeline with ``portway run`` on a temporary local stage.

    ``workers``: worker processes of the runtime (two keep a slow handler from
    holding up the rest). ``keep``: leave the temporary folder behind, to inspect.
    """

    provider = "local"
    latency = 20.0
    poll_interval = 0.05

    def __init__(self, *, workers: int = 2, keep: bool = False) -> None:
        super().__init__(keep=keep)
        self.workers = workers
        self.port: int | None = None
        self._pipeline: Pipeline | None = None
        self._config: ProjectConfig | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, app: str, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self._config = None
        self.folder = self.open_workspace()
        # The pipeline's module travels into the project, as every cloud harness does,
        # so `portway run` imports it from there whatever the caller's sys.path was.
        app = copy_pipeline_module(app, self.folder)
        state = self.folder / "state"
        (self.folder / "portway.toml").write_text(
            f'app = "{app}"\n\n[stages.{STAGE}]\nprovider = "local"\npath = "{state}"\n',
            encoding="utf-8",
        )
        self._log = open(self.folder / "runtime.log", "w+b")  # noqa: SIM115 (kept to stop)
        command = [sys.executable, "-m", "portway", "run", "--stage", STAGE, "--port", "0"]
        # Not --quiet: a line per invocation, with its failure reason, is what
        # diagnostics() shows under a failed test.
        command += ["--workers", str(self.workers)]
        self._process = subprocess.Popen(
            command,
            cwd=self.folder,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Unbuffered, so the log is current when a failing test shows it.
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.port = self._wait_until_running(state / "runtime.json")

    def _wait_until_running(self, info: Path) -> int | None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise HarnessError(
                    f"portway run exited with code {self._process.returncode} before it "
                    f"was ready; its output:\n{self.diagnostics()}"
                )
            with contextlib.suppress(FileNotFoundError, ValueError):
                port = json.loads(info.read_text(encoding="utf-8"))["port"]
                return int(port) if port is not None else None
            time.sleep(0.02)
        raise HarnessError(
            f"portway run did not write {info} within {START_TIMEOUT:g}s; its output:\n"
            f"{self.diagnostics()}"
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        self.close_workspace()

    def diagnostics(self) -> str:
        if self.folder is None:
            return ""
        try:
            text = (self.folder / "runtime.log").read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return tail(text) if text.strip() else "(portway run printed nothing)"

    # -- data plane ------------------------------------------------------------------

    @contextlib.contextmanager
    def connect(self) -> Iterator[Binding]:
        with self._deployed().connect(STAGE, config=self._project()) as binding:
            yield binding

    def _deployed(self) -> Pipeline:
        if self._pipeline is None or self.folder is None:
            raise self.not_started()
        return self._pipeline

    def _project(self) -> ProjectConfig:
        if self._config is None:
            from portway.config import load_project

            self._config = load_project(self.folder)
        return self._config

    def dead_letters(self, source: str) -> list[DeadLetter]:
        from portway.local import messages
        from portway.local.channels import find_channel
        from portway.local.database import connect
        from portway.local.provider import LocalProvider
        from portway.providers import registry

        pipeline = self._deployed()
        stage = self._project().stage(STAGE)
        provider = registry().provider("local")
        assert isinstance(provider, LocalProvider)
        channel = find_channel(pipeline, source)
        connection = connect(provider.layout(stage))
        try:
            letters = messages.dead_letters(connection, channel.name)
        finally:
            connection.close()
        return [DeadLetter(d.id, d.body, d.attributes, d.attempts, d.reason) for d in letters]

    def http(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> HttpReply:
        self._deployed()
        if self.port is None:
            raise HarnessError("the pipeline has no HTTP route, so portway run serves no port")
        return request_local(self.port, method, path, body=body, headers=headers)
