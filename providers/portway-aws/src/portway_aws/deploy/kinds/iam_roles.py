"""``iam:role``: a function's execution role, or the role the scheduler assumes.

The Tagging API does not return IAM roles, so a role carries its spec hash in its
description (``portway spec <hash>``), which ``ListRoles`` returns: the planner reads it
from the one listing by portway's role path.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from portway.errors import DeployError
from portway_aws.deploy.kinds.errors import ResourceCalls
from portway_aws.deploy.resources import Kind

if TYPE_CHECKING:
    from portway_aws.deploy.kinds import ApplyContext
    from portway_aws.deploy.resources import AwsResource, Observed

#: The one inline policy portway gives a role.
POLICY_NAME = "portway"
_GONE = {"NoSuchEntity"}


def description(spec_hash: str) -> str:
    """The role's description: where the planner reads the spec hash back."""
    return f"portway spec {spec_hash}"


class _RoleOperations:
    kind = Kind.IAM_ROLE

    def create(self, context: ApplyContext, resource: AwsResource) -> None:
        iam = context.clients.iam
        calls = ResourceCalls(self.kind, resource.name)
        spec = resource.spec
        created = calls.unless(
            {"EntityAlreadyExists"},
            iam.create_role,
            RoleName=resource.name,
            Path=spec["path"],
            AssumeRolePolicyDocument=_document(spec["assume_role_policy"]),
            Description=description(resource.spec_hash),
            Tags=_tag_list(context.names.tags),
        )
        if created is None:  # left by a deploy cut short, or someone else's role
            existing = calls(iam.get_role, RoleName=resource.name)["Role"]
            if existing.get("Path") != spec["path"]:
                raise DeployError(
                    f"{self.kind} {resource.name}: a role of this name exists with path "
                    f"{existing.get('Path')!r}, not portway's {spec['path']!r}: it is not this "
                    f"deployment's; delete or rename it, or rename the app or stage"
                )
            calls(iam.tag_role, RoleName=resource.name, Tags=_tag_list(context.names.tags))
            self._converge(calls, iam, resource)
            return
        calls(
            iam.put_role_policy,
            RoleName=resource.name,
            PolicyName=POLICY_NAME,
            PolicyDocument=_document(spec["policy"]),
        )

    def update(self, context: ApplyContext, resource: AwsResource, observed: Observed) -> None:
        calls = ResourceCalls(self.kind, resource.name)
        self._converge(calls, context.clients.iam, resource)

    def delete(self, context: ApplyContext, observed: Observed) -> None:
        iam = context.clients.iam
        calls = ResourceCalls(self.kind, observed.name)
        if calls.unless(_GONE, iam.get_role, RoleName=observed.name) is None:
            return  # already gone
        inline = list(calls.pages(iam, "list_role_policies", "PolicyNames", RoleName=observed.name))
        attached = list(
            calls.pages(
                iam, "list_attached_role_policies", "AttachedPolicies", RoleName=observed.name
            )
        )
        # IAM refuses to delete a role that still has policies (DeleteConflict).
        for policy_name in inline:
            calls.unless(
                _GONE, iam.delete_role_policy, RoleName=observed.name, PolicyName=policy_name
            )
        for policy in attached:
            calls.unless(
                _GONE, iam.detach_role_policy, RoleName=observed.name, PolicyArn=policy["PolicyArn"]
            )
        calls.unless(_GONE, iam.delete_role, RoleName=observed.name)

    def _converge(self, calls: ResourceCalls, iam: Any, resource: AwsResource) -> None:
        """Trust policy, inline policy, then the description: the hash is stored last."""
        spec = resource.spec
        calls(
            iam.update_assume_role_policy,
            RoleName=resource.name,
            PolicyDocument=_document(spec["assume_role_policy"]),
        )
        calls(
            iam.put_role_policy,
            RoleName=resource.name,
            PolicyName=POLICY_NAME,
            PolicyDocument=_document(spec["policy"]),
        )
        calls(iam.update_role, RoleName=resource.name, Description=description(resource.spec_hash))


def _document(policy: Any) -> str:
    return json.dumps(policy, sort_keys=True, separators=(",", ":"))


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


OPERATIONS = _RoleOperations()
