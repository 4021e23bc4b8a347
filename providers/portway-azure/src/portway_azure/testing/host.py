"""The Azure Functions host's queue listener and timer scheduler, played against Azurite.

:class:`QueueListener` is what the host runs for one queue trigger, with the app's
``host.json`` settings (https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#host-json,
https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger#poison-messages):

* it fetches up to ``batchSize`` messages at once, hidden for the host's lease while
  they run (the host takes 10 minutes and renews; here, the lease is simply held);
* each message is base64-decoded (``messageEncoding``) and handed to the function as
  an ``azure.functions.queue.QueueMessage`` with its ``dequeue_count``;
* a success deletes the message; a failure releases it for ``visibilityTimeout``, so it
  comes back with the next ``dequeue_count``;
* after a failure at ``dequeue_count >= maxDequeueCount`` (or on fetching a message
  already past it) the message is written, its content unchanged, to
  ``<queue>-poison`` (created if missing) and deleted from the queue.

When a queue is empty the host backs off, doubling its wait from 100 ms up to
``maxPollingInterval``. The listener does the same, capped by ``max_polling_interval``
(one second by default): a shorter cap only makes tests quicker, never changes what
is delivered.

The Storage Queue service keeps no failure reason; like one reading the app's logs,
the listener keeps, per message, the last reason its function logged
(``portway: work: <id> failed: RuntimeError: ...``), or the error the invocation
raised, and what it poisoned with its attempts and that reason (:attr:`poisoned`).

:class:`TimerPlayer` fires a timer trigger at the times of its NCRONTAB schedule
(``second minute hour day month day-of-week``), as the host's scheduler does, with an
``azure.functions.timer.TimerRequest`` whose ``past_due`` says the tick is late.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from portway_azure.testing.functions_worker import AppWorker, Invocation

#: What the runtime shim logs for each failure (``portway_azure.shim._log``).
FAILURE_LINE = re.compile(r"^portway: (?P<function>[^:]+): (?P<what>.+?) failed: (?P<reason>.+)$")
POISON_SUFFIX = "-poison"
_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)")
#: How long fetched messages stay hidden while their invocations run.
LEASE_SECONDS = 600
#: The host's shortest wait between two polls of an empty queue.
MIN_POLLING_INTERVAL = 0.1
#: A tick later than this (seconds) is reported ``past_due``.
PAST_DUE_AFTER = 1.0

#: Called after each invocation: (function, what was delivered, outcome).
Observer = Callable[[str, str, Invocation], None]


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """``host.json`` ``extensions.queues`` of an app, with the host's defaults."""

    batch_size: int = 16
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    max_polling_interval: float = 60.0
    base64: bool = True

    @classmethod
    def from_host_json(cls, host: Mapping[str, Any]) -> QueueSettings:
        queues = host.get("extensions", {}).get("queues", {})
        defaults = cls()
        return cls(
            batch_size=int(queues.get("batchSize", defaults.batch_size)),
            max_dequeue_count=int(queues.get("maxDequeueCount", defaults.max_dequeue_count)),
            visibility_timeout=seconds_of(queues.get("visibilityTimeout", "00:00:00")),
            max_polling_interval=seconds_of(queues.get("maxPollingInterval", "00:01:00")),
            base64=str(queues.get("messageEncoding", "base64")).lower() == "base64",
        )


def seconds_of(timespan: str) -> float:
    """A .NET TimeSpan (``hh:mm:ss``, ``d.hh:mm:ss``, fractions allowed) in seconds."""
    found = _TIMESPAN.fullmatch(timespan.strip())
    if found is None:
        raise ValueError(f"{timespan!r} is not a TimeSpan like '00:00:30'")
    days, hours, minutes, seconds = found.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True, slots=True)
class Poisoned:
    """A message the listener moved to the poison queue: its attempts and last reason."""

    attempts: int
    reason: str


