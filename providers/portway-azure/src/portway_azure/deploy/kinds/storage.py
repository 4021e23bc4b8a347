"""Requests of the storage kinds: accounts (PUT), containers and queues (PUT to create,
PATCH to update: their PUT refuses one that exists), all through azure-mgmt-storage."""

from __future__ import annotations

from portway_azure.deploy import marks
from portway_azure.deploy.requests import ArmRequest, Builder, KindRequests, Resolved, in_group
from portway_azure.deploy.resources import AzureResource, Kind, Observed
from portway_azure.naming import Names


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
            in_group(names, ("account_name", resource.name)),
            "parameters",
            body,
        )
    ]


def _delete_storage_account(found: Observed, names: Names) -> list[ArmRequest]:
    arguments = in_group(names, ("account_name", found.name))
    return [ArmRequest("storage.storage_accounts.delete", arguments)]


def _container(method: str) -> Builder:
    def build(resource: AzureResource, names: Names, _: Resolved) -> list[ArmRequest]:
        from azure.mgmt.storage.models import BlobContainer, ContainerProperties

        body = BlobContainer(
            container_properties=ContainerProperties(
                metadata=marks.metadata(names, resource.spec_hash), public_access="None"
            )
        )
        arguments = in_group(
            names, ("account_name", resource.parent), ("container_name", resource.name)
        )
        return [ArmRequest(f"storage.blob_containers.{method}", arguments, "blob_container", body)]

    return build


def _delete_container(found: Observed, names: Names) -> list[ArmRequest]:
    arguments = in_group(names, ("account_name", found.parent), ("container_name", found.name))
    return [ArmRequest("storage.blob_containers.delete", arguments)]


def _queue(method: str) -> Builder:
    def build(resource: AzureResource, names: Names, _: Resolved) -> list[ArmRequest]:
        from azure.mgmt.storage.models import QueueProperties, StorageQueue

        body = StorageQueue(
            queue_properties=QueueProperties(metadata=marks.metadata(names, resource.spec_hash))
        )
        arguments = in_group(
            names, ("account_name", resource.parent), ("queue_name", resource.name)
        )
        return [ArmRequest(f"storage.queue.{method}", arguments, "queue", body)]

    return build


def _delete_queue(found: Observed, names: Names) -> list[ArmRequest]:
    arguments = in_group(names, ("account_name", found.parent), ("queue_name", found.name))
    return [ArmRequest("storage.queue.delete", arguments)]


REQUESTS = {
    Kind.STORAGE_ACCOUNT: KindRequests(_storage_account, _delete_storage_account),
    Kind.STORAGE_CONTAINER: KindRequests(
        _container("create"), _delete_container, _container("update")
    ),
    Kind.STORAGE_QUEUE: KindRequests(_queue("create"), _delete_queue, _queue("update")),
}
