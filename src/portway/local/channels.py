"""Channels: what one function consumes, the local counterpart of the clouds' queues.

On every cloud, portway routes each asynchronous trigger through a queue it owns (an
SQS queue per topic subscriber and per object trigger, and so on), so retries and dead
letters mean the same thing everywhere. The local provider does the same with
*channels*, rows of one SQLite table told apart by name:

==========================  ==========================================================
``queue/<queue>``           a declared queue; its consumers compete for its messages
``topic/<topic>/<fn>``      one subscription: function ``fn``'s copy of each message
``bucket/<bucket>/<fn>``    object-created events for function ``fn``'s trigger
``schedule/<fn>``           the ticks of function ``fn``'s schedule
==========================  ==========================================================

A declared queue keeps its own ``max_attempts`` and ``visibility_timeout``; the other
channels take the defaults, with a visibility timeout that covers the function's
``timeout`` (as portway configures the subscription queues on AWS).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from portway.model import Bucket, Function, Pipeline, Queue, Topic, limits
from portway.model.triggers import MessageTrigger, ObjectCreatedTrigger, ScheduleTrigger

ChannelKind = Literal["queue", "topic", "bucket", "schedule"]


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel and the rules of delivery on it."""

    name: str
    kind: ChannelKind
    source: str
    functions: tuple[str, ...]
    max_attempts: int
    visibility_timeout: int
    batch_size: int = 1
    max_batching_window: int = 0

    @property
    def dead_letter_name(self) -> str:
        """How users name this channel's dead letters (``transform-jobs-dlq``)."""
        if self.kind == "queue":
            return f"{self.source}-dlq"
        return f"{self.name}-dlq"


def queue_channel(queue: Queue) -> str:
    return f"queue/{queue.name}"


def subscription_channel(topic: Topic, function: Function) -> str:
    return f"topic/{topic.name}/{function.name}"


def object_channel(bucket: Bucket, function: Function) -> str:
    return f"bucket/{bucket.name}/{function.name}"


def schedule_channel(function: Function) -> str:
    return f"schedule/{function.name}"


def channels_of(pipeline: Pipeline) -> dict[str, Channel]:
    """Every channel of ``pipeline`` with a consumer, by name, in declaration order."""
    channels: dict[str, Channel] = {}
    for function in pipeline.functions.values():
        trigger = function.trigger
        covering = max(limits.DEFAULT_VISIBILITY_TIMEOUT, function.timeout + 5)
        if isinstance(trigger, MessageTrigger) and isinstance(trigger.source, Queue):
            queue = trigger.source
            name = queue_channel(queue)
            known = channels.get(name)
            consumers = (known.functions if known else ()) + (function.name,)
            batch_size, window = trigger.batch_size, trigger.max_batching_window
            if known is not None:
                # Any consumer may get any batch of a shared queue: batches hold no more
                # than the smallest batch_size, and wait no longer than the shortest window.
                batch_size = min(batch_size, known.batch_size)
                window = min(window, known.max_batching_window)
            channels[name] = Channel(
                name,
                "queue",
                queue.name,
                consumers,
                queue.max_attempts,
                queue.visibility_timeout,
                batch_size,
                window,
            )
        elif isinstance(trigger, MessageTrigger) and isinstance(trigger.source, Topic):
            name = subscription_channel(trigger.source, function)
            channels[name] = Channel(
                name,
                "topic",
                trigger.source.name,
                (function.name,),
                limits.DEFAULT_MAX_ATTEMPTS,
                covering,
                trigger.batch_size,
                trigger.max_batching_window,
            )
        elif isinstance(trigger, ObjectCreatedTrigger):
            name = object_channel(trigger.bucket, function)
            channels[name] = Channel(
                name,
                "bucket",
                trigger.bucket.name,
                (function.name,),
                limits.DEFAULT_MAX_ATTEMPTS,
                covering,
            )
        elif isinstance(trigger, ScheduleTrigger):
            name = schedule_channel(function)
            channels[name] = Channel(
                name,
                "schedule",
                trigger.schedule.expression,
                (function.name,),
                limits.DEFAULT_MAX_ATTEMPTS,
                covering,
            )
    return channels


def topic_channels(pipeline: Pipeline, topic: Topic) -> list[str]:
    """The subscription channels a publish to ``topic`` fans out to."""
    return [subscription_channel(topic, f) for f in pipeline.subscribers(topic)]


def object_channels(pipeline: Pipeline, bucket: Bucket, key: str) -> list[str]:
    """The channels that get an object-created event for ``key`` (filters applied)."""
    return [
        object_channel(bucket, f)
        for f in pipeline.subscribers(bucket)
        if isinstance(f.trigger, ObjectCreatedTrigger) and f.trigger.matches(key)
    ]


def find_channel(pipeline: Pipeline, name: str) -> Channel:
    """The channel a user means by ``name``.

    Accepted: a queue (``transform-jobs``) or its dead-letter name
    (``transform-jobs-dlq``), a consuming function (``report``), or a channel name.
    Raises ``KeyError`` listing what exists.
    """
    channels = channels_of(pipeline)
    wanted = name.removesuffix("-dlq") if name not in channels else name
    for channel in channels.values():
        if wanted in (channel.name, channel.dead_letter_name.removesuffix("-dlq")):
            return channel
        if channel.kind == "queue" and wanted == channel.source:
            return channel
    for channel in channels.values():
        if any(wanted in (f, f.replace("_", "-")) for f in channel.functions):
            return channel
    known = ", ".join(c.source if c.kind == "queue" else c.functions[0] for c in channels.values())
    raise KeyError(
        f"pipeline {pipeline.name!r} has no queue or consuming function {name!r} "
        f"(name one of: {known or 'none'})"
    )
