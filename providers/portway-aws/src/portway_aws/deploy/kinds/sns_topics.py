"""``sns:topic``: a neutral topic, or a bucket's object-event fan-out (with its ``policy``).

Its subscribers' queues hold their own subscriptions.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from portway_aws.deploy.kinds.errors import ResourceCalls
from portway_aws.deploy.resources import Kind
from portway_aws.naming import SPEC_TAG

if TYPE_CHECKING:
    from portway_aws.deploy.kinds import ApplyContext
    from portway_aws.deploy.resources import AwsResource, Observed


class _TopicOperations:
    kind = Kind.SNS_TOPIC

    def create(self, context: ApplyContext, resource: AwsResource) -> None:
        sns = context.clients.sns
        calls = ResourceCalls(self.kind, resource.name)
        tags = _tags(context, resource)
        # CreateTopic is idempotent for a topic with the same tags, but AWS refuses one that
        # exists with other tags (a deploy cut short, an older spec): then create it
        # without tags, which returns its ARN, and tag it.
        created = calls.unless(
            {"InvalidParameter"}, sns.create_topic, Name=resource.name, Tags=tags
        )
        if created is None:
            created = calls(sns.create_topic, Name=resource.name)
            calls(sns.tag_resource, ResourceArn=created["TopicArn"], Tags=tags)
        _set_policy(calls, context, created["TopicArn"], resource)

    def update(self, context: ApplyContext, resource: AwsResource, observed: Observed) -> None:
        calls = ResourceCalls(self.kind, resource.name)
        tags = _tags(context, resource)
        _set_policy(calls, context, observed.arn, resource)
        calls(context.clients.sns.tag_resource, ResourceArn=observed.arn, Tags=tags)

    def delete(self, context: ApplyContext, observed: Observed) -> None:
        # DeleteTopic succeeds for a topic that does not exist, and removes its subscriptions.
        calls = ResourceCalls(self.kind, observed.name)
        calls.unless({"NotFound"}, context.clients.sns.delete_topic, TopicArn=observed.arn)


def _set_policy(
    calls: ResourceCalls, context: ApplyContext, arn: str, resource: AwsResource
) -> None:
    """Set the spec's access policy (a bucket fan-out lets S3 publish); others keep SNS's."""
    policy = resource.spec.get("policy")
    if policy is not None:
        document = json.dumps(policy, sort_keys=True, separators=(",", ":"))
        calls(
            context.clients.sns.set_topic_attributes,
            TopicArn=arn,
            AttributeName="Policy",
            AttributeValue=document,
        )


def _tags(context: ApplyContext, resource: AwsResource) -> list[dict[str, str]]:
    tags = {**context.names.tags, SPEC_TAG: resource.spec_hash}
    return [{"Key": key, "Value": value} for key, value in tags.items()]


OPERATIONS = _TopicOperations()
