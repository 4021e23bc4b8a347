"""Portway schedules as Cloud Scheduler unix-cron (pure translation, no Google Cloud)."""

from __future__ import annotations

import pytest
from portway_gcp.schedules import EXACT_RATES, pipeline_schedules, scheduler_expression

from portway import Pipeline, ScheduleEvent
from portway.errors import ValidationError
from portway.model import parse_schedule


def gcp(expression: str) -> str:
    return scheduler_expression(parse_schedule(expression))


@pytest.mark.parametrize(
    ("portway", "expected"),
    [
        ("rate(1 minute)", "* * * * *"),
        ("rate(2 minutes)", "*/2 * * * *"),
        ("rate(5 minutes)", "*/5 * * * *"),
        ("rate(15 minutes)", "*/15 * * * *"),
        ("rate(30 minutes)", "*/30 * * * *"),
        ("rate(60 minutes)", "0 * * * *"),
        ("rate(1 hour)", "0 * * * *"),
        ("rate(120 minutes)", "0 */2 * * *"),
        ("rate(3 hours)", "0 */3 * * *"),
        ("rate(8 hours)", "0 */8 * * *"),
        ("rate(12 hours)", "0 */12 * * *"),
        ("rate(24 hours)", "0 0 * * *"),
        ("rate(1 day)", "0 0 * * *"),
        ("rate(1440 minutes)", "0 0 * * *"),
    ],
)
def test_rate_with_an_exact_cron_form_is_translated(portway: str, expected: str) -> None:
    assert gcp(portway) == expected


@pytest.mark.parametrize(
    ("portway", "why", "nearest"),
    [
        ("rate(7 minutes)", "'*/7' in the minute field", "'rate(6 minutes)' or 'rate(10 minutes)'"),
        ("rate(45 minutes)", "45 does not divide 60", "'rate(30 minutes)' or 'rate(1 hour)'"),
        ("rate(5 hours)", "'*/5' in the hour field", "'rate(4 hours)' or 'rate(6 hours)'"),
        ("rate(18 hours)", "18 does not divide 24", "'rate(12 hours)' or 'rate(1 day)'"),
        ("rate(90 minutes)", "90 minutes", "'rate(1 hour)' or 'rate(2 hours)'"),
        ("rate(2 days)", "day-of-month field restarts", "use 'rate(1 day)',"),
        ("rate(36 hours)", "day-of-month field restarts", "use 'rate(1 day)',"),
    ],
)
def test_rate_without_an_exact_cron_form_is_refused_with_why_and_nearest_rates(
    portway: str, why: str, nearest: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        gcp(portway)
    message = str(caught.value)
    assert portway in message
    assert why in message
    assert nearest in message


def test_uneven_rate_message_shows_the_uneven_gap() -> None:
    with pytest.raises(ValidationError, match="minute 56 and again at minute 0, 4 minutes later"):
        gcp("rate(7 minutes)")


def test_every_exact_rate_round_trips_through_the_translation() -> None:
    for every in EXACT_RATES:
        minutes = every // 60
        assert gcp(f"rate({minutes} minute{'s' if minutes > 1 else ''})")


@pytest.mark.parametrize(
    "cron",
    [
        "0 6 * * *",
        "*/15 * * * *",
        "5/15 * * * *",
        "0 9 * * 1-5",
        "0 9 * * 0",
        "0 9 * * 7",
        "30 2 1 * *",
        "0 0 1,15 * 1",  # day-of-month OR day-of-week, as in Cloud Scheduler
        "10-50/20 * * * *",
    ],
)
def test_cron_is_passed_through_unchanged(cron: str) -> None:
    assert gcp(f"cron({cron})") == cron


def test_month_and_day_names_are_written_in_uppercase() -> None:
    assert gcp("cron(0 0 1 jan-mar mon)") == "0 0 1 JAN-MAR MON"
    assert gcp("cron(0 0 1 jul *)") == "0 0 1 JUL *"


@pytest.mark.parametrize(
    ("portway", "expected"),
    [
        ("cron(0 22-2 * * *)", "0 22,23,0,1,2 * * *"),
        ("cron(50-10/10 * * * *)", "50,0,10 * * * *"),
        ("cron(0 0 1 nov-feb *)", "0 0 1 11,12,1,2 *"),
        ("cron(0 9 * * fri-mon)", "0 9 * * 5,6,0,1"),
        ("cron(0 9 * * 7-2)", "0 9 * * 0-2"),
    ],
)
def test_wrapping_ranges_are_written_out(portway: str, expected: str) -> None:
    assert gcp(portway) == expected


def test_last_day_of_month_is_refused() -> None:
    with pytest.raises(ValidationError, match="does not support 'L'"):
        gcp("cron(0 0 L * *)")


def test_pipeline_schedules_names_the_function_that_cannot_run() -> None:
    app = Pipeline("sched")

    @app.schedule("rate(15 minutes)")
    def tick(event: ScheduleEvent) -> None: ...

    @app.schedule("rate(7 minutes)")
    def odd(event: ScheduleEvent) -> None: ...

    with pytest.raises(ValidationError, match="pipeline 'sched', function 'odd'"):
        pipeline_schedules(app)


def test_pipeline_schedules_by_function() -> None:
    app = Pipeline("sched")

    @app.schedule("rate(1 hour)")
    def hourly(event: ScheduleEvent) -> None: ...

    assert pipeline_schedules(app) == {"hourly": "0 * * * *"}
