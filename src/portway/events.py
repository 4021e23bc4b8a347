"""Neutral events, aligned with CloudEvents 1.0.

Every event has the CloudEvents context attributes ``id``, ``source``, ``type``,
``time`` and ``subject``, and a typed view of its data:

* :class:`ObjectEvent`: an object was created in a bucket (key already decoded);
* :class:`Message`: a message from a queue or a topic subscription;
* :class:`ScheduleEvent`: a schedule fired;
* :class:`HttpRequest`: an HTTP request, answered with a dict (JSON), ``str``,
  ``bytes``, ``None`` (204) or an explicit :class:`HttpResponse`.

Each keeps the provider's original event on ``.raw`` (not serialised). ``to_json()``
writes the CloudEvents JSON format (``data`` is a JSON object describing the event,
bodies as base64) and :func:`event_from_json` reads it back to an equal event.
``traceparent`` (the W3C trace context, see :mod:`portway.tracing`) travels as the
CloudEvents distributed-tracing extension attribute of that name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from portway.payload import BINARY, JSON

__all__ = [
    "BatchResult",
    "Event",
    "HttpRequest",
    "HttpResponse",
    "Message",
    "ObjectEvent",
    "ScheduleEvent",
    "event_from_json",
    "to_http_response",
]

SPEC_VERSION = "1.0"


def _now() -> datetime:
    return datetime.now(UTC)


# base64 is imported where it is used: only the CloudEvents JSON form needs it, and every
# cold start of a deployed function imports this module.
def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"a base64 body must be a string, not {type(text).__name__}")
    import base64

    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Common CloudEvents context of every neutral event."""

    type: ClassVar[str] = "dev.portway.event"

    id: str
    source: str = "/portway"
    time: datetime = field(default_factory=_now)
    raw: Any = field(default=None, compare=False, repr=False)
    # The W3C trace context the event carried (the CloudEvents distributed-tracing
    # extension): who sent it, within which trace. See portway.tracing.
    traceparent: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # CloudEvents times are RFC 3339, with an offset: a naive time is taken as UTC.
        if self.time.tzinfo is None:
            object.__setattr__(self, "time", self.time.replace(tzinfo=UTC))

    @property
    def subject(self) -> str | None:
        """The CloudEvents ``subject``: what the event is about, within its source."""
        return None

    def _data(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _from_data(cls, context: dict[str, Any], data: dict[str, Any]) -> Event:
        raise NotImplementedError

    def to_cloudevent(self) -> dict[str, Any]:
        """This event as a CloudEvents 1.0 JSON-format object."""
        event: dict[str, Any] = {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time.isoformat(),
            "datacontenttype": JSON,
            "data": self._data(),
        }
        if self.subject is not None:
            event["subject"] = self.subject
        if self.traceparent is not None:
            event["traceparent"] = self.traceparent
        return event

    def to_json(self) -> str:
        return json.dumps(self.to_cloudevent(), separators=(",", ":"), sort_keys=True)


def event_from_json(text: str | bytes) -> Event:
    """Read an event written by :meth:`Event.to_json`.

    Raises ``ValueError`` naming what is missing or malformed (never ``KeyError``).
    """
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"not a JSON event: {error}") from None
    if not isinstance(document, dict):
        raise ValueError("not a JSON event: expected an object")
    missing = [k for k in ("specversion", "id", "type", "data") if k not in document]
    if missing:
        raise ValueError(f"not a CloudEvent: missing {', '.join(missing)}")
    event_type = _EVENT_TYPES.get(str(document["type"]))
    if event_type is None:
        raise ValueError(f"unknown event type {document['type']!r}")
    context = {
        "id": str(document["id"]),
        "source": str(document.get("source", "/portway")),
        "time": _read_time(document["time"]) if "time" in document else _now(),
    }
    traceparent = document.get("traceparent")
    if isinstance(traceparent, str):
        context["traceparent"] = traceparent
    try:
        return event_type._from_data(context, dict(document["data"]))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"malformed {document['type']} data: {error!r}") from None


