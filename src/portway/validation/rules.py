"""The builtin portability rules, registered as a ``portway_validate`` plugin.

Each rule reads only the pipeline and the provider's declared capabilities, and yields
findings whose message names the target and says what to change. Rules that do not
depend on the provider give the same finding for every provider; the runner then
reports it once, for ``"*"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from portway.capabilities import Capabilities, Feature, format_size
from portway.hookspec import hookimpl
from portway.model import (
    Function,
    HttpTrigger,
    MessageTrigger,
    ObjectCreatedTrigger,
    Pipeline,
    Queue,
    ScheduleTrigger,
    Topic,
)
from portway.validation.findings import Finding, Severity

_FEATURE_WORDS = {
    Feature.SCHEDULES: "schedule",
    Feature.HTTP: "HTTP",
    Feature.OBJECT_EVENTS: "object-created",
    Feature.QUEUES: "queue",
    Feature.TOPICS: "topic",
}

Rule = Callable[[Pipeline, str, Capabilities], Iterator[Finding]]
RULES: list[Rule] = []


def rule(function: Rule) -> Rule:
    RULES.append(function)
    return function


def _functions(pipeline: Pipeline) -> Iterator[Function]:
    yield from pipeline.functions.values()


@rule
def message_size(pipeline: Pipeline, provider: str, caps: Capabilities) -> Iterator[Finding]:
    for resource in pipeline.resources.values():
        if isinstance(resource, Queue | Topic):
            call = "send()" if isinstance(resource, Queue) else "publish()"
            yield Finding(
                provider,
                f"{resource.kind} {resource.name}",
                "message-size",
                Severity.INFO,
                f"{call} refuses bodies over {format_size(caps.max_message_bytes)} on {provider}; "
                f"put larger payloads in a bucket and send the key",
            )


@rule
def trigger_supported(pipeline: Pipeline, provider: str, caps: Capabilities) -> Iterator[Finding]:
    needs = {
        ScheduleTrigger: Feature.SCHEDULES,
        HttpTrigger: Feature.HTTP,
        ObjectCreatedTrigger: Feature.OBJECT_EVENTS,
        MessageTrigger: Feature.QUEUES,
    }
    for function in _functions(pipeline):
        trigger = function.trigger
        feature = needs[type(trigger)]
        if isinstance(trigger, MessageTrigger) and isinstance(trigger.source, Topic):
            feature = Feature.TOPICS
        if not caps.supports(feature):
            yield Finding(
                provider,
                f"function {function.name}",
                "trigger-supported",
                Severity.ERROR,
                f"{provider} has no {_FEATURE_WORDS[feature]} triggers; move the function to "
                f"another provider's stage",
            )


@rule
def batch_size(pipeline: Pipeline, provider: str, caps: Capabilities) -> Iterator[Finding]:
    for function in _functions(pipeline):
        trigger = function.trigger
        if not isinstance(trigger, MessageTrigger) or trigger.batch_size == 1:
            continue
        target = f"function {function.name}"
        if caps.batch_delivery == "one_at_a_time":
            yield Finding(
                provider,
                target,
                "batch-size",
                Severity.WARNING,
                f"batch_size={trigger.batch_size}: {provider} delivers one message per "
                f"invocation, so {function.name} gets batches of one (the handler "
                f"contract holds; throughput per invocation is lower)",
            )
        elif trigger.batch_size > caps.max_batch_size:
            yield Finding(
                provider,
                target,
                "batch-size",
                Severity.ERROR,
                f"batch_size={trigger.batch_size} exceeds {provider}'s maximum of "
                f"{caps.max_batch_size}; lower it",
            )


def _queue_setting_in_range(
    pipeline: Pipeline, provider: str, setting: str, bounds: tuple[int, int], unit: str
) -> Iterator[Finding]:
    """An error for each queue whose ``setting`` is outside the provider's ``bounds``."""
    low, high = bounds
    for resource in pipeline.resources.values():
        if not isinstance(resource, Queue):
            continue
        value = getattr(resource, setting)
        if not low <= value <= high:
            yield Finding(
                provider,
                f"queue {resource.name}",
                setting.replace("_", "-"),
                Severity.ERROR,
                f"{setting}={value}{unit} is outside {provider}'s range {low}..{high}{unit}",
            )


@rule
def max_attempts(pipeline: Pipeline, provider: str, caps: Capabilities) -> Iterator[Finding]:
    yield from _queue_setting_in_range(pipeline, provider, "max_attempts", caps.max_attempts, "")


@rule
def visibility_timeout(pipeline: Pipeline, provider: str, caps: Capabilities) -> Iterator[Finding]:
    yield from _queue_setting_in_range(
        pipeline, provider, "visibility_timeout", caps.visibility_timeout, "s"
    )


