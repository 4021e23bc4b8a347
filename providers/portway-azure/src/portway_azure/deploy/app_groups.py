"""Stage 1 of a deploy, for each app group: its identity, roles, plan and Function App (pure).

Each app group (:mod:`portway_azure.grouping`) runs as one user-assigned managed identity
holding its exact role assignments (:mod:`portway_azure.roles`) and Storage Blob Data
Owner on the stage's host storage account, in a Function App on a Flex Consumption plan
of its own (a Flex Consumption plan hosts one app), deployed from a container of the host
account. Specs as :mod:`portway_azure.deploy.resources` documents them.
"""

from __future__ import annotations

import uuid
from typing import Any

from portway.errors import ValidationError
from portway.model import Bucket, Queue, Topic
from portway_azure import clients, roles
from portway_azure.deploy.resources import (
    AzureResource,
    Key,
    Kind,
    account_id,
    identity_id,
    plan_id,
    site_id,
)
from portway_azure.grouping import AppGroup
from portway_azure.naming import Names

#: Flex Consumption: the plan's SKU, and the apps' Python runtime.
#: https://learn.microsoft.com/azure/azure-functions/flex-consumption-how-to
FLEX_SKU = "FC1"
PYTHON_VERSION = "3.11"
#: The most instances one app scales out to (Flex Consumption's default is 100).
MAXIMUM_INSTANCE_COUNT = 100
#: App settings of every Function App beyond the data plane's (:mod:`portway_azure.clients`).
APP = "PORTWAY_APP"
#: App settings whose value Azure assigns; apply fills them in (spec ``resolve``): the
#: identity's client id, and the resource map with the topics' endpoints.
RESOLVE_IDENTITY_CLIENT_ID = "identity-client-id"
RESOLVE_RESOURCES = "resources"

#: Role assignment names are GUIDs; portway derives them from (scope, role, principal),
#: so the same assignment gets the same name on every deploy.
ROLE_ASSIGNMENT_NAMESPACE = uuid.UUID("7d1c3a52-3f0e-4f8e-9c39-0f6f1a9d2b61")


def role_assignment_name(assignment: roles.RoleAssignment) -> str:
    """The GUID naming ``assignment``: the same for the same scope, role and principal."""
    key = f"{assignment.scope}|{assignment.role.id}|{assignment.principal}"
    return str(uuid.uuid5(ROLE_ASSIGNMENT_NAMESPACE, key))


def group_role_assignments(group: AppGroup, names: Names) -> list[roles.RoleAssignment]:
    """The group's data roles (:func:`roles.role_assignments`) and its host storage role."""
    return sorted(
        [*roles.role_assignments(group, names), roles.host_storage_assignment(group, names)]
    )


def _scope_key(names: Names, scope: str) -> Key:
    """The resource a role assignment's scope is (it must exist before the assignment)."""
    account = roles.storage_account_scope(names)
    host = account_id(names, names.host_storage_account)
    if scope == host:
        return (Kind.STORAGE_ACCOUNT, names.host_storage_account)
    for marker, kind in (
        ("/blobServices/default/containers/", Kind.STORAGE_CONTAINER),
        ("/queueServices/default/queues/", Kind.STORAGE_QUEUE),
    ):
        if scope.startswith(account + marker):
            return (kind, f"{names.storage_account}/{scope.removeprefix(account + marker)}")
    return (Kind.EVENTGRID_TOPIC, scope.rsplit("/", 1)[1])


