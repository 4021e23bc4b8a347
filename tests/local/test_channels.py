"""Channels: what each function consumes on a local stage, and how users name them."""

from __future__ import annotations

import pytest

from portway import HttpRequest, Message, ObjectEvent, Pipeline, ScheduleEvent
from portway.local.channels import channels_of, find_channel, object_channels, topic_channels
from portway.model import limits

app = Pipeline("channels")
landing = app.bucket("landing")
jobs = app.queue("transform-jobs", max_attempts=7, visibility_timeout=90)
loaded = app.topic("loaded")
quiet = app.topic("quiet")
solo = app.queue("solo")


@app.schedule("rate(15 minutes)")
def pull(event: ScheduleEvent) -> None: ...


@app.on_object_created(landing, suffix=".csv", timeout=120)
def enqueue(event: ObjectEvent) -> None: ...


@app.on_message(jobs, batch_size=10, max_batching_window=5)
def transform(batch: list[Message]) -> None: ...


@app.on_message(jobs, batch_size=3, max_batching_window=8)
def transform_again(batch: list[Message]) -> None: ...


@app.on_message(solo, batch_size=6, max_batching_window=2)
def alone(batch: list[Message]) -> None: ...


@app.on_message(loaded, batch_size=4)
def report(message: Message) -> None: ...


@app.on_message(loaded)
def load_warehouse(message: Message) -> None: ...


@app.http("GET", "/status")
def status(request: HttpRequest) -> None: ...


CHANNELS = channels_of(app)


def test_every_consumed_source_has_a_channel_in_the_order_functions_are_declared() -> None:
    assert list(CHANNELS) == [
        "schedule/pull",
        "bucket/landing/enqueue",
        "queue/transform-jobs",
        "queue/solo",
        "topic/loaded/report",
        "topic/loaded/load_warehouse",
    ]


def test_a_queue_is_one_channel_its_consumers_compete_on() -> None:
    channel = CHANNELS["queue/transform-jobs"]

    assert channel.kind == "queue"
    assert channel.source == "transform-jobs"
    assert channel.functions == ("transform", "transform_again")


def test_a_queue_channel_keeps_the_queues_max_attempts_and_visibility_timeout() -> None:
    channel = CHANNELS["queue/transform-jobs"]

    assert (channel.max_attempts, channel.visibility_timeout) == (7, 90)


def test_a_queue_channel_takes_the_batching_of_its_trigger() -> None:
    channel = CHANNELS["queue/solo"]

    assert (channel.batch_size, channel.max_batching_window) == (6, 2)


def test_a_shared_queue_batches_within_every_consumers_limits() -> None:
    channel = CHANNELS["queue/transform-jobs"]

    assert (channel.batch_size, channel.max_batching_window) == (3, 5)


def test_each_topic_subscriber_gets_its_own_channel() -> None:
    report_channel = CHANNELS["topic/loaded/report"]

    assert report_channel.kind == "topic"
    assert report_channel.source == "loaded"
    assert report_channel.functions == ("report",)
    assert report_channel.batch_size == 4


@pytest.mark.parametrize(
    "name", ["schedule/pull", "bucket/landing/enqueue", "topic/loaded/load_warehouse"]
)
def test_other_channels_take_the_default_max_attempts(name: str) -> None:
    assert CHANNELS[name].max_attempts == limits.DEFAULT_MAX_ATTEMPTS


def test_other_channels_hide_a_delivery_at_least_the_default_visibility_timeout() -> None:
    assert CHANNELS["schedule/pull"].visibility_timeout >= limits.DEFAULT_VISIBILITY_TIMEOUT


@pytest.mark.parametrize(
    ("name", "function"),
    [("schedule/pull", "pull"), ("bucket/landing/enqueue", "enqueue")],
)
def test_the_visibility_timeout_covers_the_function_timeout(name: str, function: str) -> None:
    assert CHANNELS[name].visibility_timeout > app.function(function).timeout


def test_object_and_schedule_channels_name_their_source() -> None:
    assert CHANNELS["bucket/landing/enqueue"].source == "landing"
    assert CHANNELS["schedule/pull"].source == "rate(15 minutes)"


def test_http_functions_have_no_channel() -> None:
    assert not any("status" in channel.functions for channel in CHANNELS.values())


def test_a_queues_dead_letters_are_named_after_the_queue() -> None:
    assert CHANNELS["queue/transform-jobs"].dead_letter_name == "transform-jobs-dlq"


def test_other_dead_letters_are_named_after_the_channel() -> None:
    assert CHANNELS["topic/loaded/report"].dead_letter_name == "topic/loaded/report-dlq"


def test_a_publish_fans_out_to_every_subscription() -> None:
    assert topic_channels(app, loaded) == ["topic/loaded/report", "topic/loaded/load_warehouse"]


def test_a_topic_without_subscribers_fans_out_to_nothing() -> None:
    assert topic_channels(app, quiet) == []


@pytest.mark.parametrize(
    ("key", "expected"),
    [("2026/a.csv", ["bucket/landing/enqueue"]), ("2026/a.txt", [])],
)
def test_object_channels_apply_the_triggers_filters(key: str, expected: list[str]) -> None:
    assert object_channels(app, landing, key) == expected


# -- find_channel ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("transform-jobs", "queue/transform-jobs"),
        ("transform-jobs-dlq", "queue/transform-jobs"),
        ("transform", "queue/transform-jobs"),
        ("transform_again", "queue/transform-jobs"),
        ("report", "topic/loaded/report"),
        ("report-dlq", "topic/loaded/report"),
        ("load_warehouse", "topic/loaded/load_warehouse"),
        ("load-warehouse", "topic/loaded/load_warehouse"),
        ("load-warehouse-dlq", "topic/loaded/load_warehouse"),
        ("enqueue", "bucket/landing/enqueue"),
        ("pull", "schedule/pull"),
        ("schedule/pull", "schedule/pull"),
        ("topic/loaded/report-dlq", "topic/loaded/report"),
    ],
)
def test_find_channel_accepts_the_names_users_know(name: str, expected: str) -> None:
    assert find_channel(app, name).name == expected


def test_find_channel_of_an_unknown_name_lists_what_exists() -> None:
    with pytest.raises(KeyError) as caught:
        find_channel(app, "nope")

    message = caught.value.args[0]
    assert message.startswith("pipeline 'channels' has no queue or consuming function 'nope'")
    assert "(name one of: pull, enqueue, transform-jobs, solo, report, load_warehouse)" in message


def test_find_channel_of_a_function_that_consumes_nothing_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="'status'"):
        find_channel(app, "status")


def test_find_channel_in_a_pipeline_without_consumers_says_none_exist() -> None:
    with pytest.raises(KeyError, match=r"name one of: none"):
        find_channel(Pipeline("empty"), "jobs")
