"""Record: what the last completed deploy left, and the lock that keeps deploys apart.

Every provider keeps, in storage of its own (an S3 bucket, a Cloud Storage bucket, a
blob container), two JSON documents per app and stage:

* ``deployments/<app>/<stage>.json`` (:func:`record_key`): the :class:`Record`, every
  resource with its spec hash and spec (``plan`` shows what changed from it), written
  only once every change succeeded. ``destroy`` works from it and from the marks on
  the resources, so it removes exactly what portway created even when the pipeline
  file changed or is gone.
* ``locks/<app>/<stage>.json`` (:func:`lock_key`): held while a deploy or destroy
  applies changes, created only if absent, so the storage itself refuses a second
  writer and two deploys of one stage cannot interleave; the loser's error names the
  holder (operation, host, pid, since) and how to remove a stale lock. A lock left by a
  killed process on this same machine is taken over.

The record is written conditionally on the version read before it (an ETag, a
generation), or only if absent for the first, so even a writer that bypassed the lock
cannot overwrite a record it did not read.

What a provider implements is a :class:`RecordStore` over its storage, four calls and
two strings; :class:`StageRecords` does the rest. The document's format (version 1)::

    {"version": 1, "app": "...", "stage": "...", "deployed_at": "2026-...+00:00",
     "resources": [{"kind", "name", "spec_hash", "spec", "neutral", <extra>...}]}

``<extra>``: provider strings kept per resource (AWS's ``arn``), read back into
:attr:`RecordedResource.extra`.

Porting a provider: delete its ``Record``/``RecordedResource`` classes, its lock and
record functions, ``_holder_is_dead`` and ``now``; write a store class (create: the
storage's "if none match" / ``if_generation_match=0`` / ``IfMissing``; replace: "if
match" on the token; a refused condition returns ``False``, any other error raises
:class:`~portway.errors.DeployError` naming the object and the fix); build records
with :meth:`Record.of`. A numeric version (a generation) travels as its decimal string.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from portway.errors import DeployError

if TYPE_CHECKING:
    from collections.abc import Callable

    from portway.deploy.reconcile import DesiredResource, Key

RECORD_VERSION = 1
_FIELDS = ("kind", "name", "spec_hash", "spec", "neutral")


def record_key(app: str, stage: str) -> str:
    """Where the record of ``app`` on ``stage`` lives in the provider's store."""
    return f"deployments/{app}/{stage}.json"


def lock_key(app: str, stage: str) -> str:
    """Where the lock of ``app`` on ``stage`` lives in the provider's store."""
    return f"locks/{app}/{stage}.json"


def now() -> str:
    """The current UTC time, to the second, as a record's ``deployed_at`` says it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class RecordedResource:
    """One resource of a completed deploy. ``key`` matches the provider's resource keys."""

    kind: str
    name: str
    spec_hash: str
    spec: Mapping[str, Any] = field(default_factory=dict)
    neutral: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> Key:
        return (self.kind, self.name)


@dataclass(frozen=True, slots=True)
class Record:
    """The last completed deploy of one app on one stage.

    ``version``: the store's version token as read (ETag, generation), for the
    conditional write of the next record; ``None`` for a record not read from a store.
    """

    app: str
    stage: str
    resources: tuple[RecordedResource, ...] = ()
    deployed_at: str = ""
    version: str | None = None

    @classmethod
    def of(
        cls,
        app: str,
        stage: str,
        resources: Iterable[DesiredResource],
        *,
        extra: Callable[[Any], Mapping[str, str]] | None = None,
    ) -> Record:
        """The record of a deploy of ``resources`` finishing now.

        ``extra(resource)``: provider strings to keep with each (``{"arn": ...}``).
        """
        return cls(
            app,
            stage,
            tuple(
                RecordedResource(
                    str(r.key[0]),
                    r.key[1],
                    r.spec_hash,
                    r.spec,
                    r.neutral,
                    dict(extra(r)) if extra is not None else {},
                )
                for r in resources
            ),
            now(),
        )

    def by_key(self) -> dict[Key, RecordedResource]:
        return {r.key: r for r in self.resources}

    def to_json(self) -> bytes:
        """The stored form: indented, keys sorted (a stable diff between versions)."""
        document = {
            "version": RECORD_VERSION,
            "app": self.app,
            "stage": self.stage,
            "deployed_at": self.deployed_at,
            "resources": [
                {
                    **r.extra,
                    "kind": r.kind,
                    "name": r.name,
                    "spec_hash": r.spec_hash,
                    "spec": dict(r.spec),
                    "neutral": r.neutral,
                }
                for r in self.resources
            ],
        }
        return json.dumps(document, indent=1, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, version: str | None) -> Record:
        """Parse a stored record; :class:`DeployError` saying so when it is unreadable."""
        try:
            document = json.loads(data)
            resources = tuple(_resource(r) for r in document["resources"])
            app, stage, deployed_at = document["app"], document["stage"], document["deployed_at"]
            if not all(isinstance(value, str) for value in (app, stage, deployed_at)):
                raise TypeError("app, stage and deployed_at must be strings")
            return cls(app, stage, resources, deployed_at, version)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise DeployError(
                f"the deploy record is unreadable ({type(error).__name__}: {error}); "
                f"it was not written by this version of portway"
            ) from None


