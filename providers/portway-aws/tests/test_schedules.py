"""Portway schedules as EventBridge Scheduler expressions (pure translation, no AWS)."""

from __future__ import annotations

import re

import pytest
from croniter import croniter
from portway_aws.schedules import aws_expression, pipeline_schedules

from portway import Pipeline, ScheduleEvent
from portway.errors import ValidationError
from portway.model import parse_schedule


def aws(expression: str) -> str:
    return aws_expression(parse_schedule(expression))


@pytest.mark.parametrize(
    ("portway", "expected"),
    [
        # rate(value unit) is taken as it is (written in its canonical form).
        ("rate(15 minutes)", "rate(15 minutes)"),
        ("rate(1 minute)", "rate(1 minute)"),
        ("rate(1 day)", "rate(1 day)"),
        ("rate( 2  hours )", "rate(2 hours)"),
        ("rate(120 minutes)", "rate(2 hours)"),
        # A year is added; the unrestricted day field becomes '?'.
        ("cron(0 6 * * *)", "cron(0 6 * * ? *)"),
        ("cron(30 2 1 * *)", "cron(30 2 1 * ? *)"),
        ("cron(0 0 L * *)", "cron(0 0 L * ? *)"),
        ("cron(0 9 * * 1)", "cron(0 9 ? * 2 *)"),
        # Increments in the documented start/step form.
        ("cron(*/15 * * * *)", "cron(0/15 * * * ? *)"),
        ("cron(5/15 * * * *)", "cron(5/15 * * * ? *)"),
        ("cron(0 */6 * * *)", "cron(0 0/6 * * ? *)"),
        ("cron(0 0 */2 * *)", "cron(0 0 1/2 * ? *)"),
        ("cron(0 0 1 */3 *)", "cron(0 0 1 1/3 ? *)"),
        # A step wider than its field selects the start only.
        ("cron(*/90 * * * *)", "cron(0 * * * ? *)"),
        # Stepped ranges and wrapping ranges are written out.
        ("cron(10-50/20 * * * *)", "cron(10,30,50 * * * ? *)"),
        ("cron(0 22-2 * * *)", "cron(0 22,23,0,1,2 * * ? *)"),
        ("cron(0 0 1 nov-feb *)", "cron(0 0 1 11,12,1,2 ? *)"),
        # Month names are kept, upper-cased.
        ("cron(0 0 1 jan-mar *)", "cron(0 0 1 JAN-MAR ? *)"),
        ("cron(0 0 1 JAN,jul *)", "cron(0 0 1 JAN,JUL ? *)"),
        # Day-of-week numbers shift: classic 0 and 7 are Sunday, AWS 1 is Sunday.
        ("cron(0 9 * * 0)", "cron(0 9 ? * 1 *)"),
        ("cron(0 9 * * 7)", "cron(0 9 ? * 1 *)"),
        ("cron(0 9 * * 6)", "cron(0 9 ? * 7 *)"),
        ("cron(0 9 * * 1-5)", "cron(0 9 ? * 2-6 *)"),
        ("cron(0 9 * * 0-6)", "cron(0 9 ? * 1-7 *)"),
        ("cron(0 9 * * 0-7)", "cron(0 9 ? * 1-7 *)"),
        ("cron(0 9 * * 0,7)", "cron(0 9 ? * 1 *)"),
        ("cron(0 9 * * 1,3-4)", "cron(0 9 ? * 2,4-5 *)"),
        # A range ending on Sunday (7) would wrap after the shift: a range and a day.
        ("cron(0 9 * * 5-7)", "cron(0 9 ? * 6-7,1 *)"),
        ("cron(0 9 * * 6-7)", "cron(0 9 ? * 7,1 *)"),
        ("cron(0 9 * * 1-7)", "cron(0 9 ? * 2-7,1 *)"),
        # A range that wraps in classic cron (Friday to Monday).
        ("cron(0 9 * * 5-1)", "cron(0 9 ? * 6-7,1-2 *)"),
        ("cron(0 9 * * fri-mon)", "cron(0 9 ? * 6-7,1-2 *)"),
        ("cron(0 9 * * sat-sun)", "cron(0 9 ? * 7,1 *)"),
        # AWS takes no step in day-of-week: steps become lists of shifted days.
        ("cron(0 9 * * */2)", "cron(0 9 ? * 1,3,5,7 *)"),
        ("cron(0 9 * * */3)", "cron(0 9 ? * 1,4,7 *)"),
        ("cron(0 9 * * 1-5/2)", "cron(0 9 ? * 2,4,6 *)"),
        ("cron(0 9 * * 1/2)", "cron(0 9 ? * 2,4,6 *)"),
        ("cron(0 9 * * mon-fri/2)", "cron(0 9 ? * 2,4,6 *)"),
        # Day names mean the same days on both sides: kept, upper-cased.
        ("cron(0 9 * * mon-fri)", "cron(0 9 ? * MON-FRI *)"),
        ("cron(0 9 * * MON,wed,Fri)", "cron(0 9 ? * MON,WED,FRI *)"),
        ("cron(0 9 * * sun)", "cron(0 9 ? * SUN *)"),
    ],
)
def test_portway_schedule_becomes_the_eventbridge_expression(portway: str, expected: str) -> None:
    assert aws(portway) == expected


