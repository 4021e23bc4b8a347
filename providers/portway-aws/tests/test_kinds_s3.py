"""``s3:bucket`` operations against a real moto server: a private, tagged bucket whose
object triggers are notifications into SQS, and a deletion that never drops data."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

import pytest
from portway_aws.deploy.kinds import ApplyContext, operations
from portway_aws.deploy.resources import AwsResource, Kind, Observed
from portway_aws.naming import SPEC_TAG, Names
from portway_aws.session import AwsClients

from portway.errors import DeployError

NAMES = Names(app="demo", stage="test", account="123456789012", region="eu-west-1")
BUCKET = NAMES.bucket("raw")
QUEUE = NAMES.trigger_queue("ingest")
OPERATIONS = operations(Kind.S3_BUCKET)


@pytest.fixture
def context(moto: str) -> ApplyContext:
    return ApplyContext(AwsClients("eu-west-1"), NAMES, progress=lambda note: None)


@pytest.fixture
def queue_url(context: ApplyContext) -> str:
    """The trigger queue the notifications send to (queues are created before buckets)."""
    url: str = context.clients.sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    return url


def bucket(*notifications: dict[str, str]) -> AwsResource:
    return AwsResource(
        Kind.S3_BUCKET,
        BUCKET,
        NAMES.bucket_arn("raw"),
        "bucket raw",
        {"notifications": list(notifications)},
    )


def notification(id: str = "ingest", prefix: str = "", suffix: str = "") -> dict[str, str]:
    return {"id": id, "queue_arn": NAMES.queue_arn(QUEUE), "prefix": prefix, "suffix": suffix}


def observed_of(resource: AwsResource) -> Observed:
    return Observed(resource.kind, resource.name, resource.arn)


def configurations(context: ApplyContext) -> list[dict[str, Any]]:
    found = context.clients.s3.get_bucket_notification_configuration(Bucket=BUCKET)
    return list(found.get("QueueConfigurations", []))


def tags_of(context: ApplyContext) -> dict[str, str]:
    tag_set = context.clients.s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in tag_set}


def test_bucket_is_created_private_and_tagged_in_the_region(
    context: ApplyContext, queue_url: str
) -> None:
    resource = bucket()
    OPERATIONS.create(context, resource)

    s3 = context.clients.s3
    assert s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] == "eu-west-1"
    blocks = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert blocks == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert tags_of(context) == {**NAMES.tags, SPEC_TAG: resource.spec_hash}
    assert configurations(context) == []


def test_each_object_trigger_is_a_queue_notification_with_only_its_nonempty_rules(
    context: ApplyContext, queue_url: str
) -> None:
    OPERATIONS.create(
        context,
        bucket(
            notification("both", prefix="in/", suffix=".csv"),
            notification("prefix-only", prefix="logs/"),
            notification("everything"),
        ),
    )

    by_id = {c["Id"]: c for c in configurations(context)}
    assert set(by_id) == {"both", "prefix-only", "everything"}
    for configuration in by_id.values():
        assert configuration["QueueArn"] == NAMES.queue_arn(QUEUE)
        assert configuration["Events"] == ["s3:ObjectCreated:*"]
    assert by_id["both"]["Filter"]["Key"]["FilterRules"] == [
        {"Name": "prefix", "Value": "in/"},
        {"Name": "suffix", "Value": ".csv"},
    ]
    assert by_id["prefix-only"]["Filter"]["Key"]["FilterRules"] == [
        {"Name": "prefix", "Value": "logs/"}
    ]
    assert "Filter" not in by_id["everything"]


def test_a_matching_object_reaches_the_trigger_queue_and_others_do_not(
    context: ApplyContext, queue_url: str
) -> None:
    OPERATIONS.create(context, bucket(notification(prefix="in/", suffix=".csv")))
    s3, sqs = context.clients.s3, context.clients.sqs

    s3.put_object(Bucket=BUCKET, Key="in/skip.txt", Body=b"no")
    s3.put_object(Bucket=BUCKET, Key="in/a.csv", Body=b"yes")

    keys = []
    for message in sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    ).get("Messages", []):
        for record in json.loads(message["Body"]).get("Records", []):  # s3:TestEvent has none
            keys.append(unquote_plus(record["s3"]["object"]["key"]))  # S3 URL-encodes keys
    assert keys == ["in/a.csv"]


def test_create_converges_a_bucket_this_account_already_owns(
    context: ApplyContext, queue_url: str
) -> None:
    context.clients.s3.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    resource = bucket(notification())

    OPERATIONS.create(context, resource)

    assert tags_of(context)[SPEC_TAG] == resource.spec_hash
    assert [c["Id"] for c in configurations(context)] == ["ingest"]


def test_update_replaces_the_notifications_and_stores_the_new_hash(
    context: ApplyContext, queue_url: str
) -> None:
    before = bucket(notification("old", prefix="a/"))
    OPERATIONS.create(context, before)
    after = bucket(notification("new", suffix=".json"))

    OPERATIONS.update(context, after, observed_of(before))

    (configuration,) = configurations(context)
    assert configuration["Id"] == "new"
    assert configuration["Filter"]["Key"]["FilterRules"] == [{"Name": "suffix", "Value": ".json"}]
    assert tags_of(context)[SPEC_TAG] == after.spec_hash


def test_update_without_notifications_removes_them(context: ApplyContext, queue_url: str) -> None:
    before = bucket(notification())
    OPERATIONS.create(context, before)

    OPERATIONS.update(context, bucket(), observed_of(before))

    assert configurations(context) == []


def test_delete_removes_an_empty_bucket(context: ApplyContext, queue_url: str) -> None:
    resource = bucket(notification())
    OPERATIONS.create(context, resource)

    OPERATIONS.delete(context, observed_of(resource))

    assert context.clients.s3.list_buckets()["Buckets"] == []


def test_delete_refuses_a_bucket_holding_objects_and_says_how_to_empty_it(
    context: ApplyContext, queue_url: str
) -> None:
    resource = bucket()
    OPERATIONS.create(context, resource)
    for key in ("a", "b"):
        context.clients.s3.put_object(Bucket=BUCKET, Key=key, Body=b"data")

    with pytest.raises(DeployError) as raised:
        OPERATIONS.delete(context, observed_of(resource))

    message = str(raised.value)
    assert message.startswith(f"s3:bucket {BUCKET}: 2 objects remain")
    assert f"aws s3 rm s3://{BUCKET} --recursive" in message
    assert [b["Name"] for b in context.clients.s3.list_buckets()["Buckets"]] == [BUCKET]


def test_delete_of_a_bucket_already_gone_is_not_an_error(context: ApplyContext) -> None:
    OPERATIONS.delete(context, observed_of(bucket()))

    assert "s3.DeleteBucket" not in context.clients.calls
