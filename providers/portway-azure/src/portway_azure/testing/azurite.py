"""Azurite (Blob and Queue) on free ports, for the conformance harness and the provider's tests.

Azurite comes from npm with a lock file (``make test`` runs ``npm ci --prefix tools/azurite``);
its ``azurite-blob`` and ``azurite-queue`` scripts are looked up under
``tools/azurite/node_modules/.bin`` of the repository, or in the folder
``PORTWAY_AZURITE_BIN_DIR`` names. Each service runs as its own process on port ``0``:
Azurite binds a port the system chooses and prints it ("successfully listens on
http://127.0.0.1:PORT"), which :class:`Azurite` reads back, so no port is guessed and
none can be taken by another process between the choice and the bind.

Flags (https://github.com/Azure/Azurite#command-line-options): ``--skipApiVersionCheck``
because the Python SDK may speak a newer API version than Azurite 3.35 knows;
``--loose`` so headers Azurite does not implement are ignored instead of refused;
``--disableTelemetry``; ``--silent`` to keep the access log out of the log file (every
request would be written to it); ``--location`` a temporary folder, removed on stop.

Azurite's one account is the well-known development account ``devstoreaccount1``, with
its published key, in path-style URLs: ``http://127.0.0.1:PORT/devstoreaccount1``.
https://learn.microsoft.com/azure/storage/common/storage-use-azurite#http-connection-strings
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from portway.config import StageConfig
from portway.errors import PortwayError

#: A folder holding ``azurite-blob`` and ``azurite-queue``, instead of the repository's.
BIN_DIR_VARIABLE = "PORTWAY_AZURITE_BIN_DIR"
#: Azurite's development account and its published key (not a secret).
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0

_REPOSITORY_BIN = Path("tools") / "azurite" / "node_modules" / ".bin"
_LISTENING = re.compile(r"successfully listens on (http://[0-9.]+:\d+)")
_INSTALL_HINT = (
    "run 'make test' (it runs 'npm ci --prefix tools/azurite'), or set "
    f"{BIN_DIR_VARIABLE} to a folder holding azurite-blob and azurite-queue"
)


class AzuriteUnavailable(PortwayError):
    """Azurite is not installed, or did not start (its output attached)."""


def azurite_bin_dir() -> Path | None:
    """The folder of ``azurite-blob`` and ``azurite-queue``, or ``None`` if there is none.

    ``PORTWAY_AZURITE_BIN_DIR`` when set; else ``tools/azurite/node_modules/.bin`` in the
    first folder above this file, or above the working directory, that has one.
    """
    configured = os.environ.get(BIN_DIR_VARIABLE)
    if configured:
        folder = Path(configured)
        return folder if _has_scripts(folder) else None
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for parent in start.parents if start.is_file() else (start, *start.parents):
            candidate = parent / _REPOSITORY_BIN
            if _has_scripts(candidate):
                return candidate
    return None


def _has_scripts(folder: Path) -> bool:
    return all((folder / name).exists() for name in ("azurite-blob", "azurite-queue"))


def connection_string(blob_endpoint: str, queue_endpoint: str) -> str:
    """The connection string of Azurite's account at these endpoints (path-style URLs)."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint={blob_endpoint};QueueEndpoint={queue_endpoint};"
    )


class Azurite:
    """Azurite's Blob and Queue services, each its own process on a port of its own.

    :meth:`start` returns once both answer HTTP; :meth:`stop` ends both and removes
    their data. Usable as a context manager. Raises :class:`AzuriteUnavailable` when the
    scripts are missing or a service does not start (with its output).
    """

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir
        self.blob_endpoint: str | None = None
        """``http://127.0.0.1:PORT/devstoreaccount1`` once started."""
        self.queue_endpoint: str | None = None
        self._location: Path | None = None
        self._processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def connection_string(self) -> str:
        """The storage connection string of the running services."""
        if self.blob_endpoint is None or self.queue_endpoint is None:
            raise AzuriteUnavailable("Azurite is not running: call start() first")
        return connection_string(self.blob_endpoint, self.queue_endpoint)

    def start(self) -> Azurite:
        bin_dir = self.bin_dir or azurite_bin_dir()
        if bin_dir is None or not _has_scripts(bin_dir):
            raise AzuriteUnavailable(f"Azurite is not installed: {_INSTALL_HINT}")
        self._location = Path(tempfile.mkdtemp(prefix="portway-azurite-"))
        try:
            # Both processes start at once; each is then waited for.
            blob = self._launch(bin_dir, "blob")
            queue = self._launch(bin_dir, "queue")
            self.blob_endpoint = f"{self._wait(blob, 'blob')}/{ACCOUNT_NAME}"
            self.queue_endpoint = f"{self._wait(queue, 'queue')}/{ACCOUNT_NAME}"
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, bin_dir: Path, service: str) -> tuple[subprocess.Popen[bytes], Path]:
        assert self._location is not None
        data = self._location / service
        data.mkdir()
        log_path = self._location / f"azurite-{service}.log"
        command = [
            str(bin_dir / f"azurite-{service}"),
            f"--{service}Host",
            "127.0.0.1",
            f"--{service}Port",
            "0",
            "--location",
            str(data),
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
            "--silent",
        ]
        with log_path.open("wb") as log:
            try:
                process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            except OSError as error:  # no node on PATH, or a script that is not executable
                raise AzuriteUnavailable(
                    f"cannot run {command[0]} ({error}): {_INSTALL_HINT}"
                ) from None
        self._processes.append(process)
        return process, log_path

    def _wait(self, launched: tuple[subprocess.Popen[bytes], Path], service: str) -> str:
        """The service's ``http://host:port`` once it listens and answers HTTP."""
        process, log_path = launched
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            output = log_path.read_text(encoding="utf-8", errors="replace")
            found = _LISTENING.search(output)
            if found is not None and _answers(found.group(1)):
                return found.group(1)
            if process.poll() is not None or time.monotonic() > deadline:
                raise AzuriteUnavailable(f"azurite-{service} did not start:\n{output}")
            time.sleep(0.05)

    def stop(self) -> None:
        """End both services and remove their data; safe to call twice."""
        processes, self._processes = self._processes, []
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        location, self._location = self._location, None
        if location is not None:
            shutil.rmtree(location, ignore_errors=True)
        self.blob_endpoint = self.queue_endpoint = None


def _answers(endpoint: str) -> bool:
    """Whether an HTTP server answers at ``endpoint`` (any status counts)."""
    try:
        with urllib.request.urlopen(endpoint, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def azurite_stage(
    connection: str,
    *,
    name: str = "test",
    subscription: str = "00000000-0000-0000-0000-000000000000",
    resource_group: str = "portway-test-rg",
    location: str = "westeurope",
) -> StageConfig:
    """A stage of provider ``azure`` whose storage is the Azurite at ``connection``.

    The subscription, resource group and location are placeholders: they name the
    deploy's Azure resources but reach no Azure service when a connection string is set.
    """
    return StageConfig(
        name=name,
        provider="azure",
        settings={
            "subscription": subscription,
            "resource_group": resource_group,
            "location": location,
            "connection_string": connection,
        },
    )
