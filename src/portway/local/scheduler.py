"""Schedules in the running process: ``rate(...)`` and ``cron(...)`` ticks, durably.

The last tick fired for each scheduled function is kept in the stage database, in the
same transaction as the schedule event it enqueues, so a tick fires once even across a
crash. Ticks missed while nothing ran fire *once* at start (for the latest missed
tick), not once per missed tick, as a cloud scheduler that was paused would. A
function scheduled for the first time starts counting from the first run: its first
tick is one interval (or the next cron time) later.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime

from portway.events import ScheduleEvent
from portway.local import channels, messages
from portway.local.objects import CLOUDEVENT_JSON
from portway.model import Function
from portway.model.schedules import Schedule
from portway.model.triggers import ScheduleTrigger
from portway.payload import OutgoingMessage


def next_tick(schedule: Schedule, after: float) -> float:
    """The first tick strictly after ``after`` (Unix seconds, UTC)."""
    if schedule.kind == "rate":
        return after + schedule.every
    from croniter import croniter

    start = datetime.fromtimestamp(after, UTC)
    return float(croniter(schedule.cron, start).get_next(float))


def latest_tick(schedule: Schedule, last: float, now: float) -> float | None:
    """The latest tick in ``(last, now]``, or ``None`` if no tick fell due."""
    if schedule.kind == "rate":
        missed = int((now - last) // schedule.every)
        return last + missed * schedule.every if missed >= 1 else None
    from croniter import croniter

    previous = float(croniter(schedule.cron, datetime.fromtimestamp(now, UTC)).get_prev(float))
    # croniter's get_prev is strictly before `now`; a tick exactly at `now` is due too.
    exact = float(croniter(schedule.cron, datetime.fromtimestamp(previous, UTC)).get_next(float))
    candidate = exact if exact <= now else previous
    return candidate if candidate > last else None


@dataclass
class Scheduler:
    """The schedules of one pipeline; :meth:`fire_due` is called by the runtime's loop."""

    functions: list[Function]
    due: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, functions: list[Function]) -> Scheduler:
        return cls([f for f in functions if isinstance(f.trigger, ScheduleTrigger)])

    def start(self, connection: sqlite3.Connection, now: float) -> list[str]:
        """Inside a transaction: fire missed ticks once; return the functions fired."""
        fired = []
        for function in self.functions:
            schedule = _schedule(function)
            row = connection.execute(
                "SELECT last_tick FROM schedule_ticks WHERE function = ?", (function.name,)
            ).fetchone()
            if row is None:
                _record(connection, function, now)
                self.due[function.name] = next_tick(schedule, now)
                continue
            last = float(row[0])
            missed = latest_tick(schedule, last, now)
            if missed is not None:
                _fire(connection, function, missed, now)
                fired.append(function.name)
                last = missed
            self.due[function.name] = next_tick(schedule, last)
        return fired

    def next_due(self) -> float | None:
        return min(self.due.values(), default=None)

    def fire_due(self, connection: sqlite3.Connection, now: float) -> list[str]:
        """Inside a transaction: fire every tick due by ``now``; return the functions."""
        fired = []
        for function in self.functions:
            tick = self.due.get(function.name)
            if tick is None or tick > now:
                continue
            schedule = _schedule(function)
            # The due tick itself, or a later one if the loop woke up late past it.
            latest = latest_tick(schedule, tick, now) or tick
            _fire(connection, function, latest, now)
            fired.append(function.name)
            self.due[function.name] = next_tick(schedule, latest)
        return fired


def _schedule(function: Function) -> Schedule:
    trigger = function.trigger
    assert isinstance(trigger, ScheduleTrigger)
    return trigger.schedule


def _record(connection: sqlite3.Connection, function: Function, tick: float) -> None:
    connection.execute(
        "INSERT OR REPLACE INTO schedule_ticks (function, last_tick) VALUES (?, ?)",
        (function.name, tick),
    )


def _fire(connection: sqlite3.Connection, function: Function, tick: float, now: float) -> None:
    schedule = _schedule(function)
    event = ScheduleEvent(
        id=messages.new_id(),
        source=f"/portway/local/schedules/{function.name}",
        time=datetime.fromtimestamp(tick, UTC),
        schedule=schedule.expression,
    )
    body = OutgoingMessage(event.to_json().encode("utf-8"), CLOUDEVENT_JSON)
    messages.enqueue(connection, [(channels.schedule_channel(function), body)], now)
    _record(connection, function, tick)
