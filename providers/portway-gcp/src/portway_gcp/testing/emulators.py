"""Google's emulators on free ports, for the provider's tests and its conformance harness.

Each class starts one emulator process, waits until it answers, and stops it:

* :class:`PubSubEmulator`: Google's Pub/Sub emulator (Java, ~1-2 s to start here), served over
  gRPC on ``host:port``; clients reach it through ``PUBSUB_EMULATOR_HOST``.
* :class:`StorageEmulator`: ``gcp-storage-emulator`` (in memory), the Cloud Storage JSON
  API on ``http://host:port``; clients reach it through ``STORAGE_EMULATOR_HOST``.
* :class:`DrongoServer`: ``drongo``'s server, the Cloud Functions v2 and Cloud Scheduler
  REST APIs on ``http://host:port``; and, beside it, drongo's IAM Admin emulator. IAM
  Admin's client is gRPC only (``google.cloud.iam_admin_v1`` ships no REST transport) and
  ``drongo server`` serves REST only, so this module runs both in one process
  (``python -m portway_gcp.testing.emulators drongo --port P``), sharing drongo's
  in-memory state, and reports the IAM emulator's ``host:port`` as
  :attr:`DrongoServer.iam_endpoint`.

What each emulator really does (and does not: no Cloud Storage notifications, no
``if_generation_match``, schedules that never fire) is listed in DESIGN.md section 5.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from portway.errors import PortwayError
from portway.testing.ports import free_port

#: Overrides where Google's Pub/Sub emulator is looked for.
PUBSUB_EMULATOR_VARIABLE = "PORTWAY_PUBSUB_EMULATOR"
#: Where the Google Cloud SDK's package puts it (the ``google-cloud-cli-pubsub-emulator``
#: component of the Debian/Ubuntu packages).
DEFAULT_PUBSUB_EMULATOR = Path(
    "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"
)
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
HOST = "127.0.0.1"


class EmulatorUnavailable(PortwayError):
    """An emulator is not installed, or did not start (its output attached)."""


@dataclass(frozen=True, slots=True)
class EmulatorEndpoints:
    """Where running emulators listen, as a ``gcp`` stage's endpoint settings take them."""

    pubsub: str
    """``host:port`` of the Pub/Sub emulator."""
    storage: str
    """``http://host:port`` of the Cloud Storage emulator."""
    api: str
    """``http://host:port`` of drongo's REST server (Cloud Functions v2, Cloud Scheduler)."""
    iam: str
    """``host:port`` of the IAM Admin emulator (gRPC)."""

    def stage_settings(self, project: str, region: str) -> dict[str, str]:
        """The settings of a ``[stages.NAME]`` table with ``provider = "gcp"`` on them."""
        return {
            "project": project,
            "region": region,
            "pubsub_endpoint": self.pubsub,
            "storage_endpoint": self.storage,
            "api_endpoint": self.api,
            "iam_endpoint": self.iam,
        }


def pubsub_emulator_executable() -> str | None:
    """The Pub/Sub emulator launcher: ``$PORTWAY_PUBSUB_EMULATOR``, else the SDK's path."""
    configured = os.environ.get(PUBSUB_EMULATOR_VARIABLE)
    candidate = Path(configured) if configured else DEFAULT_PUBSUB_EMULATOR
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


def python_tool(name: str) -> str | None:
    """A console script ``name`` beside this interpreter (a virtualenv), else on ``PATH``."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    return shutil.which(name)


def answers(url: str) -> bool:
    """Whether an HTTP GET of ``url`` gets a 2xx answer."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


