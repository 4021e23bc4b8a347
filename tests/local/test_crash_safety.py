"""Killing ``portway run`` at random moments loses nothing (a Jepsen-style check).

While this test keeps sending messages and writing objects, it SIGKILLs the runtime
(its workers die with it) at random moments and starts it again, ``PORTWAY_CRASH_KILLS``
times (20 by default; ``make soak`` asks for more). Then it lets the last run drain
everything and checks the history handlers left behind:

* every sent message was handled at least once, or dead-lettered with a reason;
* every completed object write (ours, and the handlers' own) had its event handled;
* a message handled twice was in flight at one of the kills (indeterminate, as Jepsen
  counts operations in flight at a crash): an acknowledged message is never handed out
  again;
* the poison messages are dead letters with their attempts and a reason;
* SQLite's integrity check passes.
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
import threading
import time
from collections import Counter
from pathlib import Path

KILLS = int(os.environ.get("PORTWAY_CRASH_KILLS", "20"))
POISON = 5

PIPELINE = """
import time
from portway import Message, ObjectEvent, Pipeline

app = Pipeline("crash-test")
work = app.queue("work")
poison = app.queue("poison", visibility_timeout=10)
inbox = app.bucket("inbox")
outbox = app.bucket("outbox")

@app.on_message(work, batch_size=10, uses=[outbox.write()])
def handle(batch: list[Message]) -> None:
    for message in batch:
        record("handled", message.id)
        if message.json()["n"] % 10 == 0:
            key = f"out/{message.id}"
            outbox.write(key, b"x")
            record("wrote", key)
        time.sleep(0.001)

@app.on_message(poison)
def reject(message: Message) -> None:
    raise ValueError(f"poison {message.text()}")

@app.on_object_created(inbox)
def landed(event: ObjectEvent) -> None:
    record("landed", f"{event.key} {event.id}")

@app.on_object_created(outbox)
def forwarded(event: ObjectEvent) -> None:
    record("forwarded", f"{event.key} {event.id}")
"""


class Feeder(threading.Thread):
    """Sends messages and writes objects until told to stop; remembers what completed."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        from portway.config import load_project
        from portway.loading import load_pipeline

        self.config = load_project(root)
        self.app = load_pipeline(self.config.app, root)
        self.sent: list[str] = []
        self.poison: list[str] = []
        self.written: list[str] = []
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        work, poison, inbox = (self.app.resource(n) for n in ("work", "poison", "inbox"))
        try:
            with self.app.connect("dev", config=self.config):
                self.poison += poison.send_batch([str(i) for i in range(POISON)])  # type: ignore[attr-defined]
                number = 0
                while not self.halt.is_set():
                    bodies = [{"n": number + i} for i in range(50)]
                    self.sent += work.send_batch(bodies)  # type: ignore[attr-defined]
                    for i in range(5):
                        key = f"in/{number + i}.txt"
                        inbox.write(key, b"data")  # type: ignore[attr-defined]
                        self.written.append(key)
                    number += 50
                    time.sleep(0.1)
        except BaseException as error:  # reported by the test, not lost in a thread
            self.error = error


def in_flight(state: Path) -> set[str]:
    with sqlite3.connect(state / "state.db", timeout=30) as connection:
        rows = connection.execute("SELECT id FROM messages WHERE lease IS NOT NULL").fetchall()
    return {row[0] for row in rows}


def remaining(state: Path) -> int:
    with sqlite3.connect(state / "state.db", timeout=30) as connection:
        messages = connection.execute("SELECT count(*) FROM messages").fetchone()[0]
        pending = connection.execute("SELECT count(*) FROM pending_writes").fetchone()[0]
    return int(messages) + int(pending)


def test_killing_the_runtime_at_random_moments_loses_nothing(local_run, wait_until) -> None:
    seed = int(os.environ.get("PORTWAY_CRASH_SEED", str(time.time_ns() % 1_000_000)))
    chance = random.Random(seed)
    run = local_run(PIPELINE).start()
    sys.path.insert(0, str(run.root))
    feeder = Feeder(run.root)
    feeder.start()
    indeterminate: set[str] = set()
    kills = 0
    try:
        for _ in range(KILLS):
            time.sleep(chance.uniform(0.2, 1.0))
            run.kill()
            kills += 1
            indeterminate |= in_flight(run.state)
            run.start()
    finally:
        feeder.halt.set()
        feeder.join(timeout=60)
    assert feeder.error is None, f"the feeder failed: {feeder.error!r}"
    wait_until(lambda: remaining(run.state) == 0, 180, "the last run to drain (seed {seed})")
    assert run.stop() == 0

    context = (
        f"seed {seed}, {kills} kills, {len(feeder.sent)} messages, {len(feeder.written)} writes"
    )
    handled = Counter(run.read("handled"))
    with sqlite3.connect(run.state / "state.db") as connection:
        dead = {
            message_id: (channel, attempts, reason)
            for message_id, channel, attempts, reason in connection.execute(
                "SELECT id, channel, attempts, reason FROM dead_letters"
            )
        }
        integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]

    lost = [m for m in feeder.sent if m not in handled and m not in dead]
    assert not lost, f"{len(lost)} sent messages never handled nor dead-lettered ({context})"
    twice = [m for m, count in handled.items() if count > 1 and m not in indeterminate]
    assert not twice, f"acknowledged messages handed out again: {twice[:5]} ({context})"

    landed = {line.split()[0] for line in run.read("landed")}
    missing = sorted(set(feeder.written) - landed)
    assert not missing, f"object events lost for {missing[:5]} ({context})"
    forwarded = {line.split()[0] for line in run.read("forwarded")}
    missing = sorted(set(run.read("wrote")) - forwarded)
    assert not missing, f"handler writes whose events were lost: {missing[:5]} ({context})"
    events = Counter(run.read("landed") + run.read("forwarded"))
    repeated = [e for e, count in events.items() if count > 1 and e.split()[1] not in indeterminate]
    assert not repeated, f"handled object events delivered again: {repeated[:5]} ({context})"

    for message_id in feeder.poison:
        channel, attempts, reason = dead[message_id]
        assert channel == "queue/poison"
        assert attempts == 5
        assert reason.startswith(("ValueError: poison", "DeliveryLost")), reason
    assert integrity == "ok"
    assert kills == KILLS
    print(f"\ncrash test: {context}; {len(indeterminate)} in flight at a kill")
