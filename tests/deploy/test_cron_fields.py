"""The dialect-free cron building blocks every provider's schedule translation uses.

Each provider's own tests check its dialect end to end; these pin the shared pieces:
parsing an item, expanding it to values, writing values as runs, and the exact rates
(checked against croniter, which is what portway runs locally).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from croniter import croniter

from portway import Message, Pipeline, ScheduleEvent
from portway.deploy.cron_fields import (
    DAY_OF_MONTH,
    DAY_OF_WEEK,
    EXACT_RATES,
    FIELDS,
    HOUR,
    MINUTE,
    MONTH,
    CronField,
    CronItem,
    accepted_forms,
    exact_rate_cron,
    expand,
    join_unique,
    nearest_exact_rates,
    parse_item,
    pipeline_expressions,
    rate_text,
    runs,
)
from portway.errors import ValidationError
from portway.model import Schedule

WHERE = "schedule 'cron(x)'"


def refuse(field: CronField, item: str, where: str) -> ValidationError:
    return ValidationError(f"{where}: {field.name} {item!r} is not in this dialect")


def parse(field: CronField, item: str) -> CronItem:
    return parse_item(field, item, WHERE, refuse)


def test_the_fields_are_the_classic_five_in_order_with_their_ranges_and_names() -> None:
    assert [(f.name, f.low, f.high) for f in FIELDS] == [
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day-of-month", 1, 31),
        ("month", 1, 12),
        ("day-of-week", 0, 7),
    ]
    assert [MONTH.value("jan"), MONTH.value("DEC")] == [1, 12]
    assert [DAY_OF_WEEK.value("SUN"), DAY_OF_WEEK.value("sat")] == [0, 6]
    assert HOUR.value("7") == 7


@pytest.mark.parametrize(
    ("field", "item", "expected"),
    [
        (MINUTE, "*", CronItem("*", None, None, None, False)),
        (MINUTE, "*/15", CronItem("*/15", None, None, 15, False)),
        (HOUR, "22-2", CronItem("22-2", 22, 2, None, False)),
        (HOUR, "3/4", CronItem("3/4", 3, None, 4, False)),
        (DAY_OF_WEEK, "MON-FRI", CronItem("MON-FRI", 1, 5, None, True)),
        (DAY_OF_WEEK, "fri-7/2", CronItem("fri-7/2", 5, 7, 2, True)),
        (MONTH, "JAN", CronItem("JAN", 1, None, None, True)),
    ],
)
def test_an_item_parses_into_start_end_and_step(
    field: CronField, item: str, expected: CronItem
) -> None:
    assert parse(field, item) == expected


def test_only_a_range_whose_end_comes_first_wraps() -> None:
    assert parse(HOUR, "22-2").wraps
    assert not parse(HOUR, "2-22").wraps
    assert not parse(HOUR, "*/2").wraps


@pytest.mark.parametrize(
    ("field", "item"), [(MINUTE, "1,2"), (MINUTE, "*-5"), (MONTH, "FOO"), (MINUTE, "L")]
)
def test_an_item_of_no_known_form_is_refused_in_the_providers_words(
    field: CronField, item: str
) -> None:
    with pytest.raises(ValidationError, match="is not in this dialect"):
        parse(field, item)


def test_a_value_outside_the_field_or_a_step_of_zero_is_refused_with_the_range() -> None:
    with pytest.raises(ValidationError, match=r"hour field '24' is outside 0-23"):
        parse(HOUR, "24")
    with pytest.raises(ValidationError, match=r"day-of-month field '0-3' is outside 1-31"):
        parse(DAY_OF_MONTH, "0-3")
    with pytest.raises(ValidationError, match=r"minute field '\*/0' has a step of 0"):
        parse(MINUTE, "*/0")


@pytest.mark.parametrize(
    ("field", "item", "high", "expected"),
    [
        (HOUR, "*/6", 23, [0, 6, 12, 18]),
        (HOUR, "20/2", 23, [20, 22]),
        (HOUR, "5", 23, [5]),
        (HOUR, "22-2", 23, [22, 23, 0, 1, 2]),
        (HOUR, "22-2/2", 23, [22, 0, 2]),
        (MINUTE, "10-14/2", 59, [10, 12, 14]),
        (DAY_OF_WEEK, "*", 6, [0, 1, 2, 3, 4, 5, 6]),
        (DAY_OF_WEEK, "5-7", 7, [5, 6, 7]),
        (DAY_OF_MONTH, "*/10", 31, [1, 11, 21, 31]),
    ],
)
def test_an_item_expands_to_the_values_croniter_selects_in_order(
    field: CronField, item: str, high: int, expected: list[int]
) -> None:
    assert expand(field, parse(field, item), high) == expected


def test_a_lower_high_bounds_stars_and_steps_for_a_dialect_that_stops_early() -> None:
    assert expand(DAY_OF_WEEK, parse(DAY_OF_WEEK, "*/3"), 6) == [0, 3, 6]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([5, 6, 0], "5-6,0"),
        ([1, 2, 3, 7, 9, 10], "1-3,7,9-10"),
        ([4], "4"),
        ([2, 2, 3, 2], "2-3"),
        ([], ""),
    ],
)
def test_values_are_written_as_ascending_runs_in_the_given_order(
    values: list[int], expected: str
) -> None:
    assert runs(values) == expected


def test_joining_items_drops_tokens_already_written() -> None:
    assert join_unique(["1", "1-2", "3,1"]) == "1,1-2,3"


def test_exact_rates_are_the_divisors_of_an_hour_and_of_a_day_and_one_day() -> None:
    minutes = [r // 60 for r in EXACT_RATES if r < 3600]
    hours = [r // 3600 for r in EXACT_RATES if 3600 <= r < 86400]
    assert minutes == [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30]
    assert hours == [1, 2, 3, 4, 6, 8, 12]
    assert EXACT_RATES[-1] == 86400
    assert list(EXACT_RATES) == sorted(EXACT_RATES)


@pytest.mark.parametrize("every", EXACT_RATES)
def test_every_exact_rate_has_a_cron_that_croniter_runs_at_exactly_that_interval(
    every: int,
) -> None:
    cron = exact_rate_cron(every)
    assert cron is not None
    midnight = datetime(2026, 1, 31, 0, 0, tzinfo=UTC)  # runs on across a month's end
    runs_at = croniter(cron, midnight)
    times = [midnight, *(runs_at.get_next(datetime) for _ in range(60))]
    assert {(b - a).total_seconds() for a, b in itertools.pairwise(times)} == {every}


@pytest.mark.parametrize(
    ("every", "expected"),
    [
        (60, "* * * * *"),
        (900, "*/15 * * * *"),
        (3600, "0 * * * *"),
        (6 * 3600, "0 */6 * * *"),
        (86400, "0 0 * * *"),
    ],
)
def test_an_exact_rate_cron_counts_from_minute_zero(every: int, expected: str) -> None:
    assert exact_rate_cron(every) == expected


@pytest.mark.parametrize("every", [7 * 60, 90 * 60, 5 * 3600, 2 * 86400, 45])
def test_a_rate_that_does_not_divide_an_hour_or_a_day_has_no_exact_cron(every: int) -> None:
    assert exact_rate_cron(every) is None


def test_the_nearest_exact_rates_are_the_ones_just_below_and_above() -> None:
    assert nearest_exact_rates(7 * 60) == [6 * 60, 10 * 60]
    assert nearest_exact_rates(5 * 3600) == [4 * 3600, 6 * 3600]
    assert nearest_exact_rates(2 * 86400) == [86400]


def test_rate_text_uses_the_largest_whole_unit_and_plurals() -> None:
    assert [rate_text(r) for r in (60, 600, 3600, 7200, 86400)] == [
        "rate(1 minute)",
        "rate(10 minutes)",
        "rate(1 hour)",
        "rate(2 hours)",
        "rate(1 day)",
    ]
    with pytest.raises(ValueError, match="whole number of minutes"):
        rate_text(90)


def test_accepted_forms_name_the_fields_names_and_a_dialects_extra_forms_last() -> None:
    assert accepted_forms(HOUR) == "numbers, '*', lists (a,b), ranges (a-b) or steps (/n)"
    assert accepted_forms(MONTH, "L (the last day)") == (
        "numbers, names (JAN-DEC), '*', lists (a,b), ranges (a-b), steps (/n) or L (the last day)"
    )


def _tick(event: ScheduleEvent) -> None: ...


def _hourly_only(schedule: Schedule) -> str:
    if schedule.expression != "rate(1 hour)":
        raise ValidationError(f"schedule {schedule.expression!r}: only hourly here")
    return "hourly"


def test_pipeline_expressions_translate_each_scheduled_function_and_skip_the_rest() -> None:
    app = Pipeline("clock")
    app.schedule("rate(1 hour)", name="often")(_tick)
    app.schedule("rate(1 hour)", name="again")(_tick)

    @app.on_message(app.queue("jobs"))
    def work(msg: Message) -> None: ...

    assert pipeline_expressions(app, _hourly_only) == {"often": "hourly", "again": "hourly"}


def test_a_translation_error_names_the_pipeline_and_the_function_first() -> None:
    app = Pipeline("clock")
    app.schedule("rate(1 hour)", name="often")(_tick)
    app.schedule("rate(2 hours)", name="rarely")(_tick)

    with pytest.raises(ValidationError) as caught:
        pipeline_expressions(app, _hourly_only)

    assert str(caught.value) == (
        "pipeline 'clock', function 'rarely': schedule 'rate(2 hours)': only hourly here"
    )
