"""The GCP harness on a small pipeline: what the conformance suite does not reach.

The suite reads dead letters of a queue only; here a topic subscriber and an object
trigger fail on purpose, and their dead letters come back from their own dead-letter
subscriptions with the attempts Pub/Sub counted and the reason the function logged.
The pipeline is deployed for real on the session's emulators and served from its zip.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from portway_gcp.testing.emulators import DrongoServer, EmulatorEndpoints
from portway_gcp.testing.harness import GcpEmulatorHarness

from portway.loading import load_pipeline
from portway.model import Bucket, Pipeline, Topic
from portway.testing.harness import wait_for

PIPELINE = """
from portway import Message, ObjectEvent, Pipeline

app = Pipeline("harnessed")
news = app.topic("news")
drops = app.bucket("drops")


@app.on_message(news, timeout=10)
def listen(message: Message) -> None:
    raise ValueError(f"cannot listen to {message.attributes['case']}")


@app.on_object_created(drops, prefix="in/", timeout=10)
def on_drop(event: ObjectEvent) -> None:
    raise KeyError(event.key)
"""


@pytest.fixture(scope="module")
def harnessed(
    pubsub_emulator: str,
    storage_emulator: str,
    drongo_server: DrongoServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[GcpEmulatorHarness, Pipeline]]:
    folder = tmp_path_factory.mktemp("harnessed")
    (folder / "harnessed_pipeline.py").write_text(PIPELINE, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(folder))
        pipeline = load_pipeline("harnessed_pipeline:app", Path(folder))
        endpoints = EmulatorEndpoints(
            pubsub_emulator, storage_emulator, drongo_server.endpoint, drongo_server.iam_endpoint
        )
        started = GcpEmulatorHarness(endpoints=endpoints)
        try:
            started.start("harnessed_pipeline:app", pipeline)
            yield started, pipeline
        finally:
            started.stop()


def test_a_topic_subscribers_dead_letter_has_its_message_attempts_and_reason(
    harnessed: tuple[GcpEmulatorHarness, Pipeline],
) -> None:
    harness, pipeline = harnessed
    news = pipeline.resources["news"]
    assert isinstance(news, Topic)
    with harness.connect():
        message_id = news.publish({"n": 1}, attributes={"case": "topic-1"})
    (letter,) = wait_for(
        lambda: harness.dead_letters("listen"), timeout=60, what="the dead letter of 'listen'"
    )
    assert letter.id == message_id
    assert json.loads(letter.body) == {"n": 1}
    assert letter.attributes == {"case": "topic-1"}
    assert letter.attempts == 5
    assert letter.reason == "ValueError: cannot listen to topic-1"


def test_an_object_triggers_dead_letter_is_the_storage_notification_with_its_reason(
    harnessed: tuple[GcpEmulatorHarness, Pipeline],
) -> None:
    harness, pipeline = harnessed
    drops = pipeline.resources["drops"]
    assert isinstance(drops, Bucket)
    with harness.connect():
        drops.write("elsewhere/skipped.txt", b"not under the prefix")
        drops.write("in/data.txt", b"payload")
    (letter,) = wait_for(
        lambda: harness.dead_letters("on_drop"), timeout=60, what="the dead letter of 'on_drop'"
    )
    assert letter.attributes["eventType"] == "OBJECT_FINALIZE"
    assert letter.attributes["objectId"] == "in/data.txt"
    assert json.loads(letter.body)["name"] == "in/data.txt"
    assert letter.attempts == 5
    assert letter.reason == "KeyError: 'in/data.txt'"


def test_a_path_no_function_serves_answers_404(
    harnessed: tuple[GcpEmulatorHarness, Pipeline],
) -> None:
    harness, _ = harnessed
    assert harness.http("GET", "/nowhere").status == 404