class _EmulatorProcess:
    """One emulator process whose output goes to ``log_path``."""

    #: Named in errors.
    title = "the emulator"
    #: How to install it, named when it is missing.
    install_hint = ""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """What clients are pointed at; set once :meth:`start` returned."""
        if self.port is None:
            raise EmulatorUnavailable(f"{self.title} is not running: call start() first")
        return self._endpoint(self.port)

    def _endpoint(self, port: int) -> str:
        return f"http://{HOST}:{port}"

    def installed(self) -> bool:
        """Whether the emulator can be started here."""
        return self._command(0) is not None

    def _command(self, port: int) -> list[str] | None:
        """The command line; ``None`` when the emulator is not installed."""
        raise NotImplementedError

    def _ready(self, port: int) -> bool:
        raise NotImplementedError

    def _prepare(self) -> None:
        """Called before the process starts."""

    def start(self) -> str:
        """Start the emulator on a free port; return its endpoint once it answers.

        Raises :class:`EmulatorUnavailable` when it is not installed, exits, or does not
        answer within :data:`START_TIMEOUT` seconds (with its output).
        """
        port = free_port()
        command = self._command(port)
        self._prepare()
        if command is None:
            raise EmulatorUnavailable(f"{self.title} is not installed: {self.install_hint}")
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._ready(port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                output = self.log_path.read_text(encoding="utf-8", errors="replace")
                raise EmulatorUnavailable(f"{self.title} did not start on port {port}:\n{output}")
            time.sleep(0.1)
        self.port = port
        return self.endpoint

    def stop(self) -> None:
        """Stop the process (terminate, then kill after :data:`STOP_TIMEOUT` seconds)."""
        process, self._process = self._process, None
        self.port = None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class PubSubEmulator(_EmulatorProcess):
    """Google's Pub/Sub emulator; :attr:`endpoint` is ``host:port`` (gRPC, no scheme),
    the value of ``PUBSUB_EMULATOR_HOST``."""

    title = "Google's Pub/Sub emulator"
    install_hint = (
        "install the Google Cloud SDK's pubsub emulator (apt-get install "
        f"google-cloud-cli-pubsub-emulator), or set {PUBSUB_EMULATOR_VARIABLE} to its launcher"
    )

    def _endpoint(self, port: int) -> str:
        return f"{HOST}:{port}"

    def _command(self, port: int) -> list[str] | None:
        executable = pubsub_emulator_executable()
        if executable is None:
            return None
        return [executable, f"--host={HOST}", f"--port={port}"]

    def _ready(self, port: int) -> bool:
        # Besides gRPC the emulator answers plain HTTP on the same port ("Ok" at /).
        return answers(f"http://{HOST}:{port}/")


class StorageEmulator(_EmulatorProcess):
    """``gcp-storage-emulator`` in memory; :attr:`endpoint` is ``http://host:port``,
    the value of ``STORAGE_EMULATOR_HOST``."""

    title = "gcp-storage-emulator"
    install_hint = "pip install gcp-storage-emulator (make test installs it)"

    def _command(self, port: int) -> list[str] | None:
        executable = python_tool("gcp-storage-emulator")
        if executable is None:
            return None
        return [executable, "start", "--host", HOST, "--port", str(port), "--in-memory"]

    def _ready(self, port: int) -> bool:
        return answers(f"http://{HOST}:{port}/")


class DrongoServer(_EmulatorProcess):
    """drongo's REST server and its IAM Admin gRPC emulator, in one process.

    :attr:`endpoint` is ``http://host:port`` (Cloud Functions v2, Cloud Scheduler);
    :attr:`iam_endpoint` is the IAM Admin emulator's ``host:port`` (gRPC, insecure).
    """

    title = "drongo's server"
    install_hint = "pip install drongo (make test installs it)"

    def __init__(self, log_path: Path) -> None:
        super().__init__(log_path)
        self._iam_file = log_path.with_suffix(".iam")

    @property
    def iam_endpoint(self) -> str:
        """``host:port`` of the IAM Admin emulator; set once :meth:`start` returned."""
        self.endpoint  # noqa: B018 - raises when not running
        return self._iam_file.read_text(encoding="utf-8").strip()

    def _command(self, port: int) -> list[str] | None:
        if importlib.util.find_spec("drongo") is None:
            return None
        return [
            sys.executable,
            "-m",
            "portway_gcp.testing.emulators",
            "drongo",
            "--port",
            str(port),
            "--iam-file",
            str(self._iam_file),
        ]

    def _prepare(self) -> None:
        # The file appears once the IAM emulator listens: a stale one must not count.
        self._iam_file.unlink(missing_ok=True)

    def _ready(self, port: int) -> bool:
        return self._iam_file.is_file() and answers(f"http://{HOST}:{port}/drongo/health")


def _serve_drongo(port: int, iam_file: Path) -> None:
    """Serve drongo's REST API on ``port`` and its IAM Admin emulator on a free port,
    written to ``iam_file`` once it listens."""
    from drongo.core import registry
    from drongo.server import create_server

    httpd = create_server(HOST, port)  # imports drongo's services, registering them
    (iam,) = [service for service in registry.iter_services() if service.name == "iam"]
    if iam.emulator is None:  # pragma: no cover - drongo changed shape
        raise SystemExit("drongo registers no IAM emulator")
    iam.emulator.start()
    address = getattr(iam.emulator, "address", None)
    if address is None:
        raise SystemExit("drongo's IAM emulator did not start (is grpcio installed?)")
    # It binds "localhost:0"; the IPv4 loopback is what the other emulators use.
    iam_file.write_text(address.replace("localhost", HOST), encoding="utf-8")
    print(f"drongo on http://{HOST}:{port}, IAM Admin on {address}", flush=True)
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()


def _main(arguments: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m portway_gcp.testing.emulators")
    parser.add_argument("emulator", choices=["drongo"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--iam-file", type=Path, required=True)
    options = parser.parse_args(arguments)
    _serve_drongo(options.port, options.iam_file)


if __name__ == "__main__":
    _main(sys.argv[1:])
