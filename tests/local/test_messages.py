"""Messages in the stage database: the delivery rules of an SQS queue with a redrive policy.

Time is passed explicitly (``now=``): every rule about visibility and leases is checked
at chosen instants, without sleeping.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from portway.local import messages
from portway.local.database import StageLayout, connect, transaction
from portway.local.messages import LOST_DELIVERY, Delivery
from portway.payload import JSON, OutgoingMessage

CHANNEL = "queue/jobs"
T0 = 1_800_000_000.0
VISIBILITY = 30.0
MAX_ATTEMPTS = 3


def body(text: str) -> OutgoingMessage:
    return OutgoingMessage(text.encode(), JSON, {"origin": "test"})


def send(db: sqlite3.Connection, *texts: str, channel: str = CHANNEL, now: float = T0) -> list[str]:
    with transaction(db):
        return messages.enqueue(db, [(channel, body(t)) for t in texts], now)


def claim(
    db: sqlite3.Connection,
    now: float,
    *,
    limit: int = 10,
    channel: str = CHANNEL,
    max_attempts: int = MAX_ATTEMPTS,
) -> list[Delivery]:
    with transaction(db):
        return messages.claim(
            db,
            channel,
            limit=limit,
            visibility_timeout=VISIBILITY,
            max_attempts=max_attempts,
            now=now,
        )


def fail(db: sqlite3.Connection, delivery: Delivery, reason: str, now: float) -> bool:
    with transaction(db):
        return messages.fail(db, delivery, reason, max_attempts=MAX_ATTEMPTS, now=now)


def acknowledge(db: sqlite3.Connection, *deliveries: Delivery) -> int:
    with transaction(db):
        return messages.acknowledge(db, deliveries)


def stored(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])


# -- enqueue, claim, acknowledge ---------------------------------------------------------


def test_a_claimed_message_carries_its_body_content_type_and_attributes(db) -> None:
    [identifier] = send(db, '{"key": "a.csv"}')

    [delivery] = claim(db, T0)

    assert delivery.id == identifier
    assert delivery.channel == CHANNEL
    assert delivery.body == b'{"key": "a.csv"}'
    assert delivery.content_type == JSON
    assert json.loads(delivery.attributes) == {"origin": "test"}
    assert delivery.published == T0
    assert delivery.attempt == 1


def test_enqueue_gives_each_message_its_own_id(db) -> None:
    ids = send(db, "1", "2", "3")

    assert len(set(ids)) == 3


def test_enqueue_with_a_message_id_gives_every_copy_that_id(db) -> None:
    with transaction(db):
        ids = messages.enqueue(
            db, [("topic/t/a", body("x")), ("topic/t/b", body("x"))], T0, message_id="m-1"
        )

    assert ids == ["m-1", "m-1"]
    assert claim(db, T0, channel="topic/t/a")[0].id == "m-1"
    assert claim(db, T0, channel="topic/t/b")[0].id == "m-1"


def test_claim_takes_only_messages_of_its_channel(db) -> None:
    send(db, "mine")
    send(db, "other", channel="queue/other")

    assert [d.body for d in claim(db, T0)] == [b"mine"]


def test_acknowledge_deletes_the_message(db) -> None:
    send(db, "x")
    [delivery] = claim(db, T0)

    assert acknowledge(db, delivery) == 1
    assert stored(db) == 0
    assert claim(db, T0 + 3600) == []


def test_a_claimed_message_is_invisible_until_its_visibility_timeout(db) -> None:
    send(db, "x")
    claim(db, T0)

    assert claim(db, T0 + VISIBILITY - 0.001) == []


def test_a_message_not_acknowledged_is_delivered_again_with_the_next_attempt(db) -> None:
    send(db, "x")
    [first] = claim(db, T0)

    [second] = claim(db, T0 + VISIBILITY)

    assert second.id == first.id
    assert second.attempt == 2
    assert second.lease != first.lease


def test_acknowledge_under_a_stale_lease_deletes_nothing(db) -> None:
    send(db, "x")
    [stale] = claim(db, T0)
    [current] = claim(db, T0 + VISIBILITY)

    assert acknowledge(db, stale) == 0
    assert stored(db) == 1
    assert acknowledge(db, current) == 1


def test_a_batch_holds_at_most_limit_messages_in_the_order_sent(db) -> None:
    send(db, *[str(n) for n in range(7)])

    first = claim(db, T0, limit=3)
    second = claim(db, T0, limit=3)
    third = claim(db, T0, limit=3)

    assert [d.body for d in first] == [b"0", b"1", b"2"]
    assert [d.body for d in second] == [b"3", b"4", b"5"]
    assert [d.body for d in third] == [b"6"]


# -- fail ----------------------------------------------------------------------------------


def test_fail_records_the_reason(db) -> None:
    send(db, "x")
    [delivery] = claim(db, T0)

    assert fail(db, delivery, "ValueError: bad row 3", T0 + 1) is False

    row = db.execute("SELECT last_error, last_error_at FROM messages").fetchone()
    assert row == ("ValueError: bad row 3", T0 + 1)


def test_a_failed_message_reappears_only_after_its_visibility_timeout(db) -> None:
    send(db, "x")
    [delivery] = claim(db, T0)
    fail(db, delivery, "ValueError: boom", T0 + 1)

    assert claim(db, T0 + VISIBILITY - 0.001) == []
    [again] = claim(db, T0 + VISIBILITY)
    assert again.attempt == 2


def test_fail_on_the_last_attempt_dead_letters_at_once(db) -> None:
    [identifier] = send(db, "x")
    for attempt in range(1, MAX_ATTEMPTS):
        [delivery] = claim(db, T0 + VISIBILITY * attempt)
        fail(db, delivery, f"ValueError: attempt {attempt}", T0 + VISIBILITY * attempt + 1)
    [last] = claim(db, T0 + VISIBILITY * MAX_ATTEMPTS)
    assert last.attempt == MAX_ATTEMPTS

    assert fail(db, last, "ValueError: the last straw", T0 + 1000) is True

    assert stored(db) == 0
    [letter] = messages.dead_letters(db, CHANNEL)
    assert letter.id == identifier
    assert letter.reason == "ValueError: the last straw"
    assert letter.attempts == MAX_ATTEMPTS
    assert letter.failed_at == T0 + 1000
    assert letter.body == b"x"
    assert letter.attributes == {"origin": "test"}


def test_fail_under_a_stale_lease_changes_nothing(db) -> None:
    send(db, "x")
    [stale] = claim(db, T0)
    [current] = claim(db, T0 + VISIBILITY)

    fail(db, stale, "ValueError: late", T0 + VISIBILITY + 1)

    row = db.execute("SELECT lease, last_error FROM messages").fetchone()
    assert row == (current.lease, None)


def test_fail_on_the_last_attempt_under_a_stale_lease_dead_letters_nothing(db) -> None:
    send(db, "x")
    claim(db, T0)
    claim(db, T0 + VISIBILITY)
    [stale] = claim(db, T0 + 2 * VISIBILITY)
    [current] = claim(db, T0 + 3 * VISIBILITY, max_attempts=MAX_ATTEMPTS + 1)

    assert fail(db, stale, "ValueError: late", T0 + 3 * VISIBILITY + 1) is False
    assert messages.dead_letters(db) == []
    assert acknowledge(db, current) == 1


# -- deliveries lost in flight -------------------------------------------------------------


def test_a_message_whose_last_lease_expired_is_dead_lettered_at_the_next_claim(db) -> None:
    send(db, "x")
    for attempt in range(MAX_ATTEMPTS):
        claim(db, T0 + VISIBILITY * attempt)
    fail_time = T0 + VISIBILITY * MAX_ATTEMPTS

    assert claim(db, fail_time) == []

    [letter] = messages.dead_letters(db, CHANNEL)
    assert letter.attempts == MAX_ATTEMPTS
    assert letter.failed_at == fail_time
    assert stored(db) == 0


def test_a_lost_delivery_is_dead_lettered_with_the_delivery_lost_reason(db) -> None:
    send(db, "x")
    for attempt in range(MAX_ATTEMPTS + 1):
        claim(db, T0 + VISIBILITY * attempt)

    [letter] = messages.dead_letters(db, CHANNEL)
    assert letter.reason == LOST_DELIVERY
    assert letter.reason.startswith("DeliveryLost: ")


def test_a_lost_delivery_is_dead_lettered_with_its_last_recorded_reason(db) -> None:
    send(db, "x")
    [first] = claim(db, T0)
    fail(db, first, "KeyError: 'row'", T0 + 1)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        claim(db, T0 + VISIBILITY * attempt)

    [letter] = messages.dead_letters(db, CHANNEL)
    assert letter.reason == "KeyError: 'row'"
    assert letter.attempts == MAX_ATTEMPTS


def test_other_messages_of_the_batch_are_still_delivered_when_one_is_dead_lettered(db) -> None:
    send(db, "doomed")
    for attempt in range(MAX_ATTEMPTS):
        claim(db, T0 + VISIBILITY * attempt)
    send(db, "fresh", now=T0 + VISIBILITY * MAX_ATTEMPTS)

    delivered = claim(db, T0 + VISIBILITY * MAX_ATTEMPTS)

    assert [d.body for d in delivered] == [b"fresh"]
    assert [letter.body for letter in messages.dead_letters(db)] == [b"doomed"]


# -- giving deliveries back ----------------------------------------------------------------


def test_release_gives_a_message_back_at_once_without_counting_the_attempt(db) -> None:
    send(db, "x")
    [delivery] = claim(db, T0)

    with transaction(db):
        messages.release(db, [delivery], T0 + 1)

    [again] = claim(db, T0 + 1)
    assert again.attempt == 1


def test_release_under_a_stale_lease_changes_nothing(db) -> None:
    send(db, "x")
    [stale] = claim(db, T0)
    [current] = claim(db, T0 + VISIBILITY)

    with transaction(db):
        messages.release(db, [stale], T0 + VISIBILITY + 1)

    assert claim(db, T0 + VISIBILITY + 1) == []
    assert acknowledge(db, current) == 1


def test_interrupt_gives_a_message_back_at_once_counting_the_attempt(db) -> None:
    send(db, "x")
    [delivery] = claim(db, T0)

    with transaction(db):
        messages.interrupt(db, [delivery], "Interrupted: the runtime stopped", T0 + 1)

    [again] = claim(db, T0 + 1)
    assert again.attempt == 2
    assert db.execute("SELECT last_error FROM messages").fetchone()[0] == (
        "Interrupted: the runtime stopped"
    )


def test_release_orphans_makes_every_leased_message_visible_now(db) -> None:
    send(db, "a", "b")
    send(db, "c", channel="queue/other")
    claim(db, T0)
    claim(db, T0, channel="queue/other")

    with transaction(db):
        released = messages.release_orphans(db, T0 + 1)

    assert released == 3
    assert [(d.body, d.attempt) for d in claim(db, T0 + 1)] == [(b"a", 2), (b"b", 2)]
    row = db.execute("SELECT last_error FROM messages WHERE channel = 'queue/other'").fetchone()
    assert row[0] == LOST_DELIVERY


def test_release_orphans_leaves_waiting_messages_alone(db) -> None:
    send(db, "waiting")

    with transaction(db):
        assert messages.release_orphans(db, T0 + 1) == 0

    assert db.execute("SELECT last_error FROM messages").fetchone()[0] is None


# -- dead letters ---------------------------------------------------------------------------


def dead_letter(db: sqlite3.Connection, text: str, channel: str = CHANNEL) -> None:
    send(db, text, channel=channel)
    for attempt in range(MAX_ATTEMPTS):
        [delivery] = claim(db, T0 + VISIBILITY * attempt, channel=channel)
    fail(db, delivery, f"ValueError: {text}", T0 + 500)


def test_redrive_moves_dead_letters_back_with_attempts_reset(db) -> None:
    dead_letter(db, "one")
    dead_letter(db, "two")

    with transaction(db):
        moved = messages.redrive(db, CHANNEL, T0 + 1000)

    assert moved == 2
    assert messages.dead_letters(db, CHANNEL) == []
    redelivered = claim(db, T0 + 1000)
    assert [(d.body, d.attempt) for d in redelivered] == [(b"one", 1), (b"two", 1)]


def test_redrive_keeps_the_message_id_and_publish_time(db) -> None:
    dead_letter(db, "one")
    [letter] = messages.dead_letters(db, CHANNEL)

    with transaction(db):
        messages.redrive(db, CHANNEL, T0 + 1000)

    [delivery] = claim(db, T0 + 1000)
    assert (delivery.id, delivery.published) == (letter.id, letter.published)


def test_redrive_touches_only_its_channel(db) -> None:
    dead_letter(db, "mine")
    dead_letter(db, "theirs", channel="queue/other")

    with transaction(db):
        messages.redrive(db, CHANNEL, T0 + 1000)

    assert [letter.body for letter in messages.dead_letters(db)] == [b"theirs"]


def test_dead_letters_of_every_channel_are_listed_oldest_first(db) -> None:
    dead_letter(db, "first")
    dead_letter(db, "second", channel="queue/other")

    listed = messages.dead_letters(db)

    assert [(d.channel, d.body) for d in listed] == [
        (CHANNEL, b"first"),
        ("queue/other", b"second"),
    ]


def test_a_dead_letter_as_json_shows_a_text_body_and_its_size(db) -> None:
    dead_letter(db, '{"key": "a.csv"}')

    document = messages.dead_letters(db)[0].to_json()

    assert document["body"] == '{"key": "a.csv"}'
    assert document["size"] == 16
    assert document["reason"] == 'ValueError: {"key": "a.csv"}'
    assert document["attempts"] == MAX_ATTEMPTS


def test_a_dead_letter_as_json_shows_no_body_for_binary_data(db) -> None:
    with transaction(db):
        messages.enqueue(db, [(CHANNEL, OutgoingMessage(b"\xff\xfe"))], T0)
    for attempt in range(MAX_ATTEMPTS + 1):
        claim(db, T0 + VISIBILITY * attempt)

    document = messages.dead_letters(db)[0].to_json()

    assert document["body"] is None
    assert document["size"] == 2


# -- counts ---------------------------------------------------------------------------------


def test_pending_counts_tell_waiting_from_in_flight(db) -> None:
    send(db, "a", "b", "c")
    claim(db, T0, limit=1)

    assert messages.pending_counts(db) == {CHANNEL: (2, 1)}


def test_dead_letter_counts_are_per_channel(db) -> None:
    dead_letter(db, "a")
    dead_letter(db, "b")

    assert messages.dead_letter_counts(db) == {CHANNEL: 2}


def test_next_visible_is_when_a_hidden_message_comes_back(db) -> None:
    send(db, "x")
    claim(db, T0)

    assert messages.ready(db, CHANNEL, T0 + 1, limit=10) == 0
    assert messages.next_visible(db, CHANNEL) == T0 + VISIBILITY
    assert messages.next_visible(db, "queue/empty") is None


# -- the database ---------------------------------------------------------------------------


def test_the_database_is_in_wal_mode(db) -> None:
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_database_lives_under_the_stage_root(db, layout: StageLayout) -> None:
    assert layout.database.is_file()
    assert layout.buckets.is_dir()
    assert layout.temporary.is_dir()


def test_a_transaction_that_raises_records_nothing(db) -> None:
    def enqueue_then_raise() -> None:
        with transaction(db):
            messages.enqueue(db, [(CHANNEL, body("x"))], T0)
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        enqueue_then_raise()

    assert stored(db) == 0


def test_a_second_connection_sees_committed_messages(db, layout: StageLayout) -> None:
    send(db, "x")
    other = connect(layout)
    try:
        assert [d.body for d in claim(other, T0)] == [b"x"]
    finally:
        other.close()


_PRODUCER_AND_CONSUMER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from portway.local import messages
    from portway.local.database import StageLayout, connect, transaction
    from portway.payload import OutgoingMessage

    root, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    db = connect(StageLayout(Path(root)))
    taken = []
    for n in range(count):
        with transaction(db):
            messages.enqueue(db, [("queue/jobs", OutgoingMessage(f"{name}-{n}".encode()))], 0.0)
        with transaction(db):
            batch = messages.claim(
                db, "queue/jobs", limit=3, visibility_timeout=3600, max_attempts=5, now=1.0
            )
            messages.acknowledge(db, batch)
        taken.extend(d.body.decode() for d in batch)
    print(json.dumps(taken))
    """
)


def test_two_processes_sending_and_consuming_at_once_lose_no_message(
    db, layout: StageLayout
) -> None:
    count = 300
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _PRODUCER_AND_CONSUMER, str(layout.root), name, str(count)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("left", "right")
    ]
    taken: list[str] = []
    for worker in workers:
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0
        taken.extend(json.loads(out))
    with transaction(db):
        rest = messages.claim(
            db, CHANNEL, limit=1000, visibility_timeout=3600, max_attempts=5, now=2.0
        )
    taken.extend(d.body.decode() for d in rest)

    sent = [f"{name}-{n}" for name in ("left", "right") for n in range(count)]
    assert sorted(taken) == sorted(sent)  # each message once: none lost, none doubled
