"""A handler takes one event, annotated with its trigger's event type or not at all.

For a message trigger, ``list[Message]`` makes a batch handler. Annotations written as
strings (``from __future__ import annotations``) are resolved in the handler's module.

This file does not use ``from __future__ import annotations`` on purpose: its handlers
carry real annotation objects; the string form is tested through modules built from
source with :func:`module_from_source`.
"""

import functools
import textwrap
import types
from collections.abc import Sequence
from typing import Any

import pytest

from portway import (
    Event,
    HttpRequest,
    Message,
    ObjectEvent,
    Pipeline,
    ScheduleEvent,
    ValidationError,
)


@pytest.fixture
def app() -> Pipeline:
    return Pipeline("signatures")


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def module_from_source(source: str) -> types.ModuleType:
    """Run ``source`` as the body of a fresh module, as an import would."""
    module = types.ModuleType("handlers_from_source")
    code = compile(textwrap.dedent(source), "handlers_from_source.py", "exec")
    exec(code, module.__dict__)
    return module


# -- parameters ----------------------------------------------------------------------------


def test_handler_taking_two_required_parameters_is_refused(app):
    jobs = app.queue("jobs")

    def transform(msg: Message, context: dict[str, str]) -> None:
        pass

    with pytest.raises(ValidationError) as caught:
        app.on_message(jobs)(transform)

    message = one_line(caught)
    assert message.startswith("pipeline 'signatures', function 'transform' (message): ")
    assert "must take exactly one event parameter" in message
    assert "as def transform(event: Message) or (batch: list[Message])" in message
    assert "it takes (msg: portway.events.Message, context: dict[str, str])" in message


def test_handler_taking_no_parameter_is_refused(app):
    def pull_ftp() -> None:
        pass

    with pytest.raises(ValidationError) as caught:
        app.schedule("rate(15 minutes)")(pull_ftp)

    message = one_line(caught)
    assert message.startswith("pipeline 'signatures', function 'pull_ftp' (schedule): ")
    assert (
        "must take exactly one event parameter, as def pull_ftp(event: ScheduleEvent);" in message
    )
    assert message.endswith("it takes ()")


def test_handler_with_a_required_keyword_only_parameter_is_refused(app):
    def pull_ftp(event: ScheduleEvent, *, host: str) -> None:
        pass

    with pytest.raises(
        ValidationError,
        match=r"function 'pull_ftp' \(schedule\): the handler must take exactly one",
    ):
        app.schedule("rate(15 minutes)")(pull_ftp)


def test_handler_taking_only_var_positional_parameters_is_refused(app):
    def pull_ftp(*events: ScheduleEvent) -> None:
        pass

    with pytest.raises(ValidationError, match="must take exactly one event parameter"):
        app.schedule("rate(15 minutes)")(pull_ftp)


def test_handler_with_extra_optional_parameters_is_accepted(app):
    def pull_ftp(event: ScheduleEvent, retries: int = 3, *, host: str = "ftp") -> None:
        pass

    app.schedule("rate(15 minutes)")(pull_ftp)

    assert app.function("pull_ftp").batch is False


def test_decorating_something_that_is_not_a_function_says_so(app):
    with pytest.raises(ValidationError) as caught:
        app.schedule("rate(15 minutes)")(42)

    assert one_line(caught) == (
        "pipeline 'signatures', schedule 'rate(15 minutes)': "
        "the decorator must wrap a function, got 42"
    )


def test_decorating_something_that_is_not_a_function_with_a_name_says_so(app):
    with pytest.raises(ValidationError, match="the decorator must wrap a function, got 42"):
        app.schedule("rate(15 minutes)", name="pull_ftp")(42)


def test_partial_with_a_wrong_signature_is_refused_with_a_validation_error(app):
    def pull(host: str, event: ScheduleEvent, extra: str) -> None:
        pass

    with pytest.raises(ValidationError, match="must take exactly one event parameter"):
        app.schedule("rate(15 minutes)", name="pull_ftp")(functools.partial(pull, "ftp"))


# -- annotations ---------------------------------------------------------------------------


def test_annotation_of_the_wrong_event_type_is_refused(app):
    jobs = app.queue("jobs")

    def transform(event: ObjectEvent) -> None:
        pass

    with pytest.raises(ValidationError) as caught:
        app.on_message(jobs)(transform)

    message = one_line(caught)
    assert message.startswith("pipeline 'signatures', function 'transform' (message): ")
    assert "annotated ObjectEvent, but this trigger passes Message" in message


def test_http_handler_annotated_as_a_message_is_refused(app):
    def status(req: Message) -> dict[str, str]:
        return {}

    with pytest.raises(
        ValidationError,
        match=r"'status' \(http\): .*annotated Message, but this trigger passes HttpRequest",
    ):
        app.http("GET", "/status")(status)


def test_list_of_events_on_an_object_created_trigger_is_refused(app):
    landing = app.bucket("landing")

    def enqueue(events: list[ObjectEvent]) -> None:
        pass

    with pytest.raises(ValidationError) as caught:
        app.on_object_created(landing)(enqueue)

    message = one_line(caught)
    assert message.startswith("pipeline 'signatures', function 'enqueue' (object_created): ")
    assert "this trigger delivers one ObjectEvent at a time" in message
    assert "declare the handler as def enqueue(event: ObjectEvent)" in message


