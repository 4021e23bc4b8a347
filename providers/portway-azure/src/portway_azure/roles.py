"""Role assignments of an app group's identity: least privilege from ``uses`` (pure).

Each app group (:mod:`portway_azure.grouping`) runs as one user-assigned managed
identity, named like its Function App. It gets built-in data roles on the exact
container, queue or Event Grid topic a use or its trigger names, never on the storage
account, the resource group or the subscription:

* bucket ``read()`` / ``list()`` -> Storage Blob Data Reader on the container;
* bucket ``write()`` / ``delete()`` -> Storage Blob Data Contributor on the container.
  Azure has no write-only blob data role, so on Azure a function that may write a
  container may also read it (:func:`portability_notes` says so); the Contributor
  covers reads, so a container gets one role, never both;
* queue ``send()`` -> Storage Queue Data Message Sender on the queue;
* topic ``publish()`` -> EventGrid Data Sender on the Event Grid topic;
* each queue the group's triggers read -> Storage Queue Data Reader and Storage Queue
  Data Message Processor on it, the two roles the Functions docs list for a queue
  trigger with an identity connection
  (https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#grant-permission-to-the-identity),
  and Storage Queue Data Message Sender on its ``-poison`` queue: after
  ``maxDequeueCount`` attempts the host *sends* the message there (the storage
  extension's ``AddMessageAndCreateIfNotExistsAsync`` creates the queue only when the
  send answers 404, and portway creates every poison queue at deploy), then deletes it
  from the trigger queue (a Processor right).

The Functions host's own storage (``AzureWebJobsStorage``: leases, timer schedules,
function keys) is a separate account per stage: :func:`host_storage_assignment`.

Role ids are Azure's built-in role definitions:
https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
"""

from __future__ import annotations

from dataclasses import dataclass

from portway.model import Action, Bucket, Queue, Topic
from portway_azure.grouping import AppGroup
from portway_azure.naming import Names


@dataclass(frozen=True, slots=True, order=True)
class Role:
    """A built-in Azure role: its display name and role definition id (a GUID)."""

    name: str
    id: str

    def definition(self, subscription: str) -> str:
        """The full role definition id a role assignment request takes."""
        return (
            f"/subscriptions/{subscription}/providers/Microsoft.Authorization/"
            f"roleDefinitions/{self.id}"
        )


# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage
STORAGE_BLOB_DATA_READER = Role("Storage Blob Data Reader", "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1")
STORAGE_BLOB_DATA_CONTRIBUTOR = Role(
    "Storage Blob Data Contributor", "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
)
STORAGE_QUEUE_DATA_READER = Role(
    "Storage Queue Data Reader", "19e7f393-937e-4f77-808e-94535e297925"
)
STORAGE_QUEUE_DATA_MESSAGE_SENDER = Role(
    "Storage Queue Data Message Sender", "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a"
)
STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR = Role(
    "Storage Queue Data Message Processor", "8a0f0c08-91a1-4084-bc3d-661d67233fed"
)
STORAGE_BLOB_DATA_OWNER = Role("Storage Blob Data Owner", "b7e6dc6d-f1e8-4753-8033-0f276bb0955b")
# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/integration
EVENTGRID_DATA_SENDER = Role("EventGrid Data Sender", "d5a91429-5739-47e2-a06b-3470a27159e7")

_BLOB_READ = frozenset({Action.READ, Action.LIST})
_BLOB_WRITE = frozenset({Action.WRITE, Action.DELETE})


@dataclass(frozen=True, slots=True, order=True)
class RoleAssignment:
    """``principal`` (an identity's name) holds ``role`` on the resource id ``scope``."""

    scope: str
    role: Role
    principal: str


def identity_name(group: AppGroup, names: Names) -> str:
    """The user-assigned managed identity of ``group``: named like its Function App."""
    return names.function_app(group.name)


