"""Neutral events: CloudEvents 1.0 JSON out, equal events back, clear errors on bad input.

CloudEvents validity is checked with the official ``cloudevents`` SDK's JSON reader
(1.x, the line functions-framework requires), which refuses a missing required context
attribute or another spec version.
"""

import base64
import json
from datetime import UTC, datetime

import pytest
from cloudevents.http import CloudEvent, from_json

from portway import (
    BatchResult,
    Event,
    HttpRequest,
    HttpResponse,
    Message,
    ObjectEvent,
    ScheduleEvent,
)
from portway.events import event_from_json, to_http_response

FIRED = datetime(2026, 11, 25, 6, 15, tzinfo=UTC)

EVENTS = {
    "object-created": ObjectEvent(
        id="obj-1",
        source="/portway/lake-to-warehouse/landing",
        time=FIRED,
        bucket="landing",
        key="in/orders 2026.csv",
        size=1234,
        etag="abc123",
    ),
    "message": Message(
        id="msg-1",
        source="/portway/lake-to-warehouse/transform-jobs",
        time=FIRED,
        body=b'{"key":"in/orders.csv"}',
        attributes={"origin": "enqueue"},
        attempt=3,
        content_type="application/json",
    ),
    "message-with-binary-body": Message(id="msg-2", time=FIRED, body=bytes(range(256))),
    "schedule": ScheduleEvent(id="tick-1", time=FIRED, schedule="rate(15 minutes)"),
    "http-request": HttpRequest(
        id="req-1",
        time=FIRED,
        method="POST",
        path="/orders/42",
        headers={"content-type": "application/json"},
        query={"full": "1"},
        path_params={"order_id": "42"},
        body=b'{"n": 1}',
    ),
}


def read_cloudevent(text: str) -> CloudEvent:
    """``text`` read by the official SDK; its ``time`` must be a timestamp it could parse."""
    cloudevent = from_json(text)
    datetime.fromisoformat(cloudevent["time"])
    return cloudevent


@pytest.fixture(params=list(EVENTS), ids=list(EVENTS))
def event(request: pytest.FixtureRequest) -> Event:
    return EVENTS[request.param]


# -- CloudEvents JSON ----------------------------------------------------------------------


def test_event_round_trips_through_json_to_an_equal_event(event):
    again = event_from_json(event.to_json())

    assert type(again) is type(event)
    assert again == event


def test_event_read_back_from_bytes_is_equal(event):
    assert event_from_json(event.to_json().encode("utf-8")) == event


def test_raw_provider_event_is_neither_serialised_nor_compared():
    native = {"Records": [{"s3": {"object": {"key": "in/orders+2026.csv"}}}]}
    event = ScheduleEvent(id="tick-1", time=FIRED, schedule="rate(1 hour)", raw=native)

    again = event_from_json(event.to_json())

    assert "Records" not in event.to_json()
    assert again.raw is None
    assert again == event


def test_event_json_is_a_valid_cloudevent(event):
    cloudevent = read_cloudevent(event.to_json())

    assert cloudevent["specversion"] == "1.0"
    assert cloudevent["id"] == event.id
    assert cloudevent["source"] == event.source
    assert cloudevent["type"] == event.type
    assert datetime.fromisoformat(cloudevent["time"]) == event.time
    assert cloudevent.get("subject") == event.subject
    assert cloudevent["datacontenttype"] == "application/json"


def test_cloudevent_data_describes_an_object_event():
    cloudevent = read_cloudevent(EVENTS["object-created"].to_json())

    assert cloudevent["type"] == "dev.portway.object.created"
    assert cloudevent["subject"] == "in/orders 2026.csv"
    assert cloudevent.data == {
        "bucket": "landing",
        "key": "in/orders 2026.csv",
        "size": 1234,
        "etag": "abc123",
    }


def test_cloudevent_data_carries_a_message_body_as_base64():
    cloudevent = read_cloudevent(EVENTS["message"].to_json())

    data = cloudevent.data
    assert cloudevent["type"] == "dev.portway.message"
    assert isinstance(data, dict)
    assert base64.b64decode(data["body_base64"]) == b'{"key":"in/orders.csv"}'
    assert data["attributes"] == {"origin": "enqueue"}
    assert data["attempt"] == 3


