"""Schedule expressions: ``rate(N minutes|hours|days)`` and 5-field ``cron(...)``.

Both are parsed into a :class:`Schedule` at declaration time, so a typo fails when the
pipeline is imported, not when a provider first tries to fire it. Cron is the classic
5 fields (minute hour day-of-month month day-of-week, UTC); providers translate it
(AWS wants 6 fields with ``?``, Azure NCRONTAB wants seconds).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from portway.errors import ValidationError

_RATE = re.compile(r"^rate\(\s*([0-9]+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")


# The cron patterns are compiled on first use, not at import: every cold start imports
# this module, and a pipeline of rate schedules never needs them.
@functools.cache
def _cron() -> re.Pattern[str]:
    return re.compile(r"^cron\((.*)\)$")


@functools.cache
def _cron_field() -> re.Pattern[str]:
    return re.compile(r"^[0-9A-Za-z*,/-]+$")


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed schedule. ``kind`` is ``"rate"`` (``every`` seconds) or ``"cron"``."""

    expression: str
    kind: Literal["rate", "cron"]
    every: int = 0
    cron: str = ""

    @property
    def rate_value_unit(self) -> tuple[int, str]:
        """``rate`` only: the interval in the largest unit that divides it exactly."""
        for unit in ("day", "hour", "minute"):
            size = _UNIT_SECONDS[unit]
            if self.every % size == 0:
                count = self.every // size
                return count, unit if count == 1 else unit + "s"
        raise AssertionError("rates are whole minutes")  # pragma: no cover


def parse_schedule(expression: str) -> Schedule:
    """Parse ``expression``; raise :class:`ValidationError` saying what is wrong."""
    if not isinstance(expression, str):
        raise ValidationError(
            f"schedule {expression!r}: expected a string like 'rate(15 minutes)' or "
            f"'cron(0 6 * * *)'"
        )
    text = expression.strip()
    rate = _RATE.fullmatch(text)
    if rate:
        count, unit = int(rate.group(1)), rate.group(2)
        if count < 1:
            raise ValidationError(f"schedule {expression!r}: a rate must be at least 1")
        singular = unit.rstrip("s")
        if (count == 1) != (unit == singular):
            fixed = f"rate({count} {singular if count == 1 else singular + 's'})"
            raise ValidationError(f"schedule {expression!r}: write {fixed!r}")
        return Schedule(text, "rate", every=count * _UNIT_SECONDS[singular])
    cron = _cron().fullmatch(text)
    if cron:
        return Schedule(text, "cron", cron=_check_cron(expression, cron.group(1)))
    raise ValidationError(
        f"schedule {expression!r}: expected 'rate(N minutes|hours|days)' or a 5-field "
        f"'cron(minute hour day-of-month month day-of-week)'"
    )


def _check_cron(expression: str, body: str) -> str:
    fields = body.split()
    if len(fields) != len(_CRON_FIELDS):
        raise ValidationError(
            f"schedule {expression!r}: cron takes 5 fields ({' '.join(_CRON_FIELDS)}), "
            f"got {len(fields)}"
        )
    if "?" in body:
        raise ValidationError(
            f"schedule {expression!r}: use '*' instead of '?' (portway cron is the classic "
            f"5-field form; providers translate it)"
        )
    for name, value in zip(_CRON_FIELDS, fields, strict=True):
        if not _cron_field().fullmatch(value):
            raise ValidationError(
                f"schedule {expression!r}: {name} field {value!r} may hold only digits, "
                f"names, '*', ',', '-' and '/'"
            )
    normalized = " ".join(fields)
    # croniter is imported here, not at module level: only pipelines with a cron
    # schedule pay for it, and `import portway` stays light.
    from croniter import croniter

    if not croniter.is_valid(normalized):
        raise ValidationError(f"schedule {expression!r}: {normalized!r} is not a valid cron")
    return normalized
