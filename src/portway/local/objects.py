"""Buckets as folders: atomic writes whose object-created events are never lost.

Object ``a/b.csv`` of bucket ``landing`` is the file
``.portway/<stage>/buckets/landing/a/b.csv``. A write is atomic and its events durable:

1. the bytes go to a temporary file in ``.portway/<stage>/tmp/`` (same file system);
2. a *pending write* row records the write (bucket, key, temporary name, etag, the
   writer's pid) and is committed;
3. the temporary file is renamed over the object (readers see the old or the new
   bytes, never a mix);
4. one transaction deletes the pending row and records an object-created event for
   every matching trigger.

A writer killed between 3 and 4 leaves a pending row whose temporary file is gone:
:func:`recover` (run by ``portway run`` at start and whenever a worker dies) finishes
such writes by recording their events. A pending row whose temporary file is still
there is a write that never completed: its file is removed and no event is recorded,
as the writer never reported success.

Tracing: every write is a span of its own (trigger ``write``, subject ``bucket/key``,
function ``""``): a child of the running invocation's span, or the root of a new trace
when written by ``portway put`` or a script. The pending row keeps its
``traceparent``; the transaction of step 4 records the span, and the object-created
events carry that ``traceparent``, so their handlers' spans are its children and
:func:`portway.local.traces.trace_of_object` finds the trace.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from portway import tracing
from portway.errors import InvalidKey
from portway.events import ObjectEvent
from portway.keys import check_key
from portway.local import messages, traces
from portway.local.database import StageLayout, transaction
from portway.payload import OutgoingMessage

CLOUDEVENT_JSON = "application/cloudevents+json"
# The longest file name most file systems take (ext4, APFS, NTFS): a key segment
# longer than this is valid in the clouds but cannot be a local file.
MAX_SEGMENT_BYTES = 255
# A temporary file older than this with no pending row belongs to a writer that died
# before recording it (nothing was promised for it): it is swept away.
ORPHAN_AGE_SECONDS = 3600.0

# Given (bucket, key), the channels that get its object-created event.
ChannelsFor = Callable[[str, str], list[str]]


@dataclass(frozen=True, slots=True)
class WrittenObject:
    bucket: str
    key: str
    size: int
    etag: str
    events: int


class Buckets:
    """The bucket folders of one stage. Paths are checked on every call."""

    def __init__(self, layout: StageLayout, *, durable: bool = False) -> None:
        self.layout = layout
        self.durable = durable

    def path(self, bucket: str, key: str) -> Path:
        """The file of ``key``; :class:`InvalidKey` if it is unsafe or not storable here."""
        check_key(key, bucket=bucket)
        for segment in key.split("/"):
            if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
                raise InvalidKey(
                    f"bucket {bucket!r}: key {key!r} has a segment longer than "
                    f"{MAX_SEGMENT_BYTES} bytes, which the local provider cannot store as a "
                    f"file name; shorten it"
                )
        root = self.layout.bucket(bucket)
        target = root.joinpath(*key.split("/"))
        # check_key refused every spelling of '..'; this also catches a symbolic link
        # inside the bucket folder pointing out of it.
        if not _inside(os.path.realpath(target), os.path.realpath(root)):
            raise InvalidKey(f"bucket {bucket!r}: key {key!r} resolves outside the bucket")
        return target

    def read(self, bucket: str, key: str) -> bytes:
        target = self.path(bucket, key)
        try:
            return target.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise KeyError(f"bucket {bucket!r} has no object {key!r}") from None

    def list(self, bucket: str, prefix: str) -> list[str]:
        root = self.layout.bucket(bucket)
        # Walk only the deepest folder the prefix names for sure.
        folder = prefix.rpartition("/")[0]
        start = root.joinpath(*folder.split("/")) if folder else root
        if folder and ".." in folder.split("/"):
            return []
        # As in path(): a symbolic link inside the bucket folder pointing out of it holds
        # no key (read() would refuse it), so listing does not show what lies beyond it.
        real_root = os.path.realpath(root)
        if not _inside(os.path.realpath(start), real_root, or_equal=True):
            return []
        keys: list[str] = []
        for directory, _, files in os.walk(start):
            relative = os.path.relpath(directory, root)
            base = "" if relative == "." else relative.replace(os.sep, "/") + "/"
            for name in files:
                key = base + name
                file = os.path.join(directory, name)
                if key.startswith(prefix) and (
                    not os.path.islink(file) or _inside(os.path.realpath(file), real_root)
                ):
                    keys.append(key)
        return sorted(keys)

    def delete(self, bucket: str, key: str) -> None:
        target = self.path(bucket, key)
        try:
            target.unlink()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return
        # Drop the folders the key made, so that the key 'a' can be written again
        # after 'a/b' is deleted.
        root = self.layout.bucket(bucket)
        parent = target.parent
        while parent != root:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def write(
        self,
        connection: sqlite3.Connection,
        bucket: str,
        key: str,
        data: bytes,
        channels_for: ChannelsFor,
    ) -> WrittenObject:
        """Store ``data`` at ``key`` atomically and record its object-created events."""
        target = self.path(bucket, key)
        self._check_storable(bucket, key, target)
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        write_id = messages.new_id()
        caller = tracing.current()
        span = caller.child() if caller is not None else tracing.TraceContext.new_root()
        started = time.time()
        temporary = self.layout.temporary / f"{write_id}.part"
        self.layout.temporary.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as file:
            file.write(data)
            if self.durable:
                file.flush()
                os.fsync(file.fileno())
        try:
            with transaction(connection):
                connection.execute(
                    "INSERT INTO pending_writes (id, bucket, key, temp, etag, size, writer, "
                    "started, traceparent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        write_id,
                        bucket,
                        key,
                        temporary.name,
                        etag,
                        len(data),
                        os.getpid(),
                        started,
                        span.traceparent,
                    ),
                )
            self._place(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            with transaction(connection):
                connection.execute("DELETE FROM pending_writes WHERE id = ?", (write_id,))
            raise
        parent = caller.span_id if caller is not None else None
        with transaction(connection):
            events = _finish(
                connection,
                write_id,
                bucket,
                key,
                etag,
                len(data),
                channels_for,
                _Written(span.traceparent, parent, started, "ok"),
            )
        return WrittenObject(bucket, key, len(data), etag, events)

    def _check_storable(self, bucket: str, key: str, target: Path) -> None:
        root = self.layout.bucket(bucket)
        parent = target.parent
        while parent != root:
            if parent.is_file():
                taken = parent.relative_to(root).as_posix()
                raise InvalidKey(
                    f"bucket {bucket!r}: key {key!r} cannot be stored locally because "
                    f"{taken!r} is an object (a local bucket is a folder); delete it first "
                    f"or pick another key"
                )
            parent = parent.parent
        if target.is_dir():
            raise InvalidKey(
                f"bucket {bucket!r}: key {key!r} cannot be stored locally because other keys "
                f"start with {key + '/'!r} (a local bucket is a folder); pick another key"
            )

    def _place(self, temporary: Path, target: Path) -> None:
        for _ in range(3):
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(temporary, target)
                break
            except FileNotFoundError:
                # A concurrent delete removed the (then empty) folder: make it again.
                if not temporary.exists():
                    raise
        else:
            os.replace(temporary, target)
        if self.durable:
            descriptor = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)


def _inside(path: str, real_root: str, *, or_equal: bool = False) -> bool:
    """True if the resolved ``path`` lies within the resolved bucket folder ``real_root``."""
    return path.startswith(real_root + os.sep) or (or_equal and path == real_root)


@dataclass(frozen=True, slots=True)
class _Written:
    """The span of a write: its context, its parent's span id, when it began, outcome."""

    traceparent: str | None
    parent_span_id: str | None
    started: float
    outcome: str


