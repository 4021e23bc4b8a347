"""Portway schedules as Azure Functions timer-trigger NCRONTAB expressions.

NCRONTAB takes six fields, ``second minute hour day-of-month month day-of-week``
(https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer#ncrontab-expressions),
so portway's classic 5-field cron gains a leading ``0``. Where NCRONTAB differs:

* day-of-week is 0-6 from Sunday, as in classic cron, but 7 is refused: it becomes 0
  (``5-7`` -> ``5-6,0``);
* a range must not wrap (``22-2`` in hours, which croniter accepts), and a step needs
  ``*`` or a range before it: such items are written out as lists of runs;
* ``L``, ``W`` and the like are not NCRONTAB: refused with the forms that work;
* a schedule restricting both day-of-month and day-of-week runs in classic cron when
  *either* matches, in NCRONTAB only when *both* do: refused with the fix.

Flex Consumption takes no TimeSpan schedule, so ``rate(...)`` must become cron. A step
restarts at every hour or day (``*/7`` minutes fires at :56 and again at :00), so only a
rate that divides an hour or a day evenly keeps its interval; any other is refused with
the nearest rates that do.

The dialect-free pieces (fields, item parsing and expansion, exact rates) are
:mod:`portway.deploy.cron_fields`; the dialect rules and their messages are here.
"""

from __future__ import annotations

from typing import NoReturn

from portway.deploy.cron_fields import (
    DAY_OF_MONTH,
    DAY_OF_WEEK,
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
    rate_text,
    runs,
)
from portway.errors import ValidationError
from portway.model import Schedule

_HOUR_SECONDS = 3600
_DAY_SECONDS = 86400


def ncrontab_expression(schedule: Schedule) -> str:
    """The NCRONTAB expression (six fields, seconds first) of ``schedule``.

    Raises :class:`ValidationError` naming the schedule when NCRONTAB cannot run it as
    portway means it, with the fix.
    """
    if schedule.kind == "rate":
        return _rate(schedule)
    minute, hour, day_of_month, month, day_of_week = schedule.cron.split()
    where = f"schedule {schedule.expression!r}"
    if day_of_month != "*" and day_of_week != "*":
        raise ValidationError(
            f"{where}: restricts both day-of-month ({day_of_month}) and day-of-week "
            f"({day_of_week}); cron runs it when either matches, NCRONTAB only when both "
            f"do; set one of them to '*', or split the schedule into two scheduled functions"
        )
    fields = [
        _translate(MINUTE, minute, where),
        _translate(HOUR, hour, where),
        _translate(DAY_OF_MONTH, day_of_month, where),
        _translate(MONTH, month, where),
        _translate(DAY_OF_WEEK, day_of_week, where),
    ]
    return " ".join(["0", *fields])


def _rate(schedule: Schedule) -> str:
    every = schedule.every
    cron = exact_rate_cron(every)
    if cron is not None:
        return f"0 {cron}"
    _refuse_rate(schedule, every, [rate_text(rate) for rate in nearest_exact_rates(every)])


def _refuse_rate(schedule: Schedule, every: int, nearest: list[str]) -> NoReturn:
    if every > _DAY_SECONDS:
        why = (
            "NCRONTAB has no interval longer than a day (a day-of-month step restarts every month)"
        )
        fix = f"use {nearest[0]!r} or a cron naming the days, like 'cron(0 0 * * 1)' weekly"
    else:
        unit = "hour" if every < _HOUR_SECONDS else "day"
        why = (
            f"a timer step restarts every {unit}, so only a rate that divides "
            f"{'an' if unit == 'hour' else 'a'} {unit} evenly keeps its interval"
        )
        fix = f"use {' or '.join(repr(rate) for rate in nearest)}"
    raise ValidationError(f"schedule {schedule.expression!r}: {why}; {fix}")


def _translate(field: CronField, text: str, where: str) -> str:
    """One field in a form NCRONTAB reads, selecting the same values as croniter."""
    rendered: list[str] = []
    for part in text.split(","):
        item = parse_item(field, part, where, _untranslatable)
        start, end, step = item.start, item.end, item.step
        # NCRONTAB's own top: 6 for day-of-week, where classic cron allows 7.
        top = 6 if field is DAY_OF_WEEK else field.high
        if start is None and (step is None or step <= top - field.low):
            rendered.append(part)  # '*' and '*/n' mean the same to both
        elif step is None and start is not None and start <= (start if end is None else end) <= top:
            rendered.append(part)  # a value, or a range that does not wrap
        else:
            values = _expand(field, item)
            rendered.append(
                runs([value % 7 if field is DAY_OF_WEEK else value for value in values])
            )
    return join_unique(rendered)


def _expand(field: CronField, item: CronItem) -> list[int]:
    """The values an item selects, in croniter's order (a wrapping range wraps)."""
    if field is DAY_OF_WEEK and item.end is None:
        # '*' and 'a/n' count over one week, 0-6; only an explicit range may name day 7.
        if item.start is not None and item.step is not None:
            item = CronItem(item.text, item.start % 7, None, item.step, item.named)
        return expand(field, item, 6)
    return expand(field, item, field.high)


def _untranslatable(field: CronField, item: str, where: str) -> ValidationError:
    return ValidationError(
        f"{where}: {field.name} field {item!r} cannot be translated to NCRONTAB for an "
        f"Azure timer trigger; use {accepted_forms(field)}"
    )
