"""The data-plane containers and queues of a deployment, made in Azurite.

What deploy would create in the stage's data account (the desired
``storage:container`` and ``storage:queue`` resources), made with the storage SDKs
against Azurite's one account. A run that finds them left by a previous one (a shared
Azurite) empties them, so each run starts from nothing.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portway_azure.deploy.resources import AzureResource

#: (``"container"`` or ``"queue"``, name): what :func:`create_storage` made.
Created = list[tuple[str, str]]


def create_storage(resources: tuple[AzureResource, ...], connection: str) -> Created:
    """Create (or empty) each container and queue of ``resources``; return what they are."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueServiceClient

    from portway_azure.deploy.resources import Kind

    created: Created = []
    with (
        BlobServiceClient.from_connection_string(connection) as blobs,
        QueueServiceClient.from_connection_string(connection) as queues,
    ):
        for resource in resources:
            if resource.kind is Kind.STORAGE_CONTAINER:
                container = blobs.get_container_client(resource.name)
                try:
                    container.create_container()
                except ResourceExistsError:
                    for blob in container.list_blob_names():
                        container.delete_blob(blob)
                created.append(("container", resource.name))
            elif resource.kind is Kind.STORAGE_QUEUE:
                queue = queues.get_queue_client(resource.name)
                try:
                    queue.create_queue()
                except ResourceExistsError:
                    queue.clear_messages()
                created.append(("queue", resource.name))
    return created


def remove_storage(created: Created, connection: str) -> None:
    """Delete what :func:`create_storage` made (best effort: a stop must not fail)."""
    if not created:
        return
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueServiceClient

    with (
        BlobServiceClient.from_connection_string(connection) as blobs,
        QueueServiceClient.from_connection_string(connection) as queues,
    ):
        for kind, name in created:
            with contextlib.suppress(Exception):
                if kind == "container":
                    blobs.delete_container(name)
                else:
                    queues.delete_queue(name)