def _finish(
    connection: sqlite3.Connection,
    write_id: str,
    bucket: str,
    key: str,
    etag: str,
    size: int,
    channels_for: ChannelsFor,
    written: _Written,
) -> int:
    """Inside a transaction: drop the pending row, record the span and the events."""
    deleted = connection.execute("DELETE FROM pending_writes WHERE id = ?", (write_id,)).rowcount
    if not deleted:
        return 0  # recovered by a runtime meanwhile: its events are recorded already
    now = time.time()
    # A write pending from before schema 2 has no context: it starts a trace here.
    context = tracing.parse_traceparent(written.traceparent) or tracing.TraceContext.new_root()
    traces.record(
        connection,
        [
            (
                context.trace_id,
                context.span_id,
                written.parent_span_id,
                "",
                "write",
                f"{bucket}/{key}",
                written.started,
                max(0.0, now - written.started),
                written.outcome,
                None,
            )
        ],
    )
    channels = channels_for(bucket, key)
    if not channels:
        return 0
    event = ObjectEvent(
        id=write_id,
        source=f"/portway/local/buckets/{bucket}",
        bucket=bucket,
        key=key,
        size=size,
        etag=etag,
        traceparent=context.traceparent,
    )
    body = OutgoingMessage(event.to_json().encode("utf-8"), CLOUDEVENT_JSON)
    messages.enqueue(
        connection,
        [(c, body) for c in channels],
        now,
        message_id=write_id,
        traceparent=context.traceparent,
    )
    return len(channels)


def recover(
    connection: sqlite3.Connection,
    layout: StageLayout,
    channels_for: ChannelsFor,
    *,
    alive: Callable[[int], bool] | None = None,
) -> tuple[int, int]:
    """Finish or undo the writes of writers that died; return ``(finished, undone)``.

    A write whose writer (by pid) is still alive is left to it.
    """
    is_alive = alive or _process_alive
    rows = connection.execute(
        "SELECT id, bucket, key, temp, etag, size, writer, started, traceparent FROM pending_writes"
    ).fetchall()
    finished = undone = 0
    for write_id, bucket, key, temp, etag, size, writer, started, traceparent in rows:
        if writer != os.getpid() and is_alive(writer):
            continue
        temporary = layout.temporary / temp
        if temporary.exists():
            temporary.unlink(missing_ok=True)
            with transaction(connection):
                connection.execute("DELETE FROM pending_writes WHERE id = ?", (write_id,))
            undone += 1
        else:
            # The writer's own parent span id died with it: the span hangs from no parent.
            written = _Written(traceparent, None, float(started), "recovered")
            with transaction(connection):
                _finish(connection, write_id, bucket, key, etag, size, channels_for, written)
            finished += 1
    _sweep_orphans(layout, {row[3] for row in rows})
    return finished, undone


def _sweep_orphans(layout: StageLayout, pending: set[str]) -> None:
    cutoff = time.time() - ORPHAN_AGE_SECONDS
    try:
        entries = list(os.scandir(layout.temporary))
    except FileNotFoundError:
        return
    for entry in entries:
        try:
            if entry.name not in pending and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
        except OSError:
            continue


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
