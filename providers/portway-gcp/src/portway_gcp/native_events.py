"""Native Google Cloud requests -> portway's neutral events, and HTTP responses back.

Pure: no Google SDK, no I/O. What reaches a portway function on GCP, by trigger (every
function is an HTTP function served by functions-framework, see issue 8):

* queue, topic, object created: one Pub/Sub message per request, pushed by the
  subscription portway owns in front of the function. It comes as the wrapped push body
  ``{"subscription", "message": {"data", "attributes", "messageId", "publishTime"},
  "deliveryAttempt"}`` (https://cloud.google.com/pubsub/docs/push#receive_push) or as a
  ``google.cloud.pubsub.topic.v1.messagePublished`` CloudEvent, binary (``ce-*``
  headers) or structured (``application/cloudevents+json``): :func:`pubsub_delivery`
  reads all three to one :class:`PubsubDelivery`. An unwrapped (``no_wrapper``) push is
  refused: portway's subscriptions never use it. For an object trigger the message is a
  Cloud Storage notification (https://cloud.google.com/storage/docs/pubsub-notifications);
* schedule: the Cloud Scheduler HTTP call portway's deploy sets up, body
  ``{"portway": "schedule", "schedule": "<expression>"}``;
* http: the request itself.

Anything that cannot be read raises :class:`MalformedEvent` with a one-line reason. The
shim answers it with a non-2xx status (400) and logs the reason with the message id:
Pub/Sub counts a non-2xx answer as a negative acknowledgement, retries, and after the
subscription's ``max_delivery_attempts`` forwards the message, unchanged, to its
dead-letter topic, where ``portway dlq`` finds it. Acknowledging it (2xx) would lose it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from portway.events import (
    HttpRequest,
    HttpResponse,
    Message,
    ObjectEvent,
    ScheduleEvent,
    to_http_response,
)
from portway.model.triggers import HttpTrigger, MessageTrigger, ObjectCreatedTrigger
from portway.payload import BINARY

SOURCE = "/portway/gcp"
PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
STRUCTURED = "application/cloudevents+json"

# The body rule of the AWS provider (portway_aws.message_encoding), applied to the bytes
# Pub/Sub carries: the ``portway-content-type`` attribute names the body's content type,
# with ``;base64`` when the data is base64 text of the body and ``;empty`` when the body
# is empty. Pub/Sub carries any bytes, so a GCP publisher needs neither mark; both are
# read so one rule holds on every provider.
CONTENT_TYPE_ATTRIBUTE = "portway-content-type"
BASE64_MARK = ";base64"
EMPTY_MARK = ";empty"

# Cloud Storage notification attributes and the one event portway subscribes to: a new
# object, or a new generation replacing one.
# https://cloud.google.com/storage/docs/pubsub-notifications#attributes
OBJECT_FINALIZE = "OBJECT_FINALIZE"
JSON_API_V1 = "JSON_API_V1"

# Headers Cloud Scheduler adds to an HTTP target call.
# https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs#HttpTarget
SCHEDULE_TIME_HEADER = "x-cloudscheduler-scheduletime"
JOB_NAME_HEADER = "x-cloudscheduler-jobname"


class MalformedEvent(ValueError):
    """A request is not of the shape the function's trigger receives (one-line reason)."""


@dataclass(frozen=True, slots=True)
class PubsubDelivery:
    """One pushed Pub/Sub message, whichever form it came in.

    ``message`` is the PubsubMessage JSON (``data`` base64, ``attributes``,
    ``messageId``, ``publishTime``); ``attempt`` is ``deliveryAttempt``, or 1 when
    Pub/Sub did not set it (it does only with a dead-letter policy, which portway's
    subscriptions always have).
    """

    subscription: str
    message: Mapping[str, Any]
    attempt: int
    raw: Any = field(default=None, compare=False, repr=False)

    @property
    def id(self) -> str:
        """The ``messageId``: what the shim logs when it refuses the message."""
        return str(self.message.get("messageId", ""))


