"""Native Lambda events become neutral events: records as AWS shapes them, taken from moto."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from portway_aws.dataplane import AwsDataPlane
from portway_aws.event_source import sqs_event
from portway_aws.native_events import (
    MalformedEvent,
    MalformedRecord,
    function_url_response,
    http_request,
    message_of,
    object_events_of,
    schedule_event,
    sqs_records,
)
from portway_aws.runtime_config import ResourceMap

from portway import Pipeline
from portway.dataplane import bind
from portway.events import HttpRequest, HttpResponse, ScheduleEvent
from portway.model.triggers import HttpTrigger, MessageTrigger, ObjectCreatedTrigger

REGION = "eu-west-1"

app = Pipeline("orders")
landing = app.bucket("landing")
jobs = app.queue("jobs")
loaded = app.topic("loaded")

QUEUE = MessageTrigger(jobs)
TOPIC = MessageTrigger(loaded)
CSV_OBJECTS = ObjectCreatedTrigger(landing, suffix=".csv")
ANY_OBJECT = ObjectCreatedTrigger(landing)


def create_queue(name: str) -> tuple[str, str]:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def poll(url: str, arn: str, count: int) -> list[dict[str, Any]]:
    """Receive ``count`` messages and shape them as Lambda's event source mapping does."""
    sqs = boto3.client("sqs")
    received: list[dict[str, Any]] = []
    for _ in range(20):
        response = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        received.extend(response.get("Messages", []))
        if len(received) >= count:
            break
    assert len(received) == count
    return list(sqs_records(sqs_event(received, arn, REGION)))


@pytest.fixture
def plane(moto: str) -> Iterator[dict[str, str]]:
    """The queue, topic and bucket in moto, bound to the data plane. Yields their ids."""
    queue_url, queue_arn = create_queue("orders-test-jobs")
    topic_arn = boto3.client("sns").create_topic(Name="orders-test-loaded")["TopicArn"]
    boto3.client("s3").create_bucket(
        Bucket="orders-test-landing", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    resources = ResourceMap(
        buckets={"landing": "orders-test-landing"},
        queues={"jobs": queue_url},
        topics={"loaded": topic_arn},
    )
    with bind(AwsDataPlane(resources, stage="test")):
        yield {"queue_url": queue_url, "queue_arn": queue_arn, "topic_arn": topic_arn}


def subscribe(topic_arn: str, *, raw: bool) -> tuple[str, str]:
    url, arn = create_queue(f"orders-test-loaded-{'raw' if raw else 'envelope'}")
    boto3.client("sns").subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true" if raw else "false"},
    )
    return url, arn


def notify_into_queue(bucket: str) -> tuple[str, str]:
    url, arn = create_queue("orders-test-landing-events")
    boto3.client("s3").put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    return url, arn


# -- queue messages ------------------------------------------------------------------------


def test_a_queue_message_keeps_its_id_body_attributes_and_content_type(
    plane: dict[str, str],
) -> None:
    sent = jobs.send({"key": "a.csv"}, attributes={"origin": "enqueue"})

    [record] = poll(plane["queue_url"], plane["queue_arn"], 1)
    message = message_of(record, QUEUE)

    assert message.id == sent == record["messageId"]
    assert message.json() == {"key": "a.csv"}
    assert message.content_type == "application/json"
    assert message.attributes == {"origin": "enqueue"}
    assert message.attempt == 1
    assert message.source == "/portway/aws/queues/jobs"
    assert message.raw is record
    sent_ms = int(record["attributes"]["SentTimestamp"])
    assert message.time == datetime.fromtimestamp(sent_ms / 1000, UTC)