class QueueListener(threading.Thread):
    """The host's listener of one queue trigger; runs until :meth:`stop`."""

    def __init__(
        self,
        function: str,
        queue: Any,
        poison_queue: Any,
        settings: QueueSettings,
        worker: AppWorker,
        observe: Observer,
        *,
        max_polling_interval: float = 1.0,
    ) -> None:
        super().__init__(name=f"queue-{function}", daemon=True)
        self.function = function
        self.queue = queue  # azure.storage.queue.QueueClient, content as sent (no policy)
        self.poison_queue = poison_queue
        self.settings = settings
        self.worker = worker
        self.observe = observe
        self.longest_wait = max(
            MIN_POLLING_INTERVAL, min(settings.max_polling_interval, max_polling_interval)
        )
        self.stopping = threading.Event()
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._reasons: dict[str, str] = {}
        self.poisoned: dict[str, list[Poisoned]] = {}
        """Poison queue content -> what was poisoned with that content, in order."""

    def run(self) -> None:
        wait = MIN_POLLING_INTERVAL
        while not self.stopping.is_set():
            try:
                messages = list(
                    self.queue.receive_messages(
                        messages_per_page=self.settings.batch_size,
                        max_messages=self.settings.batch_size,
                        visibility_timeout=LEASE_SECONDS,
                    )
                )
            except Exception as error:  # Azurite went away mid-stop, or a bug: keep polling
                if self.stopping.is_set():
                    return
                self.errors.append(f"{type(error).__name__}: {error}")
                messages = []
            if messages:
                wait = MIN_POLLING_INTERVAL
                for message in messages:
                    self._handle(message)
                continue
            self.stopping.wait(wait)
            wait = min(wait * 2, self.longest_wait)

    def _handle(self, message: Any) -> None:
        try:
            if message.dequeue_count > self.settings.max_dequeue_count:
                # Fetched past its last attempt (a crash between attempts): poisoned unseen.
                self._poison(message)
                return
            outcome = self._invoke(message)
            self.observe(self.function, f"message {message.id}", outcome)
            if outcome.error is None:
                self.queue.delete_message(message.id, message.pop_receipt)
                return
            with self._lock:
                self._reasons[message.id] = failure_reason(outcome)
            if message.dequeue_count >= self.settings.max_dequeue_count:
                self._poison(message)
            else:
                self.queue.update_message(
                    message.id,
                    message.pop_receipt,
                    visibility_timeout=int(self.settings.visibility_timeout),
                )
        except Exception as error:
            if not self.stopping.is_set():
                self.errors.append(f"message {message.id}: {type(error).__name__}: {error}")

    def _invoke(self, message: Any) -> Invocation:
        content = message.content or ""
        if self.settings.base64:
            try:
                body = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                return Invocation(
                    error="InvalidOperationException: the message is not base64, and "
                    "host.json messageEncoding is base64"
                )
        else:
            body = content.encode("utf-8")
        return self.worker.invoke(
            {
                "kind": "queue",
                "function": self.function,
                "id": message.id,
                "body": base64.b64encode(body).decode("ascii"),
                "dequeue_count": message.dequeue_count,
                "insertion_time": _iso(message.inserted_on),
                "expiration_time": _iso(message.expires_on),
                "time_next_visible": _iso(message.next_visible_on),
                "pop_receipt": message.pop_receipt,
            }
        )

    def _poison(self, message: Any) -> None:
        from azure.core.exceptions import ResourceExistsError

        content = message.content or ""
        # The host creates the poison queue the first time it needs it.
        with contextlib.suppress(ResourceExistsError):
            self.poison_queue.create_queue()
        self.poison_queue.send_message(content)
        self.queue.delete_message(message.id, message.pop_receipt)
        with self._lock:
            reason = self._reasons.pop(message.id, "unknown: no failure was logged")
            self.poisoned.setdefault(content, []).append(
                Poisoned(attempts=message.dequeue_count, reason=reason)
            )

    def poisoned_as(self, content: str) -> list[Poisoned]:
        """What was poisoned with ``content`` (a poison queue message's), oldest first."""
        with self._lock:
            return list(self.poisoned.get(content, []))

    def stop(self) -> None:
        self.stopping.set()


def failure_reason(outcome: Invocation) -> str:
    """The last failure the function logged, else the error its invocation raised."""
    reason = outcome.error or ""
    for line in outcome.logs.splitlines():
        match = FAILURE_LINE.match(line)
        if match is not None:
            reason = match.group("reason")
    return reason


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


class TimerPlayer(threading.Thread):
    """Fires one timer trigger at the times of its NCRONTAB ``schedule``; until :meth:`stop`."""

    def __init__(self, function: str, schedule: str, worker: AppWorker, observe: Observer) -> None:
        super().__init__(name=f"timer-{function}", daemon=True)
        self.function = function
        self.schedule = schedule
        self.worker = worker
        self.observe = observe
        self.stopping = threading.Event()

    def next_due(self, after: datetime) -> datetime:
        """The first time of the schedule after ``after`` (NCRONTAB: seconds first)."""
        from croniter import croniter

        # NCRONTAB runs a tick when day-of-month *and* day-of-week match.
        found: datetime = croniter(
            self.schedule, after, second_at_beginning=True, day_or=False
        ).get_next(datetime)
        return found

    def run(self) -> None:
        due = self.next_due(datetime.now(UTC))
        while not self.stopping.wait(max(0.0, due.timestamp() - time.time())):
            late = time.time() - due.timestamp()
            self.fire(past_due=late > PAST_DUE_AFTER)
            due = self.next_due(max(due, datetime.now(UTC)))

    def fire(self, *, past_due: bool = False) -> Invocation:
        """Run the timer function once now (the host logs a failure and goes on)."""
        outcome = self.worker.invoke(
            {"kind": "timer", "function": self.function, "past_due": past_due}
        )
        self.observe(self.function, "timer", outcome)
        return outcome

    def stop(self) -> None:
        self.stopping.set()
