"""The dialect-free pieces of translating portway's classic 5-field cron (deploy time only).

Each cloud provider turns a portway schedule into its own dialect (EventBridge Scheduler
``cron(...)``, Cloud Scheduler unix-cron, Azure NCRONTAB). The building blocks that mean
the same in every dialect live here:

* :data:`DAYS`, :data:`MONTHS` and the five fields :data:`MINUTE`, :data:`HOUR`,
  :data:`DAY_OF_MONTH`, :data:`MONTH`, :data:`DAY_OF_WEEK` (:data:`FIELDS` in order), each
  a :class:`CronField` with its classic range (day-of-week ``0-7``, both Sunday) and names;
* :func:`parse_item`: one comma-separated item into a :class:`CronItem`
  (``start``/``end``/``step``), refusing values outside the field and a step of 0;
* :func:`expand`: the values an item selects, in classic order (a wrapping range wraps);
* :func:`accepted_forms`: the item forms a field takes, for a provider's refusal;
* :func:`runs` (``[5, 6, 0]`` -> ``"5-6,0"``) and :func:`join_unique` (join rendered
  items, dropping tokens already written);
* the exact rates: :data:`EXACT_RATES` (every interval one classic cron keeps exactly:
  the divisors of an hour in minutes, of a day in hours, and one day),
  :func:`exact_rate_cron`, :func:`nearest_exact_rates` and :func:`rate_text`;
* :func:`pipeline_expressions`: a provider's translation applied to every scheduled
  function of a pipeline, with the pipeline and the function named in its errors.

What stays in each provider is its dialect: which items it passes through, how it
writes the rest (AWS shifts day-of-week to 1-7 and uses ``?``; NCRONTAB stops day-of-week
at 6 and adds a seconds field; Cloud Scheduler wants uppercase names and no ``L``), which
schedules it refuses, and every error message it gives (a provider passes its own
"cannot be translated" error to :func:`parse_item`).

Only deploy and validate code imports this module; a handler shim never does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from portway.errors import ValidationError
from portway.model import Pipeline, Schedule, ScheduleTrigger

DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
#: One comma-separated item: ``*``, a number or a name, an optional ``-end``, an optional ``/step``.
ITEM = re.compile(
    r"^(?P<start>\*|[0-9]+|[A-Za-z]+)(?:-(?P<end>[0-9]+|[A-Za-z]+))?(?:/(?P<step>[0-9]+))?$"
)


@dataclass(frozen=True, slots=True)
class CronField:
    """One classic cron field: its range (``high`` as croniter takes it) and its names."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()

    def value(self, token: str) -> int:
        """The number ``token`` stands for (a name's index counts from ``low``).

        Raises :class:`ValueError` for a name the field does not have.
        """
        if token.isdigit():
            return int(token)
        return self.names.index(token.upper()) + self.low


MINUTE = CronField("minute", 0, 59)
HOUR = CronField("hour", 0, 23)
DAY_OF_MONTH = CronField("day-of-month", 1, 31)
MONTH = CronField("month", 1, 12, MONTHS)
# Classic cron reads 7 as Sunday too; each dialect decides what to do with it.
DAY_OF_WEEK = CronField("day-of-week", 0, 7, DAYS)
#: The five fields in the order a classic cron writes them.
FIELDS = (MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK)


@dataclass(frozen=True, slots=True)
class CronItem:
    """One comma-separated item of a field, parsed."""

    text: str
    start: int | None  # None: '*'
    end: int | None
    step: int | None
    named: bool = False  # written with a name (MON, JAN) rather than numbers

    @property
    def wraps(self) -> bool:
        """A range whose end comes before its start (``22-2``), which croniter accepts."""
        return self.start is not None and self.end is not None and self.start > self.end


#: How a provider words "this item cannot be written in my dialect": (field, item, where).
Untranslatable = Callable[[CronField, str, str], ValidationError]


def parse_item(field: CronField, item: str, where: str, untranslatable: Untranslatable) -> CronItem:
    """``item`` of ``field`` parsed; ``where`` names the schedule in errors.

    Raises ``untranslatable(field, item, where)`` for an item of no known form (or
    ``*-n``, or an unknown name), and :class:`ValidationError` for a value outside the
    field or a step of 0.
    """
    match = ITEM.fullmatch(item)
    if match is None:
        raise untranslatable(field, item, where)
    start_text, end_text, step_text = match.group("start", "end", "step")
    if start_text == "*" and end_text is not None:
        raise untranslatable(field, item, where)
    tokens = [t for t in (start_text, end_text) if t is not None and t != "*"]
    try:
        values = [field.value(t) for t in tokens]
    except ValueError:
        raise untranslatable(field, item, where) from None
    if any(not field.low <= v <= field.high for v in values):
        raise ValidationError(
            f"{where}: {field.name} field {item!r} is outside {field.low}-{field.high}"
        )
    step = None if step_text is None else int(step_text)
    if step == 0:
        raise ValidationError(f"{where}: {field.name} field {item!r} has a step of 0")
    start = None if start_text == "*" else values[0]
    end = None if end_text is None else values[-1]
    named = any(not t.isdigit() for t in tokens)
    return CronItem(item, start, end, step, named)


