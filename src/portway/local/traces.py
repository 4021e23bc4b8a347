"""Spans in the stage database: what each invocation did, within which trace.

**Contract for readers** (the dashboard codes against exactly these names):

* :func:`trace_of_message` ``(connection, message_id) -> str | None``: the trace id of a
  message, waiting, dead-lettered or already delivered;
* :func:`trace_of_object` ``(connection, bucket, key) -> str | None``: the trace of the
  latest write of that object;
* :func:`spans` ``(connection, trace_id) -> list[Span]``: every recorded span of the
  trace, oldest first; ``parent_span_id`` links a span to the one that caused it;
* :func:`recent_traces` ``(connection, limit=50) -> list[TraceSummary]``: the traces
  with the newest spans first.

What a span is (one row of the ``spans`` table):

==========  =====================================================================
trigger     ``queue``, ``topic``, ``bucket``, ``schedule``: one delivery of one
            message to a function (a batch of 10 is 10 spans, one per message, each
            in its message's trace, sharing the invocation's timing); ``http``: one
            request; ``write``: one object write (``function`` is ``""``)
subject     the message id (queue, topic), ``bucket/key`` (bucket, write), the
            schedule expression, or ``METHOD /path`` (http)
outcome     ``ok``, ``failed`` (retried later), ``dead-lettered`` (that was the last
            attempt), ``interrupted`` (the runtime stopped), ``recovered`` (a write
            finished by recovery after its writer died)
reason      why it failed (the dead letter's reason), else ``None``
==========  =====================================================================

A message sent by ``portway send``, a script or a schedule tick has no recorded sender
(sends are the hot path; object writes, which are not, do record a ``write`` span):
its deliveries' spans have no parent. A reader treats a span with no parent, or whose
parent is not in the trace (a caller's span from an HTTP ``traceparent`` header), as a
root.

Reading costs a scan: the table has no index on ``trace_id`` nor on message ids, as
those random keys' indexes would cost the runtime a third of its throughput (each span
would dirty an index page in every commit); a scan of :data:`MAX_SPANS` rows takes a
few milliseconds, which a click in the dashboard does not notice. Object writes'
subjects are indexed (writes are rare), so :func:`trace_of_object` is a lookup.

Recording: the runtime writes spans inside the transactions its loop commits anyway
(no extra commit while it is busy), at most :data:`FLUSH_SECONDS` after the invocation
ended (see :class:`SpanRecorder`); object writes record theirs in the transaction that
records their events. Retention keeps the newest :data:`MAX_SPANS` spans: every
:data:`TRIM_EVERY` spans the recorder deletes the older ones, by rowid range.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from portway.local.messages import Delivery, untraced_trace_id

MAX_SPANS = 100_000
TRIM_EVERY = 1_000
FLUSH_ROWS = 500
FLUSH_SECONDS = 0.1
# How far back recent_traces looks for traces (newest spans first).
RECENT_WINDOW = 5_000

# One row of the spans table, in column order (see database.py).
SpanRow = tuple[str, str, str | None, str, str, str, float, float, str, str | None]

# Called with the rows each SpanRecorder.flush writes, once written; set at most once,
# before the runtime starts, by portway.local.otel_export.install (None: no export).
export_hook: Callable[[Sequence[SpanRow]], None] | None = None

_INSERT = (
    "INSERT INTO spans (trace_id, span_id, parent_span_id, function, trigger, subject, "
    "started, duration, outcome, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# The columns of a SpanRow, for readers.
COLUMNS = (
    "trace_id, span_id, parent_span_id, function, trigger, subject, started, duration, "
    "outcome, reason"
)


@dataclass(frozen=True, slots=True)
class Span:
    """One recorded invocation (per message) or object write. Times are unix seconds."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    function: str
    trigger: str
    subject: str
    started: float
    duration: float
    outcome: str
    reason: str | None

    @property
    def ended(self) -> float:
        return self.started + self.duration

    @property
    def failed(self) -> bool:
        return self.outcome not in ("ok", "recovered")


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """One trace at a glance: where it started, how many hops, whether any failed."""

    trace_id: str
    root_subject: str
    root_function: str
    started: float
    ended: float
    span_count: int
    failed: bool


def delivery_span(
    delivery: Delivery,
    function: str,
    trigger: str,
    subject: str,
    started: float,
    duration: float,
    outcome: str,
    reason: str | None = None,
) -> SpanRow:
    """The span row of one delivery."""
    return (
        delivery.trace_id,
        delivery.span_id,
        delivery.parent_span_id,
        function,
        trigger,
        subject,
        started,
        duration,
        outcome,
        reason,
    )


def object_subject(delivery: Delivery) -> str:
    """``bucket/key`` of an object-created delivery (its id if the body is unreadable)."""
    try:
        data = json.loads(delivery.body)["data"]
        return f"{data['bucket']}/{data['key']}"
    except (ValueError, KeyError, TypeError):
        return delivery.id


def record(connection: sqlite3.Connection, rows: Iterable[SpanRow]) -> None:
    """Inside a transaction: insert span rows."""
    connection.executemany(_INSERT, rows)


