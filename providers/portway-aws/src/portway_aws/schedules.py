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
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portway.errors import ValidationError
from portway.model import Pipeline, Schedule, ScheduleTrigger

_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_ITEM = re.compile(
    r"^(?P<start>\*|[0-9]+|[A-Za-z]+)(?:-(?P<end>[0-9]+|[A-Za-z]+))?(?:/(?P<step>[0-9]+))?$"
)


@dataclass(frozen=True, slots=True)
class _Field:
    """One classic cron field: its range and, for months and days, its names."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()

    def value(self, token: str) -> int:
        """The number ``token`` stands for (a name's index counts from ``low``)."""
        if token.isdigit():
            return int(token)
        return self.names.index(token.upper()) + self.low


_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, _MONTHS)
# 7 is Sunday too in classic cron; it is read as a value and folded to 0 when shifted.
_DAY_OF_WEEK = _Field("day-of-week", 0, 7, _DAYS)


@dataclass(frozen=True, slots=True)
class _Item:
    """One comma-separated item of a field, parsed."""

    text: str
    start: int | None  # None: '*'
    end: int | None
    step: int | None
    named: bool

    @property
    def wraps(self) -> bool:
        return self.start is not None and self.end is not None and self.start > self.end


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
        _translate(_MINUTE, minute, where),
        _translate(_HOUR, hour, where),
        "?" if day_of_month == "*" and day_of_week != "*" else _day_of_month(day_of_month, where),
        _translate(_MONTH, month, where),
        "?" if day_of_week == "*" else _day_of_week(day_of_week, where),
        "*",
    ]
    return f"cron({' '.join(fields)})"


def pipeline_schedules(pipeline: Pipeline) -> dict[str, str]:
    """The AWS expression of each scheduled function of ``pipeline``, by function name.

    Raises :class:`ValidationError` naming the pipeline, the function and the schedule
    for the first one AWS cannot run.
    """
    expressions: dict[str, str] = {}
    for function in pipeline.functions.values():
        if not isinstance(function.trigger, ScheduleTrigger):
            continue
        try:
            expressions[function.name] = aws_expression(function.trigger.schedule)
        except ValidationError as error:
            raise ValidationError(
                f"pipeline {pipeline.name!r}, function {function.name!r}: {error}"
            ) from None
    return expressions


def _parse(field: _Field, item: str, where: str) -> _Item:
    match = _ITEM.fullmatch(item)
    if match is None:
        raise _untranslatable(field, item, where)
    start_text, end_text, step_text = match.group("start", "end", "step")
    if start_text == "*" and end_text is not None:
        raise _untranslatable(field, item, where)
    tokens = [t for t in (start_text, end_text) if t is not None and t != "*"]
    named = any(not t.isdigit() for t in tokens)
    try:
        values = [field.value(t) for t in tokens]
    except ValueError:
        raise _untranslatable(field, item, where) from None
    if any(not field.low <= v <= field.high for v in values):
        raise ValidationError(
            f"{where}: {field.name} field {item!r} is outside {field.low}-{field.high}"
        )
    step = int(step_text) if step_text is not None else None
    if step == 0:
        raise ValidationError(f"{where}: {field.name} field {item!r} has a step of 0")
    start = values[0] if start_text != "*" else None
    end = values[-1] if end_text is not None else None
    return _Item(item, start, end, step, named)


def _expand(field: _Field, item: _Item, high: int) -> list[int]:
    """The values ``item`` selects, in its own order (a wrapping range wraps)."""
    low = field.low
    if item.start is None:
        values = list(range(low, high + 1))
    elif item.end is None:
        values = [item.start] if item.step is None else list(range(item.start, high + 1))
    elif item.wraps:
        values = list(range(item.start, high + 1)) + list(range(low, item.end + 1))
    else:
        values = list(range(item.start, item.end + 1))
    return values[:: item.step or 1]


def _translate(field: _Field, text: str, where: str) -> str:
    """Minute, hour and month: the same values, in forms AWS documents."""
    rendered: list[str] = []
    for part in text.split(","):
        item = _parse(field, part, where)
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
            rendered.append(",".join(str(v) for v in _expand(field, item, field.high)))
    return _dedupe(rendered)


def _day_of_month(text: str, where: str) -> str:
    # 'L' (the last day of the month) means the same to croniter and to AWS.
    if text.upper() == "L":
        return "L"
    if any(c.isalpha() for c in text):
        raise _untranslatable(_DAY_OF_MONTH, text, where)
    return _translate(_DAY_OF_MONTH, text, where)


def _day_of_week(text: str, where: str) -> str:
    """Shift classic day numbers (0/7 = Sunday) to AWS's (1 = Sunday)."""
    rendered: list[str] = []
    for part in text.split(","):
        item = _parse(_DAY_OF_WEEK, part, where)
        if item.named and item.step is None and not item.wraps:
            # Names mean the same days on both sides: MON-FRI stays MON-FRI.
            rendered.append(item.text.upper())
            continue
        if item.start == 7 and item.end is None:
            item = _Item(item.text, 0, None, item.step, item.named)  # '7/2' counts from Sunday
        # A step or '*' counts over one week, 0-6; a range may name 7 (Sunday again).
        high = 6 if item.end is None else 7
        days = [(day % 7) + 1 for day in _expand(_DAY_OF_WEEK, item, high)]
        rendered.append(_runs(days))
    return _dedupe(rendered)


def _runs(days: list[int]) -> str:
    """``[6, 7, 1]`` -> ``"6-7,1"``: ascending runs as ranges, in the given order."""
    unique = list(dict.fromkeys(days))
    groups: list[list[int]] = []
    for day in unique:
        if groups and day == groups[-1][-1] + 1:
            groups[-1].append(day)
        else:
            groups.append([day])
    return ",".join(str(g[0]) if len(g) == 1 else f"{g[0]}-{g[-1]}" for g in groups)


def _dedupe(rendered: list[str]) -> str:
    """Join items, dropping any token an earlier item already wrote (``0,7`` -> ``1``)."""
    tokens = [token for text in rendered for token in text.split(",")]
    return ",".join(dict.fromkeys(tokens))


def _untranslatable(field: _Field, item: str, where: str) -> ValidationError:
    forms = ["numbers"]
    if field.names:
        forms.append(f"names ({field.names[0]}-{field.names[-1]})")
    forms += ["'*'", "lists (a,b)", "ranges (a-b)", "steps (/n)"]
    if field is _DAY_OF_MONTH:
        forms.append("L (the last day)")
    return ValidationError(
        f"{where}: {field.name} field {item!r} cannot be translated for EventBridge "
        f"Scheduler; use {', '.join(forms[:-1])} or {forms[-1]}"
    )
