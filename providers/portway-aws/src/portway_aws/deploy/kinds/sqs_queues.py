"""``sqs:queue``: a queue, a dead-letter queue, or the queue between a topic and a function.

A topic subscriber's queue holds its subscription (``spec["subscription"]``): creating
the queue subscribes it, updating it moves the subscription, deleting it unsubscribes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from portway_aws.deploy.kinds.errors import ResourceCalls
from portway_aws.deploy.resources import Kind
from portway_aws.naming import SPEC_TAG

if TYPE_CHECKING:
    from portway_aws.deploy.kinds import ApplyContext
    from portway_aws.deploy.resources import AwsResource, Observed

_GONE = {"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"}
_EXISTS = {"QueueAlreadyExists", "QueueNameExists"}
# Attributes a spec may drop (a queue that stops being a DLQ's source, or stops receiving
# from S3 or SNS): SQS removes them when set to the empty string.
_REMOVABLE = ("RedrivePolicy", "Policy")


class _QueueOperations:
    kind = Kind.SQS_QUEUE

    def create(self, context: ApplyContext, resource: AwsResource) -> None:
        sqs = context.clients.sqs
        calls = ResourceCalls(self.kind, resource.name)
        attributes = dict(resource.spec["attributes"])
        tags = {**context.names.tags, SPEC_TAG: resource.spec_hash}
        # CreateQueue returns the existing queue when every attribute is the same, and
        # fails when one differs: then bring that queue (a deploy cut short) to the spec.
        created = calls.unless(
            _EXISTS, sqs.create_queue, QueueName=resource.name, Attributes=attributes, tags=tags
        )
        if created is None:
            url = calls(sqs.get_queue_url, QueueName=resource.name)["QueueUrl"]
            self._set_attributes(calls, sqs, url, attributes)
            calls(sqs.tag_queue, QueueUrl=url, Tags=tags)
        _subscribe(calls, context.clients.sns, resource.arn, resource.spec.get("subscription"))

    def update(self, context: ApplyContext, resource: AwsResource, observed: Observed) -> None:
        sqs, sns = context.clients.sqs, context.clients.sns
        calls = ResourceCalls(self.kind, resource.name)
        url = calls(sqs.get_queue_url, QueueName=resource.name)["QueueUrl"]
        self._set_attributes(calls, sqs, url, dict(resource.spec["attributes"]))
        subscription = resource.spec.get("subscription")
        wanted_topic = subscription["topic_arn"] if subscription else None
        for found in _subscriptions_of(calls, sns, resource.arn):
            if found["TopicArn"] != wanted_topic:
                calls.unless(
                    {"NotFound"}, sns.unsubscribe, SubscriptionArn=found["SubscriptionArn"]
                )
        _subscribe(calls, sns, resource.arn, subscription)
        tags = {**context.names.tags, SPEC_TAG: resource.spec_hash}
        calls(sqs.tag_queue, QueueUrl=url, Tags=tags)

    def delete(self, context: ApplyContext, observed: Observed) -> None:
        sqs, sns = context.clients.sqs, context.clients.sns
        calls = ResourceCalls(self.kind, observed.name)
        # The topic is not known from what was observed: find the queue's subscriptions by
        # their endpoint. They go first, even when the queue is already gone.
        for found in _subscriptions_of(calls, sns, observed.arn):
            calls.unless({"NotFound"}, sns.unsubscribe, SubscriptionArn=found["SubscriptionArn"])
        located = calls.unless(_GONE, sqs.get_queue_url, QueueName=observed.name)
        if located is not None:
            calls.unless(_GONE, sqs.delete_queue, QueueUrl=located["QueueUrl"])

    def _set_attributes(
        self, calls: ResourceCalls, sqs: Any, url: str, attributes: dict[str, str]
    ) -> None:
        """Set what differs from ``attributes``, and clear removable ones it lacks."""
        current = calls(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["All"])
        current_attributes: Mapping[str, str] = current.get("Attributes", {})
        changes = {
            name: value
            for name, value in attributes.items()
            if not _same(current_attributes.get(name), value)
        }
        for name in _REMOVABLE:
            if name not in attributes and current_attributes.get(name):
                changes[name] = ""
        if changes:
            calls(sqs.set_queue_attributes, QueueUrl=url, Attributes=changes)


def _subscribe(
    calls: ResourceCalls, sns: Any, queue_arn: str, subscription: Mapping[str, Any] | None
) -> None:
    """Subscribe the queue to the spec's topic, unless an identical subscription exists."""
    if not subscription:
        return
    topic_arn = subscription["topic_arn"]
    raw = "true" if subscription.get("raw") else "false"
    for found in calls.pages(
        sns, "list_subscriptions_by_topic", "Subscriptions", TopicArn=topic_arn
    ):
        if found.get("Protocol") != "sqs" or found.get("Endpoint") != queue_arn:
            continue
        arn = found["SubscriptionArn"]
        attributes = calls(sns.get_subscription_attributes, SubscriptionArn=arn)["Attributes"]
        if attributes.get("RawMessageDelivery", "false") != raw:
            calls(
                sns.set_subscription_attributes,
                SubscriptionArn=arn,
                AttributeName="RawMessageDelivery",
                AttributeValue=raw,
            )
        return
    calls(
        sns.subscribe,
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": raw},
        ReturnSubscriptionArn=True,
    )


def _subscriptions_of(calls: ResourceCalls, sns: Any, queue_arn: str) -> list[dict[str, Any]]:
    """Every SNS subscription delivering to the queue ``queue_arn``, on any topic."""
    return [
        found
        for found in calls.pages(sns, "list_subscriptions", "Subscriptions")
        if found.get("Protocol") == "sqs"
        and found.get("Endpoint") == queue_arn
        # one awaiting confirmation has no ARN yet ("PendingConfirmation"): nothing to remove
        and str(found.get("SubscriptionArn", "")).startswith("arn:")
    ]


def _same(current: str | None, wanted: str) -> bool:
    """Attribute values compare as JSON where they are JSON: SQS may reformat a policy."""
    if current is None:
        return False
    try:
        return bool(json.loads(current) == json.loads(wanted))
    except ValueError:
        return current == wanted


OPERATIONS = _QueueOperations()
