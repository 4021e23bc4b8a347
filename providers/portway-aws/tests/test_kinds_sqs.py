"""``sqs:queue`` operations against a real moto server: attributes, tags, the subscription
a topic subscriber's queue holds, and deletion."""

from __future__ import annotations

import json
from typing import Any

import pytest
from portway_aws.deploy.kinds import ApplyContext, operations
from portway_aws.deploy.resources import AwsResource, Kind, Observed
from portway_aws.naming import SPEC_TAG, Names
from portway_aws.session import AwsClients

from portway.errors import DeployError

NAMES = Names(app="demo", stage="test", account="123456789012", region="eu-west-1")
QUEUE = NAMES.queue("jobs")
DLQ_ARN = NAMES.queue_arn(NAMES.dead_letter_queue("jobs"))
REDRIVE = json.dumps({"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 5})
OPERATIONS = operations(Kind.SQS_QUEUE)


@pytest.fixture
def context(moto: str) -> ApplyContext:
    return ApplyContext(AwsClients("eu-west-1"), NAMES, progress=lambda note: None)


def queue(
    attributes: dict[str, str] | None = None, subscription: dict[str, Any] | None = None
) -> AwsResource:
    return AwsResource(
        Kind.SQS_QUEUE,
        QUEUE,
        NAMES.queue_arn(QUEUE),
        "queue jobs",
        {
            "attributes": attributes or {"VisibilityTimeout": "30"},
            "subscription": subscription,
        },
    )


def observed_of(resource: AwsResource) -> Observed:
    return Observed(resource.kind, resource.name, resource.arn)


def attributes_of(context: ApplyContext) -> dict[str, str]:
    sqs = context.clients.sqs
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    found: dict[str, str] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    return found


def tags_of(context: ApplyContext) -> dict[str, str]:
    sqs = context.clients.sqs
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    found: dict[str, str] = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
    return found


def make_dead_letter_queue(context: ApplyContext) -> None:
    """The DLQ a redrive policy names (SQS checks that it exists)."""
    context.clients.sqs.create_queue(QueueName=NAMES.dead_letter_queue("jobs"))


def make_topic(context: ApplyContext, name: str) -> str:
    arn: str = context.clients.sns.create_topic(Name=NAMES.topic(name))["TopicArn"]
    return arn


def subscriptions_of_queue(context: ApplyContext) -> list[dict[str, Any]]:
    found = context.clients.sns.list_subscriptions()["Subscriptions"]
    return [s for s in found if s["Endpoint"] == NAMES.queue_arn(QUEUE)]


def raw_delivery(context: ApplyContext, subscription_arn: str) -> str:
    sns = context.clients.sns
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription_arn)["Attributes"]
    return str(attributes.get("RawMessageDelivery", "false"))


def test_queue_is_created_with_its_attributes_and_tags(context: ApplyContext) -> None:
    resource = queue({"VisibilityTimeout": "45", "MessageRetentionPeriod": "86400"})
    OPERATIONS.create(context, resource)

    attributes = attributes_of(context)
    assert attributes["QueueArn"] == resource.arn
    assert attributes["VisibilityTimeout"] == "45"
    assert attributes["MessageRetentionPeriod"] == "86400"
    assert tags_of(context) == {**NAMES.tags, SPEC_TAG: resource.spec_hash}


def test_create_converges_a_queue_that_exists_with_other_attributes(
    context: ApplyContext,
) -> None:
    context.clients.sqs.create_queue(QueueName=QUEUE, Attributes={"VisibilityTimeout": "5"})
    resource = queue({"VisibilityTimeout": "60"})

    OPERATIONS.create(context, resource)

    assert attributes_of(context)["VisibilityTimeout"] == "60"
    assert tags_of(context)[SPEC_TAG] == resource.spec_hash


def test_subscriber_queue_is_subscribed_to_its_topic_with_raw_delivery(
    context: ApplyContext,
) -> None:
    topic_arn = make_topic(context, "events")
    OPERATIONS.create(context, queue(subscription={"topic_arn": topic_arn, "raw": True}))

    (subscription,) = subscriptions_of_queue(context)
    assert subscription["TopicArn"] == topic_arn
    assert subscription["Protocol"] == "sqs"
    assert raw_delivery(context, subscription["SubscriptionArn"]) == "true"
    # And it delivers: what the topic publishes arrives in the queue, unwrapped.
    context.clients.sns.publish(TopicArn=topic_arn, Message="hello")
    sqs = context.clients.sqs
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in received] == ["hello"]


