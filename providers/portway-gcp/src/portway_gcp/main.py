"""The Cloud Run functions entry point of every portway function: ``portway_gcp.main.handle``.

functions-framework serves :func:`handle` as an HTTP function and passes it the Flask
request. On the first request of an instance it reads the environment deploy sets
(``PORTWAY_APP``, ``PORTWAY_FUNCTION``, ``PORTWAY_STAGE``), imports the pipeline from the
working directory (the function's source) and finds its function, and prepares the
Google Cloud data plane (:class:`~portway_gcp.dataplane.GcpDataPlane`, reaching the
resources ``PORTWAY_GCP_RESOURCES`` names; its clients are created on the first
data-plane call, against ``PUBSUB_EMULATOR_HOST`` / ``STORAGE_EMULATOR_HOST`` when set);
then, per request, it binds the data plane with the function (so an undeclared use
raises :class:`~portway.errors.PermissionDenied`), reads the request as a neutral event
(:mod:`portway_gcp.native_events`) and calls the user code:

* queue and topic triggers: one pushed Pub/Sub message per request, run through
  :func:`portway.invocation.deliver_messages` as a batch of one;
* object triggers: the Cloud Storage notification in the pushed message; 204 when it is
  not an ``OBJECT_FINALIZE`` of a matching key;
* schedules: the Cloud Scheduler call;
* http: the request; 404 and 405 for other paths and methods, and a 500
  ``{"error": "internal error"}`` with the traceback logged when the handler raises.

A 2xx answer acknowledges a Pub/Sub message. A failed handler answers 500 and an
unreadable request 400: Pub/Sub counts any non-2xx answer as a negative acknowledgement,
retries, and after the subscription's ``max_delivery_attempts`` forwards the message to
its dead-letter topic. Every failure is logged as one line with its reason on stderr
(Cloud Logging keeps it).

Importing this module imports no Google SDK, and not Flask either: the request is read
through the few attributes named by :class:`Request`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from portway.dataplane import bind
from portway.errors import ConfigError
from portway.events import HttpRequest
from portway.invocation import deliver_messages, describe
from portway.loading import load_pipeline
from portway.model import Function
from portway.model.triggers import HttpTrigger, MessageTrigger, ObjectCreatedTrigger
from portway.runtime_resources import APP, FUNCTION, STAGE
from portway_gcp import native_events
from portway_gcp.native_events import MalformedEvent

if TYPE_CHECKING:
    from portway_gcp.dataplane import GcpDataPlane

__all__ = ["Request", "handle", "reset"]

#: What Flask accepts as a view's return value: body, status, headers.
Response = tuple[bytes, int, dict[str, str]]


class Request(Protocol):
    """The attributes of the Flask request functions-framework passes that portway reads."""

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def query_string(self) -> bytes: ...

    def get_data(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class _Runtime:
    """What an instance loads once: its function and the clients it calls."""

    function: Function
    clients: GcpDataPlane


_runtime: _Runtime | None = None


def _load() -> _Runtime:
    global _runtime
    if _runtime is None:
        app, name, stage = (_required(variable) for variable in (APP, FUNCTION, STAGE))
        pipeline = load_pipeline(app, os.getcwd())
        try:
            function = pipeline.function(name)
        except KeyError as error:
            raise ConfigError(
                f"{FUNCTION}={name!r}: {error.args[0]}; redeploy with "
                f"'portway deploy --stage {stage}'"
            ) from None
        # Imports no Google module either: the clients are made on the first call.
        from portway_gcp.dataplane import GcpDataPlane

        _runtime = _Runtime(function, GcpDataPlane.from_environment(os.environ))
    return _runtime


def _required(variable: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        raise ConfigError(f"{variable} is not set: this function was not deployed by portway")
    return value


def reset() -> None:
    """Forget the loaded function, so the next request reads the environment again.

    An instance never needs this (its environment never changes); tests do.
    """
    global _runtime
    _runtime = None


def handle(request: Request) -> Response:
    """Run this instance's portway function for one request; return what Flask sends."""
    runtime = _load()
    function = runtime.function
    trigger = function.trigger
    # Werkzeug's headers are a multi-dict; the last value of a repeated header wins.
    headers = dict(request.headers.items())
    body = request.get_data()
    with bind(runtime.clients, function):
        if isinstance(trigger, HttpTrigger):
            return _http(function, trigger, request, headers, body)
        try:
            if isinstance(trigger, MessageTrigger):
                return _message(function, trigger, headers, body)
            if isinstance(trigger, ObjectCreatedTrigger):
                return _object(function, trigger, headers, body)
            return _schedule(function, headers, body)
        except MalformedEvent as error:
            _log(function, _event_id(headers), f"MalformedEvent: {error}")
            return _status(400)


def _message(
    function: Function, trigger: MessageTrigger, headers: Mapping[str, str], body: bytes
) -> Response:
    delivery = native_events.pubsub_delivery(headers, body)
    try:
        message = native_events.message_of(delivery, trigger)
    except MalformedEvent as error:
        _log(function, delivery.id, f"MalformedEvent: {error}")
        return _status(400)
    failures = deliver_messages(function, [message])
    for failure in failures:
        _log(function, failure.message_id, failure.reason)
    return _status(500 if failures else 200)


def _object(
    function: Function, trigger: ObjectCreatedTrigger, headers: Mapping[str, str], body: bytes
) -> Response:
    delivery = native_events.pubsub_delivery(headers, body)
    try:
        event = native_events.object_event_of(delivery, trigger)
    except MalformedEvent as error:
        _log(function, delivery.id, f"MalformedEvent: {error}")
        return _status(400)
    if event is None:
        return _status(204)
    try:
        function.handler(event)
    except Exception as error:
        _log(function, f"{event.id} ({event.key})", describe(error))
        return _status(500)
    return _status(200)


def _schedule(function: Function, headers: Mapping[str, str], body: bytes) -> Response:
    event = native_events.schedule_event(headers, body)
    try:
        function.handler(event)
    except Exception as error:
        # Cloud Scheduler retries a non-2xx answer as the job's retry config says.
        _log(function, event.id, describe(error))
        return _status(500)
    return _status(200)


def _http(
    function: Function,
    trigger: HttpTrigger,
    request: Request,
    headers: Mapping[str, str],
    body: bytes,
) -> Response:
    neutral = native_events.http_request(
        trigger,
        method=request.method,
        path=request.path,
        query=request.query_string.decode("utf-8", errors="replace"),
        headers=headers,
        body=body,
    )
    if not isinstance(neutral, HttpRequest):
        return _flask(native_events.http_response(neutral))  # 404 or 405
    try:
        result = native_events.http_response(function.handler(neutral))
    except Exception as error:
        _log(function, neutral.id or "request", describe(error))
        import traceback  # only here: an instance that never fails never pays for it

        traceback.print_exc(file=sys.stderr)
        return b'{"error":"internal error"}', 500, {"content-type": "application/json"}
    return _flask(result)


def _flask(response: tuple[int, dict[str, str], bytes]) -> Response:
    status, headers, body = response
    return body, status, headers


def _status(status: int) -> Response:
    return b"", status, {}


def _event_id(headers: Mapping[str, str]) -> str:
    """What names a request that could not be read: its CloudEvent id, if it has one."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return lowered.get("ce-id") or "request"


def _log(function: Function, what: str, reason: str) -> None:
    print(f"portway: {function.name}: {what} failed: {reason}", file=sys.stderr, flush=True)
