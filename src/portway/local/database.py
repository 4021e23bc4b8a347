"""The stage's SQLite database: where it lives, how it is opened, one transaction rule.

Everything durable about a local stage (messages in flight, dead letters, pending
object writes, schedule ticks) is in one SQLite database in WAL mode, at
``.portway/<stage>/state.db``. Many processes open it at once: the runtime, its
workers (a handler's ``jobs.send()``), ``portway send`` and scripts using
``app.connect()``.

The schema has a version (``meta.schema_version``); opening a database of an older
version migrates it in place (:data:`_MIGRATIONS`), in the same transaction.
Version 2 added the W3C ``traceparent`` of messages, dead letters and pending writes,
and the ``spans`` table (:mod:`portway.local.traces`).

Durability: ``synchronous=NORMAL`` by default. In WAL mode a committed transaction then
survives a killed process (SIGKILL, out of memory), which is what a local run meets;
an operating-system crash or power loss may roll back the last commits. The stage
setting ``sync = "full"`` makes every commit (and every object write) reach the disk.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from portway.errors import ConfigError, PortwayError

SCHEMA_VERSION = 2
DEFAULT_ROOT = ".portway"

Sync = Literal["normal", "full"]

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- One row per message waiting for, or in, a delivery. A channel is what one function
-- consumes: a queue, a topic subscription, an object trigger or a schedule.
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    channel TEXT NOT NULL,
    body BLOB NOT NULL,
    content_type TEXT NOT NULL,
    attributes TEXT NOT NULL,
    published REAL NOT NULL,
    visible_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease TEXT,
    last_error TEXT,
    last_error_at REAL,
    traceparent TEXT
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (channel, visible_at, seq);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    channel TEXT NOT NULL,
    body BLOB NOT NULL,
    content_type TEXT NOT NULL,
    attributes TEXT NOT NULL,
    published REAL NOT NULL,
    attempts INTEGER NOT NULL,
    reason TEXT NOT NULL,
    failed_at REAL NOT NULL,
    traceparent TEXT,
    UNIQUE (channel, id)
);
-- An object write in progress: recorded before the file is placed, removed in the
-- same transaction that records its object-created events (see objects.py).
CREATE TABLE IF NOT EXISTS pending_writes (
    id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    temp TEXT NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    writer INTEGER NOT NULL,
    started REAL NOT NULL,
    traceparent TEXT
);
CREATE TABLE IF NOT EXISTS schedule_ticks (
    function TEXT PRIMARY KEY,
    last_tick REAL NOT NULL
);
"""
    + """
-- One row per invocation of a function per message (or object write): see traces.py.
-- seq is the rowid (not AUTOINCREMENT, which costs a write per insert): retention
-- deletes the oldest rows, never the newest, so it keeps growing.
CREATE TABLE IF NOT EXISTS spans (
    seq INTEGER PRIMARY KEY,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    function TEXT NOT NULL,
    trigger TEXT NOT NULL,
    subject TEXT NOT NULL,
    started REAL NOT NULL,
    duration REAL NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT
);
-- No index on trace_id nor on every subject: a random key's index dirties one page
-- per span in every commit (~20 us a span, a third of the runtime's throughput);
-- readers scan instead (see traces.py). Writes are rare: their subjects are indexed.
CREATE INDEX IF NOT EXISTS spans_written ON spans (subject) WHERE trigger = 'write';
"""
)

# Schema changes from each version to the next, applied in place in one transaction
# (a stage's state survives an upgrade of portway).
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "ALTER TABLE messages ADD COLUMN traceparent TEXT",
        "ALTER TABLE dead_letters ADD COLUMN traceparent TEXT",
        "ALTER TABLE pending_writes ADD COLUMN traceparent TEXT",
        # the spans table and its indexes come from _SCHEMA (CREATE ... IF NOT EXISTS)
    ),
}

# How long a writer waits for the write lock before giving up with a clear error.
LOCK_WAIT_SECONDS = 30.0


class StoreError(PortwayError):
    """The stage's local state cannot be opened or is not portway's."""


