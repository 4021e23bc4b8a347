"""AzuriteHarness on its own: the Azurite it starts, and what it reads back."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from portway_azure import message_encoding
from portway_azure.testing.azurite import Azurite, azurite_bin_dir
from portway_azure.testing.harness import AzuriteHarness, HarnessError

from portway.model import Pipeline
from portway.payload import outgoing
from portway.testing.example_run import check_example_runs, read_if_present
from portway.testing.harness import wait_for

PIPELINE = """
from portway import HttpRequest, Message, Pipeline

app = Pipeline("small")
notes = app.bucket("notes")
tasks = app.queue("tasks")
news = app.topic("news")


@app.on_message(news, timeout=10, uses=[notes.write()])
def listen(message: Message) -> None:
    notes.write(f"heard/{message.id}", message.body)


@app.on_message(tasks, timeout=10, uses=[notes.write()])
def take(message: Message) -> None:
    notes.write(f"taken/{message.id}", message.body)


@app.http("GET", "/ping", public=True, timeout=10)
def ping(request: HttpRequest) -> dict[str, bool]:
    return {"pong": True}
"""


@pytest.fixture
def small_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Pipeline]]:
    """The small pipeline as an importable module, ``small:app``."""
    (tmp_path / "small.py").write_text(PIPELINE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    import small  # type: ignore[import-not-found]

    try:
        yield "small:app", small.app
    finally:
        sys.modules.pop("small", None)


def test_dead_letters_of_a_topic_subscriber_are_read_from_its_poison_queue(
    azurite: Azurite, small_app: tuple[str, Pipeline]
) -> None:
    from azure.storage.queue import QueueClient

    app, pipeline = small_app
    harness = AzuriteHarness(connection_string=azurite.connection_string)
    harness.start(app, pipeline)
    try:
        # What Event Grid put on the subscriber's queue, as the host moves it to -poison.
        event = message_encoding.topic_event(outgoing(b"late news", {"k": "v"}), "event-1", "news")
        content = base64.b64encode(json.dumps(event).encode()).decode("ascii")
        with QueueClient.from_connection_string(
            azurite.connection_string, "t-listen-poison"
        ) as poison:
            poison.send_message(content)
        [letter] = harness.dead_letters("listen")
    finally:
        harness.stop()
    assert (letter.id, letter.body, dict(letter.attributes)) == (
        "event-1",
        b"late news",
        {"k": "v"},
    )
    assert letter.reason.startswith("unknown")  # not poisoned by the harness's listener


def test_without_a_connection_string_the_harness_runs_its_own_azurite(
    small_app: tuple[str, Pipeline],
) -> None:
    if azurite_bin_dir() is None:
        pytest.skip("Azurite is not installed")  # the conftest's fixtures say how in CI
    app, pipeline = small_app
    harness = AzuriteHarness()
    harness.start(app, pipeline)
    try:
        tasks, notes = pipeline.resources["tasks"], pipeline.resources["notes"]
        with harness.connect():
            message_id = tasks.send({"n": 1})  # type: ignore[attr-defined]

        def taken() -> bytes | None:
            with harness.connect():
                keys = notes.list("taken/")  # type: ignore[attr-defined]
                return notes.read(keys[0]) if keys else None  # type: ignore[attr-defined]

        assert json.loads(wait_for(taken, timeout=30, what=f"message {message_id} taken")) == {
            "n": 1
        }
        with harness.connect():
            heard_id = pipeline.resources["news"].publish({"n": 2})  # type: ignore[attr-defined]
        wait_for(
            lambda: read_if_present(harness, notes, f"heard/{heard_id}"),
            timeout=30,
            what=f"topic message {heard_id} heard by 'listen'",
        )
        reply = harness.http("GET", "/ping")
        assert (reply.status, reply.json()) == (200, {"pong": True})
        assert harness.dead_letters("tasks") == []  # nothing poisoned: no poison queue yet
    finally:
        harness.stop()
    with pytest.raises(HarnessError, match="not started"):
        harness.dead_letters("tasks")


EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "lake-to-warehouse"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    """The example's pipeline, imported from its folder as ``pipeline:app``."""
    sys.modules.pop("pipeline", None)
    monkeypatch.syspath_prepend(str(EXAMPLE))
    import pipeline  # type: ignore[import-not-found]

    try:
        yield pipeline.app
    finally:
        sys.modules.pop("pipeline", None)


def test_the_example_runs_unchanged_on_azurite(azurite: Azurite, example: Pipeline) -> None:
    harness = AzuriteHarness(connection_string=azurite.connection_string)
    harness.start("pipeline:app", example)
    try:
        check_example_runs(harness, example)
    finally:
        harness.stop()