def test_binary_text_and_empty_bodies_come_back_byte_for_byte(plane: dict[str, str]) -> None:
    bodies: list[Any] = [bytes(range(256)), "tab\tnul\x00 é", b"", "plain"]
    ids = jobs.send_batch(bodies)

    records = poll(plane["queue_url"], plane["queue_arn"], 4)
    by_id = {m.id: m for m in (message_of(r, QUEUE) for r in records)}

    assert by_id[ids[0]].body == bytes(range(256))
    assert by_id[ids[0]].content_type == "application/octet-stream"
    assert by_id[ids[1]].text() == "tab\tnul\x00 é"
    assert by_id[ids[1]].content_type == "text/plain; charset=utf-8"
    assert by_id[ids[2]].body == b""
    assert by_id[ids[3]].text() == "plain"


def test_the_attempt_counts_receives(plane: dict[str, str]) -> None:
    jobs.send("again")
    sqs = boto3.client("sqs")
    first = sqs.receive_message(QueueUrl=plane["queue_url"])["Messages"][0]
    sqs.change_message_visibility(
        QueueUrl=plane["queue_url"], ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0
    )

    [record] = poll(plane["queue_url"], plane["queue_arn"], 1)

    assert message_of(record, QUEUE).attempt == 2


def test_a_message_portway_did_not_send_is_handed_over_as_its_text(plane: dict[str, str]) -> None:
    boto3.client("sqs").send_message(QueueUrl=plane["queue_url"], MessageBody="from elsewhere")

    [record] = poll(plane["queue_url"], plane["queue_arn"], 1)
    message = message_of(record, QUEUE)

    assert message.body == b"from elsewhere"
    assert message.content_type == "application/octet-stream"


def test_a_body_marked_base64_that_is_not_is_a_malformed_record(plane: dict[str, str]) -> None:
    boto3.client("sqs").send_message(
        QueueUrl=plane["queue_url"],
        MessageBody="not base64!",
        MessageAttributes={
            "portway-content-type": {"DataType": "String", "StringValue": "x;base64"}
        },
    )
    [record] = poll(plane["queue_url"], plane["queue_arn"], 1)

    with pytest.raises(MalformedRecord, match=r"marked base64 but is not"):
        message_of(record, QUEUE)


def test_an_event_that_is_not_an_sqs_batch_is_refused_whole() -> None:
    with pytest.raises(MalformedEvent, match="expected an SQS batch"):
        sqs_records({"Records": [{"eventSource": "aws:s3"}]})


# -- topic messages ----------------------------------------------------------------------------


def test_a_topic_message_delivered_raw_keeps_body_and_attributes(plane: dict[str, str]) -> None:
    url, arn = subscribe(plane["topic_arn"], raw=True)
    loaded.publish(bytes(range(256)), attributes={"table": "sales"})

    [record] = poll(url, arn, 1)
    message = message_of(record, TOPIC)

    assert message.body == bytes(range(256))
    assert message.attributes == {"table": "sales"}
    assert message.content_type == "application/octet-stream"
    assert message.source == "/portway/aws/topics/loaded"
    assert message.id == record["messageId"]  # raw delivery carries no SNS id


def test_a_topic_message_in_an_sns_envelope_is_unwrapped_with_the_sns_id(
    plane: dict[str, str],
) -> None:
    url, arn = subscribe(plane["topic_arn"], raw=False)
    published = loaded.publish({"rows": 3}, attributes={"table": "sales"})

    [record] = poll(url, arn, 1)
    message = message_of(record, TOPIC)

    envelope = json.loads(record["body"])
    assert message.id == published == envelope["MessageId"]
    assert message.json() == {"rows": 3}
    assert message.attributes == {"table": "sales"}
    assert message.content_type == "application/json"
    assert message.time == datetime.fromisoformat(envelope["Timestamp"])


def test_a_binary_topic_message_in_an_envelope_is_decoded(plane: dict[str, str]) -> None:
    url, arn = subscribe(plane["topic_arn"], raw=False)
    loaded.publish(b"\xff\x00\xfe")

    [record] = poll(url, arn, 1)

    assert message_of(record, TOPIC).body == b"\xff\x00\xfe"


# -- object events ------------------------------------------------------------------------------


