"""``pubsub:topic``: a queue's or topic's topic, a trigger's topic, a dead-letter topic.

Marked by its labels (the deployment's and ``portway-spec``).
https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.topics
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portway_gcp.deploy.resources import Kind
from portway_gcp.naming import SPEC_LABEL

if TYPE_CHECKING:
    from portway_gcp.deploy.kinds import ApplyContext
    from portway_gcp.deploy.observe import Observed
    from portway_gcp.deploy.resources import GcpResource


def topic_labels(resource: GcpResource) -> dict[str, str]:
    return {**resource.spec["labels"], SPEC_LABEL: resource.spec_hash}


class _TopicOperations:
    kind = Kind.PUBSUB_TOPIC

    def create(self, context: ApplyContext, resource: GcpResource) -> None:
        from google.api_core import exceptions

        calls = context.calls(self.kind, resource.name)
        created = calls.unless(
            (exceptions.AlreadyExists,),
            "pubsub.topics.create",
            context.clients.publisher.create_topic,
            request={"name": resource.name, "labels": topic_labels(resource)},
        )
        if created is None:
            self.update(context, resource, None)

    def update(
        self, context: ApplyContext, resource: GcpResource, observed: Observed | None
    ) -> None:
        operation = "pubsub.topics.patch"
        if context.skip("pubsub-label-update", operation):
            return
        context.calls(self.kind, resource.name).write(
            operation,
            context.clients.publisher.update_topic,
            request={
                "topic": {"name": resource.name, "labels": topic_labels(resource)},
                "update_mask": {"paths": ["labels"]},
            },
        )

    def delete(self, context: ApplyContext, observed: Observed) -> None:
        from google.api_core import exceptions

        context.calls(self.kind, observed.name).unless(
            (exceptions.NotFound,),
            "pubsub.topics.delete",
            context.clients.publisher.delete_topic,
            request={"topic": observed.name},
        )


OPERATIONS = _TopicOperations()
