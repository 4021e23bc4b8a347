"""The Azure resources of a deployment, as frozen data: what portway wants, what it found.

A desired resource carries a ``spec``: a JSON-ready mapping holding everything that
defines it. Its hash is stored with the resource (tag ``portway-spec``; container and
queue metadata ``portway_spec``, since metadata names must be C# identifiers; an event
subscription's label ``portway-spec=<hash>``; a role assignment's description), so the
planner compares one hash per resource, read by one listing call per kind, instead of
every attribute.

A resource is named by ``name`` (its own name, the one the data plane uses for a
container or queue) within ``parent`` (the storage account of a container or queue, the
topic or system topic of an event subscription, ``""`` for resource-group resources).
Specs by kind (every resource id fully formed, lists sorted):

``storage:account``
    ``{"location", "purpose": "data" | "host", "sku": "Standard_LRS", "kind":
    "StorageV2"}``: the stage's data account (containers, queues, the deploy record) and
    its Functions hosts' account (``AzureWebJobsStorage``, the deployed packages).
``storage:container``
    ``{}`` in the data account (a bucket); ``{"package": group}`` in the host account.
``storage:queue``
    ``{"role": "queue" | "trigger" | "poison", "max_dequeue_count", "visibility_timeout"}``
    (the last two for a queue a trigger reads, the Functions host applies them).
``eventgrid:topic``
    ``{"location", "input_schema": "EventGridSchema"}``.
``eventgrid:system-topic``
    ``{"location", "source": <data account id>,
    "topic_type": "Microsoft.Storage.StorageAccounts"}``.
``msi:identity``
    ``{"location"}``: one user-assigned identity per app group.
``authorization:role-assignment`` (``name``: a GUID derived from the three fields)
    ``{"scope", "role", "role_definition_id", "principal"}``; ``principal`` is an
    identity's name (its principal id is read when the assignment is created).
``web:plan``
    ``{"location", "sku": "FC1"}``: the Flex Consumption plan of one app group (Flex
    Consumption hosts one app per plan).
``web:function-app``
    ``{"location", "plan", "identity", "runtime": ["python", "3.11"],
    "instance_memory_mb", "maximum_instance_count", "package_container",
    "package_sha256", "app_settings": {...}, "resolve": {setting: what}}``. ``resolve``
    names the app settings whose value Azure assigns (an identity's client id, a
    topic's endpoint); apply fills them in.
``eventgrid:subscription``
    ``{"source": "topic" | "system-topic", "queue", "account_id", "included_event_types",
    "subject_begins_with", "subject_ends_with", "queue_message_ttl": -1,
    "max_delivery_attempts", "event_ttl_minutes", "function", "neutral_source"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from portway.deploy.names import spec_hash
from portway_azure.naming import Names

#: ``(kind, path)``: a resource's identity within its deployment.
Key = tuple["Kind", str]


class Kind(StrEnum):
    """The Azure resource kinds portway manages, in the order a deploy creates them.

    Queues and containers need their account; role assignments need their identity and
    their scope (a container, a queue, a topic); a Function App its plan, identity and
    roles (the host reads its storage as soon as it starts); event subscriptions come
    last, when the queue they fill and the function that drains it exist.
    """

    STORAGE_ACCOUNT = "storage:account"
    STORAGE_CONTAINER = "storage:container"
    STORAGE_QUEUE = "storage:queue"
    EVENTGRID_TOPIC = "eventgrid:topic"
    EVENTGRID_SYSTEM_TOPIC = "eventgrid:system-topic"
    MANAGED_IDENTITY = "msi:identity"
    ROLE_ASSIGNMENT = "authorization:role-assignment"
    APP_SERVICE_PLAN = "web:plan"
    FUNCTION_APP = "web:function-app"
    EVENT_SUBSCRIPTION = "eventgrid:subscription"

    @property
    def rank(self) -> int:
        """Creation order: a kind may depend on the kinds before it, never after."""
        return list(Kind).index(self)


def path_of(parent: str, name: str) -> str:
    """``parent/name``, or ``name`` for a resource of the resource group itself."""
    return f"{parent}/{name}" if parent else name


class _Placed:
    """``path`` and ``key`` of a resource named ``name`` within ``parent``."""

    __slots__ = ()
    kind: Kind
    name: str
    parent: str

    @property
    def path(self) -> str:
        return path_of(self.parent, self.name)

    @property
    def key(self) -> Key:
        return (self.kind, self.path)


@dataclass(frozen=True, slots=True)
class AzureResource(_Placed):
    """One Azure resource a deployment wants to exist.

    ``name``: its own name (for a container or a queue, the data-plane name);
    ``parent``: see the module docstring. ``resource_id``: its full ARM id.
    ``neutral``: what it serves, for display (``"queue jobs"``). ``depends_on``: keys
    of resources that must exist first.
    """

    kind: Kind
    name: str
    resource_id: str
    neutral: str
    spec: Mapping[str, Any] = field(default_factory=dict)
    parent: str = ""
    depends_on: tuple[Key, ...] = ()

    @property
    def spec_hash(self) -> str:
        return spec_hash(self.spec)


@dataclass(frozen=True, slots=True)
class Observed(_Placed):
    """One resource found on Azure carrying this deployment's marks.

    ``spec_hash`` is what the last deploy stored with it (``None``: absent, as after a
    deploy cut short between creating a resource and marking it). ``details``: what
    apply needs to delete it (a role assignment's scope) or to use it (an identity's
    principal and client ids).
    """

    kind: Kind
    name: str
    resource_id: str
    spec_hash: str | None = None
    parent: str = ""
    details: Mapping[str, str] = field(default_factory=dict)


# -- resource ids ----------------------------------------------------------------------------


def group_resource_id(names: Names, provider: str, name: str) -> str:
    return (
        f"/subscriptions/{names.subscription}/resourceGroups/{names.resource_group}"
        f"/providers/{provider}/{name}"
    )


def identity_id(names: Names, identity: str) -> str:
    return group_resource_id(names, "Microsoft.ManagedIdentity/userAssignedIdentities", identity)


def plan_id(names: Names, plan: str) -> str:
    return group_resource_id(names, "Microsoft.Web/serverfarms", plan)


def site_id(names: Names, site: str) -> str:
    return group_resource_id(names, "Microsoft.Web/sites", site)


def account_id(names: Names, account: str) -> str:
    return group_resource_id(names, "Microsoft.Storage/storageAccounts", account)


def system_topic_id(names: Names) -> str:
    return group_resource_id(names, "Microsoft.EventGrid/systemTopics", names.storage_system_topic)