def app_group_resources(
    group: AppGroup, names: Names, app: str, package_sha256: str
) -> list[AzureResource]:
    """The identity, role assignments, plan, package container and Function App of ``group``.

    ``app``: the pipeline as ``module:attr``; ``package_sha256``: its zip's (``""``: none).
    """
    identity = roles.identity_name(group, names)
    site = names.function_app(group.name)
    functions = ", ".join(group.functions)
    resources = [
        AzureResource(
            Kind.MANAGED_IDENTITY,
            identity,
            identity_id(names, identity),
            f"identity of {functions}",
            {"location": names.location},
        ),
        AzureResource(
            Kind.APP_SERVICE_PLAN,
            site,
            plan_id(names, site),
            f"Flex Consumption plan of {functions}",
            {"location": names.location, "sku": FLEX_SKU},
        ),
    ]
    package = names.package_container(group.name)
    host = names.host_storage_account
    resources.append(
        AzureResource(
            Kind.STORAGE_CONTAINER,
            package,
            f"{account_id(names, host)}/blobServices/default/containers/{package}",
            f"package of {functions}",
            {"package": group.name},
            parent=host,
            depends_on=((Kind.STORAGE_ACCOUNT, host),),
        )
    )
    assignment_keys: list[Key] = []
    for assignment in group_role_assignments(group, names):
        name = role_assignment_name(assignment)
        assignment_keys.append((Kind.ROLE_ASSIGNMENT, name))
        resources.append(
            AzureResource(
                Kind.ROLE_ASSIGNMENT,
                name,
                f"{assignment.scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
                f"{assignment.role.name} for {functions}",
                {
                    "scope": assignment.scope,
                    "role": assignment.role.name,
                    "role_definition_id": assignment.role.definition(names.subscription),
                    "principal": assignment.principal,
                },
                depends_on=(
                    (Kind.MANAGED_IDENTITY, identity),
                    _scope_key(names, assignment.scope),
                ),
            )
        )
    settings, resolve = _app_settings(group, names, app, identity)
    resources.append(
        AzureResource(
            Kind.FUNCTION_APP,
            site,
            site_id(names, site),
            f"functions {functions}",
            {
                "location": names.location,
                "plan": site,
                "identity": identity,
                "runtime": ["python", PYTHON_VERSION],
                "instance_memory_mb": group.instance_memory,
                "maximum_instance_count": MAXIMUM_INSTANCE_COUNT,
                "package_container": package,
                "package_sha256": package_sha256,
                "app_settings": settings,
                "resolve": resolve,
            },
            depends_on=(
                (Kind.APP_SERVICE_PLAN, site),
                (Kind.MANAGED_IDENTITY, identity),
                (Kind.STORAGE_CONTAINER, f"{host}/{package}"),
                *assignment_keys,
            ),
        )
    )
    return resources


def _app_settings(
    group: AppGroup, names: Names, app: str, identity: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """The app settings of ``group``'s Function App, and those apply resolves.

    * ``AzureWebJobsStorage__*``: the host's storage account, through the group's identity
      (https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity);
    * ``PORTWAY_STORAGE__*``: the data account's services through the same identity,
      the connection every queue trigger names and the data plane reads
      (:mod:`portway_azure.clients`);
    * ``PORTWAY_AZURE_RESOURCES``: the containers, queues and topic endpoints of what the
      group's functions use or are triggered by (naming a resource grants nothing);
    * ``PORTWAY_APP``, ``PORTWAY_STAGE``, and the functions' declared environment
      (equal for every function of a group).

    Flex Consumption takes no ``FUNCTIONS_WORKER_RUNTIME`` nor
    ``FUNCTIONS_EXTENSION_VERSION``: the runtime is in the site's ``functionAppConfig``.
    """
    data = names.storage_account
    settings: dict[str, str] = {
        **dict(group.environment),
        "AzureWebJobsStorage__accountName": names.host_storage_account,
        "AzureWebJobsStorage__credential": "managedidentity",
        clients.BLOB_SERVICE_URI: f"https://{data}.blob.core.windows.net",
        clients.QUEUE_SERVICE_URI: f"https://{data}.queue.core.windows.net",
        clients.CREDENTIAL: "managedidentity",
        APP: app,
        clients.STAGE: names.stage,
    }
    client_id = {"resolve": RESOLVE_IDENTITY_CLIENT_ID, "identity": identity}
    resolve: dict[str, Any] = {
        "AzureWebJobsStorage__clientId": client_id,
        clients.CLIENT_ID: client_id,
        clients.RESOURCES: {"resolve": RESOLVE_RESOURCES, **_resource_names(group, names)},
    }
    for key, _ in group.environment:
        # The core refuses PORTWAY_* names; these are the ones the Azure host reads.
        if key.startswith("AzureWebJobs"):
            raise ValidationError(
                f"functions {', '.join(group.functions)}: environment variable {key!r} "
                f"is set by portway on Azure (the host's storage); rename it"
            )
    return dict(sorted(settings.items())), dict(sorted(resolve.items()))


def _resource_names(group: AppGroup, names: Names) -> dict[str, dict[str, str]]:
    """``{"buckets", "queues", "topics"}`` of what ``group`` uses; topics by their Event
    Grid topic's name (apply puts the endpoint in its place). Triggers need no entry:
    ``function_app.py`` names each trigger queue, and the shim reads containers back
    from Event Grid subjects by :func:`~portway_azure.naming.container_name`."""
    reached: dict[str, dict[str, str]] = {"buckets": {}, "queues": {}, "topics": {}}
    for resource, _ in group.uses:
        if isinstance(resource, Bucket):
            reached["buckets"][resource.name] = names.container(resource.name)
        elif isinstance(resource, Queue):
            reached["queues"][resource.name] = names.queue(resource.name)
        elif isinstance(resource, Topic):
            reached["topics"][resource.name] = names.topic(resource.name)
    return {kind: dict(sorted(found.items())) for kind, found in reached.items()}
