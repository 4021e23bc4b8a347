"""Cloud Run functions, played: each deployed function served by functions-framework.

The Cloud Functions API of the emulators stores a function but runs nothing. A
:class:`FunctionServer` runs it as Cloud Run does: the very source zip deploy uploaded,
unpacked (:func:`unpack_source`, its SHA-256 checked), served by ``functions-framework
--source <folder>/main.py --target <entry point>`` on a local port, one process per
function (one instance), with the function's deployed environment variables.

``PYTHONPATH`` puts the unpacked folder first, so the zip's ``portway`` and
``portway_gcp`` are what runs, not the ones installed here; the libraries named by the
zip's ``requirements.txt`` come from this interpreter's site-packages (Cloud Build's
``pip install`` is not played). Each process costs about 77 MB, so
:func:`start_servers` starts them all at once and waits for them together.

https://cloud.google.com/functions/docs/concepts/execution-environment
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from portway.errors import PortwayError
from portway.testing.harness import tail

START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
#: The variables of this interpreter's environment a function process inherits: what
#: any process needs (the rest of this machine's environment is not the function's).
INHERITED = ("PATH", "HOME", "TMPDIR", "SYSTEMROOT")


class FunctionServerError(PortwayError):
    """A function's source could not be unpacked, or its server did not start."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports nothing listened on a moment ago.

    The probes are held open together, so no two of the ports are the same (servers
    started at once must not race for one port).
    """
    probes = []
    try:
        for _ in range(count):
            probe = socket.socket()
            probes.append(probe)
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def unpack_source(archive: Path, sha256: str, folder: Path) -> Path:
    """Unpack the source zip ``archive`` into ``folder`` once its SHA-256 is ``sha256``.

    Returns ``folder``. Raises :class:`FunctionServerError` when the digest differs
    (the zip is not what was deployed) or the zip has no ``main.py`` at its root (Cloud
    Run functions' Python runtime loads ``main.py``).
    """
    data = archive.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise FunctionServerError(
            f"the source zip {archive} has SHA-256 {digest}, but the deployed function's "
            f"source is {sha256}: deploy again so both are the same build"
        )
    with zipfile.ZipFile(archive) as source:
        if "main.py" not in source.namelist():
            raise FunctionServerError(f"the source zip {archive} has no main.py at its root")
        folder.mkdir(parents=True, exist_ok=True)
        source.extractall(folder)
    return folder


class FunctionServer:
    """One functions-framework process serving one function (one Cloud Run instance).

    ``environment`` is the function's whole environment (deployed variables and the
    emulators' hosts); ``PORT``, ``PYTHONPATH`` and the variables Cloud Run sets are
    added here. :meth:`start` returns at once; :meth:`wait_ready` waits for the port.
    """

    def __init__(
        self,
        function: str,
        *,
        source: Path,
        entry_point: str,
        environment: Mapping[str, str],
        log_path: Path,
        service: str = "",
    ) -> None:
        self.function = function
        self.source = source
        self.entry_point = entry_point
        self.environment = dict(environment)
        self.log_path = log_path
        self.service = service or function
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: where the function answers once started."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def process_environment(self) -> dict[str, str]:
        """The environment of the server process: what Cloud Run gives an instance."""
        inherited = {name: os.environ[name] for name in INHERITED if name in os.environ}
        return {
            **inherited,
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            **self.environment,
            # Set by Cloud Run on every instance; functions-framework reads the last two.
            # https://cloud.google.com/run/docs/container-contract#env-vars
            "K_SERVICE": self.service,
            "K_REVISION": f"{self.service}-00001",
            "K_CONFIGURATION": self.service,
            "PORT": str(self.port),
            "FUNCTION_TARGET": self.entry_point,
            "FUNCTION_SIGNATURE_TYPE": "http",
            # The function's source comes first, as on Cloud Run where it is the
            # working directory and the installed packages come after it.
            "PYTHONPATH": str(self.source),
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, port: int | None = None) -> None:
        """Start the server process (in its own process group) on ``port`` (default: a
        free one)."""
        if self._process is not None:
            raise FunctionServerError(f"the server of function {self.function!r} is started")
        self.port = port or free_ports(1)[0]
        command = [
            sys.executable,
            "-m",
            "functions_framework",
            "--source",
            str(self.source / "main.py"),
            "--target",
            self.entry_point,
            "--signature-type",
            "http",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self.source,
                env=self.process_environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # gunicorn forks a worker: stop the group
            )

    def wait_ready(self, deadline: float) -> None:
        """Return once the port accepts connections; raise if the process ends first.

        functions-framework loads ``main.py`` before gunicorn binds the port, so an open
        port means the source imported; requests wait in the backlog until the worker runs.
        """
        process = self._process
        if process is None:
            raise FunctionServerError(f"the server of function {self.function!r} is not started")
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            if process.poll() is not None or time.monotonic() > deadline:
                state = "exited" if process.poll() is not None else "did not open its port"
                raise FunctionServerError(
                    f"the functions-framework server of function {self.function!r} {state}:\n"
                    + self.logs()
                )
            time.sleep(0.05)

    def logs(self, limit: int = 40) -> str:
        """The last ``limit`` lines the server wrote (Cloud Logging's place)."""
        try:
            return tail(self.log_path.read_text(encoding="utf-8", errors="replace"), limit)
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server and its worker (SIGTERM, then SIGKILL after a grace period)."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_servers(servers: Iterable[FunctionServer], timeout: float = START_TIMEOUT) -> None:
    """Start every server at once and wait until all answer; on failure stop them all."""
    started = list(servers)
    try:
        for server, port in zip(started, free_ports(len(started)), strict=True):
            server.start(port)
        deadline = time.monotonic() + timeout
        for server in started:
            server.wait_ready(deadline)
    except BaseException:
        stop_servers(started)
        raise


def stop_servers(servers: Iterable[FunctionServer]) -> None:
    """Stop every server: signal all first, so their grace periods overlap."""
    running = list(servers)
    for server in running:
        process = server._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    for server in running:
        server.stop()
