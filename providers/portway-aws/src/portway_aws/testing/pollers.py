"""Lambda's event source mappings and EventBridge Scheduler, played against moto.

:class:`QueuePoller` is one SQS event source mapping: it long-polls the mapped queue
with the mapping's batch size (and batching window), lets the queue's own visibility
timeout and redrive policy apply, invokes the function with the event Lambda builds
(:func:`portway_aws.event_source.sqs_event`), and deletes what succeeded: everything
but the ``batchItemFailures`` (``ReportBatchItemFailures`` is on), or nothing when the
invocation failed. What is left comes back after the visibility timeout, and moto's
redrive moves it to the dead-letter queue after ``maxReceiveCount`` receives.

:class:`SchedulePlayer` fires a schedule moto stores but never fires: it reads the
schedule (``get_schedule``), and invokes its target with its ``Input`` (context
attributes such as ``<aws.scheduler.scheduled-time>`` filled in) once per interval of
its ``rate(...)`` expression, the first one interval after it starts.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from portway_aws.event_source import sqs_event
from portway_aws.testing.lambda_runner import Invocation, LambdaWorker

# https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#rate-based
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
SQS_RECEIVE_LIMIT = 10
EMPTY_POLL_PAUSE = 0.2  # seconds between two receives that found nothing

#: Called after each invocation: (function, event, outcome).
Observer = Callable[[str, Mapping[str, Any], Invocation], None]


@dataclass(frozen=True, slots=True)
class EventSourceMapping:
    """What the poller reads from moto's mapping (``list_event_source_mappings``)."""

    function: str  # the portway function's name
    queue_url: str
    queue_arn: str
    batch_size: int
    batching_window: int
    report_batch_item_failures: bool


class QueuePoller(threading.Thread):
    """One event source mapping: receive, invoke, delete what succeeded; until stopped."""

    def __init__(
        self,
        sqs: Any,
        mapping: EventSourceMapping,
        worker: LambdaWorker,
        region: str,
        observe: Observer,
    ) -> None:
        super().__init__(name=f"poller-{mapping.function}", daemon=True)
        self.sqs = sqs
        self.mapping = mapping
        self.worker = worker
        self.region = region
        self.observe = observe
        self.stopping = threading.Event()
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                messages = self._receive()
                if messages:
                    self._deliver(messages)
            except Exception as error:  # moto went away mid-stop, or a bug: keep polling
                if self.stopping.is_set():
                    return
                self.errors.append(f"{type(error).__name__}: {error}")
                time.sleep(0.5)

    def _receive(self) -> list[dict[str, Any]]:
        """Up to a batch: more receives while the batching window is open and it is short."""
        mapping = self.mapping
        deadline = time.monotonic() + mapping.batching_window
        messages: list[dict[str, Any]] = []
        while len(messages) < mapping.batch_size and not self.stopping.is_set():
            received = self._receive_once(len(messages))
            messages.extend(received)
            if not messages:
                self.stopping.wait(EMPTY_POLL_PAUSE)
            if messages and (not received or time.monotonic() >= deadline):
                break
        return messages

    def _receive_once(self, have: int) -> list[dict[str, Any]]:
        mapping = self.mapping
        return list(
            self.sqs.receive_message(
                QueueUrl=mapping.queue_url,
                MaxNumberOfMessages=min(SQS_RECEIVE_LIMIT, mapping.batch_size - have),
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        )

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        event = sqs_event(messages, self.mapping.queue_arn, self.region)
        outcome = self.worker.invoke(event)
        self.observe(self.mapping.function, event, outcome)
        if outcome.error is not None:
            return  # the whole batch comes back after the visibility timeout
        failed = set()
        if self.mapping.report_batch_item_failures and isinstance(outcome.result, Mapping):
            for item in outcome.result.get("batchItemFailures") or []:
                failed.add(str(item.get("itemIdentifier")))
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), SQS_RECEIVE_LIMIT):
            chunk = done[start : start + SQS_RECEIVE_LIMIT]
            self.sqs.delete_message_batch(
                QueueUrl=self.mapping.queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)
                ],
            )

    def stop(self) -> None:
        self.stopping.set()


def rate_seconds(expression: str) -> int | None:
    """The interval of a ``rate(...)`` expression, or ``None`` for ``cron``/``at``."""
    match = _RATE.match(expression.strip())
    if match is None:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def schedule_input(text: str, *, due: datetime, schedule_arn: str) -> Any:
    """The target's input with Scheduler's context attributes filled in.

    https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html
    """
    values = {
        "<aws.scheduler.scheduled-time>": due.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": str(uuid.uuid4()),
        "<aws.scheduler.schedule-arn>": schedule_arn,
        "<aws.scheduler.attempt-number>": "1",
    }
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return json.loads(text) if text.strip() else {}


class SchedulePlayer(threading.Thread):
    """Fires one stored ``rate(...)`` schedule at its interval; :meth:`fire` fires it now."""

    def __init__(
        self,
        function: str,
        schedule: Mapping[str, Any],
        worker: LambdaWorker,
        observe: Observer,
    ) -> None:
        super().__init__(name=f"schedule-{function}", daemon=True)
        self.function = function
        self.schedule = schedule
        self.worker = worker
        self.observe = observe
        self.interval = rate_seconds(str(schedule.get("ScheduleExpression", "")))
        self.stopping = threading.Event()

    def run(self) -> None:
        if self.interval is None:
            return  # cron(...) and at(...) are not played: the suite's schedule is a rate
        next_due = time.time() + self.interval
        while not self.stopping.wait(max(0.0, next_due - time.time())):
            self.fire(datetime.fromtimestamp(next_due, UTC))
            next_due += self.interval

    def fire(self, due: datetime | None = None) -> Invocation:
        """Invoke the target once, as Scheduler does (asynchronously: errors are logged)."""
        target = self.schedule.get("Target", {})
        event = schedule_input(
            str(target.get("Input", "")),
            due=due or datetime.now(UTC),
            schedule_arn=str(self.schedule.get("Arn", "")),
        )
        outcome = self.worker.invoke(event)
        self.observe(self.function, event, outcome)
        return outcome

    def stop(self) -> None:
        self.stopping.set()