def test_list_of_messages_on_a_schedule_trigger_is_refused(app):
    def pull_ftp(events: list[Message]) -> None:
        pass

    with pytest.raises(
        ValidationError,
        match=r"function 'pull_ftp' \(schedule\): .*this trigger passes ScheduleEvent",
    ):
        app.schedule("rate(15 minutes)")(pull_ftp)


def test_refusal_of_a_list_annotation_shows_the_whole_annotation(app):
    def pull_ftp(events: list[Message]) -> None:
        pass

    with pytest.raises(ValidationError, match=r"annotated list\[Message\], but this trigger"):
        app.schedule("rate(15 minutes)")(pull_ftp)


def test_optional_event_annotation_is_refused(app):
    def pull_ftp(event: ScheduleEvent | None) -> None:
        pass

    with pytest.raises(ValidationError, match="but this trigger passes ScheduleEvent"):
        app.schedule("rate(15 minutes)")(pull_ftp)


# -- batch detection ------------------------------------------------------------------------


def test_list_of_messages_makes_a_batch_handler(app):
    jobs = app.queue("jobs")

    @app.on_message(jobs, batch_size=10)
    def transform(batch: list[Message]) -> None:
        pass

    assert app.function("transform").batch is True


def test_sequence_of_messages_makes_a_batch_handler(app):
    jobs = app.queue("jobs")

    @app.on_message(jobs, batch_size=10)
    def transform(batch: Sequence[Message]) -> None:
        pass

    assert app.function("transform").batch is True


def test_message_annotation_makes_a_single_message_handler(app):
    jobs = app.queue("jobs")

    @app.on_message(jobs, batch_size=10)
    def transform(msg: Message) -> None:
        pass

    assert app.function("transform").batch is False


def test_unannotated_handler_takes_one_message(app):
    jobs = app.queue("jobs")

    @app.on_message(jobs, batch_size=10)
    def transform(msg):
        pass

    assert app.function("transform").batch is False


def test_any_annotation_takes_one_event(app):
    @app.http("GET", "/status")
    def status(req: Any) -> dict[str, str]:
        return {}

    assert app.function("status").batch is False


def test_http_request_annotation_is_accepted(app):
    @app.http("GET", "/status")
    def status(req: HttpRequest) -> dict[str, str]:
        return {}

    assert app.function("status").batch is False


def test_base_event_annotation_takes_one_event(app):
    jobs = app.queue("jobs")

    @app.on_message(jobs)
    def transform(event: Event) -> None:
        pass

    assert app.function("transform").batch is False


def test_list_of_base_events_makes_a_batch_handler(app):
    jobs = app.queue("jobs")

    @app.on_message(jobs, batch_size=10)
    def transform(batch: list[Event]) -> None:
        pass

    assert app.function("transform").batch is True


# -- string annotations ------------------------------------------------------------------------

STRING_ANNOTATIONS = """
    from __future__ import annotations

    from typing import TYPE_CHECKING

    from portway import Message, ObjectEvent

    if TYPE_CHECKING:
        from reports import Report


    def transform_batch(batch: list[Message]) -> None: ...


    def transform_one(msg: Message) -> None: ...


    def transform_wrong(event: ObjectEvent) -> None: ...


    def transform_checking_only(msg: Report) -> None: ...


    def transform_batch_checking_only_return(batch: list[Message]) -> Report: ...
"""


@pytest.fixture
def string_handlers() -> types.ModuleType:
    return module_from_source(STRING_ANNOTATIONS)


def test_string_annotation_of_a_list_of_messages_makes_a_batch_handler(app, string_handlers):
    jobs = app.queue("jobs")

    app.on_message(jobs, batch_size=10)(string_handlers.transform_batch)

    assert app.function("transform_batch").batch is True


def test_string_annotation_of_a_message_makes_a_single_message_handler(app, string_handlers):
    jobs = app.queue("jobs")

    app.on_message(jobs)(string_handlers.transform_one)

    assert app.function("transform_one").batch is False


def test_string_annotation_of_the_wrong_event_type_is_refused(app, string_handlers):
    jobs = app.queue("jobs")

    with pytest.raises(
        ValidationError, match="annotated ObjectEvent, but this trigger passes Message"
    ):
        app.on_message(jobs)(string_handlers.transform_wrong)


def test_string_annotation_that_cannot_be_resolved_is_treated_as_absent(app, string_handlers):
    jobs = app.queue("jobs")

    app.on_message(jobs)(string_handlers.transform_checking_only)

    assert app.function("transform_checking_only").batch is False


def test_batch_handler_with_an_unresolvable_return_annotation_is_still_a_batch_handler(
    app, string_handlers
):
    jobs = app.queue("jobs")

    app.on_message(jobs, batch_size=10)(string_handlers.transform_batch_checking_only_return)

    assert app.function("transform_batch_checking_only_return").batch is True