@rule
def visibility_covers_timeout(
    pipeline: Pipeline, provider: str, caps: Capabilities
) -> Iterator[Finding]:
    for function in _functions(pipeline):
        trigger = function.trigger
        if not isinstance(trigger, MessageTrigger) or not isinstance(trigger.source, Queue):
            continue
        queue = trigger.source
        if function.timeout <= queue.visibility_timeout:
            continue
        severity = Severity.ERROR if caps.visibility_must_cover_timeout else Severity.WARNING
        consequence = (
            f"{provider} refuses such a trigger"
            if caps.visibility_must_cover_timeout
            else "a slow invocation's messages are delivered again while it still runs"
        )
        yield Finding(
            provider,
            f"function {function.name}",
            "visibility-covers-timeout",
            severity,
            f"timeout={function.timeout}s is longer than the visibility_timeout of queue "
            f"{queue.name} ({queue.visibility_timeout}s): {consequence}; raise "
            f"visibility_timeout to at least {function.timeout}",
        )


@rule
def object_filters(pipeline: Pipeline, provider: str, caps: Capabilities) -> Iterator[Finding]:
    for function in _functions(pipeline):
        trigger = function.trigger
        if not isinstance(trigger, ObjectCreatedTrigger):
            continue
        for kind, value in (("prefix", trigger.prefix), ("suffix", trigger.suffix)):
            if value and kind not in caps.native_object_filters:
                yield Finding(
                    provider,
                    f"function {function.name}",
                    "object-filter",
                    Severity.WARNING,
                    f"{kind} filter {value!r} is applied in the runtime shim on {provider}: "
                    f"every object created in bucket {trigger.bucket.name} starts the "
                    f"function (and is billed), which then skips keys that do not match",
                )


@rule
def timeout(pipeline: Pipeline, provider: str, caps: Capabilities) -> Iterator[Finding]:
    for function in _functions(pipeline):
        is_http = isinstance(function.trigger, HttpTrigger)
        limit = caps.max_http_timeout if is_http else caps.max_timeout
        if function.timeout > limit:
            kind = "an HTTP" if is_http else "an event-driven"
            yield Finding(
                provider,
                f"function {function.name}",
                "timeout",
                Severity.ERROR,
                f"timeout={function.timeout}s exceeds {provider}'s limit of {limit}s for "
                f"{kind} function; split the work or lower the timeout",
            )


@rule
def memory(pipeline: Pipeline, provider: str, caps: Capabilities) -> Iterator[Finding]:
    # Declared memory is what the function needs: less than the provider's smallest
    # size is met by that size (a note), more than its largest cannot be (an error).
    low, high = caps.memory
    for function in _functions(pipeline):
        if function.memory > high:
            yield Finding(
                provider,
                f"function {function.name}",
                "memory",
                Severity.ERROR,
                f"memory={function.memory} MiB is more than {provider}'s largest size, "
                f"{high} MiB; lower it or split the work",
            )
        elif function.memory < low:
            yield Finding(
                provider,
                f"function {function.name}",
                "memory",
                Severity.INFO,
                f"memory={function.memory} MiB runs with {low} MiB on {provider}, "
                f"its smallest size",
            )


def _exact_cron(every: int) -> bool:
    minutes, hours = every // 60, every // 3600
    if every < 3600:
        return 60 % minutes == 0
    if every < 86400:
        return every % 3600 == 0 and 24 % hours == 0
    return every == 86400


@rule
def rate_schedule(pipeline: Pipeline, provider: str, caps: Capabilities) -> Iterator[Finding]:
    if caps.rate_schedules != "cron_exact":
        return
    for function in _functions(pipeline):
        trigger = function.trigger
        if not isinstance(trigger, ScheduleTrigger) or trigger.schedule.kind != "rate":
            continue
        if not _exact_cron(trigger.schedule.every):
            yield Finding(
                provider,
                f"function {function.name}",
                "rate-schedule",
                Severity.ERROR,
                f"{trigger.schedule.expression} has no exact cron form, and {provider} "
                f"schedules with cron only: use a rate that divides an hour or a day "
                f"evenly, or a cron(...) expression",
            )


@rule
def public_routes(pipeline: Pipeline, provider: str, caps: Capabilities) -> Iterator[Finding]:
    for function in _functions(pipeline):
        trigger = function.trigger
        if not isinstance(trigger, HttpTrigger) or not trigger.public:
            continue
        if not caps.supports(Feature.HTTP):
            continue  # trigger-supported already reports it
        if not caps.supports(Feature.PUBLIC_HTTP):
            yield Finding(
                provider,
                f"function {function.name}",
                "public-route",
                Severity.ERROR,
                f"{trigger.route} is public, and {provider} has no public routes",
            )
        else:
            yield Finding(
                provider,
                f"function {function.name}",
                "public-route",
                Severity.INFO,
                f"{trigger.route} is public: anyone who has the URL can call it, "
                f"without authentication",
            )


@rule
def unconsumed(pipeline: Pipeline, provider: str, caps: Capabilities) -> Iterator[Finding]:
    for resource in pipeline.resources.values():
        if not isinstance(resource, Queue | Topic):
            continue
        if not list(pipeline.subscribers(resource)):
            yield Finding(
                provider,
                f"{resource.kind} {resource.name}",
                "unconsumed",
                Severity.WARNING,
                f"no function is triggered by {resource.kind} {resource.name}: what is "
                f"sent there is never handled; add @app.on_message({resource.name})",
            )


@hookimpl
def portway_validate(
    pipeline: Pipeline, provider: str, capabilities: Capabilities
) -> list[Finding]:
    findings: list[Finding] = []
    for check in RULES:
        findings.extend(check(pipeline, provider, capabilities))
    return findings
