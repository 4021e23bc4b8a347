"""Requests: each change of a plan -> the azure-mgmt calls that carry it out (pure).

Every body is built with the azure-mgmt client's own model types (``Site``,
``StorageAccountCreateParameters``, ``EventSubscription``...), so what portway sends is
what the SDK serializes. No ARM emulator exists: the tests check these bodies as the
SDK puts them on the wire (:meth:`ArmRequest.wire_body`) against golden files.

One builder per resource kind, found through :data:`BUILDERS` (a registry, not names
looked up as strings): ``create`` (also used to update: ARM's PUT is create-or-update)
and ``delete``. Containers and queues update with PATCH (their PUT refuses an existing
one); a role assignment cannot be updated: it is deleted and created again.

Some values exist only once Azure created a resource: an identity's principal and
client ids, a topic's endpoint. Apply collects them in :class:`Resolved` (from what it
observed, and from each create's result) before building a request that needs them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from portway.errors import DeployError
from portway_azure import clients
from portway_azure.deploy import marks
from portway_azure.deploy.desired import (
    RESOLVE_IDENTITY_CLIENT_ID,
    RESOLVE_RESOURCES,
    account_id,
    identity_id,
    plan_id,
)
from portway_azure.deploy.resources import AzureResource, Kind, Observed
from portway_azure.naming import Names

#: The pseudo-operation that uploads an app group's package (Kudu's OneDeploy, with a
#: remote build): not an azure-mgmt call, see :mod:`portway_azure.deploy.arm`.
PUBLISH = "web.publish"


@dataclass(frozen=True, slots=True)
class ArmRequest:
    """One call: ``operation`` (``client.operations_group.method``), its keyword
    ``arguments``, and ``body`` (an azure-mgmt model) passed as ``body_parameter``."""

    operation: str
    arguments: tuple[tuple[str, str], ...]
    body_parameter: str = ""
    body: Any = None

    def wire_body(self) -> Any:
        """The JSON the SDK sends for ``body`` (read-only fields left out), or ``None``.

        azure-mgmt-eventgrid, -msi and -authorization models are msrest models
        (``serialize()``); azure-mgmt-web and -storage models are typed mappings whose
        ``as_dict(exclude_readonly=True)`` is what their operations send.
        """
        if self.body is None:
            return None
        if hasattr(self.body, "serialize"):
            return self.body.serialize()
        return self.body.as_dict(exclude_readonly=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "arguments": dict(self.arguments),
            "body": self.wire_body(),
        }


@dataclass
class Resolved:
    """Values Azure assigns: identities' ``principal_id`` and ``client_id`` by identity
    name, topics' endpoints by topic name."""

    identities: dict[str, Mapping[str, str]] = field(default_factory=dict)
    topic_endpoints: dict[str, str] = field(default_factory=dict)

    def identity(self, name: str, attribute: str) -> str:
        value = self.identities.get(name, {}).get(attribute)
        if not value:
            raise DeployError(
                f"managed identity {name!r}: its {attribute} is unknown (it was neither "
                f"found nor created by this deploy); run the command again"
            )
        return value

    def topic_endpoint(self, topic: str, location: str) -> str:
        return self.topic_endpoints.get(topic) or clients.topic_endpoint(topic, location)

    def learn(self, kind: Kind, name: str, details: Mapping[str, str]) -> None:
        """Keep what an observed or created resource tells (see ``Observed.details``)."""
        if kind is Kind.MANAGED_IDENTITY:
            self.identities[name] = dict(details)
        elif kind is Kind.EVENTGRID_TOPIC and details.get("endpoint"):
            self.topic_endpoints[name] = details["endpoint"]


Builder = Callable[[AzureResource, Names, Resolved], list[ArmRequest]]
Deleter = Callable[[Observed, Names], list[ArmRequest]]


@dataclass(frozen=True, slots=True)
class KindRequests:
    create: Builder
    delete: Deleter
    update: Builder | None = None


def create_requests(resource: AzureResource, names: Names, resolved: Resolved) -> list[ArmRequest]:
    return BUILDERS[resource.kind].create(resource, names, resolved)


def update_requests(
    resource: AzureResource, found: Observed, names: Names, resolved: Resolved
) -> list[ArmRequest]:
    builders = BUILDERS[resource.kind]
    if resource.kind is Kind.ROLE_ASSIGNMENT:
        return [*builders.delete(found, names), *builders.create(resource, names, resolved)]
    return (builders.update or builders.create)(resource, names, resolved)


