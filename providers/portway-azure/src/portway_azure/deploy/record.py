"""Record: what a deploy left on Azure, kept in the stage's data account.

The container ``portway-state`` (:data:`~portway_azure.naming.STATE_CONTAINER`) of the
stage's data storage account holds, per app and stage:

* ``deployments/<app>/<stage>.json``: the record (every resource, its id and spec hash,
  and its spec for ``plan`` to show what changed). ``destroy`` works from it and from
  the marks on the resources, so it removes exactly what portway created even when the
  pipeline file changed or is gone.
* ``locks/<app>/<stage>.json``: held while a deploy or destroy applies changes, created
  with ``If-None-Match: *``: Blob Storage refuses the second writer, so two deploys of
  one stage cannot interleave; the loser gets an error naming the holder.

The record itself is written with ``If-Match`` on the ETag read before (or
``If-None-Match: *`` for the first), so even a writer that bypassed the lock cannot
overwrite a record it did not read.
https://learn.microsoft.com/rest/api/storageservices/specifying-conditional-headers-for-blob-service-operations

Every function here takes the state container's
:class:`~azure.storage.blob.ContainerClient` (a connection string for Azurite, the
account's key or an identity on Azure): the Blob SDK is imported only when called.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from portway.errors import DeployError
from portway_azure.deploy.resources import AzureResource, Key, Kind, path_of

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

RECORD_VERSION = 1


@dataclass(frozen=True, slots=True)
class RecordedResource:
    kind: Kind
    name: str
    resource_id: str
    spec_hash: str
    spec: Mapping[str, Any] = field(default_factory=dict)
    neutral: str = ""
    parent: str = ""

    @property
    def path(self) -> str:
        return path_of(self.parent, self.name)

    @property
    def key(self) -> Key:
        return (self.kind, self.path)


@dataclass(frozen=True, slots=True)
class Record:
    """The last completed deploy of one app on one stage. ``etag``: as read (for If-Match)."""

    app: str
    stage: str
    resources: tuple[RecordedResource, ...] = ()
    deployed_at: str = ""
    etag: str | None = None

    def by_key(self) -> dict[Key, RecordedResource]:
        return {r.key: r for r in self.resources}

    def to_json(self) -> bytes:
        document = {
            "version": RECORD_VERSION,
            "app": self.app,
            "stage": self.stage,
            "deployed_at": self.deployed_at,
            "resources": [
                {
                    "kind": str(r.kind),
                    "name": r.name,
                    "parent": r.parent,
                    "resource_id": r.resource_id,
                    "spec_hash": r.spec_hash,
                    "spec": dict(r.spec),
                    "neutral": r.neutral,
                }
                for r in self.resources
            ],
        }
        return json.dumps(document, indent=1, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, etag: str | None) -> Record:
        try:
            document = json.loads(data)
            resources = tuple(
                RecordedResource(
                    Kind(r["kind"]),
                    r["name"],
                    r["resource_id"],
                    r["spec_hash"],
                    r.get("spec", {}),
                    r.get("neutral", ""),
                    r.get("parent", ""),
                )
                for r in document["resources"]
            )
            return cls(document["app"], document["stage"], resources, document["deployed_at"], etag)
        except (ValueError, KeyError, TypeError) as error:
            raise DeployError(
                f"the deploy record is unreadable ({type(error).__name__}: {error}); "
                f"it was not written by this version of portway"
            ) from None


def recorded(resources: Sequence[AzureResource]) -> tuple[RecordedResource, ...]:
    return tuple(
        RecordedResource(r.kind, r.name, r.resource_id, r.spec_hash, r.spec, r.neutral, r.parent)
        for r in resources
    )


def record_blob(app: str, stage: str) -> str:
    return f"deployments/{app}/{stage}.json"


def lock_blob(app: str, stage: str) -> str:
    return f"locks/{app}/{stage}.json"


def _where(container: ContainerClient, blob: str) -> str:
    return f"{container.url}/{blob}"


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


def read_record(container: ContainerClient, app: str, stage: str) -> Record | None:
    """The stage's record, or ``None`` if it was never deployed (or the container is new)."""
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    blob = record_blob(app, stage)
    try:
        downloaded = container.download_blob(blob)
        data = downloaded.readall()
    except ResourceNotFoundError:
        return None
    except AzureError as error:
        raise DeployError(
            f"cannot read the deploy record {_where(container, blob)}: {error}"
        ) from None
    return Record.from_json(data, downloaded.properties.etag)


