"""Portway schedules as NCRONTAB timer expressions (pure translation, no Azure)."""

from __future__ import annotations

import re

import pytest
from croniter import croniter
from portway_azure.schedules import ncrontab_expression

from portway.errors import ValidationError
from portway.model import parse_schedule


def ncrontab(expression: str) -> str:
    return ncrontab_expression(parse_schedule(expression))


@pytest.mark.parametrize(
    ("portway", "expected"),
    [
        # Minutes that divide an hour.
        ("rate(1 minute)", "0 * * * * *"),
        ("rate(2 minutes)", "0 */2 * * * *"),
        ("rate(5 minutes)", "0 */5 * * * *"),
        ("rate(15 minutes)", "0 */15 * * * *"),
        ("rate(30 minutes)", "0 */30 * * * *"),
        # Hours that divide a day (however the rate is written).
        ("rate(60 minutes)", "0 0 * * * *"),
        ("rate(1 hour)", "0 0 * * * *"),
        ("rate(120 minutes)", "0 0 */2 * * *"),
        ("rate(6 hours)", "0 0 */6 * * *"),
        ("rate(12 hours)", "0 0 */12 * * *"),
        # One day.
        ("rate(1 day)", "0 0 0 * * *"),
        ("rate(24 hours)", "0 0 0 * * *"),
        ("rate(1440 minutes)", "0 0 0 * * *"),
    ],
)
def test_rate_that_divides_an_hour_or_a_day_becomes_a_step(portway: str, expected: str) -> None:
    assert ncrontab(portway) == expected