def test_message_has_no_subject():
    assert "subject" not in json.loads(EVENTS["message"].to_json())


def test_event_types_are_distinct():
    types = {ObjectEvent.type, Message.type, ScheduleEvent.type, HttpRequest.type}

    assert types == {
        "dev.portway.object.created",
        "dev.portway.message",
        "dev.portway.schedule",
        "dev.portway.http.request",
    }


def test_event_time_defaults_to_now_in_utc():
    before = datetime.now(UTC)
    event = ScheduleEvent(id="tick-1", schedule="rate(1 hour)")

    assert event.time.tzinfo is not None
    assert before <= event.time <= datetime.now(UTC)


def test_event_with_a_naive_time_is_written_as_a_valid_cloudevent():
    event = ScheduleEvent(id="tick-1", time=datetime(2026, 11, 25, 6, 15), schedule="rate(1 hour)")

    cloudevent = read_cloudevent(event.to_json())

    assert datetime.fromisoformat(cloudevent["time"]).tzinfo is not None


# -- message bodies ------------------------------------------------------------------------


def test_message_json_parses_the_body():
    assert EVENTS["message"].json() == {"key": "in/orders.csv"}


def test_message_text_decodes_the_body_as_utf8():
    message = Message(id="m", body="café".encode())

    assert message.text() == "café"


def test_message_json_of_a_body_that_is_not_json_raises_value_error():
    with pytest.raises(json.JSONDecodeError):
        Message(id="m", body=b"not json").json()


def test_message_text_of_a_body_that_is_not_utf8_raises_unicode_decode_error():
    with pytest.raises(UnicodeDecodeError):
        Message(id="m", body=b"\xff\xfe").text()


def test_message_publish_time_is_its_time():
    assert EVENTS["message"].publish_time == FIRED


def test_http_request_json_parses_the_body():
    assert EVENTS["http-request"].json() == {"n": 1}


# -- malformed input ---------------------------------------------------------------------------


def document(event: Event) -> dict[str, object]:
    return json.loads(event.to_json())


def test_reading_text_that_is_not_json_raises_value_error():
    with pytest.raises(ValueError, match=r"^not a JSON event: "):
        event_from_json("{not json")


def test_reading_bytes_that_are_not_utf8_raises_value_error():
    with pytest.raises(ValueError, match=r"^not a JSON event: "):
        event_from_json(b"\xff\xfe{}")


def test_reading_a_json_array_raises_value_error():
    with pytest.raises(ValueError, match=r"^not a JSON event: expected an object$"):
        event_from_json("[1, 2]")


def test_reading_an_event_without_its_required_keys_names_them():
    incomplete = document(EVENTS["schedule"])
    del incomplete["id"]
    del incomplete["data"]

    with pytest.raises(ValueError, match=r"^not a CloudEvent: missing id, data$"):
        event_from_json(json.dumps(incomplete))


def test_reading_an_unknown_event_type_names_it():
    unknown = document(EVENTS["schedule"])
    unknown["type"] = "com.example.other"

    with pytest.raises(ValueError, match=r"^unknown event type 'com\.example\.other'$"):
        event_from_json(json.dumps(unknown))


def test_reading_a_message_with_a_body_that_is_not_base64_raises_value_error():
    bad = document(EVENTS["message"])
    bad["data"]["body_base64"] = "!!not base64!!"  # type: ignore[index]

    with pytest.raises(ValueError, match=r"^malformed dev\.portway\.message data: "):
        event_from_json(json.dumps(bad))


def test_reading_an_object_event_without_its_key_raises_value_error_naming_it():
    bad = document(EVENTS["object-created"])
    del bad["data"]["key"]  # type: ignore[attr-defined]

    with pytest.raises(
        ValueError, match=r"^malformed dev\.portway\.object\.created data: KeyError\('key'\)$"
    ):
        event_from_json(json.dumps(bad))


def test_reading_an_event_whose_data_is_not_an_object_raises_value_error():
    bad = document(EVENTS["schedule"])
    bad["data"] = None

    with pytest.raises(ValueError, match=r"^malformed dev\.portway\.schedule data: "):
        event_from_json(json.dumps(bad))


