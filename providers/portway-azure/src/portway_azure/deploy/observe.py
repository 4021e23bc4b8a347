"""Observe: what exists on Azure for one deployment, with read-only listing calls.

The calls grow with the resource kinds and parents, not with the resources: one list
per ARM kind in the resource group (storage accounts, Event Grid topics and system
topics, identities, plans, Function Apps), then the containers and queues of each of
the deployment's storage accounts, the event subscriptions of each of its topics, and
the role assignments of each of its identities. Each listed model is kept when its marks
(:mod:`portway_azure.deploy.marks`) name this app and stage.

The ``*_observed`` functions are pure: they take the azure-mgmt models the list calls
return, so tests build observed state from those same model types.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from portway.errors import DeployError
from portway_azure.deploy import marks
from portway_azure.deploy.resources import Key, Kind, Observed

if TYPE_CHECKING:
    from portway_azure.deploy.arm import ArmClients
    from portway_azure.naming import Names

#: ARM kinds listed per resource group, with the marks in their tags.
TAGGED_KINDS = (
    Kind.STORAGE_ACCOUNT,
    Kind.EVENTGRID_TOPIC,
    Kind.EVENTGRID_SYSTEM_TOPIC,
    Kind.MANAGED_IDENTITY,
    Kind.APP_SERVICE_PLAN,
    Kind.FUNCTION_APP,
)


def tagged_observed(kind: Kind, items: Iterable[Any], names: Names) -> Iterator[Observed]:
    """The deployment's resources among ARM models with ``name``, ``id`` and ``tags``.

    An identity keeps its ``principal_id`` and ``client_id``, and a topic its
    ``endpoint``, in ``details`` (apply needs them for role assignments and settings).
    """
    for item in items:
        found = marks.from_tags(item.tags)
        if not marks.belongs(found, names):
            continue
        details: dict[str, str] = {}
        for attribute in ("principal_id", "client_id", "endpoint"):
            value = getattr(item, attribute, None)
            if value:
                details[attribute] = str(value)
        yield Observed(kind, item.name, item.id, marks.spec_hash_of(found), "", details)


def storage_children_observed(
    kind: Kind, items: Iterable[Any], names: Names, account: str
) -> Iterator[Observed]:
    """The deployment's containers or queues (``ListContainerItem``, ``ListQueue``) of
    ``account``."""
    for item in items:
        found = marks.from_metadata(item.metadata)
        if marks.belongs(found, names):
            yield Observed(kind, item.name, item.id, marks.spec_hash_of(found), account)


def subscriptions_observed(
    items: Iterable[Any], names: Names, topic: str, source: str = "topic"
) -> Iterator[Observed]:
    """The deployment's event subscriptions (``EventSubscription``) of ``topic``, a
    ``"topic"`` or a ``"system-topic"`` (``source``, kept in ``details``)."""
    for item in items:
        found = marks.from_labels(item.labels)
        if marks.belongs(found, names):
            yield Observed(
                Kind.EVENT_SUBSCRIPTION,
                item.name,
                item.id,
                marks.spec_hash_of(found),
                topic,
                {"source": source},
            )


def role_assignments_observed(items: Iterable[Any], names: Names) -> Iterator[Observed]:
    """The deployment's role assignments (``RoleAssignment``), with their scope in ``details``."""
    for item in items:
        found = marks.from_description(item.description)
        if marks.belongs(found, names):
            yield Observed(
                Kind.ROLE_ASSIGNMENT,
                item.name,
                item.id,
                marks.spec_hash_of(found),
                "",
                {"scope": str(item.scope)},
            )


def by_key(found: Iterable[Observed]) -> dict[Key, Observed]:
    return {o.key: o for o in found}


def observe(clients: ArmClients, names: Names) -> dict[Key, Observed]:
    """Every resource of the deployment ``names`` describes, by key."""
    group = names.resource_group
    try:
        found = by_key(_resource_group(clients, names))
        for account in [o for o in found.values() if o.kind is Kind.STORAGE_ACCOUNT]:
            storage = clients.storage
            found |= by_key(
                storage_children_observed(
                    Kind.STORAGE_CONTAINER,
                    storage.blob_containers.list(group, account.name),
                    names,
                    account.name,
                )
            )
            found |= by_key(
                storage_children_observed(
                    Kind.STORAGE_QUEUE, storage.queue.list(group, account.name), names, account.name
                )
            )
        for topic in [o for o in found.values() if o.kind is Kind.EVENTGRID_TOPIC]:
            listed = clients.eventgrid.topic_event_subscriptions.list(group, topic.name)
            found |= by_key(subscriptions_observed(listed, names, topic.name))
        for topic in [o for o in found.values() if o.kind is Kind.EVENTGRID_SYSTEM_TOPIC]:
            events = clients.eventgrid.system_topic_event_subscriptions
            listed = events.list_by_system_topic(group, topic.name)
            found |= by_key(subscriptions_observed(listed, names, topic.name, "system-topic"))
    except DeployError:
        raise
    except Exception as error:
        raise DeployError(
            f"cannot read what is deployed for {names.prefix!r} in resource group "
            f"{group!r} ({type(error).__name__}: {error}); check the subscription and "
            f"the credentials' read permissions (Reader on the resource group)"
        ) from None
    return found


def _resource_group(clients: ArmClients, names: Names) -> Iterator[Observed]:
    group = names.resource_group
    listings: Mapping[Kind, Iterable[Any]] = {
        Kind.STORAGE_ACCOUNT: clients.storage.storage_accounts.list_by_resource_group(group),
        Kind.EVENTGRID_TOPIC: clients.eventgrid.topics.list_by_resource_group(group),
        Kind.EVENTGRID_SYSTEM_TOPIC: clients.eventgrid.system_topics.list_by_resource_group(group),
        Kind.MANAGED_IDENTITY: clients.msi.user_assigned_identities.list_by_resource_group(group),
        Kind.APP_SERVICE_PLAN: clients.web.app_service_plans.list_by_resource_group(group),
        Kind.FUNCTION_APP: clients.web.web_apps.list_by_resource_group(group),
    }
    identities: list[Observed] = []
    for kind, items in listings.items():
        for found in tagged_observed(kind, items, names):
            if kind is Kind.MANAGED_IDENTITY:
                identities.append(found)
            yield found
    # A role assignment is found through its principal, one of the deployment's
    # identities: filtered by principal, the listing includes the assignments below the
    # resource group (on containers, queues, topics), which it does not promise otherwise.
    # https://learn.microsoft.com/rest/api/authorization/role-assignments/list-for-resource-group
    assignments = clients.authorization.role_assignments
    for identity in identities:
        principal = identity.details.get("principal_id")
        if principal:
            listed = assignments.list_for_resource_group(
                group, filter=f"principalId eq '{principal}'"
            )
            yield from role_assignments_observed(listed, names)