def _read_time(value: object) -> datetime:
    try:
        if not isinstance(value, str):
            raise TypeError
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"the event's time {value!r} is not an RFC 3339 timestamp "
            f"(like 2026-11-25T10:00:00+00:00)"
        ) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectEvent(Event):
    """An object was created. ``key`` is decoded (S3's URL-encoding is undone)."""

    type: ClassVar[str] = "dev.portway.object.created"

    bucket: str
    key: str
    size: int = 0
    etag: str = ""

    @property
    def subject(self) -> str | None:
        return self.key

    def _data(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "key": self.key, "size": self.size, "etag": self.etag}

    @classmethod
    def _from_data(cls, context: dict[str, Any], data: dict[str, Any]) -> Event:
        return cls(
            **context,
            bucket=data["bucket"],
            key=data["key"],
            size=int(data.get("size", 0)),
            etag=data.get("etag", ""),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Message(Event):
    """A message delivered from a queue or a topic subscription.

    ``attempt`` counts deliveries, starting at 1. ``time`` is when it was published.
    """

    type: ClassVar[str] = "dev.portway.message"

    body: bytes
    attributes: Mapping[str, str] = field(default_factory=dict)
    attempt: int = 1
    content_type: str = BINARY

    @property
    def publish_time(self) -> datetime:
        return self.time

    def text(self) -> str:
        """The body decoded as UTF-8 (raises ``UnicodeDecodeError`` if it is not)."""
        return self.body.decode("utf-8")

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` if it is not JSON)."""
        return json.loads(self.body)

    def _data(self) -> dict[str, Any]:
        return {
            "body_base64": _b64(self.body),
            "attributes": dict(self.attributes),
            "attempt": self.attempt,
            "content_type": self.content_type,
        }

    @classmethod
    def _from_data(cls, context: dict[str, Any], data: dict[str, Any]) -> Event:
        return cls(
            **context,
            body=_unb64(data["body_base64"]),
            attributes={str(k): str(v) for k, v in dict(data.get("attributes", {})).items()},
            attempt=int(data.get("attempt", 1)),
            content_type=data.get("content_type", BINARY),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleEvent(Event):
    """A schedule fired. ``time`` is the tick it fired for (UTC)."""

    type: ClassVar[str] = "dev.portway.schedule"

    schedule: str

    @property
    def subject(self) -> str | None:
        return self.schedule

    def _data(self) -> dict[str, Any]:
        return {"schedule": self.schedule}

    @classmethod
    def _from_data(cls, context: dict[str, Any], data: dict[str, Any]) -> Event:
        return cls(**context, schedule=data["schedule"])


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpRequest(Event):
    """An HTTP request. Header names are lower case; ``query`` keeps the last value."""

    type: ClassVar[str] = "dev.portway.http.request"

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    path_params: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def subject(self) -> str | None:
        return self.path

    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    def _data(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "headers": dict(self.headers),
            "query": dict(self.query),
            "path_params": dict(self.path_params),
            "body_base64": _b64(self.body),
        }

    @classmethod
    def _from_data(cls, context: dict[str, Any], data: dict[str, Any]) -> Event:
        return cls(
            **context,
            method=data["method"],
            path=data["path"],
            headers=dict(data.get("headers", {})),
            query=dict(data.get("query", {})),
            path_params=dict(data.get("path_params", {})),
            body=_unb64(data.get("body_base64", "")),
        )


_EVENT_TYPES: dict[str, type[Event]] = {
    kind.type: kind for kind in (ObjectEvent, Message, ScheduleEvent, HttpRequest)
}


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """An explicit HTTP response: status, headers and body."""

    body: bytes | str = b""
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


def to_http_response(result: object) -> HttpResponse:
    """Turn what an ``http`` handler returned into an :class:`HttpResponse`.

    ``dict``/``list`` -> JSON 200; ``str`` -> text 200; ``bytes`` -> binary 200;
    ``None`` -> 204; an :class:`HttpResponse` as it is (a ``str`` body becomes UTF-8).
    Anything else raises ``TypeError`` naming its type.
    """
    if isinstance(result, HttpResponse):
        if isinstance(result.body, str):
            headers = dict(result.headers)
            if not any(name.lower() == "content-type" for name in headers):
                headers["content-type"] = "text/plain; charset=utf-8"
            return HttpResponse(result.body.encode("utf-8"), result.status, headers)
        return result
    if result is None:
        return HttpResponse(b"", 204)
    if isinstance(result, dict | list):
        body = json.dumps(result, separators=(",", ":"), default=str).encode("utf-8")
        return HttpResponse(body, 200, {"content-type": JSON})
    if isinstance(result, str):
        return HttpResponse(
            result.encode("utf-8"), 200, {"content-type": "text/plain; charset=utf-8"}
        )
    if isinstance(result, bytes | bytearray):
        return HttpResponse(bytes(result), 200, {"content-type": BINARY})
    raise TypeError(
        f"an http handler must return dict, list, str, bytes, None or HttpResponse, "
        f"not {type(result).__name__}"
    )


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a batch handler may return to report per-message failures.

    ``failed`` lists the ids of the messages to retry; every other message of the batch
    is acknowledged. Returning ``None`` acknowledges the whole batch; raising fails it
    whole. Single-message handlers never return this: portway reports their failures
    per message itself. Every provider maps it to its own partial-batch response
    (SQS ``batchItemFailures``, per-message nack on Pub/Sub, per-message on Azure).
    """

    failed: tuple[str, ...] = ()

    def __init__(self, failed: Any = ()) -> None:
        ids = (failed,) if isinstance(failed, str) else tuple(failed)
        for item in ids:
            if not isinstance(item, str):
                raise TypeError(f"BatchResult.failed takes message ids (str), got {item!r}")
        object.__setattr__(self, "failed", ids)