def _resource(document: Mapping[str, Any]) -> RecordedResource:
    spec = document.get("spec", {})
    if not isinstance(spec, Mapping):
        raise TypeError(f"the spec of {document.get('name')!r} is not an object")
    extra = {key: str(value) for key, value in document.items() if key not in _FIELDS}
    return RecordedResource(
        str(document["kind"]),
        str(document["name"]),
        str(document["spec_hash"]),
        spec,
        str(document.get("neutral", "")),
        extra,
    )


class RecordStore(Protocol):
    """A provider's storage for records and locks: small objects, with conditions.

    Every call names an object by its key (:func:`record_key`, :func:`lock_key`).
    A refused condition is an answer (``False``); any other failure raises
    :class:`~portway.errors.DeployError` naming the object and the fix.
    """

    def create(self, key: str, body: bytes) -> bool:
        """Write ``key`` only if it does not exist; ``False`` if it does."""

    def read(self, key: str) -> tuple[bytes, str | None] | None:
        """``(body, version)`` of ``key``, or ``None`` if it (or its container) is missing."""

    def replace(self, key: str, body: bytes, version: str) -> bool:
        """Write ``key`` only if its version is still ``version``; ``False`` otherwise."""

    def delete(self, key: str) -> None:
        """Remove ``key``; already gone is fine."""

    def location(self, key: str) -> str:
        """Where ``key`` is, for messages (``s3://bucket/key``)."""

    def removal(self, key: str) -> str:
        """The command a user runs to remove ``key`` (``aws s3 rm s3://bucket/key``)."""


@dataclass(frozen=True, slots=True)
class StageRecords:
    """The record and the lock of ``app`` on ``stage``, in ``store``."""

    store: RecordStore
    app: str
    stage: str

    @property
    def record_key(self) -> str:
        return record_key(self.app, self.stage)

    @property
    def lock_key(self) -> str:
        return lock_key(self.app, self.stage)

    def read(self) -> Record | None:
        """The stage's record, or ``None`` if it was never deployed (or the store is new)."""
        stored = self.store.read(self.record_key)
        if stored is None:
            return None
        return Record.from_json(*stored)

    def write(self, record: Record, previous: Record | None) -> None:
        """Write ``record``, conditional on ``previous`` still being the one stored.

        ``previous`` ``None`` (or without a version): only if no record exists. Raises
        :class:`DeployError` when the condition fails: another deploy finished first.
        """
        body = record.to_json()
        if previous is not None and previous.version:
            written = self.store.replace(self.record_key, body, previous.version)
        else:
            written = self.store.create(self.record_key, body)
        if not written:
            raise DeployError(
                f"the deploy record of {self.app!r} on stage {self.stage!r} changed while "
                f"this deploy ran (another deploy finished first); run 'portway deploy "
                f"--stage {self.stage}' again to reconcile"
            )

    def delete(self) -> None:
        """Forget the stage's deployment (after a destroy); a missing record is fine."""
        self.store.delete(self.record_key)

    def acquire(self, operation: str) -> None:
        """Take the stage's lock for ``operation``, or raise :class:`DeployError` naming who
        holds it and how to remove the lock if no deploy is running."""
        holder = {
            "operation": operation,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "since": now(),
        }
        if self.store.create(self.lock_key, json.dumps(holder).encode("utf-8")):
            return
        current = self._holder()
        if current and _holder_is_dead(current):
            # Our own machine, a process that is gone: a deploy that was killed. Take over.
            self.release()
            return self.acquire(operation)
        who = (
            f"{current.get('operation', 'a deploy')} from {current.get('host')} "
            f"(pid {current.get('pid')}) since {current.get('since')}"
            if current
            else "another deploy"
        )
        raise DeployError(
            f"stage {self.stage!r} of {self.app!r} is locked by {who}; wait for it to "
            f"finish. If no deploy is running, remove the lock: "
            f"{self.store.removal(self.lock_key)}"
        )

    def release(self) -> None:
        """Release the stage's lock; already gone is fine."""
        self.store.delete(self.lock_key)

    @contextlib.contextmanager
    def locked(self, operation: str) -> Iterator[None]:
        """Hold the stage's lock for the block; released even when the block fails."""
        self.acquire(operation)
        try:
            yield
        finally:
            self.release()

    def _holder(self) -> dict[str, Any]:
        try:
            stored = self.store.read(self.lock_key)
            value = json.loads(stored[0]) if stored is not None else {}
        except (DeployError, ValueError):  # unreadable, or not portway's: no holder named
            return {}
        return value if isinstance(value, dict) else {}


def _holder_is_dead(holder: Mapping[str, Any]) -> bool:
    """Whether ``holder`` is a process of this machine that no longer runs."""
    if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
        return False
    pid = int(holder["pid"])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