def test_reading_an_event_whose_time_is_not_a_string_raises_value_error():
    bad = document(EVENTS["schedule"])
    bad["time"] = 1764051300

    with pytest.raises(
        ValueError, match=r"^the event's time 1764051300 is not an RFC 3339 timestamp"
    ):
        event_from_json(json.dumps(bad))


def test_reading_an_event_whose_time_is_not_a_timestamp_names_the_time():
    bad = document(EVENTS["schedule"])
    bad["time"] = "yesterday"

    with pytest.raises(
        ValueError, match=r"^the event's time 'yesterday' is not an RFC 3339 timestamp"
    ):
        event_from_json(json.dumps(bad))


def test_reading_a_message_whose_body_is_not_a_string_raises_value_error():
    bad = document(EVENTS["message"])
    bad["data"]["body_base64"] = 12  # type: ignore[index]

    with pytest.raises(ValueError, match=r"^malformed dev\.portway\.message data: "):
        event_from_json(json.dumps(bad))


# -- HTTP responses ----------------------------------------------------------------------------


def test_dict_becomes_a_compact_json_response():
    response = to_http_response({"objects": 2, "keys": ["a", "b"]})

    assert response == HttpResponse(
        b'{"objects":2,"keys":["a","b"]}', 200, {"content-type": "application/json"}
    )


def test_list_becomes_a_json_response():
    response = to_http_response(["a", "b"])

    assert (response.body, response.status) == (b'["a","b"]', 200)
    assert response.headers == {"content-type": "application/json"}


def test_values_json_cannot_encode_are_written_as_text():
    response = to_http_response({"at": FIRED})

    assert json.loads(response.body) == {"at": str(FIRED)}


def test_str_becomes_a_utf8_text_response():
    response = to_http_response("café")

    assert response == HttpResponse(
        "café".encode(), 200, {"content-type": "text/plain; charset=utf-8"}
    )


def test_bytes_become_a_binary_response():
    response = to_http_response(b"\x00\x01")

    assert response == HttpResponse(b"\x00\x01", 200, {"content-type": "application/octet-stream"})


def test_none_becomes_204_no_content():
    response = to_http_response(None)

    assert (response.status, response.body) == (204, b"")


def test_http_response_with_a_str_body_is_encoded_as_utf8_text():
    response = to_http_response(HttpResponse("créé", status=201, headers={"location": "/o/1"}))

    assert response == HttpResponse(
        "créé".encode(),
        201,
        {"content-type": "text/plain; charset=utf-8", "location": "/o/1"},
    )


def test_http_response_with_a_str_body_keeps_its_own_content_type():
    response = to_http_response(HttpResponse("<p>hi</p>", headers={"content-type": "text/html"}))

    assert response.headers == {"content-type": "text/html"}


def test_http_response_with_a_bytes_body_is_returned_as_it_is():
    explicit = HttpResponse(b"gone", status=410)

    assert to_http_response(explicit) is explicit


def test_http_response_content_type_set_in_any_case_is_the_only_one():
    response = to_http_response(HttpResponse("<p>hi</p>", headers={"Content-Type": "text/html"}))

    content_types = [v for k, v in response.headers.items() if k.lower() == "content-type"]
    assert content_types == ["text/html"]


def test_unsupported_return_type_raises_type_error_naming_it():
    with pytest.raises(TypeError) as caught:
        to_http_response(42)

    assert str(caught.value) == (
        "an http handler must return dict, list, str, bytes, None or HttpResponse, not int"
    )


# -- batch results -------------------------------------------------------------------------------


def test_batch_result_takes_a_single_id_as_a_str():
    assert BatchResult("msg-1").failed == ("msg-1",)


def test_batch_result_takes_a_list_of_ids():
    assert BatchResult(failed=["msg-1", "msg-2"]).failed == ("msg-1", "msg-2")


def test_batch_result_fails_nothing_by_default():
    assert BatchResult().failed == ()


def test_batch_result_refuses_an_id_that_is_not_a_str():
    with pytest.raises(TypeError, match=r"BatchResult.failed takes message ids \(str\), got 7"):
        BatchResult(failed=["msg-1", 7])


def test_batch_results_with_the_same_ids_are_equal():
    assert BatchResult(["msg-1"]) == BatchResult("msg-1")
