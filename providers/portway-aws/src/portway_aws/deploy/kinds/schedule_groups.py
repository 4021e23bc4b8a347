"""``scheduler:group``: the deployment's EventBridge Scheduler group.

Listing this one group finds every schedule of the deployment; each schedule belongs to
its function (:mod:`~portway_aws.deploy.kinds.lambda_functions`). Deleting the group
deletes whatever schedules are still in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portway_aws.deploy.kinds.errors import ResourceCalls
from portway_aws.deploy.resources import Kind
from portway_aws.naming import SPEC_TAG

if TYPE_CHECKING:
    from portway_aws.deploy.kinds import ApplyContext
    from portway_aws.deploy.resources import AwsResource, Observed

_GONE = {"ResourceNotFoundException"}


class _GroupOperations:
    kind = Kind.SCHEDULER_GROUP

    def create(self, context: ApplyContext, resource: AwsResource) -> None:
        scheduler = context.clients.scheduler
        calls = ResourceCalls(self.kind, resource.name)
        tags = _tags(context, resource)
        created = calls.unless(
            {"ConflictException"}, scheduler.create_schedule_group, Name=resource.name, Tags=tags
        )
        if created is None:  # left by a deploy cut short: mark it with this spec
            arn = calls(scheduler.get_schedule_group, Name=resource.name)["Arn"]
            calls(scheduler.tag_resource, ResourceArn=arn, Tags=tags)

    def update(self, context: ApplyContext, resource: AwsResource, observed: Observed) -> None:
        calls = ResourceCalls(self.kind, resource.name)
        tags = _tags(context, resource)
        calls(context.clients.scheduler.tag_resource, ResourceArn=observed.arn, Tags=tags)

    def delete(self, context: ApplyContext, observed: Observed) -> None:
        scheduler = context.clients.scheduler
        calls = ResourceCalls(self.kind, observed.name)
        # Looked up first: moto 5.2.5 answers DeleteScheduleGroup of a missing group with an
        # HTTP 500 instead of AWS's ResourceNotFoundException.
        if calls.unless(_GONE, scheduler.get_schedule_group, Name=observed.name) is None:
            return
        calls.unless(_GONE, scheduler.delete_schedule_group, Name=observed.name)


def _tags(context: ApplyContext, resource: AwsResource) -> list[dict[str, str]]:
    tags = {**context.names.tags, SPEC_TAG: resource.spec_hash}
    return [{"Key": key, "Value": value} for key, value in tags.items()]


OPERATIONS = _GroupOperations()
