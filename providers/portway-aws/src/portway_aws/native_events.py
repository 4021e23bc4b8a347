"""Native Lambda events -> portway's neutral events, and HTTP responses back. Pure, no SDK.

What reaches a portway function on AWS, by trigger:

* queue, topic, object created: an SQS batch (``{"Records": [...]}``, ``eventSource``
  ``aws:sqs``) from the queue portway owns in front of the function. One record is one
  :class:`~portway.events.Message`; for a topic it holds the SNS message raw (raw
  delivery: the attributes are on the SQS record) or an SNS envelope; for an object
  trigger it holds an S3 notification, which may list several objects (and the
  ``s3:TestEvent`` S3 sends when the notification is set up, which is acknowledged);
* schedule: the EventBridge Scheduler target input portway's deploy sets,
  ``{"portway": "schedule", "schedule": "<expression>", "time":
  "<aws.scheduler.scheduled-time>", "id": "<aws.scheduler.execution-id>"}``;
* http: a Lambda function URL request (payload format 2.0).

A record that cannot be read raises :class:`MalformedRecord`; the shim fails that record
alone (so it is retried, then dead-lettered with the reason) and the rest of the batch
goes on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from portway.events import HttpRequest, HttpResponse, Message, ObjectEvent, ScheduleEvent
from portway.model.triggers import HttpTrigger, MessageTrigger, ObjectCreatedTrigger
from portway_aws import message_encoding
from portway_aws.message_encoding import CONTENT_TYPE_ATTRIBUTE, MalformedMessage

SOURCE = "/portway/aws"


class MalformedRecord(ValueError):
    """One record of a native event cannot be turned into a neutral event."""


class MalformedEvent(ValueError):
    """A native event is not of the shape the function's trigger receives."""


# -- SQS batches ---------------------------------------------------------------------------


