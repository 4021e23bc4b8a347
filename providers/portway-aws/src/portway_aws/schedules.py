"""Portway schedules as EventBridge Scheduler expressions.

Portway's cron is the classic 5 fields (``minute hour day-of-month month day-of-week``,
UTC). EventBridge Scheduler wants 6 fields (a year is added) and differs in three ways
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html):

* one of day-of-month and day-of-week must be ``?``. Classic cron runs a job when
  *either* restricted day field matches; AWS cannot say that, so a schedule that
  restricts both is refused with the fix;
* day-of-week counts 1-7 from Sunday (classic: 0-7, 0 and 7 both Sunday, 1 Monday), so
  every day number is shifted; AWS takes no step (``/``) there, so steps are written
  out as lists, and a range that would wrap after the shift (``5-7``: Friday to Sunday)
  is written as a range and a day (``6-7,1``);
* ``*/n`` becomes ``start/n`` (the documented form of an increment), and ranges that
  wrap around (``22-2`` in hours, which croniter accepts) are written out as lists.

``rate(N unit)`` is taken by EventBridge Scheduler as it is. Expressions that moto
accepts but AWS refuses are caught here, before a deploy, with the function named.

The dialect-free pieces (fields, item parsing and expansion, exact rates) are
:mod:`portway.deploy.cron_fields`; the dialect rules and their messages are here.
"""

from __future__ import annotations

from portway.deploy.cron_fields import (
    DAY_OF_MONTH,
    DAY_OF_WEEK,
    HOUR,
    MINUTE,
    MONTH,
    CronField,
    CronItem,
    accepted_forms,
    expand,
    join_unique,
    parse_item,
    pipeline_expressions,
    runs,
)
from portway.errors import ValidationError
from portway.model import Pipeline, Schedule


def aws_expression(schedule: Schedule) -> str:
    """The EventBridge Scheduler expression of ``schedule``.

    Raises :class:`ValidationError` naming the schedule when AWS cannot run it as
    portway means it (both day fields restricted, a cron feature AWS lacks).
    """
    if schedule.kind == "rate":
        count, unit = schedule.rate_value_unit
        return f"rate({count} {unit})"
    minute, hour, day_of_month, month, day_of_week = schedule.cron.split()
    where = f"schedule {schedule.expression!r}"
    if day_of_month != "*" and day_of_week != "*":
        raise ValidationError(
            f"{where}: restricts both day-of-month ({day_of_month}) and day-of-week "
            f'({day_of_week}), and AWS cannot express "day-of-month AND day-of-week" '
            f"(one of them must be '?'); set one of them to '*', or split the schedule "
            f"into two scheduled functions"
        )
    fields = [
        _translate(MINUTE, minute, where),
        _translate(HOUR, hour, where),
        "?" if day_of_month == "*" and day_of_week != "*" else _day_of_month(day_of_month, where),
        _translate(MONTH, month, where),
        "?" if day_of_week == "*" else _day_of_week(day_of_week, where),
        "*",
    ]
    return f"cron({' '.join(fields)})"


def pipeline_schedules(pipeline: Pipeline) -> dict[str, str]:
    """The AWS expression of each scheduled function of ``pipeline``, by function name.

    Raises :class:`ValidationError` naming the pipeline, the function and the schedule
    for the first one AWS cannot run.
    """
    return pipeline_expressions(pipeline, aws_expression)


def _translate(field: CronField, text: str, where: str) -> str:
    """Minute, hour and month: the same values, in forms AWS documents."""
    rendered: list[str] = []
    for part in text.split(","):
        item = parse_item(field, part, where, _untranslatable)
        span = field.high - field.low
        if item.start is None and item.step is None:
            rendered.append("*")
        elif item.step is not None and item.end is None and item.step <= span:
            # '*/15' -> '0/15': AWS documents increments as start/step.
            start = field.low if item.start is None else item.start
            rendered.append(f"{start}/{item.step}")
        elif item.step is None and not item.wraps:
            rendered.append(item.text.upper())
        else:
            rendered.append(",".join(str(v) for v in expand(field, item, field.high)))
    return join_unique(rendered)


def _day_of_month(text: str, where: str) -> str:
    # 'L' (the last day of the month) means the same to croniter and to AWS.
    if text.upper() == "L":
        return "L"
    if any(c.isalpha() for c in text):
        raise _untranslatable(DAY_OF_MONTH, text, where)
    return _translate(DAY_OF_MONTH, text, where)


def _day_of_week(text: str, where: str) -> str:
    """Shift classic day numbers (0/7 = Sunday) to AWS's (1 = Sunday)."""
    rendered: list[str] = []
    for part in text.split(","):
        item = parse_item(DAY_OF_WEEK, part, where, _untranslatable)
        if item.named and item.step is None and not item.wraps:
            # Names mean the same days on both sides: MON-FRI stays MON-FRI.
            rendered.append(item.text.upper())
            continue
        if item.start == 7 and item.end is None:
            item = CronItem(item.text, 0, None, item.step, item.named)  # '7/2' counts from Sunday
        # A step or '*' counts over one week, 0-6; a range may name 7 (Sunday again).
        high = 6 if item.end is None else 7
        days = [(day % 7) + 1 for day in expand(DAY_OF_WEEK, item, high)]
        rendered.append(runs(days))
    return join_unique(rendered)


def _untranslatable(field: CronField, item: str, where: str) -> ValidationError:
    extra = ("L (the last day)",) if field is DAY_OF_MONTH else ()
    return ValidationError(
        f"{where}: {field.name} field {item!r} cannot be translated for EventBridge "
        f"Scheduler; use {accepted_forms(field, *extra)}"
    )