_AWS_DAYS = {
    name: index + 1 for index, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])
}


def _aws_days(field: str) -> set[int]:
    """Classic day numbers (0 = Sunday) an AWS day-of-week field without steps selects."""
    days: set[int] = set()
    for item in field.split(","):
        start, _, end = item.partition("-")
        first = _AWS_DAYS.get(start) or int(start)
        last = (_AWS_DAYS.get(end) or int(end)) if end else first
        assert first <= last, f"AWS would get a wrapping range {item!r}"
        days.update(day - 1 for day in range(first, last + 1))
    return days


@pytest.mark.parametrize(
    "day_of_week",
    ["0", "7", "1-5", "0-6", "5-7", "6-7", "5-1", "3-1", "*/2", "*/3", "1/2", "2-6/2", "0,7",
     "1,3-4,6", "mon-fri", "fri-mon", "sat-sun", "mon/2", "sun,sat", "*/5"],
)  # fmt: skip
def test_day_of_week_selects_the_days_croniter_selects(day_of_week: str) -> None:
    # croniter is how portway's local provider fires schedules: the deployed schedule
    # must run on the same days.
    fields, _ = croniter.expand(f"0 9 * * {day_of_week}")
    expected = set(range(7)) if fields[4] == ["*"] else set(fields[4])

    translated = aws(f"cron(0 9 * * {day_of_week})")

    field = re.fullmatch(r"cron\(0 9 \? \* (\S+) \*\)", translated)
    assert field is not None, translated
    assert _aws_days(field.group(1)) == expected


def test_both_day_fields_restricted_is_refused_with_the_fix() -> None:
    with pytest.raises(ValidationError) as caught:
        aws("cron(0 9 1 * 1)")

    message = str(caught.value)
    assert "'cron(0 9 1 * 1)'" in message
    assert 'AWS cannot express "day-of-month AND day-of-week"' in message
    assert "set one of them to '*'" in message


@pytest.mark.parametrize(
    ("expression", "field"),
    [
        ("cron(0 9 1W * *)", "day-of-month field '1W'"),
        ("cron(0 9 15-L * *)", "day-of-month field '15-L'"),
        ("cron(0 9 * * L5)", "day-of-week field 'L5'"),
    ],
)
def test_cron_features_eventbridge_does_not_share_are_refused(expression: str, field: str) -> None:
    # croniter accepts these, so the pipeline imports; AWS would run them differently.
    assert croniter.is_valid(expression.removeprefix("cron(").removesuffix(")"))

    with pytest.raises(ValidationError, match=re.escape(field)) as caught:
        aws(expression)

    assert "cannot be translated for EventBridge Scheduler" in str(caught.value)


def _tick(event: ScheduleEvent) -> None: ...


def test_pipeline_schedules_gives_each_scheduled_function_its_expression() -> None:
    app = Pipeline("clock")
    app.schedule("rate(5 minutes)", name="often")(_tick)
    app.schedule("cron(0 9 * * 1-5)", name="weekdays")(_tick)

    assert pipeline_schedules(app) == {
        "often": "rate(5 minutes)",
        "weekdays": "cron(0 9 ? * 2-6 *)",
    }


def test_pipeline_schedule_error_names_the_pipeline_the_function_and_the_schedule() -> None:
    app = Pipeline("clock")
    app.schedule("rate(5 minutes)", name="often")(_tick)
    app.schedule("cron(0 9 1 * mon)", name="first_monday")(_tick)

    with pytest.raises(ValidationError) as caught:
        pipeline_schedules(app)

    assert str(caught.value).startswith(
        "pipeline 'clock', function 'first_monday': schedule 'cron(0 9 1 * mon)': "
    )
