"""The Lambda entry point of every portway function: ``portway_aws.handler.handler``.

On the first invocation of a container it reads the environment contract
(:mod:`portway_aws.runtime_config`), imports the pipeline from the task root and finds
its function; then, per invocation, it turns the native event into neutral events
(:mod:`portway_aws.native_events`), binds the AWS data plane with the function (so an
undeclared use raises :class:`~portway.errors.PermissionDenied`) and calls the user code:

* queue and topic triggers: :func:`portway.invocation.deliver_messages`; failed and
  unreadable records are returned as ``batchItemFailures`` (the event source mapping
  has ``ReportBatchItemFailures``), so only they are retried and, after
  ``max_attempts``, dead-lettered;
* object triggers: the handler once per object; a record fails when one of its objects
  fails;
* schedules: the handler once; an exception propagates (Lambda retries an asynchronous
  invocation itself, then hands it to its failure destination);
* http: the handler once; its result becomes the function URL response, an exception
  a 500 ``{"error": "internal error"}`` with the traceback logged.

Every failure is logged as one line with its reason on stderr (CloudWatch keeps it).

Importing this module imports no AWS SDK and scans no entry points: every cold start pays
for its imports. boto3 is imported by the data plane on the first call that needs it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portway.dataplane import bind
from portway.errors import ConfigError
from portway.events import HttpRequest, to_http_response
from portway.invocation import deliver_messages, describe
from portway.loading import load_pipeline
from portway.model import Function
from portway.model.triggers import HttpTrigger, MessageTrigger, ObjectCreatedTrigger
from portway_aws import native_events, runtime_config
from portway_aws.dataplane import AwsDataPlane
from portway_aws.native_events import MalformedEvent, MalformedRecord
from portway_aws.runtime_config import RuntimeConfig

__all__ = ["handler"]


@dataclass(frozen=True, slots=True)
class _Runtime:
    """What a container loads once: its function and the clients it calls."""

    config: RuntimeConfig
    function: Function
    clients: AwsDataPlane


_runtime: _Runtime | None = None


def _load() -> _Runtime:
    global _runtime
    if _runtime is None:
        config = runtime_config.current()
        root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
        pipeline = load_pipeline(config.app, root)
        try:
            function = pipeline.function(config.function)
        except KeyError as error:
            raise ConfigError(
                f"PORTWAY_FUNCTION={config.function!r}: {error.args[0]}; redeploy with "
                f"'portway deploy --stage {config.stage}'"
            ) from None
        _runtime = _Runtime(config, function, AwsDataPlane(config.resources, stage=config.stage))
    return _runtime


def reset() -> None:
    """Forget the loaded function, so the next invocation reads the environment again.

    A container never needs this (its environment never changes); tests do.
    """
    global _runtime
    _runtime = None
    runtime_config.current.cache_clear()


def handler(event: Any, context: Any = None) -> Any:
    """Run this container's portway function for one Lambda invocation."""
    runtime = _load()
    function = runtime.function
    trigger = function.trigger
    with bind(runtime.clients, function):
        if isinstance(trigger, MessageTrigger):
            return _messages(function, trigger, event)
        if isinstance(trigger, ObjectCreatedTrigger):
            return _objects(function, trigger, event)
        if isinstance(trigger, HttpTrigger):
            return _http(function, trigger, event)
        request_id = getattr(context, "aws_request_id", None)
        function.handler(native_events.schedule_event(event, request_id=request_id))
        return None


def _messages(function: Function, trigger: MessageTrigger, event: Any) -> dict[str, Any]:
    failed: list[str] = []
    messages = []
    records_of: dict[str, list[str]] = {}
    for record in native_events.sqs_records(event):
        identifier = _record_id(record)
        try:
            message = native_events.message_of(record, trigger)
        except MalformedRecord as error:
            _log(function, identifier, f"MalformedRecord: {error}")
            failed.append(identifier)
            continue
        messages.append(message)
        # One neutral id may come twice in a batch (at-least-once delivery of a topic
        # message); a failure of that id fails every record that carried it.
        records_of.setdefault(message.id, []).append(identifier)
    for failure in deliver_messages(function, messages):
        _log(function, failure.message_id, failure.reason)
        failed.extend(records_of[failure.message_id])
    return _batch_response(failed)


def _objects(function: Function, trigger: ObjectCreatedTrigger, event: Any) -> dict[str, Any]:
    failed: list[str] = []
    for record in native_events.sqs_records(event):
        identifier = _record_id(record)
        try:
            events = native_events.object_events_of(record, trigger)
        except MalformedRecord as error:
            _log(function, identifier, f"MalformedRecord: {error}")
            failed.append(identifier)
            continue
        for object_event in events:
            try:
                function.handler(object_event)
            except Exception as error:
                _log(function, f"{object_event.id} ({object_event.key})", describe(error))
                failed.append(identifier)
                # The record is retried whole: its other objects run again then.
                break
    return _batch_response(failed)


def _http(function: Function, trigger: HttpTrigger, event: Any) -> dict[str, Any]:
    try:
        request = native_events.http_request(event, trigger)
    except MalformedEvent as error:
        _log(function, "request", f"MalformedEvent: {error}")
        return _json(400, '{"error":"malformed request event"}')
    if not isinstance(request, HttpRequest):
        return native_events.function_url_response(request)  # 404 or 405
    try:
        response = to_http_response(function.handler(request))
    except Exception as error:
        _log(function, request.id or "request", describe(error))
        import traceback  # only here: a container that never fails never pays for it

        traceback.print_exc(file=sys.stderr)
        return _json(500, '{"error":"internal error"}')
    return native_events.function_url_response(response)


def _record_id(record: Mapping[str, Any]) -> str:
    try:
        return native_events.record_id(record)
    except MalformedRecord as error:
        # A record without an id cannot be named in batchItemFailures: fail the whole
        # batch (Lambda retries it) rather than let it be deleted unprocessed.
        raise MalformedEvent(str(error)) from None


def _batch_response(failed: list[str]) -> dict[str, Any]:
    unique = list(dict.fromkeys(failed))
    return {"batchItemFailures": [{"itemIdentifier": identifier} for identifier in unique]}


def _json(status: int, body: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": body,
        "isBase64Encoded": False,
    }


def _log(function: Function, what: str, reason: str) -> None:
    print(f"portway: {function.name}: {what} failed: {reason}", file=sys.stderr, flush=True)
