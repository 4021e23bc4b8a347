"""The AWS data plane against a real moto server: buckets, queues and topics from handler code."""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from portway_aws.dataplane import (
    AwsDataPlane,
    CallTarget,
    batch_message_ids,
    shared_client,
)
from portway_aws.message_encoding import (
    CONTENT_TYPE_ATTRIBUTE,
    DECLARED_MAX_MESSAGE_BYTES,
)
from portway_aws.runtime_config import ResourceMap

from portway import Pipeline
from portway.dataplane import bind
from portway.errors import (
    ConfigError,
    DeployError,
    InvalidKey,
    MessageTooLarge,
    PortwayError,
    ValidationError,
)

TEXT = "text/plain; charset=utf-8"

app = Pipeline("orders")
lake = app.bucket("lake")
jobs = app.queue("jobs")
loaded = app.topic("loaded")


@dataclass
class Stage:
    """The resources of one test in moto, and the data plane bound to them."""

    plane: AwsDataPlane
    bucket: str
    queue_url: str
    topic_arn: str

    def receive(self, queue_url: str | None = None, count: int = 1) -> list[dict[str, Any]]:
        """Receive ``count`` messages (polling with a deadline), as Lambda's poller does."""
        sqs = boto3.client("sqs")
        received: list[dict[str, Any]] = []
        for _ in range(20):
            response = sqs.receive_message(
                QueueUrl=queue_url or self.queue_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            received.extend(response.get("Messages", []))
            if len(received) >= count:
                break
        return received


@pytest.fixture
def stage(moto: str) -> Iterator[Stage]:
    s3 = boto3.client("s3")
    s3.create_bucket(
        Bucket="orders-test-lake", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    queue_url = boto3.client("sqs").create_queue(QueueName="orders-test-jobs")["QueueUrl"]
    topic_arn = boto3.client("sns").create_topic(Name="orders-test-loaded")["TopicArn"]
    resources = ResourceMap(
        buckets={"lake": "orders-test-lake"},
        queues={"jobs": queue_url},
        topics={"loaded": topic_arn},
    )
    plane = AwsDataPlane(resources, stage="test")
    with bind(plane):
        yield Stage(plane, "orders-test-lake", queue_url, topic_arn)


def subscribe(stage: Stage, *, raw: bool) -> str:
    """A queue subscribed to the topic; returns its URL."""
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"orders-test-sub-{'raw' if raw else 'envelope'}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    boto3.client("sns").subscribe(
        TopicArn=stage.topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true" if raw else "false"},
    )
    return url


def attributes_of(message: dict[str, Any]) -> dict[str, str]:
    return {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}


# -- buckets ---------------------------------------------------------------------------------


def test_an_object_written_is_read_back_with_its_content_type(stage: Stage) -> None:
    lake.write("2026/11/a b.csv", "id,name\n1,é\n")

    assert lake.read("2026/11/a b.csv") == "id,name\n1,é\n".encode()
    head = boto3.client("s3").head_object(Bucket=stage.bucket, Key="2026/11/a b.csv")
    assert head["ContentType"] == TEXT


def test_an_explicit_content_type_is_stored(stage: Stage) -> None:
    lake.write("a.parquet", b"PAR1", content_type="application/vnd.apache.parquet")

    head = boto3.client("s3").head_object(Bucket=stage.bucket, Key="a.parquet")
    assert head["ContentType"] == "application/vnd.apache.parquet"


def test_reading_a_missing_object_raises_key_error_naming_bucket_and_key(stage: Stage) -> None:
    with pytest.raises(KeyError, match=r"bucket 'lake' has no object 'nope\.csv'"):
        lake.read("nope.csv")


def test_listing_returns_the_keys_under_the_prefix_sorted_across_pages(stage: Stage) -> None:
    stage.plane.list_page_size = 2
    for key in ["b/2.csv", "a/1.csv", "b/1.csv", "b/10.csv", "c.csv"]:
        lake.write(key, b"x")

    assert lake.list("b/") == ["b/1.csv", "b/10.csv", "b/2.csv"]
    assert lake.list("") == ["a/1.csv", "b/1.csv", "b/10.csv", "b/2.csv", "c.csv"]


def test_a_deleted_object_is_gone_and_deleting_it_again_is_no_error(stage: Stage) -> None:
    lake.write("a.csv", b"x")

    lake.delete("a.csv")
    lake.delete("a.csv")

    assert lake.list("") == []


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "a//b", "%2e%2e/x"])
def test_unsafe_keys_are_refused_before_any_call(stage: Stage, key: str) -> None:
    with pytest.raises(InvalidKey, match="bucket 'lake'"):
        lake.write(key, b"x")
    with pytest.raises(InvalidKey):
        lake.read(key)
    assert boto3.client("s3").list_objects_v2(Bucket=stage.bucket)["KeyCount"] == 0


