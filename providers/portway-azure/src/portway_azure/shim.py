"""The runtime the generated ``function_app.py`` calls: Azure inputs -> portway handlers.

``function_app.py`` calls :func:`configure` once with the pipeline's ``module:attr``
(nothing is imported then), and each Azure function calls :func:`queue_message`,
:func:`timer` or :func:`http` with its portway function's name. The pipeline is imported
on the first call, once per worker process, from the app's root.

* queue, topic, object triggers (:func:`queue_message`): the message is read by
  :mod:`portway_azure.native_events`; ``attempt`` is the message's ``dequeue_count``.
  A handler failure is logged (``portway: <function>: <id> failed: <reason>``) and
  raised, so the host makes the message visible again and, after ``maxDequeueCount``
  attempts, moves it to ``<queue>-poison``. A malformed message is logged the same way
  and raises :class:`~portway_azure.native_events.MalformedMessage`: the host retries it,
  then poisons it, and the log line says why. The worker itself never crashes.
  The host runs one message per invocation, so a batch handler receives a batch of one.
* schedules (:func:`timer`): a :class:`~portway.events.ScheduleEvent`; a late run
  (``past_due``) is logged and surfaced as ``event.raw["past_due"]``.
* http (:func:`http`): a :class:`~portway.events.HttpRequest`; the handler's result
  becomes the response, an exception a 500 ``{"error": "internal error"}`` with the
  traceback logged.

Every call binds the data plane with the function, so an undeclared use raises
:class:`~portway.errors.PermissionDenied`. The data plane (:class:`LazyAzureDataPlane`)
is built on the first data-plane call of the worker, from the app settings the deploy
wrote (:func:`portway_azure.dataplane.from_environment`; the names are listed in
:mod:`portway_azure.clients`), and shared by every invocation after it.

Importing this module imports ``azure.functions`` (the host's own library, already
loaded in the worker) and no storage or identity SDK: those load on that first call.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import azure.functions as func

from portway.dataplane import DataPlane, bind
from portway.errors import ConfigError
from portway.events import HttpRequest, Message, ScheduleEvent, to_http_response
from portway.invocation import deliver_messages, describe
from portway.loading import load_pipeline
from portway.model import Function, Pipeline
from portway.model.triggers import (
    HttpTrigger,
    MessageTrigger,
    ObjectCreatedTrigger,
    ScheduleTrigger,
)
from portway_azure import native_events
from portway_azure.native_events import SOURCE, MalformedMessage

if TYPE_CHECKING:
    from portway.model.resources import Bucket, Queue, Topic
    from portway.payload import OutgoingMessage

__all__ = [
    "LazyAzureDataPlane",
    "MessageFailed",
    "configure",
    "http",
    "queue_message",
    "reset",
    "timer",
]

logger = logging.getLogger("portway.azure")

_INTERNAL_ERROR = '{"error": "internal error"}'


class MessageFailed(Exception):
    """A batch handler reported its message failed; raised so the host retries it."""


class LazyAzureDataPlane:
    """The Azure data plane, built from the app settings on the first data-plane call.

    Building it imports the storage SDKs, which a worker whose functions never reach a
    bucket, queue or topic then never pays for. Thread-safe: the host runs invocations
    in parallel threads of one worker. A missing or malformed app setting raises
    :class:`~portway.errors.ConfigError` on the call that needed it.
    """

    def __init__(self) -> None:
        self._plane: DataPlane | None = None
        self._lock = threading.Lock()

    @property
    def plane(self) -> DataPlane:
        """The real data plane (built on first use)."""
        if self._plane is None:
            with self._lock:
                if self._plane is None:
                    from portway_azure.dataplane import from_environment

                    self._plane = from_environment()
        return self._plane

    def read_object(self, bucket: Bucket, key: str) -> bytes:
        return self.plane.read_object(bucket, key)

    def write_object(self, bucket: Bucket, key: str, data: bytes, content_type: str) -> None:
        self.plane.write_object(bucket, key, data, content_type)

    def list_objects(self, bucket: Bucket, prefix: str) -> list[str]:
        return self.plane.list_objects(bucket, prefix)

    def delete_object(self, bucket: Bucket, key: str) -> None:
        self.plane.delete_object(bucket, key)

    def send_messages(self, queue: Queue, messages: Sequence[OutgoingMessage]) -> list[str]:
        return self.plane.send_messages(queue, messages)

    def publish_messages(self, topic: Topic, messages: Sequence[OutgoingMessage]) -> list[str]:
        return self.plane.publish_messages(topic, messages)


@dataclass(frozen=True, slots=True)
class _Runtime:
    """What a worker loads once: the pipeline and the clients its functions call."""

    pipeline: Pipeline
    clients: LazyAzureDataPlane


_pipeline_app: str | None = None
_runtime: _Runtime | None = None


def configure(pipeline_app: str) -> None:
    """Record where the pipeline is (``"module:attr"``); it is imported on first use."""
    global _pipeline_app, _runtime
    _pipeline_app = pipeline_app
    _runtime = None


def reset() -> None:
    """Forget the configured and loaded pipeline. A worker never needs this; tests do."""
    global _pipeline_app, _runtime
    _pipeline_app = None
    _runtime = None


def _load() -> _Runtime:
    global _runtime
    if _runtime is None:
        if _pipeline_app is None:
            raise ConfigError(
                "portway_azure.shim is not configured: function_app.py must call "
                "shim.configure('module:attr') first; regenerate it with 'portway deploy'"
            )
        # The host runs the worker in the app's root and names it in this exact spelling.
        root = os.environ.get("AzureWebJobsScriptRoot") or os.getcwd()  # noqa: SIM112
        _runtime = _Runtime(load_pipeline(_pipeline_app, root), LazyAzureDataPlane())
    return _runtime


def _function(runtime: _Runtime, name: str) -> Function:
    try:
        return runtime.pipeline.function(name)
    except KeyError as error:
        raise ConfigError(
            f"{error.args[0]}; function_app.py is out of date: redeploy with 'portway deploy'"
        ) from None


def queue_message(name: str, message: func.QueueMessage) -> None:
    """Run portway function ``name`` for one Storage Queue message; raise to retry it."""
    runtime = _load()
    function = _function(runtime, name)
    trigger = function.trigger
    identifier = message.id or "message"
    body = message.get_body()
    try:
        if isinstance(trigger, MessageTrigger):
            neutral = native_events.message_of(
                body,
                trigger,
                identifier=identifier,
                attempt=message.dequeue_count or 1,
                time=message.insertion_time,
            )
        elif isinstance(trigger, ObjectCreatedTrigger):
            objects = native_events.object_events_of(body, trigger)
        else:
            raise MalformedMessage(f"function {name!r} is not triggered by a queue message")
    except MalformedMessage as error:
        _log(name, identifier, describe(error))
        raise
    with bind(runtime.clients, function):
        if isinstance(trigger, MessageTrigger):
            _deliver(function, neutral)
            return
        for event in objects:
            try:
                function.handler(event)
            except Exception as error:
                _log(name, f"{event.id} ({event.key})", describe(error))
                raise


def _deliver(function: Function, message: Message) -> None:
    if function.batch:
        for failure in deliver_messages(function, [message]):
            _log(function.name, failure.message_id, failure.reason)
            raise MessageFailed(failure.reason)
        return
    try:
        function.handler(message)
    except Exception as error:
        _log(function.name, message.id, describe(error))
        raise


def timer(name: str, request: func.TimerRequest) -> None:
    """Run portway function ``name`` for one timer tick; an exception propagates."""
    runtime = _load()
    function = _function(runtime, name)
    trigger = function.trigger
    if not isinstance(trigger, ScheduleTrigger):
        raise ConfigError(f"function {name!r} is not triggered by a schedule")
    now = datetime.now(UTC)
    if request.past_due:
        # The host runs a missed tick late (after a restart or a long run) and says so.
        logger.warning("portway: %s: timer is past due; running it now", name)
    event = ScheduleEvent(
        id=f"{function.name}@{now.isoformat()}",
        source=f"{SOURCE}/schedules",
        time=now,
        schedule=trigger.schedule.expression,
        raw={"past_due": request.past_due, "timer": request},
    )
    with bind(runtime.clients, function):
        try:
            function.handler(event)
        except Exception as error:
            _log(name, event.id, describe(error))
            raise


def http(name: str, request: func.HttpRequest) -> func.HttpResponse:
    """Run portway function ``name`` for one HTTP request and return its response."""
    runtime = _load()
    function = _function(runtime, name)
    trigger = function.trigger
    if not isinstance(trigger, HttpTrigger):
        raise ConfigError(f"function {name!r} is not triggered by HTTP")
    path = unquote(urlsplit(request.url).path) or "/"
    params = trigger.match(path)
    # Imported here, not at the top: azure.functions does not load uuid (nor the platform
    # module it brings), and only http functions need an id made up.
    import uuid

    neutral = HttpRequest(
        id=uuid.uuid4().hex,
        source=f"{SOURCE}/http",
        time=datetime.now(UTC),
        method=request.method.upper(),
        path=path,
        headers={key.lower(): value for key, value in request.headers.items()},
        query=dict(request.params),
        # The host routed the request already; its own route values are the fallback.
        path_params=params if params is not None else dict(request.route_params),
        body=request.get_body(),
        raw=request,
    )
    with bind(runtime.clients, function):
        try:
            response = to_http_response(function.handler(neutral))
        except Exception as error:
            _log(name, neutral.id, describe(error))
            logger.exception("portway: %s: traceback", name)
            return func.HttpResponse(
                _INTERNAL_ERROR,
                status_code=500,
                headers={"content-type": "application/json"},
                mimetype="application/json",
            )
    headers = {key.lower(): value for key, value in response.headers.items()}
    # azure.functions defaults ``mimetype`` to text/plain; keep it in step with the header.
    content_type = headers.get("content-type", "application/octet-stream")
    return func.HttpResponse(
        response.body,
        status_code=response.status,
        headers=headers,
        mimetype=content_type.split(";", 1)[0].strip(),
    )


def _log(function: str, what: str, reason: str) -> None:
    logger.error("portway: %s: %s failed: %s", function, what, reason)