def role_assignments(group: AppGroup, names: Names) -> list[RoleAssignment]:
    """Every role assignment ``group``'s identity needs, sorted by scope then role."""
    principal = identity_name(group, names)
    wanted: set[tuple[str, Role]] = set()
    container_actions: dict[str, set[Action]] = {}
    for resource, action in group.uses:
        if isinstance(resource, Bucket):
            container_actions.setdefault(resource.name, set()).add(action)
        elif isinstance(resource, Queue) and action is Action.SEND:
            wanted.add(
                (queue_scope(names, names.queue(resource.name)), STORAGE_QUEUE_DATA_MESSAGE_SENDER)
            )
        elif isinstance(resource, Topic) and action is Action.PUBLISH:
            wanted.add((topic_scope(names, names.topic(resource.name)), EVENTGRID_DATA_SENDER))
    for bucket, actions in container_actions.items():
        role = STORAGE_BLOB_DATA_CONTRIBUTOR if actions & _BLOB_WRITE else STORAGE_BLOB_DATA_READER
        wanted.add((container_scope(names, names.container(bucket)), role))
    for queue in group.processes:
        scope = queue_scope(names, queue.physical(names))
        wanted.add((scope, STORAGE_QUEUE_DATA_READER))
        wanted.add((scope, STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR))
        wanted.add((queue_scope(names, queue.poison(names)), STORAGE_QUEUE_DATA_MESSAGE_SENDER))
    return sorted(RoleAssignment(scope, role, principal) for scope, role in wanted)


def host_storage_assignment(group: AppGroup, names: Names) -> RoleAssignment:
    """Storage Blob Data Owner on the stage's *host* storage account for ``group``'s identity.

    The Functions host keeps leases, timer schedules and keys in ``AzureWebJobsStorage``
    and needs this role on it to connect with an identity
    (https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity);
    Flex Consumption reads the app's package from a container there. That account holds
    no pipeline data (:attr:`~portway_azure.naming.Names.host_storage_account`), so this
    account-wide role grants nothing on the data account.
    """
    scope = (
        f"/subscriptions/{names.subscription}/resourceGroups/{names.resource_group}"
        f"/providers/Microsoft.Storage/storageAccounts/{names.host_storage_account}"
    )
    return RoleAssignment(scope, STORAGE_BLOB_DATA_OWNER, identity_name(group, names))


def portability_notes(group: AppGroup) -> list[str]:
    """What ``group``'s identity may do on Azure beyond its declared uses, sorted."""
    notes: list[str] = []
    for bucket in sorted({r.name for r, _ in group.uses if isinstance(r, Bucket)}):
        actions = {a for r, a in group.uses if isinstance(r, Bucket) and r.name == bucket}
        if actions & _BLOB_WRITE and not actions & _BLOB_READ:
            declared = ", ".join(f"{bucket}.{a}()" for a in sorted(actions & _BLOB_WRITE))
            notes.append(
                f"{', '.join(group.functions)}: declares {declared} without "
                f"{bucket}.read(); Azure has no write-only blob role, so on Azure "
                f"{'these functions' if len(group.functions) > 1 else 'it'} may also "
                f"read and list {bucket}"
            )
    return notes


def storage_account_scope(names: Names) -> str:
    """The resource id of the stage's storage account (a parent of scopes, never one)."""
    return (
        f"/subscriptions/{names.subscription}/resourceGroups/{names.resource_group}"
        f"/providers/Microsoft.Storage/storageAccounts/{names.storage_account}"
    )


def container_scope(names: Names, container: str) -> str:
    return f"{storage_account_scope(names)}/blobServices/default/containers/{container}"


def queue_scope(names: Names, queue: str) -> str:
    return f"{storage_account_scope(names)}/queueServices/default/queues/{queue}"


def topic_scope(names: Names, topic: str) -> str:
    return (
        f"/subscriptions/{names.subscription}/resourceGroups/{names.resource_group}"
        f"/providers/Microsoft.EventGrid/topics/{topic}"
    )