def test_a_bucket_that_does_not_exist_says_to_deploy_the_stage(stage: Stage) -> None:
    boto3.client("s3").delete_bucket(Bucket=stage.bucket)

    with pytest.raises(DeployError) as caught:
        lake.write("a.csv", b"x")

    assert str(caught.value) == (
        "lake.write('a.csv', ...): bucket 'lake' (orders-test-lake) does not exist on "
        "stage 'test': run 'portway deploy --stage test'"
    )


def test_a_resource_missing_from_the_function_environment_is_a_config_error(moto: str) -> None:
    with (
        bind(AwsDataPlane(ResourceMap(), stage="test")),
        pytest.raises(ConfigError, match="bucket 'lake' is not among the resources"),
    ):
        lake.read("a.csv")


# -- queues ------------------------------------------------------------------------------------


def test_a_batch_of_25_messages_returns_25_ids_and_every_message_arrives(stage: Stage) -> None:
    ids = jobs.send_batch([{"n": n} for n in range(25)], attributes={"origin": "test"})

    assert len(ids) == len(set(ids)) == 25
    received = stage.receive(count=25)
    by_id = {m["MessageId"]: m for m in received}
    assert set(by_id) == set(ids)
    for n, identifier in enumerate(ids):
        message = by_id[identifier]
        assert json.loads(message["Body"]) == {"n": n}
        assert attributes_of(message) == {
            "origin": "test",
            CONTENT_TYPE_ATTRIBUTE: "application/json",
        }


def test_text_goes_as_text_with_its_content_type(stage: Stage) -> None:
    jobs.send("héllo\nwörld\t€ 𝄞", attributes={"a": "1"})

    [message] = stage.receive()
    assert message["Body"] == "héllo\nwörld\t€ 𝄞"
    assert attributes_of(message) == {"a": "1", CONTENT_TYPE_ATTRIBUTE: TEXT}


def test_binary_that_is_not_utf8_goes_base64_and_says_so(stage: Stage) -> None:
    jobs.send(bytes(range(256)))

    [message] = stage.receive()
    assert base64.b64decode(message["Body"]) == bytes(range(256))
    assert attributes_of(message) == {CONTENT_TYPE_ATTRIBUTE: "application/octet-stream;base64"}


def test_utf8_text_with_a_character_sqs_refuses_goes_base64(stage: Stage) -> None:
    jobs.send("nul \x00 inside")

    [message] = stage.receive()
    assert base64.b64decode(message["Body"]) == b"nul \x00 inside"
    assert attributes_of(message)[CONTENT_TYPE_ATTRIBUTE] == TEXT + ";base64"


def test_binary_that_is_valid_utf8_goes_as_text(stage: Stage) -> None:
    jobs.send(b'{"raw": true}')

    [message] = stage.receive()
    assert message["Body"] == '{"raw": true}'
    assert attributes_of(message)[CONTENT_TYPE_ATTRIBUTE] == "application/octet-stream"


def test_an_empty_body_travels_marked_empty(stage: Stage) -> None:
    jobs.send(b"")

    [message] = stage.receive()
    assert message["Body"] == " "
    assert attributes_of(message)[CONTENT_TYPE_ATTRIBUTE] == "application/octet-stream;empty"


def test_an_empty_attribute_value_is_refused_as_sqs_does(stage: Stage) -> None:
    with pytest.raises(ValidationError, match="attribute 'trace' is empty; SQS and SNS refuse"):
        jobs.send("x", attributes={"trace": ""})


def _text_of_size(total: int) -> str:
    """A text body whose message, once encoded, is exactly ``total`` bytes as SQS counts."""
    overhead = len(CONTENT_TYPE_ATTRIBUTE) + len("String") + len(TEXT)
    return "x" * (total - overhead)


