"""The generated files of one Function App group: ``host.json`` and ``function_app.py``.

Pure text from the model (no SDK, no I/O): the same pipeline, group and names give the
same bytes, so the package zip stays reproducible.
"""

from __future__ import annotations

import json
import keyword
import re
from typing import Any

from portway.errors import ValidationError
from portway.model import (
    Function,
    HttpTrigger,
    MessageTrigger,
    ObjectCreatedTrigger,
    Pipeline,
    Queue,
    ScheduleTrigger,
)
from portway.model.names import name_problem
from portway_azure.grouping import AppGroup
from portway_azure.naming import Names
from portway_azure.schedules import ncrontab_expression

#: The app setting (a connection string, or ``PORTWAY_STORAGE__queueServiceUri`` with an
#: identity) every queue trigger reads its queue through.
STORAGE_CONNECTION = "PORTWAY_STORAGE"

#: host.json ``batchSize`` may not exceed 32.
#: https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#host-json
MAX_BATCH_SIZE = 32

#: The longest the host waits between polls of an empty queue (it backs off up to this).
#: The default, one minute, is the latency a message may wait after a quiet spell; ten
#: seconds keeps that close to the other providers for about 9,000 polls a day per
#: queue and instance, a few cents a month in storage transactions.
MAX_POLLING_INTERVAL = 10

#: Non-.NET apps get their trigger extensions (queue, timer) from the extension bundle;
#: without it a queue trigger does not load.
#: https://learn.microsoft.com/azure/azure-functions/functions-bindings-register#extension-bundles
EXTENSION_BUNDLE = {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}

#: With ``routePrefix`` empty the host serves routes under ``/`` instead of ``/api``,
#: and reserves ``/admin`` and ``/runtime`` for itself.
#: https://learn.microsoft.com/azure/azure-functions/functions-bindings-http-webhook-trigger#customize-the-http-endpoint
_HOST_ROUTES = frozenset({"admin", "runtime"})

_PIPELINE_APP = re.compile(
    r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_.]*$"
)


def host_json(group: AppGroup) -> dict[str, Any]:
    """The ``host.json`` of ``group``: only the keys portway sets, all per app.

    https://learn.microsoft.com/azure/azure-functions/functions-host-json

    * ``version``: ``"2.0"``, the only schema of Functions 4.x.
    * ``functionTimeout``: the group's timeout (every function of a group shares it).
    * ``extensionBundle``: the queue and timer trigger extensions a Python app needs.
    * ``logging.logLevel.default``: ``Information``, so invocations and the shim's
      reports of malformed messages reach the logs.
    * ``extensions.queues`` (only when the group reads a queue;
      https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#host-json):

      - ``batchSize``: the trigger's batch size; the host fetches this many messages
        and runs each as its own invocation, in parallel.
      - ``newBatchThreshold``: ``0``. The host fetches the next batch when the
        messages in flight drop to this number, so a function runs at most
        ``batchSize + newBatchThreshold`` messages at once per instance; its default,
        ``batchSize / 2`` times the instance's cores, would run more than the declared
        batch size at once. ``0`` makes ``batchSize`` the bound.
      - ``maxDequeueCount``: the queue's ``max_attempts``; then the message moves to
        ``<queue>-poison``.
      - ``visibilityTimeout``: the queue's ``visibility_timeout``, the delay before a
        failed message is tried again.
      - ``maxPollingInterval``: see :data:`MAX_POLLING_INTERVAL`.
      - ``messageEncoding``: ``base64``, which ``send()`` writes and the 48 KiB
        message capability assumes.
    * ``extensions.http.routePrefix``: ``""``, so a route is served at its declared
      path, as on the other providers, not under ``/api`` (harmless in an app without
      HTTP functions, and it keeps this function free of the pipeline).

    Raises :class:`ValidationError` for a batch size the host refuses.
    """
    host: dict[str, Any] = {
        "version": "2.0",
        "functionTimeout": timespan(group.function_timeout),
        "extensionBundle": dict(EXTENSION_BUNDLE),
        "logging": {"logLevel": {"default": "Information"}},
    }
    extensions: dict[str, Any] = {"http": {"routePrefix": ""}}
    if group.batch_size is not None:
        if not 1 <= group.batch_size <= MAX_BATCH_SIZE:
            raise ValidationError(
                f"app group {group.name!r}: batch size {group.batch_size} is outside the "
                f"1..{MAX_BATCH_SIZE} host.json allows; declare at most {MAX_BATCH_SIZE}"
            )
        assert group.max_dequeue_count is not None
        assert group.visibility_timeout is not None
        extensions["queues"] = {
            "batchSize": group.batch_size,
            "newBatchThreshold": 0,
            "maxDequeueCount": group.max_dequeue_count,
            "visibilityTimeout": timespan(group.visibility_timeout),
            "maxPollingInterval": timespan(MAX_POLLING_INTERVAL),
            "messageEncoding": "base64",
        }
    host["extensions"] = extensions
    return host


