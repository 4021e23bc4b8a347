"""Schedules on a local stage: rate and cron ticks, kept durably, missed ticks fired once.

Time is passed explicitly: every instant below is chosen, nothing sleeps.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from portway import HttpRequest, Pipeline, ScheduleEvent
from portway.events import event_from_json
from portway.local.database import transaction
from portway.local.objects import CLOUDEVENT_JSON
from portway.local.scheduler import Scheduler, latest_tick, next_tick
from portway.model import Function
from portway.model.schedules import parse_schedule

app = Pipeline("scheduled")


@app.schedule("rate(15 minutes)")
def pull(event: ScheduleEvent) -> None: ...


@app.schedule("cron(0 6 * * *)")
def daily_report(event: ScheduleEvent) -> None: ...


@app.http("GET", "/status")
def status(request: HttpRequest) -> None: ...


RATE = parse_schedule("rate(15 minutes)")
DAILY = parse_schedule("cron(0 6 * * *)")
QUARTER = 15 * 60
DAY = 24 * 3600


def at(text: str) -> float:
    """Unix seconds of a UTC time written as ``2027-01-05 06:00:00``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


T0 = at("2027-01-05 10:00:00")


def start(db: sqlite3.Connection, now: float, functions: list[Function] | None = None) -> Scheduler:
    scheduler = Scheduler.of(functions or list(app.functions.values()))
    with transaction(db):
        scheduler.start(db, now)
    return scheduler


def fire_due(db: sqlite3.Connection, scheduler: Scheduler, now: float) -> list[str]:
    with transaction(db):
        return scheduler.fire_due(db, now)


def fired(db: sqlite3.Connection) -> list[tuple[str, ScheduleEvent]]:
    rows = db.execute("SELECT channel, body, content_type FROM messages ORDER BY seq").fetchall()
    events = []
    for channel, body, content_type in rows:
        assert content_type == CLOUDEVENT_JSON
        event = event_from_json(body)
        assert isinstance(event, ScheduleEvent)
        events.append((channel, event))
    return events


def last_tick(db: sqlite3.Connection, function: str) -> float:
    row = db.execute("SELECT last_tick FROM schedule_ticks WHERE function = ?", (function,))
    return float(row.fetchone()[0])


# -- next_tick and latest_tick --------------------------------------------------------------


def test_the_next_rate_tick_is_one_interval_later() -> None:
    assert next_tick(RATE, T0) == T0 + QUARTER


def test_the_next_cron_tick_is_the_next_matching_time() -> None:
    assert next_tick(DAILY, at("2027-01-05 10:00:00")) == at("2027-01-06 06:00:00")


def test_the_next_cron_tick_is_strictly_after_a_tick() -> None:
    assert next_tick(DAILY, at("2027-01-05 06:00:00")) == at("2027-01-06 06:00:00")


def test_no_rate_tick_is_due_before_one_interval() -> None:
    assert latest_tick(RATE, T0, T0 + QUARTER - 1) is None


def test_a_rate_tick_exactly_now_is_due() -> None:
    assert latest_tick(RATE, T0, T0 + QUARTER) == T0 + QUARTER


def test_the_latest_of_several_missed_rate_ticks_is_due() -> None:
    assert latest_tick(RATE, T0, T0 + 3.5 * QUARTER) == T0 + 3 * QUARTER


def test_no_cron_tick_is_due_when_none_fell_since_the_last() -> None:
    assert latest_tick(DAILY, at("2027-01-05 06:00:00"), at("2027-01-06 05:59:59")) is None


def test_a_cron_tick_exactly_now_is_due() -> None:
    now = at("2027-01-06 06:00:00")

    assert latest_tick(DAILY, at("2027-01-05 06:00:00"), now) == now


def test_the_latest_of_several_missed_cron_ticks_is_due() -> None:
    due = latest_tick(DAILY, at("2027-01-01 06:00:00"), at("2027-01-05 10:00:00"))

    assert due == at("2027-01-05 06:00:00")


# -- start ------------------------------------------------------------------------------------


def test_a_function_scheduled_for_the_first_time_does_not_fire_at_start(db) -> None:
    scheduler = Scheduler.of(list(app.functions.values()))

    with transaction(db):
        assert scheduler.start(db, T0) == []

    assert fired(db) == []


def test_a_first_start_counts_from_now(db) -> None:
    scheduler = start(db, T0)

    assert last_tick(db, "pull") == T0
    assert scheduler.due["pull"] == T0 + QUARTER
    assert scheduler.due["daily_report"] == at("2027-01-06 06:00:00")


