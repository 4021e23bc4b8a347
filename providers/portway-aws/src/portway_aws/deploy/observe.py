"""Observe: what exists on AWS for one deployment, with read-only calls.

The number of calls grows with the resource kinds, not with the resources: one
paginated Resource Groups Tagging API query finds every S3 bucket, SQS queue, SNS topic
and Lambda function carrying the deployment's tags, with the spec hash each was
marked with; IAM roles (which that API does not return) are listed by portway's own
path, with the hash in their description; the schedule group is looked up by name and
its tags read (the schedules themselves belong to their functions).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from portway.errors import DeployError
from portway_aws.deploy.resources import Kind, Observed
from portway_aws.naming import APP_TAG, SPEC_TAG, STAGE_TAG

if TYPE_CHECKING:
    from portway_aws.naming import Names
    from portway_aws.session import AwsClients

#: What an IAM role's description says: ``portway spec <hash>``.
ROLE_SPEC_PREFIX = "portway spec "
_TAGGED_TYPES = ["s3", "sqs", "sns", "lambda"]


def observe(clients: AwsClients, names: Names) -> dict[tuple[Kind, str], Observed]:
    """Every resource of the deployment ``names`` describes, by ``(kind, name)``."""
    found: dict[tuple[Kind, str], Observed] = {}
    try:
        for kind_reader in (_tagged, _roles, _groups):
            for resource in kind_reader(clients, names):
                found[resource.key] = resource
    except DeployError:
        raise
    except Exception as error:
        raise DeployError(
            f"cannot read what is deployed for {names.prefix!r} in {names.region} "
            f"({type(error).__name__}: {error}); check the credentials' read permissions "
            f"(tag:GetResources, iam:ListRoles, scheduler:ListScheduleGroups)"
        ) from None
    return found


def kind_of_arn(arn: str) -> tuple[Kind, str] | None:
    """``(kind, name)`` of a tagged resource's ARN, or ``None`` for kinds portway ignores."""
    parts = arn.split(":")
    if len(parts) < 6:
        return None
    service, resource = parts[2], parts[5:]
    if service == "s3" and len(resource) == 1 and "/" not in resource[0]:
        return Kind.S3_BUCKET, resource[0]
    if service == "sqs" and len(resource) == 1:
        return Kind.SQS_QUEUE, resource[0]
    if service == "sns" and len(resource) == 1:  # a subscription's ARN has one more part
        return Kind.SNS_TOPIC, resource[0]
    if service == "lambda" and len(resource) == 2 and resource[0] == "function":
        return Kind.LAMBDA_FUNCTION, resource[1]
    return None


def _tagged(clients: AwsClients, names: Names) -> Iterator[Observed]:
    filters = [
        {"Key": APP_TAG, "Values": [names.app]},
        {"Key": STAGE_TAG, "Values": [names.stage]},
    ]
    pages = clients.tagging.get_paginator("get_resources").paginate(
        TagFilters=filters, ResourceTypeFilters=_TAGGED_TYPES
    )
    for page in pages:
        for mapping in page.get("ResourceTagMappingList", []):
            arn = mapping["ResourceARN"]
            kind_name = kind_of_arn(arn)
            if kind_name is None:
                continue
            tags = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
            yield Observed(kind_name[0], kind_name[1], arn, tags.get(SPEC_TAG), tags)


def _roles(clients: AwsClients, names: Names) -> Iterator[Observed]:
    pages = clients.iam.get_paginator("list_roles").paginate(PathPrefix=names.role_path)
    for page in pages:
        for role in page.get("Roles", []):
            if role.get("Path") != names.role_path:
                continue  # a deeper path belongs to another app or stage
            yield Observed(
                Kind.IAM_ROLE, role["RoleName"], role["Arn"], role_spec_hash(role), names.tags
            )


def role_spec_hash(role: dict[str, Any]) -> str | None:
    description = str(role.get("Description") or "")
    if description.startswith(ROLE_SPEC_PREFIX):
        return description.removeprefix(ROLE_SPEC_PREFIX).strip() or None
    return None


def _groups(clients: AwsClients, names: Names) -> Iterator[Observed]:
    pages = clients.scheduler.get_paginator("list_schedule_groups").paginate(
        NamePrefix=names.schedule_group
    )
    for page in pages:
        for group in page.get("ScheduleGroups", []):
            if group.get("Name") != names.schedule_group:
                continue
            # One call, for the one group a deployment has: its tags hold the spec hash.
            listed = clients.scheduler.list_tags_for_resource(ResourceArn=group["Arn"])
            tags = {t["Key"]: t["Value"] for t in listed.get("Tags", [])}
            yield Observed(
                Kind.SCHEDULER_GROUP, group["Name"], group["Arn"], tags.get(SPEC_TAG), tags
            )
