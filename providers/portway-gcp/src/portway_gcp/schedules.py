"""Portway schedules as Cloud Scheduler unix-cron expressions (pure translation, no I/O).

Cloud Scheduler takes the classic 5 unix-cron fields, evaluated in the job's time zone
(portway sets ``UTC``), with the same "day-of-month OR day-of-week" rule as classic cron
(https://cloud.google.com/scheduler/docs/configuring/cron-job-schedules). So a portway
cron is passed through, with three differences written out here:

* month and day names must be the first three letters in uppercase (``JAN``, ``MON``);
* ``L`` (the last day of the month), which croniter accepts, is not supported;
* a range that wraps around (``22-2`` in hours, which croniter accepts) is not documented,
  so it is written out as a list.

Cloud Scheduler has no ``rate(...)`` (its legacy English-like format is not used), so a
rate is translated only where one cron fires at exactly that interval, every time:
``rate(N minutes)`` when N divides 60 (``*/N * * * *``), ``rate(N hours)`` when N divides
24 (``0 */N * * *``) and ``rate(1 day)`` (``0 0 * * *``). A cron step restarts at the top
of its field (each hour, each day, each month), so any other rate would run at an uneven
interval once per cycle; it is refused with the nearest exact rates. The translated rate
runs at fixed clock times counted from minute 0 (``rate(15 minutes)``: :00, :15, :30,
:45 UTC), not from the moment of the deploy: that is what a rate means on GCP.

The dialect-free pieces (fields, item parsing and expansion, exact rates) are
:mod:`portway.deploy.cron_fields`; the dialect rules and their messages are here.
"""

from __future__ import annotations

import re

from portway.deploy.cron_fields import (
    DAY_OF_WEEK,
    FIELDS,
    CronField,
    CronItem,
    exact_rate_cron,
    expand,
    nearest_exact_rates,
    pipeline_expressions,
    rate_text,
)

# Every interval, in seconds, that one unix-cron runs at exactly (re-exported as public).
from portway.deploy.cron_fields import EXACT_RATES as EXACT_RATES
from portway.errors import ValidationError
from portway.model import Pipeline, Schedule

_MINUTE = 60
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR

# Cloud Scheduler documents names as the first three letters in uppercase only.
_ITEM = re.compile(
    r"^(?P<start>\*|[0-9]+|[A-Z]{3})(?:-(?P<end>[0-9]+|[A-Z]{3}))?(?:/(?P<step>[0-9]+))?$"
)


def scheduler_expression(schedule: Schedule) -> str:
    """The Cloud Scheduler ``schedule`` (unix-cron, to run in ``UTC``) of ``schedule``.

    Raises :class:`ValidationError` naming the schedule when Cloud Scheduler cannot run
    it as portway means it: a rate with no exact cron form (saying why, and which exact
    rates are nearest), or a cron feature Cloud Scheduler lacks.
    """
    if schedule.kind == "rate":
        return _rate_cron(schedule)
    where = f"schedule {schedule.expression!r}"
    fields = schedule.cron.split()
    return " ".join(
        _cron_field(field, text, where) for field, text in zip(FIELDS, fields, strict=True)
    )


def pipeline_schedules(pipeline: Pipeline) -> dict[str, str]:
    """The Cloud Scheduler expression of each scheduled function, by function name.

    Raises :class:`ValidationError` naming the pipeline, the function and the schedule
    for the first one Cloud Scheduler cannot run.
    """
    return pipeline_expressions(pipeline, scheduler_expression)


def _rate_cron(schedule: Schedule) -> str:
    cron = exact_rate_cron(schedule.every)
    if cron is not None:
        return cron
    every = schedule.every
    raise ValidationError(
        f"schedule {schedule.expression!r}: {_why_inexact(every)}; use {_nearest(every)}, "
        f"or a cron(...) schedule that says exactly when to run"
    )


def _why_inexact(every: int) -> str:
    """Why no unix-cron runs every ``every`` seconds, with the uneven interval it would give."""
    if every < _HOUR:
        unit, step, cycle, field = "minutes", every // _MINUTE, 60, "minute"
    elif every < _DAY:
        unit, step, cycle, field = "hours", every // _HOUR, 24, "hour"
        if every % _HOUR:
            return (
                f"Cloud Scheduler runs unix-cron, and an interval of {every // _MINUTE} "
                f"minutes is neither a whole number of minutes within an hour nor of "
                f"hours within a day, so no cron runs at exactly that interval"
            )
    else:
        return (
            "Cloud Scheduler runs unix-cron, and a step in the day-of-month field restarts "
            "with every month ('*/2' runs on the 31st and again on the 1st), so no cron "
            "runs every few days at an exact interval"
        )
    last = (cycle - 1) // step * step
    gap = cycle - last
    return (
        f"Cloud Scheduler runs unix-cron, and '*/{step}' in the {field} field restarts "
        f"at 0 every {'hour' if field == 'minute' else 'day'} (it runs at {field} {last} "
        f"and again at {field} 0, {gap} {unit} later), so {step} {unit} has no exact cron form "
        f"({step} does not divide {cycle})"
    )


def _nearest(every: int) -> str:
    return " or ".join(repr(rate_text(rate)) for rate in nearest_exact_rates(every))


def _cron_field(field: CronField, text: str, where: str) -> str:
    name, names = field.name, field.names
    rendered: list[str] = []
    for part in text.upper().split(","):
        match = _ITEM.fullmatch(part)
        tokens = [] if match is None else [t for t in match.group("start", "end") if t]
        if match is None or any(t.isalpha() and t not in names for t in tokens):
            raise _unsupported(name, text, where, names)
        rendered.append(_item(field, match))
    return ",".join(rendered)


def _item(field: CronField, match: re.Match[str]) -> str:
    """One item as Cloud Scheduler documents it: a wrapping range is written out."""
    start_text, end_text, step_text = match.group("start", "end", "step")
    if end_text is None or start_text == "*":
        return match.group(0)
    high = field.high
    start, end = (field.value(t) for t in (start_text, end_text))
    if start <= end:
        return match.group(0)
    if field is DAY_OF_WEEK:
        high, start = 6, start % 7  # over one week, 0-6; '7-2' is Sunday to Tuesday
        if start <= end:
            return f"{start}-{end}" + (f"/{step_text}" if step_text else "")
    step = None if step_text is None else int(step_text)
    values = expand(field, CronItem(match.group(0), start, end, step), high)
    return ",".join(str(value) for value in values)


def _unsupported(name: str, text: str, where: str, names: tuple[str, ...]) -> ValidationError:
    if "L" in text.upper() and not any(n in text.upper() for n in names if "L" in n):
        return ValidationError(
            f"{where}: {name} field {text!r}: Cloud Scheduler does not support 'L' (the "
            f"last day of the month or week); name the days explicitly, or use a "
            f"provider that supports it"
        )
    forms = "numbers, '*', lists (a,b), ranges (a-b) and steps (/n)"
    if names:
        forms = f"{names[0]}-{names[-1]}, " + forms
    return ValidationError(
        f"{where}: {name} field {text!r} cannot be run by Cloud Scheduler; use {forms}"
    )
