"""``portway invoke``: build a neutral event for a function and run it once, here.

The event is made from the function's trigger and the ``--event`` JSON:

* schedule: no JSON needed (the tick is now);
* object created: ``{"key": "a.csv"}`` (``size``, ``etag`` optional);
* message: the JSON value is the message body (a batch handler gets a list of one);
* http: ``{"method", "path", "query", "headers", "body"}``, each optional;
* any trigger: a full CloudEvent as written by ``Event.to_json()``.

The data-plane calls are checked against the function's uses, as in the runtime.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from portway.dataplane import DataPlane, bind
from portway.errors import ConfigError
from portway.events import (
    Event,
    HttpRequest,
    Message,
    ObjectEvent,
    ScheduleEvent,
    event_from_json,
    to_http_response,
)
from portway.invocation import deliver_messages, describe
from portway.model import Function
from portway.model.triggers import (
    HttpTrigger,
    MessageTrigger,
    ObjectCreatedTrigger,
    ScheduleTrigger,
)
from portway.payload import encode_body


@dataclass(frozen=True, slots=True)
class Outcome:
    output: str | None
    error: str | None


def build_event(function: Function, text: str | None) -> Event:
    """The event ``function`` gets for ``--event text``; :class:`ConfigError` if unusable."""
    data: Any = None
    if text is not None:
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ConfigError(f"--event is not JSON: {error}") from None
        if isinstance(data, dict) and "specversion" in data:
            try:
                return event_from_json(text)
            except ValueError as error:
                raise ConfigError(f"--event: {error}") from None
    identifier = str(uuid.uuid4())
    trigger = function.trigger
    source = "/portway/local/invoke"
    if isinstance(trigger, ScheduleTrigger):
        return ScheduleEvent(id=identifier, source=source, schedule=trigger.schedule.expression)
    if isinstance(trigger, ObjectCreatedTrigger):
        if not isinstance(data, dict) or not isinstance(data.get("key"), str):
            raise ConfigError(
                f"function {function.name!r} is triggered by objects created in "
                f'{trigger.bucket.name!r}: pass --event \'{{"key": "path/file.csv"}}\''
            )
        size = data.get("size", 0)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ConfigError(f"--event: size must be a whole number of bytes, got {size!r}")
        return ObjectEvent(
            id=identifier,
            source=source,
            bucket=trigger.bucket.name,
            key=data["key"],
            size=size,
            etag=str(data.get("etag", "")),
        )
    if isinstance(trigger, MessageTrigger):
        if text is None:
            raise ConfigError(
                f"function {function.name!r} takes messages from {trigger.source.name!r}: pass "
                f'the body as --event JSON, like --event \'{{"key": "a.csv"}}\''
            )
        body, content_type = encode_body(data)
        return Message(id=identifier, source=source, body=body, content_type=content_type)
    assert isinstance(trigger, HttpTrigger)
    spec = data if isinstance(data, dict) else {}
    for part in ("headers", "query"):
        if not isinstance(spec.get(part, {}), dict):
            raise ConfigError(
                f"--event: {part} must be a JSON object of names to values, got {spec[part]!r}"
            )
    given = spec.get("body", "")
    text_body = given if isinstance(given, str) else json.dumps(given)
    return HttpRequest(
        id=identifier,
        source=source,
        method=str(spec.get("method", trigger.method)).upper(),
        path=str(spec.get("path", trigger.path)),
        headers={str(k).lower(): str(v) for k, v in dict(spec.get("headers", {})).items()},
        query={str(k): str(v) for k, v in dict(spec.get("query", {})).items()},
        body=text_body.encode("utf-8"),
    )


def invoke_once(function: Function, text: str | None, clients: DataPlane) -> Outcome:
    """Run ``function`` once with the event of ``text``; report its output or failure."""
    event = build_event(function, text)
    with bind(clients, function):
        if isinstance(event, Message):
            failures = deliver_messages(function, [event])
            return Outcome(None, failures[0].reason if failures else None)
        try:
            result = function.handler(event)
        except Exception as error:
            return Outcome(None, describe(error))
    if isinstance(event, HttpRequest):
        try:
            response = to_http_response(result)
        except TypeError as error:
            return Outcome(None, describe(error))
        body = response.body if isinstance(response.body, bytes) else response.body.encode()
        return Outcome(f"{response.status} {body.decode('utf-8', errors='replace')}", None)
    return Outcome(None if result is None else repr(result), None)
