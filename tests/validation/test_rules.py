"""Each builtin portability rule: when it speaks, and what it says."""

from __future__ import annotations

import dataclasses

import pytest

from portway import Message, ObjectEvent, Pipeline, ScheduleEvent
from portway.capabilities import ALL_FEATURES, Capabilities, Feature
from portway.hookspec import hookimpl
from portway.providers import ProviderSpec, registry
from portway.validation import Finding, Severity, validate
from portway.validation.rules import portway_validate

WIDE = Capabilities(
    max_message_bytes=256 * 1024,
    max_batch_size=10,
    max_attempts=(1, 1000),
    visibility_timeout=(1, 43_200),
    max_timeout=3600,
    max_http_timeout=3600,
    memory=(128, 32_768),
)


def findings(app: Pipeline, caps: Capabilities = WIDE, rule: str | None = None) -> list[Finding]:
    found = portway_validate(pipeline=app, provider="test", capabilities=caps)
    return [f for f in found if rule is None or f.rule == rule]


def with_(**changes: object) -> Capabilities:
    return dataclasses.replace(WIDE, **changes)  # type: ignore[arg-type]


@pytest.fixture
def app() -> Pipeline:
    return Pipeline("rules")


def test_a_plain_pipeline_has_no_warnings_or_errors(app: Pipeline) -> None:
    jobs = app.queue("jobs")

    @app.on_message(jobs)
    def work(msg: Message) -> None: ...

    assert [f for f in findings(app) if f.severity is not Severity.INFO] == []


def test_message_size_is_noted_for_each_queue_and_topic(app: Pipeline) -> None:
    app.queue("jobs")
    app.topic("events")
    notes = findings(app, with_(max_message_bytes=49_152), "message-size")
    assert [(f.target, f.severity) for f in notes] == [
        ("queue jobs", Severity.INFO),
        ("topic events", Severity.INFO),
    ]
    assert "48 KiB" in notes[0].message


def test_batch_size_over_the_provider_maximum_is_an_error(app: Pipeline) -> None:
    jobs = app.queue("jobs")

    @app.on_message(jobs, batch_size=10)
    def work(batch: list[Message]) -> None: ...

    (found,) = findings(app, with_(max_batch_size=5), "batch-size")
    assert found.severity is Severity.ERROR
    assert found.target == "function work"
    assert "batch_size=10 exceeds test's maximum of 5" in found.message


def test_one_at_a_time_delivery_is_a_warning(app: Pipeline) -> None:
    jobs = app.queue("jobs")

    @app.on_message(jobs, batch_size=10)
    def work(batch: list[Message]) -> None: ...

    (found,) = findings(app, with_(batch_delivery="one_at_a_time", max_batch_size=1), "batch-size")
    assert found.severity is Severity.WARNING
    assert "one message per invocation" in found.message


def test_max_attempts_outside_the_provider_range_is_an_error(app: Pipeline) -> None:
    app.queue("jobs", max_attempts=5)
    (found,) = findings(app, with_(max_attempts=(10, 100)), "max-attempts")
    assert found.severity is Severity.ERROR
    assert found.target == "queue jobs"


def test_visibility_timeout_outside_the_provider_range_is_an_error(app: Pipeline) -> None:
    app.queue("jobs", visibility_timeout=900)
    (found,) = findings(app, with_(visibility_timeout=(10, 600)), "visibility-timeout")
    assert "visibility_timeout=900s is outside test's range 10..600s" in found.message


def test_a_timeout_longer_than_visibility_warns_or_fails_by_provider(app: Pipeline) -> None:
    jobs = app.queue("jobs", visibility_timeout=30)

    @app.on_message(jobs, timeout=120)
    def work(msg: Message) -> None: ...

    (warning,) = findings(app, WIDE, "visibility-covers-timeout")
    assert warning.severity is Severity.WARNING
    (error,) = findings(app, with_(visibility_must_cover_timeout=True), "visibility-covers-timeout")
    assert error.severity is Severity.ERROR
    assert "raise visibility_timeout to at least 120" in error.message


def test_a_filter_not_applied_natively_is_a_warning(app: Pipeline) -> None:
    drop = app.bucket("drop")

    @app.on_object_created(drop, prefix="in/", suffix=".csv")
    def load(event: ObjectEvent) -> None: ...

    assert findings(app, WIDE, "object-filter") == []
    (found,) = findings(app, with_(native_object_filters=frozenset({"prefix"})), "object-filter")
    assert found.severity is Severity.WARNING
    assert "suffix filter '.csv' is applied in the runtime shim" in found.message


def test_a_timeout_over_the_provider_limit_is_an_error(app: Pipeline) -> None:
    @app.schedule("rate(1 hour)", timeout=1000)
    def nightly(event: ScheduleEvent) -> None: ...

    (found,) = findings(app, with_(max_timeout=900), "timeout")
    assert "timeout=1000s exceeds test's limit of 900s" in found.message