# -- Pub/Sub push and CloudEvents ------------------------------------------------------------


def pubsub_delivery(headers: Mapping[str, str], body: bytes | str) -> PubsubDelivery:
    """The Pub/Sub message of a push request, a binary or a structured CloudEvent."""
    lowered = _lower(headers)
    if "x-goog-pubsub-message-id" in lowered:
        raise MalformedEvent(
            "an unwrapped (no_wrapper) push delivery: portway's subscriptions push the "
            "wrapped JSON body; recreate the subscription with `portway deploy`"
        )
    document = _json(body, "Pub/Sub push body")
    if "ce-type" in lowered or "ce-id" in lowered:
        _check_published(lowered.get("ce-type"))
        return _delivery(document, raw=document)
    content_type = lowered.get("content-type", "").split(";")[0].strip().lower()
    if content_type == STRUCTURED or (isinstance(document, Mapping) and "specversion" in document):
        if not isinstance(document, Mapping):
            raise MalformedEvent(f"expected a structured CloudEvent, got {_shape(document)}")
        _check_published(document.get("type"))
        return _delivery(document.get("data"), raw=document)
    return _delivery(document, raw=document)


def _check_published(event_type: object) -> None:
    if event_type != PUBLISHED:
        raise MalformedEvent(f"expected a CloudEvent of type {PUBLISHED}, got {event_type!r}")


def _delivery(document: object, *, raw: Any) -> PubsubDelivery:
    if not isinstance(document, Mapping) or not isinstance(document.get("message"), Mapping):
        raise MalformedEvent(
            "expected a Pub/Sub push body {'subscription': ..., 'message': {...}}, got "
            f"{_shape(document)}"
        )
    message = document["message"]
    if not isinstance(message.get("messageId"), str) or not message["messageId"]:
        raise MalformedEvent("the Pub/Sub message has no messageId")
    attempt = document.get("deliveryAttempt", 1)
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        raise MalformedEvent(f"deliveryAttempt {attempt!r} is not a positive integer")
    return PubsubDelivery(str(document.get("subscription", "")), message, attempt, raw)


def message_of(delivery: PubsubDelivery, trigger: MessageTrigger) -> Message:
    """The neutral message of a delivery to a queue or topic trigger."""
    message = delivery.message
    attributes = _attributes(message, delivery.id)
    try:
        body, content_type = decode_body(_data(message), attributes.get(CONTENT_TYPE_ATTRIBUTE))
    except MalformedEvent as error:
        raise MalformedEvent(f"Pub/Sub message {delivery.id}: {error}") from None
    return Message(
        id=delivery.id,
        source=f"{SOURCE}/{trigger.source.kind}s/{trigger.source.name}",
        time=_time(message.get("publishTime"), f"Pub/Sub message {delivery.id} publishTime"),
        body=body,
        attributes={k: v for k, v in attributes.items() if k != CONTENT_TYPE_ATTRIBUTE},
        attempt=delivery.attempt,
        content_type=content_type,
        raw=delivery.raw,
    )


def decode_body(data: bytes, content_type: str | None) -> tuple[bytes, str]:
    """``(body, content_type)`` of a message's data given its ``portway-content-type``.

    With no content type (a message portway did not publish) the data is the body,
    reported as binary. Raises :class:`MalformedEvent` for data marked base64 that is not.
    """
    if content_type is None:
        return data, BINARY
    if content_type.endswith(EMPTY_MARK):
        return b"", content_type.removesuffix(EMPTY_MARK)
    if content_type.endswith(BASE64_MARK):
        import base64

        try:
            return base64.b64decode(data, validate=True), content_type.removesuffix(BASE64_MARK)
        except ValueError:  # binascii.Error is a ValueError
            raise MalformedEvent("the body is marked base64 but is not") from None
    return data, content_type