@dataclass(frozen=True, slots=True)
class StageLayout:
    """Where a local stage keeps its state: ``<root>/state.db``, ``buckets/``, ``tmp/``."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / "state.db"

    @property
    def buckets(self) -> Path:
        return self.root / "buckets"

    @property
    def temporary(self) -> Path:
        """Where object writes are staged before the rename (same file system)."""
        return self.root / "tmp"

    @property
    def lock(self) -> Path:
        """Held by the one ``portway run`` of this stage."""
        return self.root / "runtime.lock"

    @property
    def runtime_info(self) -> Path:
        """Written by a running runtime: its pid and HTTP port (JSON)."""
        return self.root / "runtime.json"

    def bucket(self, name: str) -> Path:
        return self.buckets / name

    def create(self) -> None:
        for folder in (self.root, self.buckets, self.temporary):
            folder.mkdir(parents=True, exist_ok=True)


def stage_layout(project_root: Path, stage: str, settings: dict[str, Any]) -> StageLayout:
    """The layout of ``stage``: ``path`` from its settings, else ``.portway/<stage>``."""
    configured = settings.get("path")
    root = Path(configured) if configured else Path(DEFAULT_ROOT) / stage
    if not root.is_absolute():
        root = project_root / root
    return StageLayout(root)


def sync_mode(settings: dict[str, Any]) -> Sync:
    value = settings.get("sync", "normal")
    if value not in ("normal", "full"):
        raise ConfigError(f"stage setting sync must be 'normal' or 'full', got {value!r}")
    return "full" if value == "full" else "normal"


def connect(layout: StageLayout, sync: Sync = "normal") -> sqlite3.Connection:
    """Open the stage's database (creating it and its folders on first use).

    The connection is in autocommit mode: every write goes through :func:`transaction`.
    """
    layout.create()
    try:
        # timeout=0: waiting for the write lock is done by transaction() (see there).
        connection = sqlite3.connect(
            layout.database, timeout=0, isolation_level=None, check_same_thread=False
        )
        _retry_locked(lambda: connection.execute("PRAGMA journal_mode=WAL"))
        connection.execute(f"PRAGMA synchronous={sync.upper()}")
        with transaction(connection):
            _create_schema(connection)
    except sqlite3.DatabaseError as error:
        raise StoreError(
            f"cannot open the local state {layout.database}: {error}; "
            f"move the folder {layout.root} aside to start the stage afresh"
        ) from None
    return connection


def _create_schema(connection: sqlite3.Connection) -> None:
    row = connection.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='meta'"
    ).fetchone()
    if row is not None:
        version = connection.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if version is not None and int(version[0]) == SCHEMA_VERSION:
            return
        if version is not None and int(version[0]) > SCHEMA_VERSION:
            raise StoreError(
                f"the local state was written by a newer portway (schema {version[0]}); "
                f"upgrade portway"
            )
        if version is not None:
            for old in range(int(version[0]), SCHEMA_VERSION):
                for change in _MIGRATIONS[old]:
                    connection.execute(change)
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            connection.execute(statement)
    connection.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
        (str(SCHEMA_VERSION),),
    )


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in one write transaction (``BEGIN IMMEDIATE``), committed at the end.

    Taking the write lock at ``BEGIN`` means a transaction never fails half-way on a
    lock. Waiting for the lock is done here, in short sleeps, rather than by SQLite's
    busy handler whose first sleep is a whole millisecond: the runtime's transactions
    last tens of microseconds, and several processes write.
    """
    _begin(connection)
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _begin(connection: sqlite3.Connection) -> None:
    _retry_locked(lambda: connection.execute("BEGIN IMMEDIATE"))


T = TypeVar("T")


def _retry_locked(attempt: Callable[[], T]) -> T:
    """Call ``attempt`` until SQLite stops answering "locked"/"busy", in short sleeps."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    pause = 0.00005
    while True:
        try:
            return attempt()
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if time.monotonic() > deadline:
                raise StoreError(
                    f"the local state stayed locked for {LOCK_WAIT_SECONDS:.0f}s; "
                    f"is another program holding it open?"
                ) from None
        # Jitter keeps two waiting processes from retrying in lock step.
        time.sleep(pause * (0.5 + random.random()))
        pause = min(pause * 2, 0.002)