def delete_requests(found: Observed, names: Names) -> list[ArmRequest]:
    return BUILDERS[found.kind].delete(found, names)


def _group(names: Names, *pairs: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return (("resource_group_name", names.resource_group), *pairs)


# -- storage --------------------------------------------------------------------------------


def _storage_account(resource: AzureResource, names: Names, _: Resolved) -> list[ArmRequest]:
    from azure.mgmt.storage.models import (
        Sku,
        StorageAccountCreateParameters,
        StorageAccountPropertiesCreateParameters,
    )

    spec = resource.spec
    body = StorageAccountCreateParameters(
        sku=Sku(name=spec["sku"]),
        kind=spec["kind"],
        location=spec["location"],
        tags=marks.tags(names, resource.spec_hash),
        properties=StorageAccountPropertiesCreateParameters(
            allow_blob_public_access=False,
            minimum_tls_version="TLS1_2",
            enable_https_traffic_only=True,
        ),
    )
    return [
        ArmRequest(
            "storage.storage_accounts.begin_create",
            _group(names, ("account_name", resource.name)),
            "parameters",
            body,
        )
    ]


def _delete_storage_account(found: Observed, names: Names) -> list[ArmRequest]:
    arguments = _group(names, ("account_name", found.name))
    return [ArmRequest("storage.storage_accounts.delete", arguments)]


def _container(method: str) -> Builder:
    def build(resource: AzureResource, names: Names, _: Resolved) -> list[ArmRequest]:
        from azure.mgmt.storage.models import BlobContainer, ContainerProperties

        body = BlobContainer(
            container_properties=ContainerProperties(
                metadata=marks.metadata(names, resource.spec_hash), public_access="None"
            )
        )
        arguments = _group(
            names, ("account_name", resource.parent), ("container_name", resource.name)
        )
        return [ArmRequest(f"storage.blob_containers.{method}", arguments, "blob_container", body)]

    return build


def _delete_container(found: Observed, names: Names) -> list[ArmRequest]:
    arguments = _group(names, ("account_name", found.parent), ("container_name", found.name))
    return [ArmRequest("storage.blob_containers.delete", arguments)]


def _queue(method: str) -> Builder:
    def build(resource: AzureResource, names: Names, _: Resolved) -> list[ArmRequest]:
        from azure.mgmt.storage.models import QueueProperties, StorageQueue

        body = StorageQueue(
            queue_properties=QueueProperties(metadata=marks.metadata(names, resource.spec_hash))
        )
        arguments = _group(names, ("account_name", resource.parent), ("queue_name", resource.name))
        return [ArmRequest(f"storage.queue.{method}", arguments, "queue", body)]

    return build


def _delete_queue(found: Observed, names: Names) -> list[ArmRequest]:
    arguments = _group(names, ("account_name", found.parent), ("queue_name", found.name))
    return [ArmRequest("storage.queue.delete", arguments)]


# -- Event Grid -----------------------------------------------------------------------------


def _topic(resource: AzureResource, names: Names, _: Resolved) -> list[ArmRequest]:
    from azure.mgmt.eventgrid.models import Topic

    body = Topic(
        location=resource.spec["location"],
        tags=marks.tags(names, resource.spec_hash),
        input_schema=resource.spec["input_schema"],
        # Publishers authenticate with Microsoft Entra (EventGrid Data Sender on the
        # topic), never with an access key that would bypass the role.
        disable_local_auth=True,
    )
    arguments = _group(names, ("topic_name", resource.name))
    return [ArmRequest("eventgrid.topics.begin_create_or_update", arguments, "topic_info", body)]


def _delete_topic(found: Observed, names: Names) -> list[ArmRequest]:
    return [ArmRequest("eventgrid.topics.begin_delete", _group(names, ("topic_name", found.name)))]


def _system_topic(resource: AzureResource, names: Names, _: Resolved) -> list[ArmRequest]:
    from azure.mgmt.eventgrid.models import SystemTopic

    spec = resource.spec
    body = SystemTopic(
        location=spec["location"],
        tags=marks.tags(names, resource.spec_hash),
        source=spec["source"],
        topic_type=spec["topic_type"],
    )
    arguments = _group(names, ("system_topic_name", resource.name))
    return [
        ArmRequest(
            "eventgrid.system_topics.begin_create_or_update", arguments, "system_topic_info", body
        )
    ]


def _delete_system_topic(found: Observed, names: Names) -> list[ArmRequest]:
    arguments = _group(names, ("system_topic_name", found.name))
    return [ArmRequest("eventgrid.system_topics.begin_delete", arguments)]


def _subscription(resource: AzureResource, names: Names, _: Resolved) -> list[ArmRequest]:
    from azure.mgmt.eventgrid.models import (
        EventSubscription,
        EventSubscriptionFilter,
        RetryPolicy,
        StorageQueueEventSubscriptionDestination,
    )

    spec = resource.spec
    body = EventSubscription(
        destination=StorageQueueEventSubscriptionDestination(
            resource_id=spec["account_id"],
            queue_name=spec["queue"],
            queue_message_time_to_live_in_seconds=spec["queue_message_ttl"],
        ),
        filter=EventSubscriptionFilter(
            included_event_types=spec["included_event_types"] or None,
            subject_begins_with=spec["subject_begins_with"] or None,
            subject_ends_with=spec["subject_ends_with"] or None,
            # Object keys are case-sensitive, as on the other providers.
            is_subject_case_sensitive=True,
        ),
        labels=marks.labels(names, resource.spec_hash),
        event_delivery_schema="EventGridSchema",
        retry_policy=RetryPolicy(
            max_delivery_attempts=spec["max_delivery_attempts"],
            event_time_to_live_in_minutes=spec["event_ttl_minutes"],
        ),
    )
    return [
        ArmRequest(
            f"{_subscriptions(spec['source'])}.begin_create_or_update",
            _subscription_arguments(names, spec["source"], resource.parent, resource.name),
            "event_subscription_info",
            body,
        )
    ]


def _subscriptions(source: str) -> str:
    if source == "topic":
        return "eventgrid.topic_event_subscriptions"
    return "eventgrid.system_topic_event_subscriptions"


def _subscription_arguments(
    names: Names, source: str, topic: str, name: str
) -> tuple[tuple[str, str], ...]:
    parent = "topic_name" if source == "topic" else "system_topic_name"
    return _group(names, (parent, topic), ("event_subscription_name", name))


def _delete_subscription(found: Observed, names: Names) -> list[ArmRequest]:
    source = found.details.get("source", "topic")
    arguments = _subscription_arguments(names, source, found.parent, found.name)
    return [ArmRequest(f"{_subscriptions(source)}.begin_delete", arguments)]


# -- identities and roles -------------------------------------------------------------------


def _identity(resource: AzureResource, names: Names, _: Resolved) -> list[ArmRequest]:
    from azure.mgmt.msi.models import Identity

    body = Identity(location=resource.spec["location"], tags=marks.tags(names, resource.spec_hash))
    arguments = _group(names, ("resource_name", resource.name))
    return [
        ArmRequest("msi.user_assigned_identities.create_or_update", arguments, "parameters", body)
    ]


def _delete_identity(found: Observed, names: Names) -> list[ArmRequest]:
    arguments = _group(names, ("resource_name", found.name))
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


# -- Function Apps --------------------------------------------------------------------------


def _plan(resource: AzureResource, names: Names, _: Resolved) -> list[ArmRequest]:
    from azure.mgmt.web.models import AppServicePlan, AppServicePlanProperties, SkuDescription

    body = AppServicePlan(
        location=resource.spec["location"],
        tags=marks.tags(names, resource.spec_hash),
        kind="functionapp",
        sku=SkuDescription(name=resource.spec["sku"], tier="FlexConsumption"),
        # Linux: Flex Consumption runs on Linux only.
        properties=AppServicePlanProperties(reserved=True),
    )
    arguments = _group(names, ("name", resource.name))
    return [
        ArmRequest(
            "web.app_service_plans.begin_create_or_update", arguments, "app_service_plan", body
        )
    ]


def _delete_plan(found: Observed, names: Names) -> list[ArmRequest]:
    return [ArmRequest("web.app_service_plans.delete", _group(names, ("name", found.name)))]


def app_settings(resource: AzureResource, names: Names, resolved: Resolved) -> dict[str, str]:
    """The Function App's settings, with the values Azure assigned filled in."""
    settings = dict(resource.spec["app_settings"])
    for key, what in resource.spec["resolve"].items():
        if what["resolve"] == RESOLVE_IDENTITY_CLIENT_ID:
            settings[key] = resolved.identity(what["identity"], "client_id")
        elif what["resolve"] == RESOLVE_RESOURCES:
            endpoints = {
                neutral: resolved.topic_endpoint(topic, names.location)
                for neutral, topic in what["topics"].items()
            }
            reached = clients.AzureResources(what["buckets"], what["queues"], endpoints)
            settings[key] = reached.to_json()
        else:  # pragma: no cover - desired writes no other kind
            raise AssertionError(f"unknown app setting resolution {what!r}")
    return dict(sorted(settings.items()))


def _function_app(resource: AzureResource, names: Names, resolved: Resolved) -> list[ArmRequest]:
    from azure.mgmt.web.models import (
        FunctionAppConfig,
        FunctionsDeployment,
        FunctionsDeploymentStorage,
        FunctionsDeploymentStorageAuthentication,
        FunctionsRuntime,
        FunctionsScaleAndConcurrency,
        ManagedServiceIdentity,
        NameValuePair,
        Site,
        SiteConfig,
        SiteProperties,
        UserAssignedIdentity,
    )

    spec = resource.spec
    identity = identity_id(names, spec["identity"])
    package = (
        f"https://{names.host_storage_account}.blob.core.windows.net/{spec['package_container']}"
    )
    settings = app_settings(resource, names, resolved)
    runtime, version = spec["runtime"]
    body = Site(
        location=spec["location"],
        tags=marks.tags(names, resource.spec_hash),
        kind="functionapp,linux",
        identity=ManagedServiceIdentity(
            type="UserAssigned", user_assigned_identities={identity: UserAssignedIdentity()}
        ),
        properties=SiteProperties(
            server_farm_id=plan_id(names, spec["plan"]),
            https_only=True,
            site_config=SiteConfig(
                app_settings=[NameValuePair(name=k, value=v) for k, v in settings.items()],
                min_tls_version="1.2",
                ftps_state="Disabled",
            ),
            function_app_config=FunctionAppConfig(
                deployment=FunctionsDeployment(
                    storage=FunctionsDeploymentStorage(
                        type="blobContainer",
                        value=package,
                        authentication=FunctionsDeploymentStorageAuthentication(
                            type="UserAssignedIdentity", user_assigned_identity_resource_id=identity
                        ),
                    )
                ),
                runtime=FunctionsRuntime(name=runtime, version=version),
                scale_and_concurrency=FunctionsScaleAndConcurrency(
                    instance_memory_mb=spec["instance_memory_mb"],
                    maximum_instance_count=spec["maximum_instance_count"],
                ),
            ),
        ),
    )
    arguments = _group(names, ("name", resource.name))
    requests = [ArmRequest("web.web_apps.begin_create_or_update", arguments, "site_envelope", body)]
    if spec["package_sha256"]:
        requests.append(
            ArmRequest(PUBLISH, (*arguments, ("package_sha256", spec["package_sha256"])))
        )
    return requests


def _delete_function_app(found: Observed, names: Names) -> list[ArmRequest]:
    return [ArmRequest("web.web_apps.delete", _group(names, ("name", found.name)))]


BUILDERS: dict[Kind, KindRequests] = {
    Kind.STORAGE_ACCOUNT: KindRequests(_storage_account, _delete_storage_account),
    Kind.STORAGE_CONTAINER: KindRequests(
        _container("create"), _delete_container, _container("update")
    ),
    Kind.STORAGE_QUEUE: KindRequests(_queue("create"), _delete_queue, _queue("update")),
    Kind.EVENTGRID_TOPIC: KindRequests(_topic, _delete_topic),
    Kind.EVENTGRID_SYSTEM_TOPIC: KindRequests(_system_topic, _delete_system_topic),
    Kind.MANAGED_IDENTITY: KindRequests(_identity, _delete_identity),
    Kind.ROLE_ASSIGNMENT: KindRequests(_role_assignment, _delete_role_assignment),
    Kind.APP_SERVICE_PLAN: KindRequests(_plan, _delete_plan),
    Kind.FUNCTION_APP: KindRequests(_function_app, _delete_function_app),
    Kind.EVENT_SUBSCRIPTION: KindRequests(_subscription, _delete_subscription),
}


def golden_json(requests: list[ArmRequest]) -> str:
    """``requests`` as the indented JSON the golden files hold."""
    return json.dumps([r.to_json() for r in requests], indent=2, sort_keys=True) + "\n"


__all__ = [
    "BUILDERS",
    "PUBLISH",
    "ArmRequest",
    "Resolved",
    "account_id",
    "app_settings",
    "create_requests",
    "delete_requests",
    "golden_json",
    "update_requests",
]
