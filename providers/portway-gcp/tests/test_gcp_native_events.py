"""Native Google Cloud requests become neutral events: bodies shaped as Google documents them.

Push bodies: https://cloud.google.com/pubsub/docs/push#receive_push
Storage notifications: https://cloud.google.com/storage/docs/pubsub-notifications
CloudEvents for Pub/Sub: https://github.com/googleapis/google-cloudevents (MessagePublishedData)
Cloud Scheduler headers: https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs#HttpTarget
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from portway_gcp.native_events import (
    PUBLISHED,
    MalformedEvent,
    http_request,
    http_response,
    message_of,
    object_event_of,
    pubsub_delivery,
    schedule_event,
)

from portway import Pipeline
from portway.events import HttpRequest, HttpResponse
from portway.model.triggers import HttpTrigger, MessageTrigger, ObjectCreatedTrigger
from portway.testing.imports import cloud_sdk_modules, modules_imported_by

app = Pipeline("orders")
landing = app.bucket("landing")
jobs = app.queue("jobs")
loaded = app.topic("loaded")

QUEUE = MessageTrigger(jobs)
TOPIC = MessageTrigger(loaded)
CSV_OBJECTS = ObjectCreatedTrigger(landing, prefix="in/", suffix=".csv")
SUBSCRIPTION = "projects/p-123456/subscriptions/orders-dev--jobs"
JSON_HEADERS = {"Content-Type": "application/json"}


def pubsub_message(
    data: bytes,
    attributes: dict[str, str] | None = None,
    message_id: str = "2070443601311540",
) -> dict[str, Any]:
    """A PubsubMessage as the push body carries it (``message_id`` is the deprecated twin)."""
    message: dict[str, Any] = {
        "data": base64.b64encode(data).decode("ascii"),
        "messageId": message_id,
        "message_id": message_id,
        "publishTime": "2021-02-26T19:13:55.749Z",
        "publish_time": "2021-02-26T19:13:55.749Z",
    }
    if attributes is not None:
        message["attributes"] = attributes
    return message


def push_body(message: dict[str, Any], delivery_attempt: int | None = 1) -> bytes:
    body: dict[str, Any] = {"message": message, "subscription": SUBSCRIPTION}
    if delivery_attempt is not None:
        body["deliveryAttempt"] = delivery_attempt
    return json.dumps(body).encode("utf-8")


def binary_cloudevent(message: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": message["messageId"],
        "ce-source": "//pubsub.googleapis.com/projects/p-123456/topics/orders-dev--jobs",
        "ce-type": PUBLISHED,
        "ce-time": message["publishTime"],
        "Content-Type": "application/json",
    }
    data = {"message": message, "subscription": SUBSCRIPTION}
    return headers, json.dumps(data).encode("utf-8")


def structured_cloudevent(message: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": message["messageId"],
            "source": "//pubsub.googleapis.com/projects/p-123456/topics/orders-dev--jobs",
            "type": PUBLISHED,
            "time": message["publishTime"],
            "datacontenttype": "application/json",
            "data": {"message": message, "subscription": SUBSCRIPTION},
        }
    ).encode("utf-8")


# -- Pub/Sub messages -------------------------------------------------------------------------


def test_text_message_keeps_its_body_content_type_and_publish_time() -> None:
    body = push_body(pubsub_message(b"hello", {"portway-content-type": "text/plain"}))

    message = message_of(pubsub_delivery(JSON_HEADERS, body), QUEUE)

    assert message.id == "2070443601311540"
    assert message.body == b"hello"
    assert message.content_type == "text/plain"
    assert message.time == datetime(2021, 2, 26, 19, 13, 55, 749000, UTC)
    assert message.source == "/portway/gcp/queues/jobs"


def test_json_message_reads_as_json() -> None:
    data = b'{"order": 7}'
    body = push_body(pubsub_message(data, {"portway-content-type": "application/json"}))

    message = message_of(pubsub_delivery(JSON_HEADERS, body), TOPIC)

    assert message.json() == {"order": 7}
    assert message.source == "/portway/gcp/topics/loaded"


def test_binary_message_arrives_byte_for_byte() -> None:
    data = bytes(range(256))
    body = push_body(pubsub_message(data, {"portway-content-type": "application/octet-stream"}))

    assert message_of(pubsub_delivery(JSON_HEADERS, body), QUEUE).body == data


def test_base64_marked_body_is_decoded_as_on_aws() -> None:
    data = base64.b64encode(b"\xff\x00raw")
    body = push_body(pubsub_message(data, {"portway-content-type": "image/png;base64"}))

    message = message_of(pubsub_delivery(JSON_HEADERS, body), QUEUE)

    assert (message.body, message.content_type) == (b"\xff\x00raw", "image/png")


def test_empty_marked_body_is_empty() -> None:
    body = push_body(pubsub_message(b" ", {"portway-content-type": "text/plain;empty"}))

    message = message_of(pubsub_delivery(JSON_HEADERS, body), QUEUE)

    assert (message.body, message.content_type) == (b"", "text/plain")


def test_message_without_portway_content_type_is_binary() -> None:
    body = push_body(pubsub_message(b"from elsewhere"))

    message = message_of(pubsub_delivery(JSON_HEADERS, body), QUEUE)

    assert (message.body, message.content_type) == (b"from elsewhere", "application/octet-stream")
    assert message.attributes == {}


def test_user_attributes_are_kept_and_portways_own_dropped() -> None:
    attributes = {"portway-content-type": "text/plain", "tenant": "acme", "kind": "order"}
    body = push_body(pubsub_message(b"x", attributes))

    message = message_of(pubsub_delivery(JSON_HEADERS, body), QUEUE)

    assert message.attributes == {"tenant": "acme", "kind": "order"}


def test_attempt_is_the_delivery_attempt() -> None:
    body = push_body(pubsub_message(b"x"), delivery_attempt=4)

    assert message_of(pubsub_delivery(JSON_HEADERS, body), QUEUE).attempt == 4


def test_attempt_is_one_when_pubsub_sets_no_delivery_attempt() -> None:
    body = push_body(pubsub_message(b"x"), delivery_attempt=None)

    assert message_of(pubsub_delivery(JSON_HEADERS, body), QUEUE).attempt == 1


def test_binary_and_structured_cloudevents_give_the_push_bodys_message() -> None:
    native = pubsub_message(b"hello", {"portway-content-type": "text/plain", "k": "v"})
    from_push = message_of(pubsub_delivery(JSON_HEADERS, push_body(native)), QUEUE)
    headers, data = binary_cloudevent(native)
    from_binary = message_of(pubsub_delivery(headers, data), QUEUE)
    structured = {"Content-Type": "application/cloudevents+json; charset=utf-8"}
    from_structured = message_of(pubsub_delivery(structured, structured_cloudevent(native)), QUEUE)

    assert from_push == from_binary == from_structured


def test_cloudevent_of_another_type_is_refused() -> None:
    headers, data = binary_cloudevent(pubsub_message(b"x"))
    headers["ce-type"] = "google.cloud.storage.object.v1.finalized"

    with pytest.raises(MalformedEvent, match="messagePublished"):
        pubsub_delivery(headers, data)


def test_unwrapped_push_is_refused_clearly() -> None:
    headers = {"x-goog-pubsub-message-id": "1", "x-goog-pubsub-subscription-name": SUBSCRIPTION}

    with pytest.raises(MalformedEvent, match="no_wrapper"):
        pubsub_delivery(headers, b"raw body")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b'{"subscription": "s"}', "expected a Pub/Sub push body"),
        (b'{"message": {"data": ""}}', "no messageId"),
        (b'{"message": {"messageId": "1"}, "deliveryAttempt": 0}', "deliveryAttempt"),
    ],
)
def test_malformed_push_bodies_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedEvent, match=reason):
        pubsub_delivery(JSON_HEADERS, body)


def test_data_that_is_not_base64_is_refused() -> None:
    native = pubsub_message(b"x")
    native["data"] = "not base64!"

    with pytest.raises(MalformedEvent, match="2070443601311540: data is not base64"):
        message_of(pubsub_delivery(JSON_HEADERS, push_body(native)), QUEUE)


def test_body_marked_base64_that_is_not_is_refused() -> None:
    native = pubsub_message(b"%%%", {"portway-content-type": "text/plain;base64"})

    with pytest.raises(MalformedEvent, match="marked base64"):
        message_of(pubsub_delivery(JSON_HEADERS, push_body(native)), QUEUE)


def test_bad_publish_time_is_refused() -> None:
    native = pubsub_message(b"x")
    native["publishTime"] = "yesterday"

    with pytest.raises(MalformedEvent, match="RFC 3339"):
        message_of(pubsub_delivery(JSON_HEADERS, push_body(native)), QUEUE)


# -- Cloud Storage notifications ----------------------------------------------------------------


def storage_notification(
    name: str, event_type: str = "OBJECT_FINALIZE", bucket: str = "orders-dev-landing-1a2b3c4d"
) -> bytes:
    """The Pub/Sub push of a JSON_API_V1 notification, attributes as Cloud Storage sets them."""
    resource = {
        "kind": "storage#object",
        "id": f"{bucket}/{name}/1614366835749000",
        "name": name,
        "bucket": bucket,
        "generation": "1614366835749000",
        "metageneration": "1",
        "contentType": "text/csv",
        "timeCreated": "2021-02-26T19:13:55.749Z",
        "updated": "2021-02-26T19:13:55.749Z",
        "size": "1234",
        "md5Hash": "XUFAKrxLKna5cZ2REBfFkg==",
        "crc32c": "mnG7TA==",
        "etag": "CKih16GjycICEAE=",
    }
    attributes = {
        "notificationConfig": f"projects/_/buckets/{bucket}/notificationConfigs/1",
        "eventType": event_type,
        "payloadFormat": "JSON_API_V1",
        "bucketId": bucket,
        "objectId": name,
        "objectGeneration": "1614366835749000",
        "eventTime": "2021-02-26T19:13:55.749123Z",
    }
    return push_body(pubsub_message(json.dumps(resource).encode("utf-8"), attributes))


def test_finalized_object_matching_the_suffix_becomes_an_object_event() -> None:
    delivery = pubsub_delivery(JSON_HEADERS, storage_notification("in/day 1+2%20.csv"))

    event = object_event_of(delivery, CSV_OBJECTS)

    assert event is not None
    assert event.bucket == "landing"  # the neutral name, not the bucket id
    # objectId is the name itself: nothing URL-decoded ("+" and "%20" stay as they are).
    assert event.key == "in/day 1+2%20.csv"
    assert event.size == 1234
    assert event.etag == "5d41402abc4b2a76b9719d911017c592"  # md5Hash in hex
    assert event.time == datetime(2021, 2, 26, 19, 13, 55, 749123, UTC)
    assert event.source == "/portway/gcp/buckets/landing"


def test_object_outside_the_suffix_is_skipped() -> None:
    delivery = pubsub_delivery(JSON_HEADERS, storage_notification("in/readme.txt"))

    assert object_event_of(delivery, CSV_OBJECTS) is None


@pytest.mark.parametrize(
    "event_type", ["OBJECT_DELETE", "OBJECT_ARCHIVE", "OBJECT_METADATA_UPDATE"]
)
def test_other_storage_events_are_skipped(event_type: str) -> None:
    delivery = pubsub_delivery(JSON_HEADERS, storage_notification("in/a.csv", event_type))

    assert object_event_of(delivery, CSV_OBJECTS) is None


def test_message_that_is_not_a_storage_notification_is_refused() -> None:
    delivery = pubsub_delivery(JSON_HEADERS, push_body(pubsub_message(b"{}")))

    with pytest.raises(MalformedEvent, match="no eventType"):
        object_event_of(delivery, CSV_OBJECTS)


def test_notification_without_the_object_resource_is_refused() -> None:
    attributes = {"eventType": "OBJECT_FINALIZE", "payloadFormat": "NONE", "objectId": "a.csv"}
    delivery = pubsub_delivery(JSON_HEADERS, push_body(pubsub_message(b"", attributes)))

    with pytest.raises(MalformedEvent, match="payloadFormat 'NONE'"):
        object_event_of(delivery, CSV_OBJECTS)


# -- Cloud Scheduler ---------------------------------------------------------------------------


def test_scheduler_call_becomes_a_schedule_event_at_its_scheduled_time() -> None:
    headers = {
        "X-CloudScheduler": "true",
        "X-CloudScheduler-JobName": "orders-dev--nightly",
        "X-CloudScheduler-ScheduleTime": "2026-11-25T02:00:00Z",
    }
    body = b'{"portway":"schedule","schedule":"cron(0 2 * * *)"}'

    event = schedule_event(headers, body)

    assert event.schedule == "cron(0 2 * * *)"
    assert event.time == datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    assert event.id == "orders-dev--nightly@2026-11-25T02:00:00+00:00"


def test_scheduler_call_without_schedule_time_is_now() -> None:
    before = datetime.now(UTC)

    event = schedule_event({}, b'{"portway":"schedule","schedule":"rate(5 minutes)"}')

    assert event.time >= before


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"{}", "expected the schedule body"), (b'{"portway":"schedule"}', "no 'schedule'")],
)
def test_malformed_schedule_body_is_refused(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedEvent, match=reason):
        schedule_event({}, body)


# -- HTTP -------------------------------------------------------------------------------------

ORDER = HttpTrigger("POST", "/orders/{order_id}/lines")


def test_http_request_has_path_params_query_and_lowercase_headers() -> None:
    request = http_request(
        ORDER,
        method="post",
        path="/orders/42/lines",
        query="a=1&b=2&a=3&empty=",
        headers={"Content-Type": "application/json", "X-Cloud-Trace-Context": "abc123/1;o=1"},
        body=b'{"qty": 2}',
    )

    assert isinstance(request, HttpRequest)
    assert request.method == "POST"
    assert request.path_params == {"order_id": "42"}
    assert request.query == {"a": "3", "b": "2", "empty": ""}
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"qty": 2}
    assert request.id == "abc123"


def test_http_path_outside_the_route_answers_404() -> None:
    response = http_request(ORDER, method="POST", path="/other", query="", headers={}, body=b"")

    assert isinstance(response, HttpResponse)
    assert response.status == 404


def test_http_other_method_answers_405_with_allow() -> None:
    response = http_request(
        ORDER, method="GET", path="/orders/1/lines", query="", headers={}, body=b""
    )

    assert isinstance(response, HttpResponse)
    assert (response.status, response.headers["allow"]) == (405, "POST")


def test_handler_results_become_status_headers_and_body() -> None:
    assert http_response({"ok": True}) == (
        200,
        {"content-type": "application/json"},
        b'{"ok":true}',
    )
    assert http_response(None) == (204, {}, b"")
    assert http_response(HttpResponse("made", 201)) == (
        201,
        {"content-type": "text/plain; charset=utf-8"},
        b"made",
    )


def test_reading_native_events_imports_no_google_sdk() -> None:
    imported = modules_imported_by("import portway_gcp.native_events")

    assert "portway_gcp.native_events" in imported
    assert cloud_sdk_modules(imported, ("google", "grpc")) == []