def test_only_scheduled_functions_are_scheduled(db) -> None:
    scheduler = start(db, T0)

    assert sorted(scheduler.due) == ["daily_report", "pull"]


def test_a_restart_within_the_interval_fires_nothing_and_keeps_the_rhythm(db) -> None:
    start(db, T0)

    scheduler = start(db, T0 + 60)

    assert fired(db) == []
    assert scheduler.due["pull"] == T0 + QUARTER


def test_ticks_missed_while_stopped_fire_once(db) -> None:
    start(db, T0, [app.function("pull")])

    scheduler = Scheduler.of([app.function("pull")])
    with transaction(db):
        names = scheduler.start(db, T0 + 10 * QUARTER + 60)

    assert names == ["pull"]
    assert len(fired(db)) == 1


def test_ticks_missed_while_stopped_fire_with_the_latest_missed_tick_as_time(db) -> None:
    start(db, T0, [app.function("pull")])

    scheduler = start(db, T0 + 10 * QUARTER + 60, [app.function("pull")])

    [(_, event)] = fired(db)
    assert event.time == datetime.fromtimestamp(T0 + 10 * QUARTER, UTC)
    assert last_tick(db, "pull") == T0 + 10 * QUARTER
    assert scheduler.due["pull"] == T0 + 11 * QUARTER


def test_a_missed_cron_tick_fires_once_at_the_next_start(db) -> None:
    start(db, at("2027-01-01 10:00:00"), [app.function("daily_report")])

    start(db, at("2027-01-05 10:00:00"), [app.function("daily_report")])

    [(_, event)] = fired(db)
    assert event.time == datetime(2027, 1, 5, 6, 0, tzinfo=UTC)


# -- fire_due -------------------------------------------------------------------------------


def test_nothing_fires_before_the_tick_is_due(db) -> None:
    scheduler = start(db, T0)

    assert fire_due(db, scheduler, T0 + QUARTER - 0.001) == []
    assert fired(db) == []


def test_a_due_tick_fires_a_schedule_event_in_the_functions_channel(db) -> None:
    scheduler = start(db, T0)

    assert fire_due(db, scheduler, T0 + QUARTER) == ["pull"]

    [(channel, event)] = fired(db)
    assert channel == "schedule/pull"
    assert event.schedule == "rate(15 minutes)"
    assert event.time == datetime.fromtimestamp(T0 + QUARTER, UTC)
    assert event.source == "/portway/local/schedules/pull"


def test_a_fired_tick_is_recorded_and_the_next_one_is_due_an_interval_later(db) -> None:
    scheduler = start(db, T0)

    fire_due(db, scheduler, T0 + QUARTER + 2)

    assert last_tick(db, "pull") == T0 + QUARTER
    assert scheduler.due["pull"] == T0 + 2 * QUARTER
    assert scheduler.next_due() == T0 + 2 * QUARTER


def test_a_tick_fires_once(db) -> None:
    scheduler = start(db, T0)
    fire_due(db, scheduler, T0 + QUARTER)

    assert fire_due(db, scheduler, T0 + QUARTER + 1) == []
    assert len(fired(db)) == 1


def test_a_loop_waking_late_fires_once_for_the_latest_tick_exactly(db) -> None:
    scheduler = start(db, T0)

    fire_due(db, scheduler, T0 + 3.5 * QUARTER)

    [(_, event)] = fired(db)
    assert event.time == datetime.fromtimestamp(T0 + 3 * QUARTER, UTC)
    assert scheduler.due["pull"] == T0 + 4 * QUARTER


def test_a_due_cron_tick_fires_at_its_time(db) -> None:
    scheduler = start(db, T0)

    assert fire_due(db, scheduler, at("2027-01-06 06:00:00")) == ["pull", "daily_report"]

    channels = [channel for channel, _ in fired(db)]
    assert channels == ["schedule/pull", "schedule/daily_report"]
    assert scheduler.due["daily_report"] == at("2027-01-07 06:00:00")


def test_a_tick_fired_before_a_restart_does_not_fire_again(db) -> None:
    scheduler = start(db, T0)
    fire_due(db, scheduler, T0 + QUARTER)

    start(db, T0 + QUARTER + 60)

    assert len(fired(db)) == 1


def test_next_due_is_none_without_schedules(db) -> None:
    scheduler = start(db, T0, [app.function("status")])

    assert scheduler.next_due() is None


def test_a_day_has_96_quarter_hour_ticks(db) -> None:
    scheduler = start(db, T0, [app.function("pull")])
    now = T0
    while now < T0 + DAY:
        now = scheduler.next_due() or 0.0
        fire_due(db, scheduler, now)

    assert len(fired(db)) == 96