def test_memory_over_the_provider_largest_size_is_an_error(app: Pipeline) -> None:
    @app.schedule("rate(1 hour)", memory=8192)
    def nightly(event: ScheduleEvent) -> None: ...

    (found,) = findings(app, with_(memory=(512, 4096)), "memory")
    assert found.severity is Severity.ERROR
    assert "memory=8192 MiB is more than test's largest size, 4096 MiB" in found.message


def test_memory_under_the_provider_smallest_size_is_a_note(app: Pipeline) -> None:
    @app.schedule("rate(1 hour)", memory=256)
    def nightly(event: ScheduleEvent) -> None: ...

    (found,) = findings(app, with_(memory=(512, 4096)), "memory")
    assert found.severity is Severity.INFO
    assert "runs with 512 MiB on test" in found.message


@pytest.mark.parametrize(
    ("expression", "exact"),
    [
        ("rate(15 minutes)", True),
        ("rate(7 minutes)", False),
        ("rate(1 hour)", True),
        ("rate(5 hours)", False),
        ("rate(6 hours)", True),
        ("rate(1 day)", True),
        ("rate(2 days)", False),
        ("rate(90 minutes)", False),
    ],
)
def test_a_rate_without_an_exact_cron_form_fails_where_cron_is_required(
    app: Pipeline, expression: str, exact: bool
) -> None:
    @app.schedule(expression)
    def tick(event: ScheduleEvent) -> None: ...

    assert findings(app, WIDE, "rate-schedule") == []
    found = findings(app, with_(rate_schedules="cron_exact"), "rate-schedule")
    assert (found == []) is exact


def test_public_routes_are_always_shown(app: Pipeline) -> None:
    @app.http("GET", "/health", public=True)
    def health(req: object) -> str:
        return "ok"

    @app.http("GET", "/private")
    def private(req: object) -> str:
        return "ok"

    (found,) = findings(app, WIDE, "public-route")
    assert found.severity is Severity.INFO
    assert "GET /health is public" in found.message
    without = with_(features=ALL_FEATURES - {Feature.PUBLIC_HTTP})
    (refused,) = findings(app, without, "public-route")
    assert refused.severity is Severity.ERROR


def test_a_trigger_kind_the_provider_lacks_is_an_error(app: Pipeline) -> None:
    @app.schedule("rate(1 hour)")
    def tick(event: ScheduleEvent) -> None: ...

    (found,) = findings(
        app, with_(features=ALL_FEATURES - {Feature.SCHEDULES}), "trigger-supported"
    )
    assert "test has no schedule triggers" in found.message


def test_a_queue_nobody_consumes_is_a_warning(app: Pipeline) -> None:
    app.queue("orphan")
    (found,) = findings(app, WIDE, "unconsumed")
    assert found.target == "queue orphan"
    assert "@app.on_message(orphan)" in found.message


class TwoProviders:
    @hookimpl
    def portway_providers(self) -> list[ProviderSpec]:
        return [
            ProviderSpec("alpha", WIDE, "x:y"),
            ProviderSpec("beta", with_(max_batch_size=5), "x:y"),
        ]


class HouseRule:
    @hookimpl
    def portway_validate(self, pipeline: Pipeline, provider: str) -> list[Finding]:
        return [Finding(provider, "pipeline", "house-style", Severity.WARNING, "house rule")]


def test_runner_reports_a_finding_common_to_every_provider_once(app: Pipeline) -> None:
    registry().register(TwoProviders(), name="two")
    app.queue("orphan")
    found = validate(app, ["alpha", "beta"], registry())
    unconsumed = [f for f in found if f.rule == "unconsumed"]
    assert [f.provider for f in unconsumed] == ["*"]


def test_runner_sorts_errors_first_and_keeps_provider_specific_findings(app: Pipeline) -> None:
    registry().register(TwoProviders(), name="two")
    jobs = app.queue("jobs")

    @app.on_message(jobs, batch_size=10)
    def work(batch: list[Message]) -> None: ...

    found = validate(app, ["alpha", "beta"], registry())
    assert found[0].severity is Severity.ERROR
    assert (found[0].provider, found[0].rule) == ("beta", "batch-size")


def test_plugins_add_their_own_rules_through_the_hook(app: Pipeline) -> None:
    registry().register(HouseRule(), name="house")
    found = validate(app, ["local"], registry())
    assert Finding("local", "pipeline", "house-style", Severity.WARNING, "house rule") in found


def test_options_for_a_provider_nobody_knows_are_flagged_with_a_suggestion(app: Pipeline) -> None:
    @app.schedule("rate(1 hour)", options={"asw": {"reserved_concurrency": 2}, "aws": {}})
    def tick(event: ScheduleEvent) -> None: ...

    found = [f for f in validate(app, ["local"], registry()) if f.rule == "unknown-option-provider"]
    assert [(f.provider, f.target, f.severity) for f in found] == [
        ("*", "function tick", Severity.WARNING)
    ]
    assert "options['asw'] (did you mean 'aws'?)" in found[0].message
