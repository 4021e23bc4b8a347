"""``sns:topic``: a neutral topic; its subscribers' queues hold their own subscriptions."""

from __future__ import annotations

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

    def update(self, context: ApplyContext, resource: AwsResource, observed: Observed) -> None:
        calls = ResourceCalls(self.kind, resource.name)
        tags = _tags(context, resource)
        calls(context.clients.sns.tag_resource, ResourceArn=observed.arn, Tags=tags)

    def delete(self, context: ApplyContext, observed: Observed) -> None:
        # DeleteTopic succeeds for a topic that does not exist, and removes its subscriptions.
        calls = ResourceCalls(self.kind, observed.name)
        calls.unless({"NotFound"}, context.clients.sns.delete_topic, TopicArn=observed.arn)


def _tags(context: ApplyContext, resource: AwsResource) -> list[dict[str, str]]:
    tags = {**context.names.tags, SPEC_TAG: resource.spec_hash}
    return [{"Key": key, "Value": value} for key, value in tags.items()]


OPERATIONS = _TopicOperations()