def test_an_s3_notification_becomes_an_object_event_with_the_key_decoded(
    plane: dict[str, str],
) -> None:
    url, arn = notify_into_queue("orders-test-landing")
    boto3.client("s3").put_object(Bucket="orders-test-landing", Key="in/a b+c%.csv", Body=b"xy")

    test_event, created = poll(url, arn, 2)

    assert object_events_of(test_event, CSV_OBJECTS) == []  # s3:TestEvent: acknowledged
    [event] = object_events_of(created, CSV_OBJECTS)
    assert event.key == "in/a b+c%.csv"
    assert event.bucket == "landing"  # the neutral name, not the S3 bucket's
    assert event.size == 2
    assert event.etag
    assert event.id == created["messageId"]
    assert event.source == "/portway/aws/buckets/landing"
    assert event.subject == "in/a b+c%.csv"


def test_keys_outside_the_trigger_filter_give_no_event(plane: dict[str, str]) -> None:
    url, arn = notify_into_queue("orders-test-landing")
    boto3.client("s3").put_object(Bucket="orders-test-landing", Key="a.json", Body=b"{}")

    _, created = poll(url, arn, 2)

    assert object_events_of(created, CSV_OBJECTS) == []
    assert [e.key for e in object_events_of(created, ANY_OBJECT)] == ["a.json"]


def _notification(*keys: str) -> dict[str, Any]:
    """An SQS record holding an S3 notification as AWS documents it, with several objects.

    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
    """
    records = [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": REGION,
            "eventTime": "2026-11-25T10:00:00.000Z",
            "eventName": "ObjectCreated:Put",
            "s3": {
                "s3SchemaVersion": "1.0",
                "bucket": {
                    "name": "orders-test-landing",
                    "arn": "arn:aws:s3:::orders-test-landing",
                },
                "object": {"key": key, "size": 10, "eTag": "0123", "sequencer": "0A1B"},
            },
        }
        for key in keys
    ]
    return {
        "messageId": "sqs-1",
        "body": json.dumps({"Records": records}),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795600000000"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
    }


def test_one_record_may_hold_several_objects() -> None:
    events = object_events_of(_notification("a.csv", "2026/b%2Bc+d.csv"), CSV_OBJECTS)

    assert [e.key for e in events] == ["a.csv", "2026/b+c d.csv"]
    assert [e.id for e in events] == ["sqs-1:0", "sqs-1:1"]
    assert events[0].time == datetime(2026, 11, 25, 10, tzinfo=UTC)


def test_a_notification_without_an_object_key_is_a_malformed_record() -> None:
    record = _notification("a.csv")
    body = json.loads(record["body"])
    del body["Records"][0]["s3"]["object"]["key"]
    record["body"] = json.dumps(body)

    with pytest.raises(MalformedRecord, match="sqs-1: S3 record 1 lacks the object's key"):
        object_events_of(record, CSV_OBJECTS)


def test_a_body_that_is_not_a_notification_is_a_malformed_record() -> None:
    record = {**_notification("a.csv"), "body": "hello"}

    with pytest.raises(MalformedRecord, match="not an S3 notification"):
        object_events_of(record, CSV_OBJECTS)


# -- schedules -----------------------------------------------------------------------------------


def test_the_scheduler_input_becomes_a_schedule_event() -> None:
    # The target input portway's deploy sets, after EventBridge Scheduler replaced the
    # context attribute with the time the run was due.
    event = {
        "portway": "schedule",
        "schedule": "rate(15 minutes)",
        "time": "2026-11-25T10:15:00Z",
    }

    neutral = schedule_event(event, request_id="req-1")

    assert neutral == ScheduleEvent(
        id="req-1", source="/portway/aws/schedules", time=neutral.time, schedule="rate(15 minutes)"
    )
    assert neutral.time == datetime(2026, 11, 25, 10, 15, tzinfo=UTC)


