"""Requests of the access kinds: user-assigned identities (azure-mgmt-msi) and their
role assignments (azure-mgmt-authorization), which cannot be updated: an update deletes
the assignment and creates it again."""

from __future__ import annotations

from portway_azure.deploy import marks
from portway_azure.deploy.requests import ArmRequest, KindRequests, Resolved, in_group
from portway_azure.deploy.resources import AzureResource, Kind, Observed
from portway_azure.naming import Names


def _identity(resource: AzureResource, names: Names, _: Resolved) -> list[ArmRequest]:
    from azure.mgmt.msi.models import Identity

    body = Identity(location=resource.spec["location"], tags=marks.tags(names, resource.spec_hash))
    arguments = in_group(names, ("resource_name", resource.name))
    return [
        ArmRequest("msi.user_assigned_identities.create_or_update", arguments, "parameters", body)
    ]


def _delete_identity(found: Observed, names: Names) -> list[ArmRequest]:
    arguments = in_group(names, ("resource_name", found.name))
    return [ArmRequest("msi.user_assigned_identities.delete", arguments)]


def _role_assignment(resource: AzureResource, names: Names, resolved: Resolved) -> list[ArmRequest]:
    # The role assignments API version the client uses by default.
    from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

    spec = resource.spec
    body = RoleAssignmentCreateParameters(
        role_definition_id=spec["role_definition_id"],
        principal_id=resolved.identity(spec["principal"], "principal_id"),
        # Stated, so Azure does not look the principal up in a directory that has not
        # replicated a new identity yet.
        # https://learn.microsoft.com/azure/role-based-access-control/role-assignments-template#new-service-principal
        principal_type="ServicePrincipal",
        description=marks.description(names, resource.spec_hash),
    )
    arguments = (("scope", spec["scope"]), ("role_assignment_name", resource.name))
    return [ArmRequest("authorization.role_assignments.create", arguments, "parameters", body)]


def _delete_role_assignment(found: Observed, names: Names) -> list[ArmRequest]:
    scope = (
        found.details.get("scope")
        or found.resource_id.split("/providers/Microsoft.Authorization/")[0]
    )
    arguments = (("scope", scope), ("role_assignment_name", found.name))
    return [ArmRequest("authorization.role_assignments.delete", arguments)]


REQUESTS = {
    Kind.MANAGED_IDENTITY: KindRequests(_identity, _delete_identity),
    Kind.ROLE_ASSIGNMENT: KindRequests(_role_assignment, _delete_role_assignment),
}