def write_record(container: ContainerClient, record: Record, previous: Record | None) -> None:
    """Write ``record``, conditional on ``previous`` still being the one stored.

    ``previous`` ``None`` (or without an ETag): ``If-None-Match: *``, so a record written
    meanwhile is never overwritten. Raises :class:`DeployError` when the condition fails.
    """
    from azure.core import MatchConditions
    from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError
    from azure.storage.blob import ContentSettings

    blob = record_blob(record.app, record.stage)
    body = record.to_json()
    settings = ContentSettings(content_type="application/json")
    try:
        if previous is not None and previous.etag:
            container.upload_blob(
                blob,
                body,
                overwrite=True,
                content_settings=settings,
                etag=previous.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        else:
            # IfMissing sends If-None-Match: * (the SDK takes no etag with it).
            container.upload_blob(
                blob,
                body,
                overwrite=True,
                content_settings=settings,
                match_condition=MatchConditions.IfMissing,
            )
    except (ResourceModifiedError, ResourceExistsError):
        raise DeployError(
            f"the deploy record of {record.app!r} on stage {record.stage!r} changed while "
            f"this deploy ran (another deploy finished first); run 'portway deploy "
            f"--stage {record.stage}' again to reconcile"
        ) from None
    except AzureError as error:
        raise DeployError(
            f"cannot write the deploy record {_where(container, blob)}: {error}"
        ) from None


def delete_record(container: ContainerClient, app: str, stage: str) -> None:
    """Forget the stage's deployment (after a destroy); a missing record is fine."""
    from azure.core.exceptions import ResourceNotFoundError

    with contextlib.suppress(ResourceNotFoundError):
        container.delete_blob(record_blob(app, stage))


def acquire_lock(container: ContainerClient, app: str, stage: str, operation: str) -> None:
    """Take the stage's lock, or raise :class:`DeployError` naming who holds it."""
    from azure.core import MatchConditions
    from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError

    blob = lock_blob(app, stage)
    holder = {
        "operation": operation,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        container.upload_blob(
            blob,
            json.dumps(holder).encode("utf-8"),
            overwrite=True,
            match_condition=MatchConditions.IfMissing,
        )
        return
    except (ResourceExistsError, ResourceModifiedError):
        pass
    except AzureError as error:
        raise DeployError(
            f"cannot take the deploy lock {_where(container, blob)}: {error}"
        ) from None
    current = _read_lock(container, blob)
    if current and _holder_is_dead(current):
        # Our own machine, a process that is gone: a deploy that was killed. Take over.
        release_lock(container, app, stage)
        return acquire_lock(container, app, stage, operation)
    who = (
        f"{current.get('operation', 'a deploy')} from {current.get('host')} "
        f"(pid {current.get('pid')}) since {current.get('since')}"
        if current
        else "another deploy"
    )
    raise DeployError(
        f"stage {stage!r} of {app!r} is locked by {who}; wait for it to finish. If no "
        f"deploy is running, delete the lock blob {_where(container, blob)} "
        f"(az storage blob delete --container-name {container.container_name} --name {blob})"
    )


def _read_lock(container: ContainerClient, blob: str) -> dict[str, Any]:
    from azure.core.exceptions import AzureError

    try:
        value = json.loads(container.download_blob(blob).readall())
    except (AzureError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _holder_is_dead(holder: Mapping[str, Any]) -> bool:
    if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
        return False
    pid = int(holder["pid"])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def release_lock(container: ContainerClient, app: str, stage: str) -> None:
    """Release the stage's lock; gone already (its account deleted by destroy) is fine."""
    from azure.core.exceptions import ResourceNotFoundError

    with contextlib.suppress(ResourceNotFoundError):
        container.delete_blob(lock_blob(app, stage))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
