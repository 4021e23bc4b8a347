"""W3C trace context: parsing ``traceparent``, and events carrying it as CloudEvents do."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from portway import tracing
from portway.events import Message, ObjectEvent, event_from_json
from portway.tracing import TraceContext, parse_traceparent

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_valid_traceparent_is_parsed_into_its_ids_and_flag() -> None:
    context = parse_traceparent(VALID)
    assert context == TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", True)
    assert context.traceparent == VALID


def test_the_unsampled_flag_is_kept() -> None:
    context = parse_traceparent(VALID[:-2] + "00")
    assert context is not None
    assert not context.sampled
    assert context.traceparent.endswith("-00")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        VALID.upper(),  # the specification requires lower-case hex
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # unknown version
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # trace id too short
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",  # span id too short
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        None,
        42,
    ],
)
def test_an_invalid_traceparent_is_none(text: object) -> None:
    assert parse_traceparent(text) is None


def test_all_zero_ids_are_invalid() -> None:
    assert parse_traceparent(f"00-{'0' * 32}-00f067aa0ba902b7-01") is None
    assert parse_traceparent(f"00-4bf92f3577b34da6a3ce929d0e0e4736-{'0' * 16}-01") is None


def test_a_child_keeps_the_trace_and_gets_a_new_span() -> None:
    root = TraceContext.new_root()
    child = root.child()
    assert child.trace_id == root.trace_id
    assert child.span_id != root.span_id
    assert parse_traceparent(child.traceparent) == child


def test_new_roots_are_distinct_valid_traces() -> None:
    roots = {TraceContext.new_root().trace_id for _ in range(1000)}
    assert len(roots) == 1000
    assert all(parse_traceparent(TraceContext.new_root().traceparent) for _ in range(100))


def test_child_traceparent_slices_a_valid_parent_into_a_new_span() -> None:
    child = parse_traceparent(tracing.child_traceparent(VALID))
    assert child is not None
    assert child.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert child.span_id != "00f067aa0ba902b7"
    assert parse_traceparent(tracing.child_traceparent(None)) is not None


def test_activate_sets_the_current_context_for_the_block_only() -> None:
    context = TraceContext.new_root()
    assert tracing.current() is None
    with tracing.activate(context):
        assert tracing.current() == context
    assert tracing.current() is None


def test_an_event_writes_traceparent_as_the_cloudevents_extension_and_reads_it_back() -> None:
    event = Message(id="m-1", body=b"hi", traceparent=VALID)
    document = json.loads(event.to_json())
    assert document["traceparent"] == VALID
    again = event_from_json(event.to_json())
    assert again == event
    assert again.traceparent == VALID


def test_an_event_without_traceparent_has_no_extension_attribute() -> None:
    event = ObjectEvent(id="o-1", bucket="landing", key="a.csv")
    assert "traceparent" not in event.to_cloudevent()
    assert event_from_json(event.to_json()).traceparent is None


def test_traceparent_does_not_take_part_in_equality() -> None:
    sent = datetime(2026, 11, 25, tzinfo=UTC)
    traced = Message(id="m", time=sent, body=b"", traceparent=VALID)
    assert traced == Message(id="m", time=sent, body=b"")