def trim(connection: sqlite3.Connection, keep: int | None = None) -> int:
    """Inside a transaction: delete all but the newest ``keep`` spans; return how many."""
    limit = MAX_SPANS if keep is None else keep
    cursor = connection.execute(
        "DELETE FROM spans WHERE seq <= (SELECT max(seq) FROM spans) - ?", (limit,)
    )
    return cursor.rowcount


class SpanRecorder:
    """The runtime's recorder: buffers span rows, writes them in a round's transaction.

    Rows are written when :data:`FLUSH_ROWS` are waiting or the oldest has waited
    :data:`FLUSH_SECONDS`, so a busy runtime inserts hundreds of spans per commit rather
    than a few (each commit rewrites the table's last page: ~1 us a span saved). A
    killed runtime loses the spans of its last fraction of a second, never a message.
    Every :data:`TRIM_EVERY` spans it applies the retention (:func:`trim`).
    """

    def __init__(self) -> None:
        self._buffer: list[SpanRow] = []
        self._since = 0.0  # monotonic time the oldest buffered row was added
        self._since_trim = 0

    def add(self, rows: Sequence[SpanRow]) -> None:
        if rows:
            if not self._buffer:
                self._since = time.monotonic()
            self._buffer.extend(rows)

    def due(self) -> bool:
        """True when the buffer should be written in the next transaction."""
        buffer = self._buffer
        return bool(buffer) and (
            len(buffer) >= FLUSH_ROWS or time.monotonic() - self._since >= FLUSH_SECONDS
        )

    def flush(self, connection: sqlite3.Connection) -> None:
        """Inside the caller's transaction: write every buffered row."""
        if not self._buffer:
            return
        connection.executemany(_INSERT, self._buffer)
        if export_hook is not None:
            export_hook(self._buffer)  # the hook keeps the list: a new buffer follows
        self._since_trim += len(self._buffer)
        self._buffer = []
        if self._since_trim >= TRIM_EVERY:
            self._since_trim = 0
            trim(connection)

    def record(self, connection: sqlite3.Connection, rows: Sequence[SpanRow]) -> None:
        """Inside the caller's transaction: write ``rows`` (and the buffer) now."""
        self.add(rows)
        self.flush(connection)


# -- reading -------------------------------------------------------------------------


def trace_of_message(connection: sqlite3.Connection, message_id: str) -> str | None:
    """The trace id of message ``message_id`` (waiting, dead-lettered or delivered)."""
    for table in ("messages", "dead_letters"):
        row = connection.execute(
            f"SELECT traceparent FROM {table} WHERE id = ? LIMIT 1", (message_id,)
        ).fetchone()
        if row is not None:
            return untraced_trace_id(message_id) if row[0] is None else str(row[0])[3:35]
    row = connection.execute(
        "SELECT trace_id FROM spans WHERE subject = ? ORDER BY seq DESC LIMIT 1", (message_id,)
    ).fetchone()
    return None if row is None else str(row[0])


def trace_of_object(connection: sqlite3.Connection, bucket: str, key: str) -> str | None:
    """The trace id of the latest recorded write of ``key`` in ``bucket``."""
    row = connection.execute(
        "SELECT trace_id FROM spans WHERE subject = ? AND trigger = 'write' "
        "ORDER BY seq DESC LIMIT 1",
        (f"{bucket}/{key}",),
    ).fetchone()
    return None if row is None else str(row[0])


def spans(connection: sqlite3.Connection, trace_id: str) -> list[Span]:
    """Every recorded span of ``trace_id``, oldest first."""
    rows = connection.execute(
        f"SELECT {COLUMNS} FROM spans WHERE trace_id = ? ORDER BY started, seq",
        (trace_id,),
    ).fetchall()
    return [Span(*row) for row in rows]


def recent_traces(connection: sqlite3.Connection, limit: int = 50) -> list[TraceSummary]:
    """The ``limit`` traces with the newest spans (among the latest spans), newest first."""
    ids = [
        str(row[0])
        for row in connection.execute(
            "SELECT trace_id FROM (SELECT trace_id, seq FROM spans ORDER BY seq DESC LIMIT ?) "
            "GROUP BY trace_id ORDER BY max(seq) DESC LIMIT ?",
            (RECENT_WINDOW, limit),
        )
    ]
    if not ids:
        return []
    # One scan for every trace's spans, rather than one scan per trace.
    marks = ",".join("?" * len(ids))
    rows = connection.execute(
        f"SELECT {COLUMNS} FROM spans WHERE trace_id IN ({marks}) ORDER BY started, seq",
        ids,
    ).fetchall()
    by_trace: dict[str, list[Span]] = {trace_id: [] for trace_id in ids}
    for row in rows:
        by_trace[row[0]].append(Span(*row))
    return [summarise(trace_id, by_trace[trace_id]) for trace_id in ids]


def summarise(trace_id: str, trace: Sequence[Span]) -> TraceSummary:
    """A :class:`TraceSummary` of a trace's spans (oldest first)."""
    known = {span.span_id for span in trace}
    roots = [s for s in trace if s.parent_span_id is None or s.parent_span_id not in known]
    root = roots[0] if roots else trace[0]
    return TraceSummary(
        trace_id=trace_id,
        root_subject=root.subject,
        root_function=root.function,
        started=min(s.started for s in trace),
        ended=max(s.ended for s in trace),
        span_count=len(trace),
        failed=any(s.failed for s in trace),
    )
