"""Record: what a deploy left on Azure, kept in the stage's data account.

The container ``portway-state`` (:data:`~portway_azure.naming.STATE_CONTAINER`) of the
stage's data storage account holds, per app and stage, the record and the lock that
:class:`portway.deploy.record.StageRecords` manages (the document, the lock holder and
the messages are the core's). This module keeps what is Blob Storage's own:
:class:`BlobRecordStore` creates the lock and a first record with ``If-None-Match: *``
(Blob Storage refuses the second writer, so two deploys of one stage cannot
interleave) and replaces the record with ``If-Match`` on the ETag read before, so even
a writer that bypassed the lock cannot overwrite a record it did not read.
https://learn.microsoft.com/rest/api/storageservices/specifying-conditional-headers-for-blob-service-operations

Each record entry is named by the resource's path (``account/queue``: the second part
of its key) and keeps its ARM id and parent (``resource_id``, ``parent``).

The Blob SDK is imported only when a store method is called.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portway.deploy.record import Record, StageRecords
from portway.errors import DeployError
from portway_azure.naming import STATE_CONTAINER

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient, ContainerClient

    from portway_azure.deploy.resources import AzureResource
    from portway_azure.naming import Names


@dataclass(frozen=True, slots=True)
class BlobRecordStore:
    """A :class:`~portway.deploy.record.RecordStore` on the state container ``container``."""

    container: ContainerClient

    def create(self, key: str, body: bytes) -> bool:
        from azure.core import MatchConditions

        # IfMissing sends If-None-Match: * (the SDK takes no etag with it).
        return self._upload(key, body, match_condition=MatchConditions.IfMissing)

    def replace(self, key: str, body: bytes, version: str) -> bool:
        from azure.core import MatchConditions

        return self._upload(key, body, etag=version, match_condition=MatchConditions.IfNotModified)

    def _upload(self, key: str, body: bytes, **condition: Any) -> bool:
        from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError
        from azure.storage.blob import ContentSettings

        try:
            self.container.upload_blob(
                key,
                body,
                overwrite=True,
                content_settings=ContentSettings(content_type="application/json"),
                **condition,
            )
        except (ResourceExistsError, ResourceModifiedError):  # the condition was refused
            return False
        except AzureError as error:
            raise DeployError(
                f"cannot write {self.location(key)}: {error}; check that the data storage "
                f"account exists and that these credentials may write to it"
            ) from None
        return True

    def read(self, key: str) -> tuple[bytes, str | None] | None:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            downloaded = self.container.download_blob(key)
            data = downloaded.readall()
        except ResourceNotFoundError:  # the blob, or its container
            return None
        except AzureError as error:
            raise DeployError(f"cannot read {self.location(key)}: {error}") from None
        return data, downloaded.properties.etag

    def delete(self, key: str) -> None:
        # Gone already is fine: a destroy that deleted the data account took it along.
        from azure.core.exceptions import ResourceNotFoundError

        with contextlib.suppress(ResourceNotFoundError):
            self.container.delete_blob(key)

    def location(self, key: str) -> str:
        return f"{self.container.url}/{key}"

    def removal(self, key: str) -> str:
        return (
            f"az storage blob delete --account-name {self.container.account_name} "
            f"--container-name {self.container.container_name} --name {key}"
        )


def state_container(blobs: BlobServiceClient) -> ContainerClient:
    """The state container of the data account whose Blob service is ``blobs``."""
    return blobs.get_container_client(STATE_CONTAINER)


def stage_records(container: ContainerClient, names: Names) -> StageRecords:
    """The record and lock of the deployment ``names`` describes, in ``container``."""
    return StageRecords(BlobRecordStore(container), names.app, names.stage)


def deploy_record(names: Names, resources: Iterable[AzureResource]) -> Record:
    """The record of a deploy of ``resources`` finishing now; each entry keeps its
    ARM id and parent."""
    return Record.of(
        names.app,
        names.stage,
        resources,
        extra=lambda r: {"resource_id": r.resource_id, "parent": r.parent},
    )


def ensure_state_container(container: ContainerClient) -> None:
    """Create the state container if it is missing (private: no public access)."""
    from azure.core.exceptions import AzureError, ResourceExistsError

    try:
        container.create_container()
    except ResourceExistsError:
        return
    except AzureError as error:
        raise DeployError(
            f"cannot create the state container {container.url}: {error}; check that the "
            f"storage account exists and that these credentials may write to it"
        ) from None