def sqs_records(event: object) -> list[Mapping[str, Any]]:
    """The records of an SQS batch event; :class:`MalformedEvent` if it is not one."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list) or not all(
        isinstance(record, Mapping) and record.get("eventSource") == "aws:sqs" for record in records
    ):
        raise MalformedEvent(
            "expected an SQS batch ({'Records': [...]} with eventSource 'aws:sqs'), got "
            f"{_shape(event)}"
        )
    return list(records)


def record_id(record: Mapping[str, Any]) -> str:
    """The SQS ``messageId`` of a record: what a batch item failure names."""
    identifier = record.get("messageId")
    if not isinstance(identifier, str) or not identifier:
        raise MalformedRecord("the SQS record has no messageId")
    return identifier


def message_of(record: Mapping[str, Any], trigger: MessageTrigger) -> Message:
    """The neutral message of one SQS record of a queue or topic trigger."""
    identifier = record_id(record)
    body = record.get("body")
    if not isinstance(body, str):
        raise MalformedRecord(f"SQS record {identifier}: the body is not a string")
    system = _mapping(record.get("attributes"))
    attempt = _int(system.get("ApproximateReceiveCount", 1), identifier, "ApproximateReceiveCount")
    sent = _epoch_ms(system.get("SentTimestamp"), identifier)
    attributes = _sqs_attributes(record, identifier)
    source = f"{SOURCE}/{trigger.source.kind}s/{trigger.source.name}"
    if trigger.source.kind == "topic" and CONTENT_TYPE_ATTRIBUTE not in attributes:
        envelope = _sns_envelope(body)
        if envelope is not None:
            return _from_envelope(envelope, record, identifier, attempt, source)
    data, content_type = _decode(body, attributes.get(CONTENT_TYPE_ATTRIBUTE), identifier)
    return Message(
        id=identifier,
        source=source,
        time=sent,
        body=data,
        attributes=message_encoding.user_attributes(attributes),
        attempt=attempt,
        content_type=content_type,
        raw=record,
    )


def _from_envelope(
    envelope: Mapping[str, Any],
    record: Mapping[str, Any],
    identifier: str,
    attempt: int,
    source: str,
) -> Message:
    """A message from an SNS notification envelope (raw delivery off)."""
    text = envelope.get("Message")
    sns_id = envelope.get("MessageId")
    if not isinstance(text, str):
        raise MalformedRecord(f"SQS record {identifier}: the SNS envelope has no Message")
    attributes: dict[str, str] = {}
    for name, value in _mapping(envelope.get("MessageAttributes")).items():
        if not isinstance(value, Mapping) or not isinstance(value.get("Value"), str):
            raise MalformedRecord(
                f"SQS record {identifier}: SNS message attribute {name!r} has no Value"
            )
        attributes[str(name)] = value["Value"]
    data, content_type = _decode(text, attributes.get(CONTENT_TYPE_ATTRIBUTE), identifier)
    return Message(
        id=sns_id if isinstance(sns_id, str) and sns_id else identifier,
        source=source,
        time=_iso_time(envelope.get("Timestamp"), identifier),
        body=data,
        attributes=message_encoding.user_attributes(attributes),
        attempt=attempt,
        content_type=content_type,
        raw=record,
    )


def _sns_envelope(body: str) -> Mapping[str, Any] | None:
    """The SNS notification in ``body``, or ``None`` when the body is a raw message."""
    if not body.startswith("{"):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if (
        isinstance(document, dict)
        and document.get("Type") == "Notification"
        and "Message" in document
        and "TopicArn" in document
    ):
        return document
    return None


def object_events_of(record: Mapping[str, Any], trigger: ObjectCreatedTrigger) -> list[ObjectEvent]:
    """The object-created events of one SQS record holding an S3 notification.

    An ``s3:TestEvent``, other event kinds and keys outside the trigger's filters give
    no event (S3 applies the filters itself; this keeps a shared queue harmless).
    """
    identifier = record_id(record)
    try:
        document = json.loads(record.get("body") or "")
    except (TypeError, ValueError):
        raise MalformedRecord(
            f"SQS record {identifier}: the body is not an S3 notification"
        ) from None
    if not isinstance(document, dict):
        raise MalformedRecord(f"SQS record {identifier}: the body is not an S3 notification")
    if document.get("Event") == "s3:TestEvent":
        return []
    notifications = document.get("Records")
    if not isinstance(notifications, list):
        raise MalformedRecord(f"SQS record {identifier}: the S3 notification has no Records")
    events = []
    for index, notification in enumerate(notifications):
        name = _mapping(notification).get("eventName")
        if not isinstance(name, str) or not name.startswith("ObjectCreated:"):
            continue
        try:
            s3_object = notification["s3"]["object"]
            key = _unquote_plus(s3_object["key"])
            size = int(s3_object.get("size", 0))
            etag = str(s3_object.get("eTag", ""))
        except (KeyError, TypeError, ValueError) as error:
            raise MalformedRecord(
                f"SQS record {identifier}: S3 record {index + 1} lacks the object's "
                f"{error.args[0] if isinstance(error, KeyError) else 'key or size'}"
            ) from None
        if not trigger.matches(key):
            continue
        events.append(
            ObjectEvent(
                id=identifier if len(notifications) == 1 else f"{identifier}:{index}",
                source=f"{SOURCE}/buckets/{trigger.bucket.name}",
                time=_iso_time(notification.get("eventTime"), identifier),
                bucket=trigger.bucket.name,
                key=key,
                size=size,
                etag=etag,
                raw=notification,
            )
        )
    return events


# -- schedules ------------------------------------------------------------------------------


def schedule_event(event: object, *, request_id: str | None = None) -> ScheduleEvent:
    """The neutral event of an EventBridge Scheduler invocation portway set up."""
    if not isinstance(event, Mapping) or event.get("portway") != "schedule":
        raise MalformedEvent(
            f'expected the schedule input {{"portway": "schedule", ...}}, got {_shape(event)}'
        )
    schedule = event.get("schedule")
    if not isinstance(schedule, str):
        raise MalformedEvent("the schedule input has no 'schedule' expression")
    identifier = event.get("id") if isinstance(event.get("id"), str) else None
    try:
        time = _iso_time(event.get("time"), "schedule")
    except MalformedRecord as error:
        raise MalformedEvent(str(error)) from None
    return ScheduleEvent(
        id=identifier or request_id or f"{schedule}@{time.isoformat()}",
        source=f"{SOURCE}/schedules",
        time=time,
        schedule=schedule,
        raw=event,
    )


# -- HTTP (function URLs) --------------------------------------------------------------------


def http_request(event: object, trigger: HttpTrigger) -> HttpRequest | HttpResponse:
    """The neutral request of a function URL event, or the response portway gives itself.

    A path outside the trigger's route answers 404, another method 405 (HEAD is served
    by a GET route), as the local HTTP server does. Raises :class:`MalformedEvent` for
    an event that is not a function URL request (payload format 2.0).
    """
    if not isinstance(event, Mapping):
        raise MalformedEvent(f"expected a function URL request, got {_shape(event)}")
    context = _mapping(event.get("requestContext"))
    method = _mapping(context.get("http")).get("method")
    raw_path = event.get("rawPath")
    if not isinstance(method, str) or not isinstance(raw_path, str):
        raise MalformedEvent(
            "expected a function URL request (payload format 2.0) with "
            "requestContext.http.method and rawPath"
        )
    method = method.upper()
    from urllib.parse import unquote  # here: only http functions pay for it

    path = unquote(raw_path) or "/"
    params = trigger.match(path)
    if params is None:
        return _json_response(
            404, {"error": f"no route for {method} {path}", "routes": [trigger.route]}
        )
    if method != trigger.method and not (method == "HEAD" and trigger.method == "GET"):
        response = _json_response(405, {"error": f"{method} is not allowed on {path}"})
        return HttpResponse(response.body, 405, {**response.headers, "allow": trigger.method})
    headers = {str(k).lower(): str(v) for k, v in _mapping(event.get("headers")).items()}
    cookies = event.get("cookies")
    if isinstance(cookies, list) and cookies and "cookie" not in headers:
        headers["cookie"] = "; ".join(str(cookie) for cookie in cookies)
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise MalformedEvent("the function URL request's body is not a string")
    if event.get("isBase64Encoded"):
        import base64  # here: only http functions pay for it

        try:
            data = base64.b64decode(body, validate=True)
        except ValueError:  # binascii.Error is a ValueError
            raise MalformedEvent("the request body is marked base64 but is not") from None
    else:
        data = body.encode("utf-8")
    request_id = context.get("requestId")
    epoch = context.get("timeEpoch")
    return HttpRequest(
        id=request_id if isinstance(request_id, str) else "",
        source=f"{SOURCE}/http",
        time=(
            datetime.fromtimestamp(epoch / 1000, UTC)
            if isinstance(epoch, int | float)
            else datetime.now(UTC)
        ),
        method=method,
        path=path,
        headers=headers,
        query=_query(str(event.get("rawQueryString") or "")),
        path_params=params,
        body=data,
        raw=event,
    )


def function_url_response(response: HttpResponse) -> dict[str, Any]:
    """A function URL response: UTF-8 bodies as text, any other bytes base64-encoded."""
    body = response.body if isinstance(response.body, bytes) else response.body.encode("utf-8")
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        import base64  # here: only http functions answering binary bodies pay for it

        text, encoded = base64.b64encode(body).decode("ascii"), True
    return {
        "statusCode": response.status,
        "headers": dict(response.headers),
        "body": text,
        "isBase64Encoded": encoded,
    }


def _json_response(status: int, document: object) -> HttpResponse:
    body = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return HttpResponse(body, status, {"content-type": "application/json"})


# -- small readers ----------------------------------------------------------------------------


# urllib.parse is imported by the functions that need it, not at the top: every cold
# start imports this module, and only object and http functions decode URLs.
def _unquote_plus(text: str) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(text)


def _query(query: str) -> dict[str, str]:
    """The query string's parameters; the last value of a repeated one wins."""
    from urllib.parse import parse_qsl

    return dict(parse_qsl(query, keep_blank_values=True))


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _shape(value: object) -> str:
    if isinstance(value, Mapping):
        keys = ", ".join(sorted(str(k) for k in value)[:8])
        return f"an object with keys {keys or 'none'}"
    return f"a {type(value).__name__}"


