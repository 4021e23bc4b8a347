"""Running one invocation: deliveries (or a request) -> neutral events -> the user function.

Shared by the runtime's workers and ``portway invoke``. Nothing a handler does makes
these functions raise (``KeyboardInterrupt``/``SystemExit`` excepted): every failure is
returned with its one-line reason, which becomes the dead letter's reason.

Trace context: each delivery is its own span (``Delivery.trace_id``/``span_id``; the
runtime records it). The handler runs under that span
(:func:`portway.tracing.activate`), so what it sends, publishes or writes is caused by
it. A single-message handler runs under each message's span in turn; a batch handler
gets one call for messages of many traces and portway cannot tell which message a
send belongs to, so the whole call runs under the **first** message's span (its
outgoing items join the first message's trace). The event's own ``traceparent`` is
the context it was sent with (the CloudEvents extension), not the invocation's span:
:func:`portway.tracing.current` gives that.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from portway import tracing
from portway.dataplane import DataPlane, bind
from portway.events import (
    Event,
    HttpRequest,
    HttpResponse,
    Message,
    event_from_json,
    to_http_response,
)
from portway.invocation import deliver_messages, describe
from portway.local.messages import Delivery
from portway.model import Function
from portway.model.triggers import MessageTrigger

# (seq, reason) for each delivery to retry.
Failures = list[tuple[int, str]]
# Wraps the handler call when a plugin implements the portway_invocation hook.
Wrapper = Callable[[Function, list[Any], Callable[[], Any]], Any]


def message_event(delivery: Delivery, source: str) -> Message:
    """The neutral :class:`Message` of a queue or topic delivery."""
    return Message(
        id=delivery.id,
        source=source,
        time=datetime.fromtimestamp(delivery.published, UTC),
        body=delivery.body,
        attributes=json.loads(delivery.attributes),
        attempt=delivery.attempt,
        content_type=delivery.content_type,
        raw=delivery,
        traceparent=delivery.traceparent,
    )


def run_deliveries(
    function: Function,
    deliveries: Sequence[Delivery],
    dataplane: DataPlane,
    wrapper: Wrapper | None = None,
) -> Failures:
    """Invoke ``function`` for ``deliveries`` of its channel; return the failures."""
    trigger = function.trigger
    with bind(dataplane, function):
        if isinstance(trigger, MessageTrigger):
            source = f"/portway/local/{trigger.source.kind}s/{trigger.source.name}"
            messages = [message_event(d, source) for d in deliveries]
            seq_of = {d.id: d.seq for d in deliveries}

            def call_batch() -> Any:
                if function.batch:
                    with tracing.activate(_span(deliveries[0])):
                        return deliver_messages(function, messages)
                failed = []
                for delivery, message in zip(deliveries, messages, strict=True):
                    with tracing.activate(_span(delivery)):
                        failed.extend(deliver_messages(function, [message]))
                return failed

            failures = _wrapped(wrapper, function, list(messages), call_batch)
            return [(seq_of[f.message_id], f.reason) for f in failures]
        result: Failures = []
        for delivery in deliveries:
            try:
                event = _stored_event(delivery)
            except ValueError as error:
                result.append((delivery.seq, f"MalformedEvent: {error}"))
                continue
            try:
                with tracing.activate(_span(delivery)):
                    call = functools.partial(function.handler, event)
                    _wrapped(wrapper, function, [event], call)
            except Exception as error:
                result.append((delivery.seq, describe(error)))
        return result


def _span(delivery: Delivery) -> tracing.TraceContext:
    return tracing.TraceContext(delivery.trace_id, delivery.span_id, delivery.sampled)


def run_request(
    function: Function,
    request: HttpRequest,
    dataplane: DataPlane,
    wrapper: Wrapper | None = None,
    span: str | None = None,
) -> HttpResponse:
    """Invoke an ``http`` function; a handler error becomes a 500 naming the reason.

    ``span`` is the request's own span (a ``traceparent``), chosen by the runtime.
    """
    with bind(dataplane, function), tracing.activate(tracing.parse_traceparent(span)):
        try:
            result = _wrapped(wrapper, function, [request], lambda: function.handler(request))
            return to_http_response(result)
        except Exception as error:
            body = json.dumps({"error": describe(error), "function": function.name})
            return HttpResponse(body.encode("utf-8"), 500, {"content-type": "application/json"})


def _stored_event(delivery: Delivery) -> Event:
    """The object-created or schedule event stored as CloudEvents JSON in the message."""
    return event_from_json(delivery.body)


def _wrapped(
    wrapper: Wrapper | None, function: Function, events: list[Any], call: Callable[[], Any]
) -> Any:
    if wrapper is None:
        return call()
    return wrapper(function, events, call)


def plugin_wrapper() -> Wrapper | None:
    """A wrapper calling the ``portway_invocation`` hook, or ``None`` if no plugin has it."""
    from portway.providers import registry

    hook = registry().manager.hook.portway_invocation
    if not hook.get_hookimpls():
        return None

    def wrap(function: Function, events: list[Any], call: Callable[[], Any]) -> Any:
        # The handler runs as the innermost implementation; its own result is kept
        # apart from whatever other implementations return.
        box: list[Any] = []

        def innermost(function: Function, events: list[Any]) -> Any:
            box.append(call())

        hook.call_extra([innermost], {"function": function, "events": events})
        return box[0] if box else None

    return wrap