def test_a_message_exactly_at_the_declared_limit_is_sent_and_fits_sqs(stage: Stage) -> None:
    body = "x" * DECLARED_MAX_MESSAGE_BYTES
    jobs.send(body)

    [message] = stage.receive()
    assert message["Body"] == body


def test_a_message_one_byte_over_the_declared_limit_is_refused_and_nothing_is_sent(
    stage: Stage,
) -> None:
    body = "x" * (DECLARED_MAX_MESSAGE_BYTES + 1)

    with pytest.raises(MessageTooLarge) as caught:
        jobs.send_batch(["small", body])

    assert str(caught.value).startswith(
        f"jobs.send(): the message 2 of 2 is {DECLARED_MAX_MESSAGE_BYTES + 1:,} bytes (body "
        f"and attributes), more than the {DECLARED_MAX_MESSAGE_BYTES:,} this stage's provider "
        f"accepts"
    )
    assert stage.receive() == []


def test_attribute_names_and_values_count_toward_the_limit(stage: Stage) -> None:
    body = "x" * (DECLARED_MAX_MESSAGE_BYTES - len("ab") - len("c"))
    jobs.send(body, attributes={"ab": "c"})
    with pytest.raises(MessageTooLarge, match=f"{DECLARED_MAX_MESSAGE_BYTES + 1:,} bytes"):
        jobs.send(body, attributes={"ab": "cd"})


def test_nine_attributes_at_the_declared_limit_still_fit_sqs(stage: Stage) -> None:
    # The data plane checks the encoded size against SQS's 262,144 bytes after the
    # declared limit: with every attribute the core allows, the first check is the binding one.
    attributes = {f"a{n}": "v" for n in range(9)}
    room = DECLARED_MAX_MESSAGE_BYTES - sum(len(k) + len(v) for k, v in attributes.items())
    jobs.send("x" * room, attributes=attributes)

    [message] = stage.receive()
    assert len(message["Body"]) == room


def test_a_binary_body_is_measured_once_base64_encoded(stage: Stage) -> None:
    with pytest.raises(MessageTooLarge, match="travels base64, a third larger"):
        jobs.send(b"\xff" * 200_000)


def test_a_batch_request_stays_within_256_kib_in_all(stage: Stage) -> None:
    calls: list[int] = []
    client = shared_client("sqs", region=None, endpoint_url=None, profile=None)

    def count(params: dict[str, Any], **_: Any) -> None:
        calls.append(len(params["Entries"]))

    client.meta.events.register("provide-client-params.sqs.SendMessageBatch", count)
    try:
        ids = jobs.send_batch(["x" * 100_000] * 5)
    finally:
        client.meta.events.unregister("provide-client-params.sqs.SendMessageBatch", count)

    assert calls == [2, 2, 1]
    assert len(stage.receive(count=5)) == 5 == len(ids)


def test_sending_to_a_deleted_queue_says_to_deploy_the_stage(stage: Stage) -> None:
    boto3.client("sqs").delete_queue(QueueUrl=stage.queue_url)

    with pytest.raises(DeployError) as caught:
        jobs.send({"key": "a.csv"})

    assert str(caught.value) == (
        f"jobs.send(): queue 'jobs' ({stage.queue_url}) does not exist on stage 'test': "
        f"run 'portway deploy --stage test'"
    )


def test_a_failed_batch_entry_is_reported_with_the_reason_aws_gave() -> None:
    # SendMessageBatch answers 200 even when entries fail; moto never fails one for the
    # reasons portway could meet, so this is the response shape AWS documents.
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
    response = {
        "Successful": [
            {"Id": "0", "MessageId": "m-11"},
            {"Id": "2", "MessageId": "m-13"},
        ],
        "Failed": [
            {
                "Id": "1",
                "SenderFault": True,
                "Code": "InvalidParameterValue",
                "Message": "Message must be shorter than 262144 bytes.",
            }
        ],
    }
    target = CallTarget("queue", "jobs", "https://sqs/123/jobs", "jobs.send()", "sqs:SendMessage")

    with pytest.raises(PortwayError) as caught:
        batch_message_ids(response, ["a", "b", "c"], target, 10, 13)

    assert str(caught.value) == (
        "jobs.send(): queue 'jobs' (https://sqs/123/jobs) refused message 12 "
        "(InvalidParameterValue: Message must be shorter than 262144 bytes.; at fault: the "
        "request); 12 of the 13 message(s) were accepted, the others were not sent"
    )


