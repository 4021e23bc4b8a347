"""Cloud Storage Pub/Sub notifications, played: the message GCS publishes for a new object.

Neither storage emulator sends notifications (nor stores notification configs), so the
harness publishes, after each object write, what Cloud Storage would: for every
notification config of the bucket whose ``object_name_prefix`` matches the object's
name, one ``OBJECT_FINALIZE`` message to the config's topic, shaped as GCS shapes it:

* attributes ``notificationConfig``, ``eventType``, ``payloadFormat``, ``bucketId``,
  ``objectId``, ``objectGeneration``, ``eventTime``, ``overwroteGeneration`` when a
  generation was replaced, and the config's custom attributes;
* data: with ``JSON_API_V1``, the object's resource as the JSON API returns it (UTF-8
  JSON); with ``NONE``, no data.

Only the prefix is applied, as GCS does (it has no suffix filter; the runtime shim
applies a trigger's suffix).

https://cloud.google.com/storage/docs/pubsub-notifications
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Protocol

OBJECT_FINALIZE = "OBJECT_FINALIZE"
JSON_API_V1 = "JSON_API_V1"
NO_PAYLOAD = "NONE"
PUBLISH_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class NotificationConfig:
    """One bucket notification config, as the JSON API's ``notifications`` resource has it.

    ``topic``: the full topic path (``projects/P/topics/T``). Empty ``event_types``
    means every event type, as in GCS.
    """

    id: str
    bucket: str
    topic: str
    object_name_prefix: str = ""
    event_types: tuple[str, ...] = (OBJECT_FINALIZE,)
    payload_format: str = JSON_API_V1
    custom_attributes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def path(self) -> str:
        """``projects/_/buckets/B/notificationConfigs/ID``: the ``notificationConfig`` attribute."""
        return f"projects/_/buckets/{self.bucket}/notificationConfigs/{self.id}"

    def matches(self, bucket: str, name: str, event_type: str = OBJECT_FINALIZE) -> bool:
        """Whether GCS sends this config's topic an ``event_type`` for object ``name``."""
        if bucket != self.bucket or not name.startswith(self.object_name_prefix):
            return False
        return not self.event_types or event_type in self.event_types


def finalize_message(
    config: NotificationConfig,
    resource: Mapping[str, Any],
    *,
    overwrote_generation: str | None = None,
    event_time: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """``(data, attributes)`` of the ``OBJECT_FINALIZE`` message ``config`` gets for ``resource``.

    ``resource``: the object resource (``name``, ``bucket``, ``generation``, ``size``,
    ``md5Hash``...) as the JSON API returned it for the write. ``event_time`` defaults
    to the object's ``updated`` (or ``timeCreated``) time.
    """
    when = (
        event_time
        or resource.get("updated")
        or resource.get("timeCreated")
        or datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    )
    attributes = {
        **config.custom_attributes,
        "notificationConfig": config.path,
        "eventType": OBJECT_FINALIZE,
        "payloadFormat": config.payload_format,
        "bucketId": str(resource.get("bucket", config.bucket)),
        "objectId": str(resource["name"]),
        "objectGeneration": str(resource.get("generation", "")),
        "eventTime": str(when),
    }
    if overwrote_generation is not None:
        attributes["overwroteGeneration"] = overwrote_generation
    if config.payload_format == NO_PAYLOAD:
        return b"", attributes
    return json.dumps(dict(resource), separators=(",", ":")).encode("utf-8"), attributes


class Publisher(Protocol):
    """What :class:`NotificationPlayer` needs of ``google.cloud.pubsub_v1.PublisherClient``."""

    def publish(self, topic: str, data: bytes, **attrs: str) -> Any: ...


class NotificationPlayer:
    """Publishes, for each object written, the notifications its bucket's configs ask for.

    Keeps the last generation it saw of each object, so a write replacing one carries
    ``overwroteGeneration`` as in GCS (objects it never saw written have none).
    """

    def __init__(self, publisher: Publisher, configs: Iterable[NotificationConfig]) -> None:
        self.publisher = publisher
        self.configs = tuple(configs)
        self.published: list[tuple[str, dict[str, str]]] = []  # (topic, attributes)
        self.errors: list[str] = []
        self._generations: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def object_finalized(self, resource: Mapping[str, Any]) -> None:
        """Publish what GCS publishes for the new object ``resource`` (waits until sent)."""
        bucket, name = str(resource.get("bucket", "")), str(resource.get("name", ""))
        generation = str(resource.get("generation", ""))
        with self._lock:
            overwrote = self._generations.get((bucket, name))
            self._generations[(bucket, name)] = generation
        futures = []
        for config in self.configs:
            if not config.matches(bucket, name):
                continue
            data, attributes = finalize_message(
                config,
                resource,
                overwrote_generation=overwrote if overwrote != generation else None,
            )
            futures.append(self.publisher.publish(config.topic, data, **attributes))
            with self._lock:
                self.published.append((config.topic, attributes))
        for future in futures:
            try:
                future.result(timeout=PUBLISH_TIMEOUT)
            except Exception as error:  # keep serving writes; the diagnostics show it
                with self._lock:
                    self.errors.append(f"{name}: {type(error).__name__}: {error}")