# -- Cloud Storage notifications ---------------------------------------------------------------


def object_event_of(delivery: PubsubDelivery, trigger: ObjectCreatedTrigger) -> ObjectEvent | None:
    """The object-created event of a Cloud Storage notification, or ``None`` to skip it.

    Other event types, and keys outside the trigger's filters, give ``None``: the shim
    acknowledges them. Cloud Storage applies the prefix itself (the notification's
    ``object_name_prefix``) but has no suffix filter, so this is the suffix's half of
    the trigger (the prefix is checked again, harmlessly). ``objectId`` is the object
    name as it is: unlike S3 keys, Cloud Storage does not URL-encode it.
    """
    attributes = _attributes(delivery.message, delivery.id)
    where = f"Pub/Sub message {delivery.id}"
    event_type = attributes.get("eventType")
    if event_type is None:
        raise MalformedEvent(f"{where} is not a Cloud Storage notification (no eventType)")
    if event_type != OBJECT_FINALIZE:
        return None
    if attributes.get("payloadFormat") != JSON_API_V1:
        raise MalformedEvent(
            f"{where}: payloadFormat {attributes.get('payloadFormat')!r} is not {JSON_API_V1}, "
            "which portway's notifications use"
        )
    resource = _json(_data(delivery.message), f"{where} object resource")
    if not isinstance(resource, Mapping):
        raise MalformedEvent(f"{where}: the object resource is not a JSON object")
    key = attributes.get("objectId", resource.get("name"))
    if not isinstance(key, str) or not key:
        raise MalformedEvent(f"{where}: the notification names no object (objectId)")
    if not trigger.matches(key):
        return None
    try:
        size = int(resource.get("size", 0))  # a string in the JSON API (it is a uint64)
    except (TypeError, ValueError):
        raise MalformedEvent(f"{where}: the object size {resource.get('size')!r}") from None
    when = attributes.get("eventTime", resource.get("timeCreated"))
    return ObjectEvent(
        id=delivery.id,
        source=f"{SOURCE}/buckets/{trigger.bucket.name}",
        time=_time(when, f"{where} eventTime"),
        bucket=trigger.bucket.name,
        key=key,
        size=size,
        etag=_etag(resource),
        raw=delivery.raw,
    )


def _etag(resource: Mapping[str, Any]) -> str:
    """The MD5 in hex, as the local provider and S3 give it; the object's ``etag`` when
    it has none (a composite object has only a CRC32C)."""
    md5 = resource.get("md5Hash")
    if isinstance(md5, str):
        import base64

        try:
            return base64.b64decode(md5, validate=True).hex()
        except ValueError:  # binascii.Error is a ValueError
            pass
    return str(resource.get("etag", ""))


# -- Cloud Scheduler -------------------------------------------------------------------------


def schedule_event(headers: Mapping[str, str], body: bytes | str) -> ScheduleEvent:
    """The neutral event of the Cloud Scheduler call portway's job makes.

    ``time`` is the tick the run was due for (``X-CloudScheduler-ScheduleTime``), or now.
    """
    document = _json(body, "schedule body")
    if not isinstance(document, Mapping) or document.get("portway") != "schedule":
        raise MalformedEvent(
            f'expected the schedule body {{"portway": "schedule", ...}}, got {_shape(document)}'
        )
    schedule = document.get("schedule")
    if not isinstance(schedule, str) or not schedule:
        raise MalformedEvent("the schedule body has no 'schedule' expression")
    lowered = _lower(headers)
    time = _time(lowered.get(SCHEDULE_TIME_HEADER), "X-CloudScheduler-ScheduleTime")
    job = lowered.get(JOB_NAME_HEADER) or schedule
    return ScheduleEvent(
        id=f"{job}@{time.isoformat()}",
        source=f"{SOURCE}/schedules",
        time=time,
        schedule=schedule,
        raw=document,
    )


