"""Fixtures of the core deploy tests: a RecordStore kept in memory.

The core's record and lock rules are the same on every provider; each provider tests
its own store over the wire against its emulator. This one is portway's own protocol
in a dict, with the same conditions (create only if absent, replace only if the
version matches), not a fake of any cloud SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from portway.deploy.record import StageRecords


@dataclass
class MemoryStore:
    """A RecordStore in a dict: ``objects[key] = (body, version)``; versions count up."""

    objects: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    writes: int = 0

    def create(self, key: str, body: bytes) -> bool:
        if key in self.objects:
            return False
        return self._put(key, body)

    def replace(self, key: str, body: bytes, version: str) -> bool:
        if key not in self.objects or self.objects[key][1] != version:
            return False
        return self._put(key, body)

    def _put(self, key: str, body: bytes) -> bool:
        self.writes += 1
        self.objects[key] = (body, f"v{self.writes}")
        return True

    def read(self, key: str) -> tuple[bytes, str | None] | None:
        return self.objects.get(key)

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def location(self, key: str) -> str:
        return f"memory://{key}"

    def removal(self, key: str) -> str:
        return f"forget {key}"


@pytest.fixture
def stage() -> StageRecords:
    """The record and lock of app ``demo`` on stage ``prod``, in a fresh memory store."""
    return StageRecords(MemoryStore(), "demo", "prod")
