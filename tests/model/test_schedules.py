"""Schedule expressions: ``rate(N minutes|hours|days)`` and the classic 5-field cron.

Both are parsed when the pipeline is declared, so a typo fails at import, not when a
provider first tries to fire the schedule.
"""

import pytest

from portway import Pipeline, ScheduleEvent, ValidationError
from portway.model import Schedule, ScheduleTrigger, parse_schedule


def refusal(expression: object) -> str:
    """Declare a schedule with ``expression`` on pipeline 'clock'; return the refusal."""
    app = Pipeline("clock")
    with pytest.raises(ValidationError) as caught:
        app.schedule(expression)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"pipeline 'clock': schedule {expression!r}: ")
    return message


# -- accepted ----------------------------------------------------------------------------


def test_rate_in_minutes_is_parsed_to_seconds():
    schedule = parse_schedule("rate(15 minutes)")

    assert schedule == Schedule("rate(15 minutes)", "rate", every=900)


def test_rate_of_one_hour_is_parsed():
    assert parse_schedule("rate(1 hour)").every == 3600


def test_rate_in_days_is_parsed():
    assert parse_schedule("rate(2 days)").every == 2 * 86400


def test_rate_with_spaces_inside_the_parentheses_is_accepted():
    assert parse_schedule("rate( 5 minutes )").every == 300


def test_rate_value_unit_keeps_the_unit_written():
    assert parse_schedule("rate(15 minutes)").rate_value_unit == (15, "minutes")


def test_rate_value_unit_is_singular_for_one():
    assert parse_schedule("rate(1 day)").rate_value_unit == (1, "day")


def test_rate_value_unit_uses_the_largest_unit_that_divides_the_interval():
    assert parse_schedule("rate(120 minutes)").rate_value_unit == (2, "hours")
    assert parse_schedule("rate(48 hours)").rate_value_unit == (2, "days")


def test_valid_cron_is_parsed():
    schedule = parse_schedule("cron(0 6 * * *)")

    assert schedule == Schedule("cron(0 6 * * *)", "cron", cron="0 6 * * *")


def test_cron_with_names_ranges_and_steps_is_accepted():
    assert parse_schedule("cron(*/15 6-18 * jan-jun mon-fri)").cron == "*/15 6-18 * jan-jun mon-fri"


def test_cron_fields_are_normalised_to_single_spaces():
    assert parse_schedule("cron(0  6 *   * 1)").cron == "0 6 * * 1"


def test_schedule_decorator_declares_a_schedule_trigger():
    app = Pipeline("clock")

    @app.schedule("cron(0 6 * * *)")
    def morning(event: ScheduleEvent) -> None:
        pass

    assert app.function("morning").trigger == ScheduleTrigger(parse_schedule("cron(0 6 * * *)"))


# -- refused ------------------------------------------------------------------------------


def test_rate_of_zero_is_refused():
    message = refusal("rate(0 minutes)")

    assert "a rate must be at least 1" in message


def test_rate_of_one_with_a_plural_unit_is_refused_with_the_fix():
    message = refusal("rate(1 minutes)")

    assert message.endswith("write 'rate(1 minute)'")


def test_rate_of_five_with_a_singular_unit_is_refused_with_the_fix():
    message = refusal("rate(5 minute)")

    assert message.endswith("write 'rate(5 minutes)'")


def test_rate_in_an_unknown_unit_is_refused():
    message = refusal("rate(30 seconds)")

    assert "expected 'rate(N minutes|hours|days)'" in message


def test_negative_rate_is_refused():
    message = refusal("rate(-5 minutes)")

    assert "expected 'rate(N minutes|hours|days)'" in message


def test_cron_with_four_fields_is_refused():
    message = refusal("cron(0 6 * *)")

    assert "cron takes 5 fields (minute hour day-of-month month day-of-week), got 4" in message


def test_cron_with_six_fields_is_refused():
    message = refusal("cron(0 6 * * ? *)")

    assert "cron takes 5 fields" in message
    assert "got 6" in message


def test_cron_with_a_question_mark_is_refused_with_the_fix():
    message = refusal("cron(0 6 ? * mon)")

    assert "use '*' instead of '?'" in message


def test_cron_with_a_minute_of_61_is_refused():
    message = refusal("cron(61 * * * *)")

    assert "'61 * * * *' is not a valid cron" in message


def test_cron_with_an_hour_of_25_is_refused():
    message = refusal("cron(0 25 * * *)")

    assert "'0 25 * * *' is not a valid cron" in message


def test_cron_with_a_character_outside_the_portable_set_is_refused():
    message = refusal("cron(0 6 * * 1#2)")

    assert "day-of-week field '1#2' may hold only digits, names" in message


def test_garbage_expression_is_refused():
    message = refusal("every 15 minutes")

    assert "expected 'rate(N minutes|hours|days)' or a 5-field" in message


def test_expression_that_is_not_a_string_is_refused():
    message = refusal(900)

    assert "expected a string like 'rate(15 minutes)'" in message


def test_rate_with_non_ascii_digits_is_refused():
    message = refusal("rate(\u0665 minutes)")  # ARABIC-INDIC DIGIT FIVE

    assert "expected 'rate(N minutes|hours|days)'" in message