# -- HTTP ------------------------------------------------------------------------------------


def http_request(
    trigger: HttpTrigger,
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    request_id: str = "",
) -> HttpRequest | HttpResponse:
    """The neutral request, or the response portway gives itself.

    ``path`` is percent-decoded (as Flask's ``request.path`` is); ``query`` is the raw
    query string (the last value of a repeated name wins). A path outside the trigger's
    route answers 404, another method 405 (HEAD is served by a GET route), as the local
    HTTP server and the AWS shim do.
    """
    method = method.upper()
    path = path or "/"
    params = trigger.match(path)
    if params is None:
        return _json_response(
            404, {"error": f"no route for {method} {path}", "routes": [trigger.route]}
        )
    if method != trigger.method and not (method == "HEAD" and trigger.method == "GET"):
        response = _json_response(405, {"error": f"{method} is not allowed on {path}"})
        return HttpResponse(response.body, 405, {**response.headers, "allow": trigger.method})
    lowered = _lower(headers)
    # Cloud Run's trace header is "TRACE_ID/SPAN_ID;o=OPTIONS": the trace id names the request.
    trace = lowered.get("x-cloud-trace-context", "").split("/")[0]
    return HttpRequest(
        id=request_id or trace,
        source=f"{SOURCE}/http",
        time=datetime.now(UTC),
        method=method,
        path=path,
        headers=lowered,
        query=_query(query),
        path_params=params,
        body=body,
        raw={"method": method, "path": path, "query": query, "headers": dict(headers)},
    )


def http_response(result: object) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of what a handler returned (or portway's own response)."""
    response = to_http_response(result)
    body = response.body if isinstance(response.body, bytes) else response.body.encode("utf-8")
    return response.status, dict(response.headers), body


def _json_response(status: int, document: object) -> HttpResponse:
    body = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return HttpResponse(body, status, {"content-type": "application/json"})


# -- small readers ---------------------------------------------------------------------------


def _query(query: str) -> dict[str, str]:
    """The query string's parameters; the last value of a repeated one wins."""
    # Imported here, not at the top: every cold start imports this module, and only an
    # http function reads a query string.
    from urllib.parse import parse_qsl

    return dict(parse_qsl(query, keep_blank_values=True))


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in headers.items()}


def _json(body: bytes | str, what: str) -> object:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedEvent(f"the {what} is not JSON") from None


def _shape(value: object) -> str:
    if isinstance(value, Mapping):
        keys = ", ".join(sorted(str(k) for k in value)[:8])
        return f"an object with keys {keys or 'none'}"
    return f"a {type(value).__name__}"


def _attributes(message: Mapping[str, Any], identifier: str) -> dict[str, str]:
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, Mapping) or not all(
        isinstance(value, str) for value in attributes.values()
    ):
        raise MalformedEvent(f"Pub/Sub message {identifier}: attributes are not strings")
    return {str(name): value for name, value in attributes.items()}


def _data(message: Mapping[str, Any]) -> bytes:
    """The message's data: base64 in JSON, absent when the message has only attributes."""
    # base64 is imported here and where else it is used, not at the top: every cold start
    # imports this module, and http and schedule functions never decode base64.
    import base64

    data = message.get("data", "")
    try:
        if not isinstance(data, str):
            raise TypeError
        return base64.b64decode(data, validate=True)
    except (TypeError, ValueError):  # binascii.Error is a ValueError
        raise MalformedEvent(
            f"Pub/Sub message {message.get('messageId')}: data is not base64"
        ) from None


def _time(value: object, what: str) -> datetime:
    """An RFC 3339 time (Google writes ``Z`` and up to nanoseconds); now when absent."""
    if value is None:
        return datetime.now(UTC)
    try:
        if not isinstance(value, str):
            raise TypeError
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise MalformedEvent(f"{what} {value!r} is not an RFC 3339 timestamp") from None
