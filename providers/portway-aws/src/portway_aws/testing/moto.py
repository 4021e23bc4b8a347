"""A moto server on a free port, for the conformance harness and the provider's tests.

``moto_server -H 127.0.0.1 -p PORT`` (moto's ``[server]`` extra) serves every AWS API
moto emulates on one endpoint; it starts in about a second. The harness uses a running
one when ``PORTWAY_AWS_CONFORMANCE_ENDPOINT`` names it, and starts its own otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from portway.errors import PortwayError
from portway.testing.ports import free_port

#: A moto server already running (``http://127.0.0.1:PORT``), for the harness to use.
ENDPOINT_VARIABLE = "PORTWAY_AWS_CONFORMANCE_ENDPOINT"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


class MotoUnavailable(PortwayError):
    """``moto_server`` is not installed, or did not start (its output attached)."""


def moto_server_executable() -> str | None:
    """``moto_server`` beside this interpreter (a virtualenv), else on ``PATH``."""
    beside_python = Path(sys.executable).parent / "moto_server"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("moto_server")


class MotoServer:
    """One ``moto_server`` process; :meth:`start` returns its endpoint once it answers."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.endpoint: str | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        executable = moto_server_executable()
        if executable is None:
            raise MotoUnavailable(
                "moto_server is not installed: pip install 'moto[server]' (make test "
                f"installs it), or set {ENDPOINT_VARIABLE} to a running moto server"
            )
        port = free_port()
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [executable, "-H", "127.0.0.1", "-p", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT
        while not answers(endpoint):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                output = self.log_path.read_text(encoding="utf-8", errors="replace")
                raise MotoUnavailable(f"moto_server did not start on port {port}:\n{output}")
            time.sleep(0.1)
        self.endpoint = endpoint
        return endpoint

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def answers(endpoint: str) -> bool:
    """Whether a moto server answers at ``endpoint``."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
            return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def configured_endpoint() -> str | None:
    """The endpoint ``PORTWAY_AWS_CONFORMANCE_ENDPOINT`` names, if set."""
    return os.environ.get(ENDPOINT_VARIABLE) or None