def test_a_scheduler_execution_id_in_the_input_is_the_event_id() -> None:
    event = {
        "portway": "schedule",
        "schedule": "cron(0 2 * * *)",
        "time": "2026-11-25T02:00:00Z",
        "id": "d2a5f7d1-exec",
    }

    assert schedule_event(event, request_id="req-1").id == "d2a5f7d1-exec"


def test_an_event_that_is_not_portways_schedule_input_is_refused() -> None:
    with pytest.raises(MalformedEvent, match="expected the schedule input"):
        schedule_event({"source": "aws.events"})


# -- HTTP (function URLs) -------------------------------------------------------------------------


def function_url_event(**changes: Any) -> dict[str, Any]:
    """A function URL request, payload format 2.0, as the Lambda documentation shows it.

    https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads
    """
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/orders/A%2017/lines/3",
        "rawQueryString": "verbose=1&tag=a&tag=b&empty=",
        "cookies": ["session=abc", "theme=dark"],
        "headers": {"content-type": "application/json", "x-amzn-trace-id": "Root=1-5e"},
        "queryStringParameters": {"verbose": "1", "tag": "a,b", "empty": ""},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef",
            "domainName": "abcdef.lambda-url.eu-west-1.on.aws",
            "domainPrefix": "abcdef",
            "http": {
                "method": "POST",
                "path": "/orders/A 17/lines/3",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5",
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": "$default",
            "stage": "$default",
            "time": "25/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795600000000,
        },
        "body": '{"qty": 2}',
        "pathParameters": None,
        "isBase64Encoded": False,
        "stageVariables": None,
    }
    event.update(changes)
    return event


ROUTE = HttpTrigger("POST", "/orders/{order_id}/lines/{line}")


def test_a_function_url_request_becomes_an_http_request() -> None:
    request = http_request(function_url_event(), ROUTE)

    assert isinstance(request, HttpRequest)
    assert request.method == "POST"
    assert request.path == "/orders/A 17/lines/3"
    assert request.path_params == {"order_id": "A 17", "line": "3"}
    assert request.query == {"verbose": "1", "tag": "b", "empty": ""}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["cookie"] == "session=abc; theme=dark"
    assert request.json() == {"qty": 2}
    assert request.id == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    assert request.time == datetime.fromtimestamp(1795600000, UTC)


def test_a_base64_request_body_is_decoded() -> None:
    event = function_url_event(body=base64.b64encode(b"\x00\xff").decode(), isBase64Encoded=True)

    request = http_request(event, ROUTE)

    assert isinstance(request, HttpRequest)
    assert request.body == b"\x00\xff"


def test_a_path_outside_the_route_answers_404_naming_the_route() -> None:
    response = http_request(function_url_event(rawPath="/nope"), ROUTE)

    assert isinstance(response, HttpResponse)
    assert response.status == 404
    assert json.loads(response.body) == {
        "error": "no route for POST /nope",
        "routes": ["POST /orders/{order_id}/lines/{line}"],
    }


def test_another_method_answers_405_with_allow() -> None:
    event = function_url_event()
    event["requestContext"]["http"]["method"] = "GET"

    response = http_request(event, ROUTE)

    assert isinstance(response, HttpResponse)
    assert response.status == 405
    assert response.headers["allow"] == "POST"


def test_an_event_that_is_not_a_function_url_request_is_refused() -> None:
    with pytest.raises(MalformedEvent, match=r"payload format 2\.0"):
        http_request({"httpMethod": "GET", "path": "/"}, ROUTE)


def test_a_text_response_goes_as_text_and_bytes_that_are_not_utf8_as_base64() -> None:
    text = function_url_response(HttpResponse(b'{"ok":true}', 201, {"content-type": "x"}))
    binary = function_url_response(HttpResponse(b"\xff\x00", 200))

    assert text == {
        "statusCode": 201,
        "headers": {"content-type": "x"},
        "body": '{"ok":true}',
        "isBase64Encoded": False,
    }
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\xff\x00"