@pytest.mark.parametrize(
    ("portway", "nearest"),
    [
        ("rate(7 minutes)", "use 'rate(6 minutes)' or 'rate(10 minutes)'"),
        ("rate(45 minutes)", "use 'rate(30 minutes)' or 'rate(1 hour)'"),
        ("rate(90 minutes)", "use 'rate(1 hour)' or 'rate(2 hours)'"),
        ("rate(5 hours)", "use 'rate(4 hours)' or 'rate(6 hours)'"),
        ("rate(18 hours)", "use 'rate(12 hours)' or 'rate(1 day)'"),
    ],
)
def test_rate_that_does_not_divide_evenly_is_refused_with_the_nearest_rates(
    portway: str, nearest: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        ncrontab(portway)

    message = str(caught.value)
    assert message.startswith(f"schedule {portway!r}: a timer step restarts every ")
    assert "evenly keeps its interval" in message
    assert message.endswith(nearest)


@pytest.mark.parametrize("portway", ["rate(2 days)", "rate(25 hours)", "rate(7 days)"])
def test_rate_longer_than_a_day_is_refused_with_a_day_or_a_cron(portway: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ncrontab(portway)

    message = str(caught.value)
    assert "no interval longer than a day" in message
    assert "use 'rate(1 day)' or a cron naming the days" in message


@pytest.mark.parametrize(
    ("portway", "expected"),
    [
        # Seconds are added in front; the rest is classic cron.
        ("cron(0 6 * * *)", "0 0 6 * * *"),
        ("cron(30 2 1 * *)", "0 30 2 1 * *"),
        ("cron(*/15 * * * *)", "0 */15 * * * *"),
        ("cron(0 */6 * * *)", "0 0 */6 * * *"),
        ("cron(0 0 */2 * *)", "0 0 0 */2 * *"),
        ("cron(0 9 * * 1-5)", "0 0 9 * * 1-5"),
        ("cron(0 9 * * mon-fri)", "0 0 9 * * mon-fri"),
        ("cron(0 0 1 jan,jul *)", "0 0 0 1 jan,jul *"),
        # A step wider than its field selects the start only.
        ("cron(*/90 * * * *)", "0 0 * * * *"),
        # A step from a value, a stepped range and a wrapping range are written out.
        ("cron(5/15 * * * *)", "0 5,20,35,50 * * * *"),
        ("cron(10-50/20 * * * *)", "0 10,30,50 * * * *"),
        ("cron(0 22-2 * * *)", "0 0 22-23,0-2 * * *"),
        ("cron(0 0 1 nov-feb *)", "0 0 0 1 11-12,1-2 *"),
        # Day-of-week: NCRONTAB stops at 6 (Sunday is 0 only).
        ("cron(0 9 * * 0)", "0 0 9 * * 0"),
        ("cron(0 9 * * 7)", "0 0 9 * * 0"),
        ("cron(0 9 * * 5-7)", "0 0 9 * * 5-6,0"),
        ("cron(0 9 * * 6-7)", "0 0 9 * * 6,0"),
        ("cron(0 9 * * 0-7)", "0 0 9 * * 0-6"),
        ("cron(0 9 * * 0,7)", "0 0 9 * * 0"),
        ("cron(0 9 * * 1,7)", "0 0 9 * * 1,0"),
        ("cron(0 9 * * fri-sun)", "0 0 9 * * 5-6,0"),
        ("cron(0 9 * * 5-1)", "0 0 9 * * 5-6,0-1"),
        ("cron(0 9 * * */2)", "0 0 9 * * */2"),
        ("cron(0 9 * * 1-7/2)", "0 0 9 * * 1,3,5,0"),
    ],
)
def test_cron_gains_a_seconds_field_in_a_form_ncrontab_reads(portway: str, expected: str) -> None:
    assert ncrontab(portway) == expected


def _ncrontab_values(field: str, low: int, high: int) -> set[int]:
    """Values an NCRONTAB field selects (numbers, runs, '*' and '*/n' only)."""
    values: set[int] = set()
    for item in field.split(","):
        if item == "*" or item.startswith("*/"):
            step = int(item[2:]) if item.startswith("*/") else 1
            values.update(range(low, high + 1, step))
            continue
        start, _, end = item.partition("-")
        assert int(start) <= int(end or start) <= high, f"NCRONTAB would refuse {item!r}"
        values.update(range(int(start), int(end or start) + 1))
    return values


@pytest.mark.parametrize(
    "day_of_week",
    ["0", "7", "1-5", "0-6", "0-7", "5-7", "6-7", "5-1", "*/2", "*/3", "1/2", "2-6/2",
     "0,7", "1,3-4,6", "fri-mon", "sat-sun", "mon/2", "7/2", "1-7/3"],
)  # fmt: skip
def test_day_of_week_selects_the_days_croniter_selects(day_of_week: str) -> None:
    # croniter is how the local provider fires schedules: Azure must run on the same days.
    fields, _ = croniter.expand(f"0 9 * * {day_of_week}")
    expected = set(range(7)) if fields[4] == ["*"] else {day % 7 for day in fields[4]}

    translated = ncrontab(f"cron(0 9 * * {day_of_week})")

    match = re.fullmatch(r"0 0 9 \* \* (\S+)", translated)
    assert match is not None, translated
    assert _ncrontab_values(match.group(1), 0, 6) == expected


@pytest.mark.parametrize("hour", ["22-2", "*/5", "5/7", "1-20/6", "23", "0-23/12"])
def test_hour_selects_the_hours_croniter_selects(hour: str) -> None:
    fields, _ = croniter.expand(f"0 {hour} * * *")
    expected = set(range(24)) if fields[1] == ["*"] else set(fields[1])

    translated = ncrontab(f"cron(0 {hour} * * *)")

    assert _ncrontab_values(translated.split()[2], 0, 23) == expected


def test_both_day_fields_restricted_is_refused_with_the_fix() -> None:
    with pytest.raises(ValidationError) as caught:
        ncrontab("cron(0 9 1 * 1)")

    message = str(caught.value)
    assert message.startswith("schedule 'cron(0 9 1 * 1)': restricts both day-of-month")
    assert "NCRONTAB only when both do" in message
    assert "set one of them to '*'" in message


@pytest.mark.parametrize(
    ("expression", "field"),
    [
        ("cron(0 0 L * *)", "day-of-month field 'L'"),
        ("cron(0 9 1W * *)", "day-of-month field '1W'"),
        ("cron(0 9 * * L5)", "day-of-week field 'L5'"),
    ],
)
def test_cron_features_ncrontab_lacks_are_refused(expression: str, field: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(field)) as caught:
        ncrontab(expression)

    assert "cannot be translated to NCRONTAB" in str(caught.value)
