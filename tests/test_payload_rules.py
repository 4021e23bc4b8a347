"""Message attributes and sizes: the rules every builtin provider accepts, checked at send()."""

from __future__ import annotations

import pytest

from portway.errors import MessageTooLarge, ValidationError
from portway.payload import (
    MAX_ATTRIBUTE_NAME,
    MAX_ATTRIBUTE_VALUE_BYTES,
    MAX_ATTRIBUTES,
    OutgoingMessage,
    check_attributes,
    check_sizes,
    message_size,
    outgoing,
)

# -- attributes ---------------------------------------------------------------------------


def test_no_attributes_give_an_empty_dict() -> None:
    assert check_attributes(None) == {}
    assert check_attributes({}) == {}


def test_string_attributes_are_kept_as_a_plain_dict() -> None:
    assert check_attributes({"origin": "enqueue", "rows": "3"}) == {
        "origin": "enqueue",
        "rows": "3",
    }


def test_nine_attributes_are_accepted() -> None:
    attributes = {f"a{n}": "x" for n in range(MAX_ATTRIBUTES)}

    assert check_attributes(attributes) == attributes


def test_ten_attributes_are_refused_because_portway_keeps_one_of_sqs_ten() -> None:
    attributes = {f"a{n}": "x" for n in range(MAX_ATTRIBUTES + 1)}

    with pytest.raises(
        ValidationError,
        match=r"at most 9 attributes, got 10 \(SQS allows 10 and portway keeps one\); put the",
    ):
        check_attributes(attributes)


def test_attributes_that_are_not_a_mapping_raise_type_error() -> None:
    with pytest.raises(TypeError, match="must be a dict of str to str, not list"):
        check_attributes([("origin", "enqueue")])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", ["origin", "Origin-2", "trace_id", "x.y.z", "a", "9lives", "awsome", "n" * 256]
)
def test_attribute_names_of_letters_digits_dash_underscore_and_dots_are_accepted(
    name: str,
) -> None:
    assert check_attributes({name: "v"}) == {name: "v"}


@pytest.mark.parametrize(
    "name",
    ["", ".hidden", "trailing.", "double..dot", "with space", "slash/y", "café", "a:b"],
)
def test_attribute_names_outside_the_portable_set_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match=r"^message attribute name .*: use 1 to 256 letters"):
        check_attributes({name: "v"})


def test_an_attribute_name_over_256_characters_is_refused() -> None:
    with pytest.raises(ValidationError, match="use 1 to 256"):
        check_attributes({"n" * (MAX_ATTRIBUTE_NAME + 1): "v"})


@pytest.mark.parametrize(
    "name", ["aws.trace", "AWS.Trace", "amazon.id", "Amazon.id", "goog", "google-id", "GOOGx"]
)
def test_attribute_names_reserved_by_the_clouds_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="reserved by the clouds"):
        check_attributes({name: "v"})


@pytest.mark.parametrize("name", ["portway-content-type", "Portway.trace", "PORTWAY-x"])
def test_attribute_names_reserved_for_portway_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="reserved for portway's own attributes"):
        check_attributes({name: "v"})


@pytest.mark.parametrize("name", ["portway", "portwayish", "portway_id"])
def test_names_that_only_start_like_portway_are_accepted(name: str) -> None:
    assert check_attributes({name: "v"}) == {name: "v"}


def test_an_attribute_value_of_1024_bytes_is_accepted() -> None:
    value = "x" * MAX_ATTRIBUTE_VALUE_BYTES

    assert check_attributes({"big": value}) == {"big": value}


def test_an_attribute_value_over_1024_bytes_is_refused() -> None:
    with pytest.raises(ValidationError, match="the value is 1,025 bytes, more than the 1,024"):
        check_attributes({"big": "x" * (MAX_ATTRIBUTE_VALUE_BYTES + 1)})


def test_an_attribute_value_is_measured_in_utf8_bytes() -> None:
    with pytest.raises(ValidationError, match="'big': the value is 1,026 bytes"):
        check_attributes({"big": "é" * 513})


def test_an_attribute_error_names_the_attribute_at_fault() -> None:
    with pytest.raises(ValidationError, match=r"^message attribute name 'aws\.x': "):
        check_attributes({"ok": "v", "aws.x": "v"})


def test_outgoing_checks_the_attributes() -> None:
    with pytest.raises(ValidationError, match="reserved"):
        outgoing({"key": "a.csv"}, {"aws.trace": "1"})


# -- sizes -----------------------------------------------------------------------------------


def test_a_message_counts_its_body_and_every_attribute_name_and_value() -> None:
    message = OutgoingMessage(b"12345", attributes={"ab": "cde", "é": "ü"})

    assert message_size(message) == 5 + 2 + 3 + 2 + 2


def test_a_message_at_the_limit_is_accepted() -> None:
    check_sizes([OutgoingMessage(b"x" * 100)], 100, target="jobs.send()")


def test_a_message_over_the_limit_raises_message_too_large_naming_the_target() -> None:
    with pytest.raises(MessageTooLarge) as caught:
        check_sizes([OutgoingMessage(b"x" * 101)], 100, target="jobs.send()")

    message = str(caught.value)
    assert message.startswith("jobs.send(): the message is 101 bytes (body and attributes)")
    assert "more than the 100 this stage's provider accepts" in message
    assert "store the data in a bucket and send its key" in message


def test_attributes_count_toward_the_limit() -> None:
    message = OutgoingMessage(b"x" * 90, attributes={"origin": "enqueue"})

    with pytest.raises(MessageTooLarge, match="103 bytes"):
        check_sizes([message], 100, target="jobs.send()")


def test_in_a_batch_the_message_over_the_limit_is_named_by_its_place() -> None:
    batch = [OutgoingMessage(b"ok"), OutgoingMessage(b"x" * 2000), OutgoingMessage(b"ok")]

    with pytest.raises(MessageTooLarge, match=r"^loaded\.publish\(\): the message 2 of 3 is 2,000"):
        check_sizes(batch, 1000, target="loaded.publish()")


def test_message_too_large_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="jobs"):
        check_sizes([OutgoingMessage(b"xx")], 1, target="jobs")