def test_batch_ids_come_back_in_the_order_the_messages_were_given() -> None:
    response = {
        "Successful": [{"Id": "1", "MessageId": "second"}, {"Id": "0", "MessageId": "first"}],
        "Failed": [],
    }
    target = CallTarget("topic", "loaded", "arn", "loaded.publish()", "sns:Publish")

    assert batch_message_ids(response, ["a", "b"], target, 0, 2) == ["first", "second"]


# -- topics ------------------------------------------------------------------------------------


def test_publishing_reaches_a_raw_delivery_subscriber_with_body_and_attributes(
    stage: Stage,
) -> None:
    url = subscribe(stage, raw=True)

    identifier = loaded.publish({"rows": 3}, attributes={"table": "sales"})

    [message] = stage.receive(url)
    assert json.loads(message["Body"]) == {"rows": 3}
    assert attributes_of(message) == {"table": "sales", CONTENT_TYPE_ATTRIBUTE: "application/json"}
    assert isinstance(identifier, str)


def test_publishing_reaches_an_envelope_subscriber_with_the_sns_message_id(stage: Stage) -> None:
    url = subscribe(stage, raw=False)

    ids = [
        loaded.publish(bytes(range(256)), attributes={"table": "sales"}),
        loaded.publish("two"),
    ]

    envelopes = [json.loads(m["Body"]) for m in stage.receive(url, count=2)]
    by_id = {e["MessageId"]: e for e in envelopes}
    assert set(by_id) == set(ids)
    first = by_id[ids[0]]
    assert base64.b64decode(first["Message"]) == bytes(range(256))
    assert first["MessageAttributes"] == {
        "table": {"Type": "String", "Value": "sales"},
        CONTENT_TYPE_ATTRIBUTE: {"Type": "String", "Value": "application/octet-stream;base64"},
    }
    assert by_id[ids[1]]["Message"] == "two"


def test_publishing_to_a_deleted_topic_says_to_deploy_the_stage(stage: Stage) -> None:
    boto3.client("sns").delete_topic(TopicArn=stage.topic_arn)

    with pytest.raises(DeployError, match=r"topic 'loaded' \(arn:aws:sns:.*\) does not exist"):
        loaded.publish("x")


# -- clients -------------------------------------------------------------------------------------


def test_clients_are_created_once_and_shared(stage: Stage) -> None:
    lake.write("a.csv", b"x")
    other = AwsDataPlane(stage.plane.resources, stage="test")
    with bind(other):
        lake.read("a.csv")

    assert other._client("s3") is stage.plane._client("s3")
    assert shared_client("s3", region=None, endpoint_url=None, profile=None) is other._client("s3")


# -- app.connect -----------------------------------------------------------------------------------


def test_connect_reaches_the_resources_by_the_names_deploy_gives_them(moto: str) -> None:
    from portway_aws.naming import Names

    from portway.config import StageConfig
    from portway.providers import registry, reset_registry

    account = boto3.client("sts").get_caller_identity()["Account"]
    names = Names("orders", "test", account, "eu-west-1")
    boto3.client("s3").create_bucket(
        Bucket=names.bucket("lake"), CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    queue_url = boto3.client("sqs").create_queue(QueueName=names.queue("jobs"))["QueueUrl"]
    stage = StageConfig("test", "aws", {"region": "eu-west-1", "endpoint_url": moto})
    reset_registry()
    try:
        plane = registry().provider("aws").connect(app, stage)
    finally:
        reset_registry()

    with bind(plane):
        lake.write("a.csv", b"x")
        jobs.send("hello")

    assert (
        boto3.client("s3").get_object(Bucket=names.bucket("lake"), Key="a.csv")["Body"].read()
        == b"x"
    )
    [message] = boto3.client("sqs").receive_message(QueueUrl=queue_url)["Messages"]
    assert message["Body"] == "hello"


def test_the_runtime_entry_is_the_lambda_handler_shim() -> None:
    from portway.providers import registry, reset_registry

    reset_registry()
    try:
        entry = registry().provider("aws").runtime_entry()
    finally:
        reset_registry()

    module, _, attribute = entry.partition(":")
    assert entry == "portway_aws.handler:handler"
    assert callable(getattr(importlib.import_module(module), attribute))
