"""The local data plane: ``lake.write()``, ``jobs.send()`` and friends on this machine.

One :class:`LocalDataPlane` per process and stage; it opens the stage's database on
the first call. The runtime's workers, ``portway send``/``put`` and scripts using
``app.connect()`` all go through it, so a message sent from anywhere is delivered
under the same rules.

Trace context: a message sent or published inside an invocation carries the
invocation's ``traceparent`` (:func:`portway.tracing.current`); outside one, each
message starts its own trace (every subscriber's copy of a publish shares it; see
:mod:`portway.local.messages`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

from portway import tracing
from portway.local import channels, messages
from portway.local.database import StageLayout, Sync, connect, transaction
from portway.local.objects import Buckets, WrittenObject
from portway.model import Bucket, Pipeline, Queue, Topic
from portway.payload import OutgoingMessage, check_sizes


class LocalDataPlane:
    """Implements :class:`portway.dataplane.DataPlane` over a local stage's state."""

    def __init__(
        self,
        pipeline: Pipeline,
        layout: StageLayout,
        *,
        max_message_bytes: int,
        sync: Sync = "normal",
    ) -> None:
        self.pipeline = pipeline
        self.layout = layout
        self.max_message_bytes = max_message_bytes
        self.sync: Sync = sync
        self.buckets = Buckets(layout, durable=sync == "full")
        self._connection: sqlite3.Connection | None = None

    @property
    def connection(self) -> sqlite3.Connection:
        if self._connection is None:
            self._connection = connect(self.layout, self.sync)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- buckets ---------------------------------------------------------------------

    def read_object(self, bucket: Bucket, key: str) -> bytes:
        return self.buckets.read(bucket.name, key)

    def write_object(self, bucket: Bucket, key: str, data: bytes, content_type: str) -> None:
        self.put_object(bucket, key, data)

    def put_object(self, bucket: Bucket, key: str, data: bytes) -> WrittenObject:
        """Write and report what was written (``portway put`` prints it)."""
        return self.buckets.write(self.connection, bucket.name, key, data, self._object_channels)

    def list_objects(self, bucket: Bucket, prefix: str) -> list[str]:
        return self.buckets.list(bucket.name, prefix)

    def delete_object(self, bucket: Bucket, key: str) -> None:
        self.buckets.delete(bucket.name, key)

    def _object_channels(self, bucket: str, key: str) -> list[str]:
        resource = self.pipeline.resources.get(bucket)
        if not isinstance(resource, Bucket):
            return []
        return channels.object_channels(self.pipeline, resource, key)

    # -- queues and topics ---------------------------------------------------------------

    def send_messages(self, queue: Queue, messages_: Sequence[OutgoingMessage]) -> list[str]:
        check_sizes(messages_, self.max_message_bytes, target=f"{queue.name}.send()")
        channel = channels.queue_channel(queue)
        context = tracing.current()
        traceparent = context.traceparent if context is not None else None
        with transaction(self.connection):
            return messages.enqueue(
                self.connection,
                [(channel, m) for m in messages_],
                time.time(),
                traceparent=traceparent,  # None: each message starts its own trace
            )

    def publish_messages(self, topic: Topic, messages_: Sequence[OutgoingMessage]) -> list[str]:
        check_sizes(messages_, self.max_message_bytes, target=f"{topic.name}.publish()")
        subscriptions = channels.topic_channels(self.pipeline, topic)
        ids = [messages.new_id() for _ in messages_]
        if not subscriptions:
            return ids  # as on SNS: a topic with no subscriber accepts and drops
        now = time.time()
        context = tracing.current()
        # Outside an invocation: untraced, the copies share the trace of their common id.
        traceparent = context.traceparent if context is not None else None
        # Every subscriber's copy is written in one transaction: all get it, or none.
        with transaction(self.connection):
            for identifier, message in zip(ids, messages_, strict=True):
                messages.enqueue(
                    self.connection,
                    [(channel, message) for channel in subscriptions],
                    now,
                    message_id=identifier,
                    traceparent=traceparent,
                )
        return ids