def _int(value: object, identifier: str, name: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise MalformedRecord(
            f"SQS record {identifier}: {name} {value!r} is not a number"
        ) from None


def _epoch_ms(value: object, identifier: str) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return datetime.fromtimestamp(_int(value, identifier, "SentTimestamp") / 1000, UTC)


def _iso_time(value: object, identifier: str) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        if not isinstance(value, str):
            raise TypeError
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise MalformedRecord(
            f"{identifier}: the time {value!r} is not an ISO 8601 timestamp"
        ) from None


def _sqs_attributes(record: Mapping[str, Any], identifier: str) -> dict[str, str]:
    """String attributes of an SQS record (Lambda spells them ``stringValue``)."""
    attributes = {}
    for name, value in _mapping(record.get("messageAttributes")).items():
        text = _mapping(value).get("stringValue")
        if text is None:
            continue  # a Binary attribute, which portway never sends: not a str to hand on
        if not isinstance(text, str):
            raise MalformedRecord(f"SQS record {identifier}: attribute {name!r} is not text")
        attributes[str(name)] = text
    return attributes


def _decode(body: str, content_type: str | None, identifier: str) -> tuple[bytes, str]:
    try:
        return message_encoding.decode(body, content_type)
    except MalformedMessage as error:
        raise MalformedRecord(f"SQS record {identifier}: {error}") from None
