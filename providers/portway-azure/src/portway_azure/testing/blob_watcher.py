"""Storage's ``BlobCreated`` events, played: watch containers in Azurite, report each write.

On Azure the storage account publishes ``Microsoft.Storage.BlobCreated`` to its Event
Grid system topic when a blob is written (created or overwritten), whoever wrote it.
Azurite publishes nothing, so :class:`BlobWatcher` lists the watched containers and
calls ``created(container, key)`` for every blob that is new or whose ETag changed
since the last listing: a write by a test, by a function in a worker process, or by
anything else, as Azure would see it. Blobs present when the watcher starts are not
events. Two writes of one blob between two listings are reported once (the last).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

#: Seconds between two listings of the watched containers.
INTERVAL = 0.1


class BlobWatcher(threading.Thread):
    """Reports blob writes in ``containers`` (``ContainerClient``s) until :meth:`stop`."""

    def __init__(self, containers: list[Any], created: Callable[[str, str], object]) -> None:
        super().__init__(name="blob-watcher", daemon=True)
        self.containers = containers
        self.created = created
        self.stopping = threading.Event()
        self.errors: list[str] = []
        self._seen: dict[tuple[str, str], str] = {}
        self.ready = threading.Event()
        """Set once the blobs present at the start are listed (they are no events)."""

    def run(self) -> None:
        self._list(report=False)
        self.ready.set()
        while not self.stopping.wait(INTERVAL):
            self._list(report=True)

    def _list(self, *, report: bool) -> None:
        for container in self.containers:
            name = container.container_name
            try:
                listed = [(blob.name, str(blob.etag)) for blob in container.list_blobs()]
            except Exception as error:  # Azurite stopping, or a bug: keep watching
                if not self.stopping.is_set():
                    self.errors.append(f"listing {name}: {type(error).__name__}: {error}")
                continue
            for key, etag in listed:
                if self._seen.get((name, key)) == etag:
                    continue
                self._seen[(name, key)] = etag
                if not report:
                    continue
                try:
                    self.created(name, key)
                except Exception as error:  # reported in diagnostics; the next write is due
                    self.errors.append(f"{name}/{key}: {type(error).__name__}: {error}")

    def stop(self) -> None:
        self.stopping.set()