def timespan(seconds: int) -> str:
    """``seconds`` as a .NET TimeSpan: ``hh:mm:ss``, or ``d.hh:mm:ss`` from one day."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, second = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{second:02d}"
    return f"{days}.{clock}" if days else clock


def function_app_py(pipeline: Pipeline, group: AppGroup, names: Names, pipeline_app: str) -> str:
    """The ``function_app.py`` of ``group`` (Python v2 programming model).

    One Azure function per portway function, in name order, each named like it
    (``@app.function_name``) and delegating to the runtime shim:

    * queue, topic and object triggers -> ``@app.queue_trigger`` on the function's
      physical queue (a topic's or a bucket's events reach the function through its
      ``t-<function>`` trigger queue) -> ``shim.queue_message(name, message)``;
    * schedules -> ``@app.timer_trigger`` with the NCRONTAB expression ->
      ``shim.timer(name, timer)``;
    * HTTP -> ``@app.route`` with the path as an Azure route (``{param}`` is the same
      syntax) and its method; private routes need a function key (``FUNCTION``),
      public ones are ``ANONYMOUS`` -> ``shim.http(name, request)``.

    The calls go to :mod:`portway_azure.shim` (``configure``, ``queue_message``,
    ``timer``, ``http``); ``configure(pipeline_app)`` only records where the pipeline is
    (the pipeline is imported on the first invocation).

    Every name written into the file is checked first: function names are portable and
    their Python forms are identifiers, ``pipeline_app`` is ``module:attribute``, route
    paths come from the model's validated :class:`HttpTrigger`; string literals are
    written by :func:`_literal`. Raises :class:`ValidationError` otherwise.
    """
    if not _PIPELINE_APP.fullmatch(pipeline_app):
        raise ValidationError(
            f"pipeline {_literal(pipeline_app)} is not 'module:attribute' (like 'pipeline:app')"
        )
    lines = [
        f'"""Generated by portway for the Function App group {group.name}; do not edit."""',
        "",
        "import azure.functions as func",
        "",
        "from portway_azure import shim",
        "",
        f"shim.configure({_literal(pipeline_app)})",
        "",
        "app = func.FunctionApp()",
    ]
    for function in _functions(pipeline, group):
        lines += ["", "", *_registration(function, names)]
    return "\n".join(lines) + "\n"


def _literal(text: str) -> str:
    """``text`` as a Python string literal: a JSON string is one, with double quotes."""
    return json.dumps(text)


def _functions(pipeline: Pipeline, group: AppGroup) -> list[Function]:
    return [pipeline.functions[name] for name in group.functions]


def _registration(function: Function, names: Names) -> list[str]:
    """The decorated definition of ``function``: decorators, signature, body."""
    problem = name_problem(function.resource_name)
    identifier = "handle_" + function.name.replace("-", "_")
    if problem is not None or not identifier.isidentifier() or keyword.iskeyword(identifier):
        raise ValidationError(f"function {function.name!r}: {problem or 'not an identifier'}")
    decorators = [f"@app.function_name(name={_literal(function.name)})"]
    trigger = function.trigger
    if isinstance(trigger, ScheduleTrigger):
        schedule = ncrontab_expression(trigger.schedule)
        decorators.append(
            f"@app.timer_trigger(schedule={_literal(schedule)}, "
            'arg_name="timer", run_on_startup=False)'
        )
        signature = f"def {identifier}(timer: func.TimerRequest) -> None:"
        body = f"shim.timer({_literal(function.name)}, timer)"
    elif isinstance(trigger, HttpTrigger):
        auth = "ANONYMOUS" if trigger.public else "FUNCTION"
        decorators.append(
            f"@app.route(route={_literal(_route(function, trigger))}, "
            # The trigger binding's name must be the handler's parameter: the worker
            # passes each binding by name ('req' by default).
            'trigger_arg_name="request", '
            f"methods=[{_literal(trigger.method)}], "
            f"auth_level=func.AuthLevel.{auth})"
        )
        signature = f"def {identifier}(request: func.HttpRequest) -> func.HttpResponse:"
        body = f"return shim.http({_literal(function.name)}, request)"
    else:
        queue = _queue(function, names)
        decorators.append(
            f'@app.queue_trigger(arg_name="message", queue_name={_literal(queue)}, '
            f"connection={_literal(STORAGE_CONNECTION)})"
        )
        signature = f"def {identifier}(message: func.QueueMessage) -> None:"
        body = f"shim.queue_message({_literal(function.name)}, message)"
    return [*decorators, signature, f"    {body}"]


def _queue(function: Function, names: Names) -> str:
    trigger = function.trigger
    if isinstance(trigger, MessageTrigger) and isinstance(trigger.source, Queue):
        return names.queue(trigger.source.name)
    assert isinstance(trigger, MessageTrigger | ObjectCreatedTrigger)
    return names.trigger_queue(function.name)


def _route(function: Function, trigger: HttpTrigger) -> str:
    """The Azure route of ``trigger``: its path without the leading ``/``.

    Portway's ``{name}`` parameters are already Azure route parameters (one segment,
    same braces). The host keeps ``admin`` and ``runtime`` for itself once the route
    prefix is empty, so a path starting with either is refused.
    """
    route = trigger.path.strip("/")
    first = route.split("/", 1)[0]
    if first.lower() in _HOST_ROUTES:
        raise ValidationError(
            f"function {function.name!r}: HTTP path {trigger.path!r} starts with "
            f"'/{first}', which the Azure Functions host reserves; choose another path"
        )
    return route
