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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NoReturn

from portway.errors import ValidationError
from portway.model import Schedule

_MINUTE_SECONDS = 60
_HOUR_SECONDS = 3600
_DAY_SECONDS = 86400

_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_ITEM = re.compile(
    r"^(?P<start>\*|[0-9]+|[A-Za-z]+)(?:-(?P<end>[0-9]+|[A-Za-z]+))?(?:/(?P<step>[0-9]+))?$"
)


@dataclass(frozen=True, slots=True)
class _Field:
    """One classic cron field: its range (``high`` as croniter takes it) and its names."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()

    def value(self, token: str) -> int:
        if token.isdigit():
            return int(token)
        return self.names.index(token.upper()) + self.low


_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, _MONTHS)
# Classic cron reads 7 as Sunday too; NCRONTAB stops at 6.
_DAY_OF_WEEK = _Field("day-of-week", 0, 7, _DAYS)


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
        _translate(_MINUTE, minute, where),
        _translate(_HOUR, hour, where),
        _translate(_DAY_OF_MONTH, day_of_month, where),
        _translate(_MONTH, month, where),
        _translate(_DAY_OF_WEEK, day_of_week, where),
    ]
    return " ".join(["0", *fields])


def _rate(schedule: Schedule) -> str:
    every = schedule.every
    if every < _HOUR_SECONDS and _HOUR_SECONDS % every == 0:
        minutes = every // _MINUTE_SECONDS
        return "0 * * * * *" if minutes == 1 else f"0 */{minutes} * * * *"
    if every < _DAY_SECONDS and every % _HOUR_SECONDS == 0 and _DAY_SECONDS % every == 0:
        hours = every // _HOUR_SECONDS
        return "0 0 * * * *" if hours == 1 else f"0 0 */{hours} * * *"
    if every == _DAY_SECONDS:
        return "0 0 0 * * *"
    lower = [rate for rate in _EXACT_RATES if rate < every]
    higher = [rate for rate in _EXACT_RATES if rate > every]
    nearest = [_rate_text(rate) for rate in (lower[-1:] + higher[:1])]
    _refuse_rate(schedule, every, nearest)


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


# Every rate NCRONTAB keeps exactly, in seconds: the divisors of an hour in minutes, of a
# day in hours, and one day.
_EXACT_RATES = (
    [m * _MINUTE_SECONDS for m in range(1, 60) if 60 % m == 0]
    + [h * _HOUR_SECONDS for h in range(1, 24) if 24 % h == 0]
    + [_DAY_SECONDS]
)


def _rate_text(seconds: int) -> str:
    for unit, size in (("day", _DAY_SECONDS), ("hour", _HOUR_SECONDS), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"rate({count} {unit}{'' if count == 1 else 's'})"
    raise AssertionError("exact rates are whole minutes")  # pragma: no cover


def _translate(field: _Field, text: str, where: str) -> str:
    """One field in a form NCRONTAB reads, selecting the same values as croniter."""
    rendered: list[str] = []
    for part in text.split(","):
        start, end, step = _parse(field, part, where)
        # NCRONTAB's own top: 6 for day-of-week, where classic cron allows 7.
        top = 6 if field is _DAY_OF_WEEK else field.high
        if start is None and (step is None or step <= top - field.low):
            rendered.append(part)  # '*' and '*/n' mean the same to both
        elif step is None and start is not None and start <= (start if end is None else end) <= top:
            rendered.append(part)  # a value, or a range that does not wrap
        else:
            values = _expand(field, start, end, step)
            rendered.append(
                _runs([value % 7 if field is _DAY_OF_WEEK else value for value in values])
            )
    tokens = [token for item in rendered for token in item.split(",")]
    return ",".join(dict.fromkeys(tokens))


def _parse(field: _Field, item: str, where: str) -> tuple[int | None, int | None, int | None]:
    """``(start, end, step)`` of one item; ``start`` is None for ``*``."""
    match = _ITEM.fullmatch(item)
    if match is None:
        raise _untranslatable(field, item, where)
    start_text, end_text, step_text = match.group("start", "end", "step")
    if start_text == "*" and end_text is not None:
        raise _untranslatable(field, item, where)
    try:
        start = None if start_text == "*" else field.value(start_text)
        end = None if end_text is None else field.value(end_text)
    except ValueError:
        raise _untranslatable(field, item, where) from None
    for value in (start, end):
        if value is not None and not field.low <= value <= field.high:
            raise ValidationError(
                f"{where}: {field.name} field {item!r} is outside {field.low}-{field.high}"
            )
    step = None if step_text is None else int(step_text)
    if step == 0:
        raise ValidationError(f"{where}: {field.name} field {item!r} has a step of 0")
    return start, end, step


def _expand(field: _Field, start: int | None, end: int | None, step: int | None) -> list[int]:
    """The values an item selects, in croniter's order (a wrapping range wraps)."""
    # '*' and 'a/n' count over one cycle; only an explicit range may name day 7.
    high = 6 if field is _DAY_OF_WEEK and end is None else field.high
    if start is None:
        values = list(range(field.low, high + 1))
    elif end is None:
        values = (
            [start]
            if step is None
            else list(range(start % 7 if field is _DAY_OF_WEEK else start, high + 1))
        )
    elif start > end:
        values = list(range(start, high + 1)) + list(range(field.low, end + 1))
    else:
        values = list(range(start, end + 1))
    return values[:: step or 1]


def _runs(values: list[int]) -> str:
    """``[5, 6, 0]`` -> ``"5-6,0"``: ascending runs as ranges, in the given order."""
    groups: list[list[int]] = []
    for value in dict.fromkeys(values):
        if groups and value == groups[-1][-1] + 1:
            groups[-1].append(value)
        else:
            groups.append([value])
    return ",".join(str(g[0]) if len(g) == 1 else f"{g[0]}-{g[-1]}" for g in groups)


def _untranslatable(field: _Field, item: str, where: str) -> ValidationError:
    forms = ["numbers"]
    if field.names:
        forms.append(f"names ({field.names[0]}-{field.names[-1]})")
    forms += ["'*'", "lists (a,b)", "ranges (a-b)", "steps (/n)"]
    return ValidationError(
        f"{where}: {field.name} field {item!r} cannot be translated to NCRONTAB for an "
        f"Azure timer trigger; use {', '.join(forms[:-1])} or {forms[-1]}"
    )
