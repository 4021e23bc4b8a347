"""One deployment (an app on a stage) and the stages that act on it, wired together.

:class:`Deployment` is what :class:`~portway_azure.provider.AzureProvider` hands each
command to: it names everything from the stage's ``subscription``, ``resource_group``
and ``location``, builds each app group's zip once, and runs desired -> observe -> plan
-> apply -> record: ``plan``, ``plan_destroy``, ``status``, ``deploy`` and ``destroy`` are
the core's (:class:`~portway.deploy.deployment.ReconciledDeployment`); Azure supplies
the stages. The control plane is reached through :class:`ArmClients`, the
record and lock through the data account's Blob service (the stage's
``connection_string`` when set, else the caller's Azure identity, which needs Storage
Blob Data Contributor on that account).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from portway.deploy.deployment import ReconciledDeployment
from portway.deploy.execute import console_progress
from portway.errors import ConfigError
from portway_azure.deploy import record as records
from portway_azure.deploy.apply import apply_plan
from portway_azure.deploy.arm import ArmClients, ArmSender, Sender
from portway_azure.deploy.observe import observe
from portway_azure.deploy.resources import AzureResource, Key, Kind, Observed
from portway_azure.naming import Names, names_for_stage

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient

    from portway.config import StageConfig
    from portway.deploy import Plan
    from portway.deploy.record import Record
    from portway.model import Pipeline
    from portway_azure.package import AppArchive


@dataclass
class Deployment(ReconciledDeployment):
    """The deployment of app ``app_name`` on ``stage``; ``pipeline`` is ``None`` for destroy.

    ``arm``, ``sender`` and ``blobs`` default to the real clients of the stage; a
    caller may pass its own (``plan`` shows changes through a sender that only displays).
    """

    provider_name = "azure"

    app_name: str
    stage: StageConfig
    pipeline: Pipeline | None = None
    arm: ArmClients | None = None
    sender: Sender | None = None
    blobs: Callable[[], BlobServiceClient] | None = None
    progress: Callable[[str], None] = field(default_factory=lambda: console_progress)
    #: What the last plan observed: apply reads identities' and topics' ids from it.
    _observed: dict[Key, Observed] | None = field(default=None, init=False, repr=False)

    @functools.cached_property
    def names(self) -> Names:
        return names_for_stage(self.app_name, self.stage)

    @property
    def arm_clients(self) -> ArmClients:
        if self.arm is None:
            self.arm = ArmClients(self.names.subscription)
        return self.arm

    def blob_service(self) -> BlobServiceClient:
        """The data account's Blob service (record, lock, the empty-container check)."""
        if self.blobs is not None:
            return self.blobs()
        return self._stage_blobs

    @functools.cached_property
    def _stage_blobs(self) -> BlobServiceClient:
        from portway_azure.clients import AzureClients

        service: BlobServiceClient = AzureClients.for_stage(
            self.stage, storage_account=self.names.storage_account
        ).blob_service
        return service

    @functools.cached_property
    def archives(self) -> dict[str, AppArchive]:
        """Each app group's zip, by group name, built once (same inputs, same bytes)."""
        from portway_azure.package import build_app_archives

        if self.pipeline is None:
            raise ConfigError("the pipeline is needed to package it")  # pragma: no cover
        root = self._root()
        output = root / ".portway" / "build" / f"azure-{self.stage.name}"
        built = build_app_archives(self.pipeline, self.stage, output)
        return {archive.group: archive for archive in built}

    def _root(self) -> Path:
        if self.stage.root is None:
            raise ConfigError(f"stage {self.stage.name!r}: the project folder is unknown")
        return Path(self.stage.root)

    @functools.cached_property
    def desired(self) -> tuple[AzureResource, ...]:
        from portway_azure.deploy.desired import desired_resources

        if self.pipeline is None:
            raise ConfigError("the pipeline is needed to deploy")  # pragma: no cover
        if not self.stage.app:
            raise ConfigError(f"stage {self.stage.name!r}: the app's module:attr is unknown")
        packages = {group: archive.sha256 for group, archive in self.archives.items()}
        return desired_resources(self.pipeline, self.names, app=self.stage.app, packages=packages)

    def plan(self) -> Plan:
        """What a deploy would change: read-only calls only."""
        self.names  # noqa: B018 -- a stage without its settings fails before the build
        return super().plan()

    def observe(self) -> dict[Key, Observed]:
        """What exists, kept for :meth:`read_record` and :meth:`apply` (identities' and
        topics' ids)."""
        found = self.list_deployed()
        self._observed = found
        return found

    def list_deployed(self) -> dict[Key, Observed]:
        """The ARM listing calls of :func:`~portway_azure.deploy.observe.observe`."""
        return observe(self.arm_clients, self.names)

    def read_record(self) -> Record | None:
        """The record, when the data account exists (a first deploy has none to read)."""
        found = self._observed if self._observed is not None else self.observe()
        if (Kind.STORAGE_ACCOUNT, self.names.storage_account) not in found:
            return None
        state = records.state_container(self.blob_service())
        return records.stage_records(state, self.names).read()

    def apply(self, plan: Plan, *, destroy: bool = False) -> None:
        found = self._observed if self._observed is not None else self.observe()
        if self.sender is None:
            packages = {}
            if not destroy and any(c.resource_type == str(Kind.FUNCTION_APP) for c in plan.changes):
                packages = {
                    self.names.function_app(group): archive.path
                    for group, archive in self.archives.items()
                }
            self.sender = ArmSender(self.arm_clients, packages)
        apply_plan(
            plan,
            self.sender,
            self.names,
            self.blob_service,
            desired=None if destroy else self.desired,
            observed=found,
            progress=self.progress,
        )
