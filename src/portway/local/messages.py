"""Messages in the stage database: enqueue, claim, acknowledge, fail, dead-letter.

The delivery rules, the same as an SQS queue with a redrive policy:

* :func:`claim` hands out up to ``limit`` visible messages of a channel under a new
  *lease*, hides them for the channel's visibility timeout and counts the attempt;
* :func:`acknowledge` deletes a message, but only under its current lease (a late
  answer from a delivery that already expired changes nothing, as SQS ignores an old
  receipt handle);
* :func:`fail` records the reason; the message becomes visible again when its
  visibility timeout ends, or goes to the dead letters at once if that was its last
  attempt;
* a message found visible again after ``max_attempts`` deliveries (its runtime died
  while holding it) is dead-lettered when next claimed.

Trace context: a message sent inside an invocation keeps the W3C ``traceparent`` it
was sent with (the sender's context; see :mod:`portway.tracing`). One sent outside any
(``portway send``, a script, a schedule tick) is *untraced*: its row keeps no
``traceparent`` and its trace id is derived from its id (:func:`untraced_trace_id`), so
every attempt and every subscriber's copy of it share one trace, at no cost to the
sender. Each delivery is a span of that trace, its id made of the claim's random lease
and the message's row number (:attr:`Delivery.span_id`): the runtime that records the
span and the worker that runs under it agree on it without sending it, or drawing a
random number per message.

Every function here runs inside the caller's transaction
(:func:`portway.local.database.transaction`), so the runtime can acknowledge a batch
of results and claim the next batches in one commit.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from portway.payload import OutgoingMessage

# Why a message with no recorded error was dead-lettered or retried.
LOST_DELIVERY = "DeliveryLost: the runtime stopped while the delivery was in flight"


class Delivery(NamedTuple):
    """A claimed message, as handed to a worker.

    A named tuple, not a dataclass: thousands cross the pipe to the workers every
    second, and a tuple pickles several times faster.
    """

    seq: int
    id: str
    channel: str
    body: bytes
    content_type: str
    attributes: str
    published: float
    attempt: int
    lease: str
    traceparent: str | None  # as sent: the sender's context (None: sent untraced)

    @property
    def trace_id(self) -> str:
        """The trace this delivery belongs to."""
        sent = self.traceparent
        return sent[3:35] if sent is not None else untraced_trace_id(self.id)

    @property
    def span_id(self) -> str:
        """This delivery's own span: unique per claim (lease) and message (row)."""
        return f"{self.lease[:8]}{self.seq & 0xFFFFFFFF:08x}"

    @property
    def parent_span_id(self) -> str | None:
        """The sender's span (``None``: sent outside any invocation)."""
        sent = self.traceparent
        return sent[36:52] if sent is not None else None

    @property
    def sampled(self) -> bool:
        sent = self.traceparent
        return sent is None or sent[53:55] != "00"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that failed ``attempts`` times, and the last reason."""

    id: str
    channel: str
    body: bytes
    content_type: str
    attributes: dict[str, str]
    published: float
    attempts: int
    reason: str
    failed_at: float
    traceparent: str | None = None

    def to_json(self) -> dict[str, Any]:
        try:
            body: Any = self.body.decode("utf-8")
        except UnicodeDecodeError:
            body = None
        return {
            "id": self.id,
            "channel": self.channel,
            "attempts": self.attempts,
            "reason": self.reason,
            "failed_at": self.failed_at,
            "published": self.published,
            "content_type": self.content_type,
            "attributes": self.attributes,
            "body": body,
            "size": len(self.body),
            "traceparent": self.traceparent,
        }


def new_id() -> str:
    return str(uuid.uuid4())


def enqueue(
    connection: sqlite3.Connection,
    items: Iterable[tuple[str, OutgoingMessage]],
    now: float,
    message_id: str | None = None,
    traceparent: str | None = None,
) -> list[str]:
    """Insert ``(channel, message)`` pairs, visible at once; return one id per pair.

    ``message_id`` gives every copy the same id (a topic's fan-out of one publish).
    ``traceparent`` (a valid one) is what every copy carries; ``None``: untraced (each
    message is then the root of its own trace, see :func:`untraced_trace_id`).
    """
    rows = []
    ids = []
    for channel, message in items:
        identifier = message_id or new_id()
        ids.append(identifier)
        rows.append(
            (
                identifier,
                channel,
                message.body,
                message.content_type,
                _attributes_json(message.attributes),
                now,
                now,
                traceparent,
            )
        )
    connection.executemany(
        "INSERT INTO messages (id, channel, body, content_type, attributes, published, "
        "visible_at, traceparent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return ids


def untraced_trace_id(message_id: str) -> str:
    """The trace id of a message sent with no trace context: derived from its id.

    Deterministic, so every attempt and every copy of the message (a topic's fan-out
    shares one id) land in one trace without the id being stored. portway's ids are
    random UUIDs: their 32 hex digits are the trace id (an MD5 of any other id).
    """
    digits = message_id.replace("-", "")
    if len(digits) == 32 and not digits.strip("0123456789abcdef"):
        return digits
    return hashlib.md5(message_id.encode("utf-8"), usedforsecurity=False).hexdigest()


def _attributes_json(attributes: Mapping[str, str]) -> str:
    if not attributes:
        return "{}"
    return json.dumps(dict(attributes), separators=(",", ":"))


def ready(connection: sqlite3.Connection, channel: str, now: float, limit: int) -> int:
    """How many messages of ``channel`` are visible now (counting at most ``limit``)."""
    row = connection.execute(
        "SELECT count(*) FROM (SELECT 1 FROM messages WHERE channel = ? AND visible_at <= ? "
        "LIMIT ?)",
        (channel, now, limit),
    ).fetchone()
    return int(row[0])


def next_visible(connection: sqlite3.Connection, channel: str) -> float | None:
    """When the next message of ``channel`` becomes visible (``None``: it is empty)."""
    row = connection.execute(
        "SELECT min(visible_at) FROM messages WHERE channel = ?", (channel,)
    ).fetchone()
    return None if row[0] is None else float(row[0])


def oldest_visible(connection: sqlite3.Connection, channel: str, now: float) -> float | None:
    row = connection.execute(
        "SELECT min(visible_at) FROM messages WHERE channel = ? AND visible_at <= ?",
        (channel, now),
    ).fetchone()
    return None if row[0] is None else float(row[0])


def claim(
    connection: sqlite3.Connection,
    channel: str,
    *,
    limit: int,
    visibility_timeout: float,
    max_attempts: int,
    now: float,
) -> list[Delivery]:
    """Lease up to ``limit`` visible messages of ``channel``; return those to deliver.

    A message already delivered ``max_attempts`` times is moved to the dead letters
    instead (with its last recorded reason) and not returned.
    """
    lease = uuid.uuid4().hex
    # Columns in Delivery's order (the lease bound as a value), then the last error.
    rows = connection.execute(
        "UPDATE messages SET attempts = attempts + 1, visible_at = ?, lease = ? "
        "WHERE seq IN (SELECT seq FROM messages WHERE channel = ? AND visible_at <= ? "
        "ORDER BY visible_at, seq LIMIT ?) "
        "RETURNING seq, id, channel, body, content_type, attributes, published, attempts, "
        "lease, traceparent, last_error",
        (now + visibility_timeout, lease, channel, now, limit),
    ).fetchall()
    make = Delivery._make
    deliveries = []
    for row in rows:
        if row[7] > max_attempts:
            _dead_letter(connection, row[0], lease, row[10] or LOST_DELIVERY, now, row[7] - 1)
            continue
        deliveries.append(make(row[:10]))
    deliveries.sort(key=lambda d: d.seq)
    return deliveries


def acknowledge(connection: sqlite3.Connection, deliveries: Sequence[Delivery]) -> int:
    """Delete delivered messages (under their lease); return how many were deleted."""
    cursor = connection.executemany(
        "DELETE FROM messages WHERE seq = ? AND lease = ?",
        [(d.seq, d.lease) for d in deliveries],
    )
    return cursor.rowcount


def fail(
    connection: sqlite3.Connection,
    delivery: Delivery,
    reason: str,
    *,
    max_attempts: int,
    now: float,
) -> bool:
    """Record a failed attempt; dead-letter it if it was the last. True if dead-lettered.

    Otherwise the message stays hidden until its visibility timeout ends, then is
    delivered again with its attempt number increased.
    """
    if delivery.attempt >= max_attempts:
        return _dead_letter(connection, delivery.seq, delivery.lease, reason, now, None)
    connection.execute(
        "UPDATE messages SET lease = NULL, last_error = ?, last_error_at = ? "
        "WHERE seq = ? AND lease = ?",
        (reason, now, delivery.seq, delivery.lease),
    )
    return False


def release(connection: sqlite3.Connection, deliveries: Sequence[Delivery], now: float) -> None:
    """Give back deliveries that never reached a handler: visible now, attempt uncounted."""
    connection.executemany(
        "UPDATE messages SET visible_at = ?, lease = NULL, attempts = attempts - 1 "
        "WHERE seq = ? AND lease = ?",
        [(now, d.seq, d.lease) for d in deliveries],
    )


def interrupt(
    connection: sqlite3.Connection, deliveries: Sequence[Delivery], reason: str, now: float
) -> None:
    """Give back deliveries whose handler was stopped: visible now, the attempt counted."""
    connection.executemany(
        "UPDATE messages SET visible_at = ?, lease = NULL, last_error = ?, last_error_at = ? "
        "WHERE seq = ? AND lease = ?",
        [(now, reason, now, d.seq, d.lease) for d in deliveries],
    )


def release_orphans(connection: sqlite3.Connection, now: float) -> int:
    """Make every message leased by a runtime that is gone visible now; return the count.

    Called by a runtime that has just taken the stage's lock, so no other runtime can
    be holding these leases. The attempt stays counted: the handler may have run.
    """
    cursor = connection.execute(
        "UPDATE messages SET visible_at = ?, lease = NULL, "
        "last_error = ?, last_error_at = ? WHERE lease IS NOT NULL",
        (now, LOST_DELIVERY, now),
    )
    return cursor.rowcount


def _dead_letter(
    connection: sqlite3.Connection,
    seq: int,
    lease: str,
    reason: str,
    now: float,
    attempts: int | None,
) -> bool:
    cursor = connection.execute(
        "INSERT OR REPLACE INTO dead_letters (id, channel, body, content_type, attributes, "
        "published, attempts, reason, failed_at, traceparent) "
        "SELECT id, channel, body, content_type, attributes, published, "
        "coalesce(?, attempts), ?, ?, traceparent FROM messages WHERE seq = ? AND lease = ?",
        (attempts, reason, now, seq, lease),
    )
    if cursor.rowcount == 0:
        return False
    connection.execute("DELETE FROM messages WHERE seq = ?", (seq,))
    return True


def dead_letters(
    connection: sqlite3.Connection, channel: str | None = None, limit: int = 1000
) -> list[DeadLetter]:
    """The dead letters of ``channel`` (all channels when ``None``), oldest first."""
    query = (
        "SELECT id, channel, body, content_type, attributes, published, attempts, reason, "
        "failed_at, traceparent FROM dead_letters"
    )
    parameters: tuple[Any, ...] = ()
    if channel is not None:
        query += " WHERE channel = ?"
        parameters = (channel,)
    query += " ORDER BY seq LIMIT ?"
    rows = connection.execute(query, (*parameters, limit)).fetchall()
    return [
        DeadLetter(i, c, b, t, json.loads(a), p, n, r, f, tp)
        for i, c, b, t, a, p, n, r, f, tp in rows
    ]


def redrive(
    connection: sqlite3.Connection,
    channel: str,
    now: float,
    ids: Sequence[str] | None = None,
) -> int:
    """Move ``channel``'s dead letters (only ``ids`` if given) back to it, attempts reset.

    Returns how many moved; an id that is not a dead letter of ``channel`` is ignored.
    """
    where = "channel = ?"
    parameters: tuple[Any, ...] = (channel,)
    if ids is not None:
        where += f" AND id IN ({','.join('?' * len(ids))})" if ids else " AND 0"
        parameters += tuple(ids)
    connection.execute(
        "INSERT INTO messages (id, channel, body, content_type, attributes, published, "
        "visible_at, attempts) SELECT id, channel, body, content_type, attributes, published, "
        f"?, 0 FROM dead_letters WHERE {where} ORDER BY seq",
        (now, *parameters),
    )
    cursor = connection.execute(f"DELETE FROM dead_letters WHERE {where}", parameters)
    return cursor.rowcount


def pending_counts(connection: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    """Per channel: ``(waiting, in_flight)`` message counts."""
    rows = connection.execute(
        "SELECT channel, sum(lease IS NULL), sum(lease IS NOT NULL) FROM messages GROUP BY channel"
    ).fetchall()
    return {channel: (int(waiting), int(flight)) for channel, waiting, flight in rows}


def dead_letter_counts(connection: sqlite3.Connection) -> dict[str, int]:
    rows = connection.execute(
        "SELECT channel, count(*) FROM dead_letters GROUP BY channel"
    ).fetchall()
    return {channel: int(count) for channel, count in rows}