def expand(field: CronField, item: CronItem, high: int) -> list[int]:
    """The values ``item`` selects, in its own order (a wrapping range wraps).

    ``*`` and ``a/n`` count up to ``high`` (a dialect may count day-of-week to 6); a
    wrapping range goes on from ``field.low``.
    """
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


def accepted_forms(field: CronField, *extra: str) -> str:
    """The item forms ``field`` takes, as a phrase: ``numbers, names (JAN-DEC), '*', ...``.

    ``extra`` forms a dialect adds (``L (the last day)``) come last.
    """
    forms = ["numbers"]
    if field.names:
        forms.append(f"names ({field.names[0]}-{field.names[-1]})")
    forms += ["'*'", "lists (a,b)", "ranges (a-b)", "steps (/n)", *extra]
    return f"{', '.join(forms[:-1])} or {forms[-1]}"


def runs(values: list[int]) -> str:
    """``[5, 6, 0]`` -> ``"5-6,0"``: ascending runs as ranges, in the given order, once each."""
    groups: list[list[int]] = []
    for value in dict.fromkeys(values):
        if groups and value == groups[-1][-1] + 1:
            groups[-1].append(value)
        else:
            groups.append([value])
    return ",".join(str(g[0]) if len(g) == 1 else f"{g[0]}-{g[-1]}" for g in groups)


def join_unique(rendered: list[str]) -> str:
    """Join rendered items, dropping any token an earlier item already wrote (``0,7`` -> ``1``)."""
    tokens = [token for text in rendered for token in text.split(",")]
    return ",".join(dict.fromkeys(tokens))


_MINUTE_SECONDS = 60
_HOUR_SECONDS = 60 * _MINUTE_SECONDS
_DAY_SECONDS = 24 * _HOUR_SECONDS

#: Every interval, in seconds, that one classic cron runs at exactly, in ascending order.
#: A step restarts at the top of its field (``*/7`` minutes fires at :56 and again at
#: :00), so only the divisors of an hour in minutes, of a day in hours, and one day.
EXACT_RATES: tuple[int, ...] = (
    *(n * _MINUTE_SECONDS for n in range(1, 60) if 60 % n == 0),
    *(n * _HOUR_SECONDS for n in range(1, 24) if 24 % n == 0),
    _DAY_SECONDS,
)


def exact_rate_cron(every: int) -> str | None:
    """The classic 5-field cron running every ``every`` seconds exactly, or None if none does.

    Counted from minute 0 of the hour and hour 0 of the day (``900`` -> ``*/15 * * * *``).
    Portway rates are whole minutes; anything shorter has no cron form (None).
    """
    if every % _MINUTE_SECONDS == 0 and every < _HOUR_SECONDS and _HOUR_SECONDS % every == 0:
        minutes = every // _MINUTE_SECONDS
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    if every < _DAY_SECONDS and every % _HOUR_SECONDS == 0 and _DAY_SECONDS % every == 0:
        hours = every // _HOUR_SECONDS
        return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
    if every == _DAY_SECONDS:
        return "0 0 * * *"
    return None


def nearest_exact_rates(every: int) -> list[int]:
    """The exact rates just below and just above ``every`` seconds (one where none is)."""
    below = [rate for rate in EXACT_RATES if rate < every]
    above = [rate for rate in EXACT_RATES if rate > every]
    return below[-1:] + above[:1]


def rate_text(every: int) -> str:
    """The portway rate of ``every`` seconds in its largest whole unit (``rate(2 hours)``).

    ``every`` must be a whole number of minutes (every exact rate is).
    """
    for size, unit in ((_DAY_SECONDS, "day"), (_HOUR_SECONDS, "hour"), (_MINUTE_SECONDS, "minute")):
        if every % size == 0:
            count = every // size
            return f"rate({count} {unit if count == 1 else unit + 's'})"
    raise ValueError(f"{every} seconds is not a whole number of minutes")


def pipeline_expressions(
    pipeline: Pipeline, translate: Callable[[Schedule], str]
) -> dict[str, str]:
    """``translate`` of each scheduled function's schedule in ``pipeline``, by function name.

    Re-raises the first :class:`ValidationError` of ``translate`` with the pipeline and
    the function named before it.
    """
    expressions: dict[str, str] = {}
    for function in pipeline.functions.values():
        if not isinstance(function.trigger, ScheduleTrigger):
            continue
        try:
            expressions[function.name] = translate(function.trigger.schedule)
        except ValidationError as error:
            raise ValidationError(
                f"pipeline {pipeline.name!r}, function {function.name!r}: {error}"
            ) from None
    return expressions