def test_create_twice_keeps_one_subscription(context: ApplyContext) -> None:
    topic_arn = make_topic(context, "events")
    resource = queue(subscription={"topic_arn": topic_arn, "raw": False})

    OPERATIONS.create(context, resource)
    OPERATIONS.create(context, resource)

    (subscription,) = subscriptions_of_queue(context)
    assert raw_delivery(context, subscription["SubscriptionArn"]) == "false"


def test_update_sets_what_differs_and_clears_a_redrive_policy_the_spec_dropped(
    context: ApplyContext,
) -> None:
    make_dead_letter_queue(context)
    before = queue({"VisibilityTimeout": "30", "RedrivePolicy": REDRIVE})
    OPERATIONS.create(context, before)
    after = queue({"VisibilityTimeout": "90"})

    OPERATIONS.update(context, after, observed_of(before))

    attributes = attributes_of(context)
    assert attributes["VisibilityTimeout"] == "90"
    assert "RedrivePolicy" not in attributes
    assert tags_of(context)[SPEC_TAG] == after.spec_hash


def test_update_with_the_same_attributes_sets_none(context: ApplyContext) -> None:
    make_dead_letter_queue(context)
    before = queue({"VisibilityTimeout": "30", "RedrivePolicy": REDRIVE})
    OPERATIONS.create(context, before)
    context.clients.calls.clear()

    OPERATIONS.update(context, before, observed_of(before))

    assert "sqs.SetQueueAttributes" not in context.clients.calls
    assert "sqs.TagQueue" in context.clients.calls


def test_update_moves_the_subscription_to_the_new_topic(context: ApplyContext) -> None:
    old_topic = make_topic(context, "old")
    new_topic = make_topic(context, "new")
    before = queue(subscription={"topic_arn": old_topic, "raw": False})
    OPERATIONS.create(context, before)
    after = queue(subscription={"topic_arn": new_topic, "raw": True})

    OPERATIONS.update(context, after, observed_of(before))

    (subscription,) = subscriptions_of_queue(context)
    assert subscription["TopicArn"] == new_topic
    assert raw_delivery(context, subscription["SubscriptionArn"]) == "true"


def test_update_turns_raw_delivery_off_in_place(context: ApplyContext) -> None:
    topic_arn = make_topic(context, "events")
    before = queue(subscription={"topic_arn": topic_arn, "raw": True})
    OPERATIONS.create(context, before)
    (original,) = subscriptions_of_queue(context)
    after = queue(subscription={"topic_arn": topic_arn, "raw": False})

    OPERATIONS.update(context, after, observed_of(before))

    (subscription,) = subscriptions_of_queue(context)
    assert subscription["SubscriptionArn"] == original["SubscriptionArn"]
    assert raw_delivery(context, subscription["SubscriptionArn"]) == "false"


def test_update_without_subscription_unsubscribes(context: ApplyContext) -> None:
    topic_arn = make_topic(context, "events")
    before = queue(subscription={"topic_arn": topic_arn, "raw": True})
    OPERATIONS.create(context, before)

    OPERATIONS.update(context, queue(), observed_of(before))

    assert subscriptions_of_queue(context) == []


def test_delete_unsubscribes_the_queue_then_deletes_it(context: ApplyContext) -> None:
    topic_arn = make_topic(context, "events")
    resource = queue(subscription={"topic_arn": topic_arn, "raw": True})
    OPERATIONS.create(context, resource)

    OPERATIONS.delete(context, observed_of(resource))

    assert subscriptions_of_queue(context) == []
    assert context.clients.sqs.list_queues().get("QueueUrls", []) == []


def test_delete_of_a_queue_already_gone_is_not_an_error(context: ApplyContext) -> None:
    OPERATIONS.delete(context, observed_of(queue()))

    assert "sqs.DeleteQueue" not in context.clients.calls


def test_subscribing_to_a_missing_topic_names_the_queue_and_the_call(
    context: ApplyContext,
) -> None:
    missing = NAMES.topic_arn("missing")
    with pytest.raises(DeployError, match=rf"^sqs:queue {QUEUE}: ListSubscriptionsByTopic failed"):
        OPERATIONS.create(context, queue(subscription={"topic_arn": missing, "raw": True}))
