"""What ARM's list calls return for a deployment's resources, for tests of observe and plan.

No ARM emulator exists. To test :mod:`portway_azure.deploy.observe` and the plans made
from it, :func:`listed_model` builds the azure-mgmt model a list call returns for a
desired resource (deserialized from ARM's JSON, as the client does), marked as a deploy
marks it (:mod:`portway_azure.deploy.marks`); :func:`observed_from` reads such models
back with observe's own pure functions. Nothing here decides what portway deploys.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from portway_azure.deploy import marks
from portway_azure.deploy.observe import (
    TAGGED_KINDS,
    by_key,
    role_assignments_observed,
    storage_children_observed,
    subscriptions_observed,
    tagged_observed,
)
from portway_azure.deploy.resources import AzureResource, Key, Kind, Observed
from portway_azure.naming import Names

_STORAGE_CHILDREN = (Kind.STORAGE_CONTAINER, Kind.STORAGE_QUEUE)


def _tagged_models() -> dict[Kind, Any]:
    from azure.mgmt.eventgrid.models import SystemTopic, Topic
    from azure.mgmt.msi.models import Identity
    from azure.mgmt.storage.models import StorageAccount
    from azure.mgmt.web.models import AppServicePlan, Site

    return {
        Kind.STORAGE_ACCOUNT: StorageAccount,
        Kind.EVENTGRID_TOPIC: Topic.deserialize,
        Kind.EVENTGRID_SYSTEM_TOPIC: SystemTopic.deserialize,
        Kind.MANAGED_IDENTITY: Identity.deserialize,
        Kind.APP_SERVICE_PLAN: AppServicePlan,
        Kind.FUNCTION_APP: Site,
    }


def listed_model(resource: AzureResource, names: Names, spec_hash: str | None = None) -> Any:
    """The model a list call returns for ``resource``, marked as a deploy of ``names``
    marks it with ``spec_hash`` (default: the resource's own).

    An identity gets principal and client ids (``p-<name>``, ``c-<name>``), as Azure
    assigns them.
    """
    mark = spec_hash or resource.spec_hash
    base = {"id": resource.resource_id, "name": resource.name}
    tagged = _tagged_models()
    if resource.kind in tagged:
        properties = {}
        if resource.kind is Kind.MANAGED_IDENTITY:
            properties = {"principalId": f"p-{resource.name}", "clientId": f"c-{resource.name}"}
        return tagged[resource.kind](
            {
                **base,
                "location": "westeurope",
                "tags": marks.tags(names, mark),
                "properties": properties,
            }
        )
    if resource.kind in _STORAGE_CHILDREN:
        from azure.mgmt.storage.models import ListContainerItem, ListQueue

        model = ListContainerItem if resource.kind is Kind.STORAGE_CONTAINER else ListQueue
        return model({**base, "properties": {"metadata": marks.metadata(names, mark)}})
    if resource.kind is Kind.EVENT_SUBSCRIPTION:
        from azure.mgmt.eventgrid.models import EventSubscription

        return EventSubscription.deserialize(
            {**base, "properties": {"labels": marks.labels(names, mark)}}
        )
    from azure.mgmt.authorization.v2022_04_01.models import RoleAssignment

    return RoleAssignment.deserialize(
        {
            **base,
            "properties": {
                "scope": resource.spec["scope"],
                "roleDefinitionId": resource.spec["role_definition_id"],
                "principalId": "p",
                "description": marks.description(names, mark),
            },
        }
    )


def observed_from(models: Iterable[tuple[AzureResource, Any]], names: Names) -> dict[Key, Observed]:
    """What observe for ``names`` keeps of ``(resource, model)`` pairs, by key."""
    found: dict[Key, Observed] = {}
    for resource, model in models:
        if resource.kind in TAGGED_KINDS:
            found |= by_key(tagged_observed(resource.kind, [model], names))
        elif resource.kind in _STORAGE_CHILDREN:
            found |= by_key(
                storage_children_observed(resource.kind, [model], names, resource.parent)
            )
        elif resource.kind is Kind.EVENT_SUBSCRIPTION:
            source = resource.spec["source"]
            found |= by_key(subscriptions_observed([model], names, resource.parent, source))
        else:
            found |= by_key(role_assignments_observed([model], names))
    return found


def deployed(
    resources: Iterable[AzureResource], names: Names, *, marked_as: Names | None = None
) -> dict[Key, Observed]:
    """What observe for ``names`` finds of ``resources`` deployed and marked by a deploy
    of ``marked_as`` (default: ``names``)."""
    marking = marked_as or names
    return observed_from(((r, listed_model(r, marking)) for r in resources), names)
