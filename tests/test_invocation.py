"""deliver_messages: one partial-batch contract for every provider.

A single-message handler is called once per message and each failure is reported by
itself; a batch handler gets the whole batch and reports failures with BatchResult.
"""

import pytest

from portway import BatchResult, Message, Pipeline
from portway.invocation import Failure, deliver_messages


@pytest.fixture
def app() -> Pipeline:
    return Pipeline("invocation")


@pytest.fixture
def messages() -> list[Message]:
    return [Message(id=f"m{n}", body=str(n).encode()) for n in (1, 2, 3)]


def test_single_message_handler_is_called_once_per_message(app, messages):
    jobs = app.queue("jobs")
    seen: list[str] = []

    @app.on_message(jobs, batch_size=10)
    def transform(msg: Message) -> None:
        seen.append(msg.id)

    failures = deliver_messages(app.function("transform"), messages)

    assert failures == []
    assert seen == ["m1", "m2", "m3"]


def test_single_message_handler_failing_one_message_fails_only_that_one(app, messages):
    jobs = app.queue("jobs")

    @app.on_message(jobs, batch_size=10)
    def transform(msg: Message) -> None:
        if msg.text() == "2":
            raise ValueError("bad row 2")

    failures = deliver_messages(app.function("transform"), messages)

    assert failures == [Failure("m2", "ValueError: bad row 2")]


def test_failure_without_a_message_is_reported_by_its_type(app, messages):
    jobs = app.queue("jobs")

    @app.on_message(jobs)
    def transform(msg: Message) -> None:
        raise KeyError

    failures = deliver_messages(app.function("transform"), messages[:1])

    assert failures == [Failure("m1", "KeyError")]


def test_batch_handler_gets_the_whole_batch_in_one_call(app, messages):
    jobs = app.queue("jobs")
    calls: list[list[str]] = []

    @app.on_message(jobs, batch_size=10)
    def transform(batch: list[Message]) -> None:
        calls.append([m.id for m in batch])

    failures = deliver_messages(app.function("transform"), messages)

    assert failures == []
    assert calls == [["m1", "m2", "m3"]]


def test_batch_handler_raising_fails_every_message(app, messages):
    jobs = app.queue("jobs")

    @app.on_message(jobs, batch_size=10)
    def transform(batch: list[Message]) -> None:
        raise RuntimeError("warehouse is down")

    failures = deliver_messages(app.function("transform"), messages)

    assert failures == [
        Failure("m1", "RuntimeError: warehouse is down"),
        Failure("m2", "RuntimeError: warehouse is down"),
        Failure("m3", "RuntimeError: warehouse is down"),
    ]


def test_batch_handler_reporting_one_failed_id_fails_only_that_one(app, messages):
    jobs = app.queue("jobs")

    @app.on_message(jobs, batch_size=10)
    def transform(batch: list[Message]) -> BatchResult:
        return BatchResult(failed=["m2"])

    failures = deliver_messages(app.function("transform"), messages)

    assert failures == [Failure("m2", "reported failed by the batch handler")]


def test_batch_handler_reporting_an_id_not_in_the_batch_fails_the_whole_batch(app, messages):
    jobs = app.queue("jobs")

    @app.on_message(jobs, batch_size=10)
    def transform(batch: list[Message]) -> BatchResult:
        return BatchResult(failed=["m2", "m9"])

    failures = deliver_messages(app.function("transform"), messages)

    assert [f.message_id for f in failures] == ["m1", "m2", "m3"]
    assert {f.reason for f in failures} == {
        "ValueError: BatchResult names ids not in the batch: ['m9']"
    }


def test_batch_handler_returning_something_else_fails_the_whole_batch(app, messages):
    jobs = app.queue("jobs")

    @app.on_message(jobs, batch_size=10)
    def transform(batch: list[Message]) -> list[str]:
        return ["m2"]

    failures = deliver_messages(app.function("transform"), messages)

    assert [f.message_id for f in failures] == ["m1", "m2", "m3"]
    assert {f.reason for f in failures} == {
        "TypeError: batch handler 'transform' returned list; "
        "return None or BatchResult(failed=[...])"
    }


def test_batch_handler_returning_none_acknowledges_every_message(app, messages):
    jobs = app.queue("jobs")

    @app.on_message(jobs, batch_size=10)
    def transform(batch: list[Message]) -> None:
        return None

    assert deliver_messages(app.function("transform"), messages) == []


def test_batch_handler_returning_an_empty_batch_result_acknowledges_every_message(app, messages):
    jobs = app.queue("jobs")

    @app.on_message(jobs, batch_size=10)
    def transform(batch: list[Message]) -> BatchResult:
        return BatchResult()

    assert deliver_messages(app.function("transform"), messages) == []


def test_keyboard_interrupt_in_a_handler_is_not_swallowed(app, messages):
    jobs = app.queue("jobs")

    @app.on_message(jobs)
    def transform(msg: Message) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        deliver_messages(app.function("transform"), messages)
