"""Dead letters read back from the emulator's dead-letter pull subscriptions.

Pub/Sub forwards a message it gave up on to the subscription's dead-letter topic,
unchanged but for a new ``messageId`` and the ``CloudPubSubDeadLetterSource*``
attributes (among them ``...DeliveryCount``, the attempts made). portway keeps them in
a pull subscription of that topic; :func:`peek` reads every one without acknowledging
it (each is made available again at once, as ``portway dlq list`` must leave them).

Pub/Sub keeps no failure reason: the reason of a dead letter is the last failure the
function logged for that message (``portway: <function>: <message id> failed:
<reason>``, as :mod:`portway_gcp.main` writes it), which is what one reads from Cloud
Logging on Google Cloud.
https://cloud.google.com/pubsub/docs/handling-failures#dead_letter_topic
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

DELIVERY_COUNT = "CloudPubSubDeadLetterSourceDeliveryCount"
SOURCE_PUBLISH_TIME = "CloudPubSubDeadLetterSourceTopicPublishTime"
PULL_BATCH = 100
# The Pub/Sub emulator holds a pull of an empty subscription until a second before its
# deadline (measured: 5 s -> 4 s), and answers at once when there is something to pull:
# a short deadline makes reading an empty dead-letter subscription cheap.
PULL_TIMEOUT = 1.0

# What the runtime shim logs for each failure (portway_gcp.main._log).
_FAILURE_LINE = re.compile(r"^portway: (?P<function>[^:]+): (?P<what>.+?) failed: (?P<reason>.+)$")


@dataclass(frozen=True, slots=True)
class PulledLetter:
    """One message of a dead-letter subscription, as pulled."""

    message_id: str
    data: bytes
    attributes: Mapping[str, str]
    publish_time: str

    @property
    def attempts(self) -> int:
        """The delivery attempts Pub/Sub made before giving up (0 if it did not say)."""
        try:
            return int(self.attributes.get(DELIVERY_COUNT, "0"))
        except ValueError:
            return 0


def peek(subscriber: Any, subscription: str) -> list[PulledLetter]:
    """Every message of the pull subscription ``subscription``, oldest first, left in it.

    Pulls until a pull brings nothing new (pulled messages stay hidden for the ack
    deadline, so each comes once), then makes them all available again at once
    (``modify_ack_deadline`` to 0).
    """
    from google.api_core import exceptions

    seen: dict[str, tuple[str, PulledLetter]] = {}
    try:
        while True:
            try:
                # A short deadline instead of the deprecated return_immediately (it warns).
                response = subscriber.pull(
                    request={"subscription": subscription, "max_messages": PULL_BATCH},
                    timeout=PULL_TIMEOUT,
                    retry=None,
                )
            except exceptions.DeadlineExceeded:
                break
            fresh = [r for r in response.received_messages if r.message.message_id not in seen]
            if not fresh:
                break
            for received in fresh:
                message = received.message
                seen[message.message_id] = (
                    received.ack_id,
                    PulledLetter(
                        message.message_id,
                        bytes(message.data),
                        dict(message.attributes),
                        _rfc3339(message.publish_time),
                    ),
                )
    finally:
        ack_ids = [ack_id for ack_id, _ in seen.values()]
        for start in range(0, len(ack_ids), PULL_BATCH):
            subscriber.modify_ack_deadline(
                request={
                    "subscription": subscription,
                    "ack_ids": ack_ids[start : start + PULL_BATCH],
                    "ack_deadline_seconds": 0,
                }
            )
    return sorted((letter for _, letter in seen.values()), key=lambda letter: letter.publish_time)


def _rfc3339(value: Any) -> str:
    """A protobuf timestamp (a ``DatetimeWithNanoseconds``) as RFC 3339, for ordering."""
    isoformat = getattr(value, "isoformat", None)
    return str(isoformat()) if callable(isoformat) else str(value)


def failure_reasons(log_lines: Iterable[str]) -> dict[tuple[str, str], str]:
    """``(function, what) -> reason`` of the failures logged, the last one winning.

    ``what`` is the message id the shim names (an object trigger adds `` (<key>)``).
    """
    reasons: dict[tuple[str, str], str] = {}
    for line in log_lines:
        match = _FAILURE_LINE.match(line.strip())
        if match is not None:
            what = match.group("what")
            reasons[(match.group("function"), what)] = match.group("reason")
            # An object trigger names "<id> (<key>)": its message id alone finds it too.
            identifier = what.split(" (", 1)[0]
            reasons[(match.group("function"), identifier)] = match.group("reason")
    return reasons
