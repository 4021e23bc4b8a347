"""One deployment (an app on a stage) and the stages that act on it, wired together.

:class:`Deployment` is what :class:`~portway_azure.provider.AzureProvider` hands each
command to: it names everything from the stage's ``subscription``, ``resource_group``
and ``location``, builds each app group's zip once, and runs desired -> observe -> plan
-> apply -> record. The control plane is reached through :class:`ArmClients`, the
record and lock through the data account's Blob service (the stage's
``connection_string`` when set, else the caller's Azure identity, which needs Storage
Blob Data Contributor on that account).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portway.errors import ConfigError
from portway_azure.deploy import record as records
from portway_azure.deploy.apply import apply_plan
from portway_azure.deploy.arm import ArmClients, ArmSender, Sender
from portway_azure.deploy.observe import observe
from portway_azure.deploy.planner import PROVIDER, plan_deploy, plan_destroy
from portway_azure.deploy.resources import AzureResource, Key, Kind, Observed
from portway_azure.naming import STATE_CONTAINER, Names, names_for_stage

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient

    from portway.config import StageConfig
    from portway.deploy import Plan
    from portway.model import Pipeline
    from portway_azure.package import AppArchive


def console_progress(line: str) -> None:
    """One line of deploy progress on the terminal (rich; plain when not a terminal)."""
    from rich.console import Console
    from rich.markup import escape

    Console(highlight=False, soft_wrap=True).print(f"[dim]{escape(line)}[/]")


@dataclass
class Deployment:
    """The deployment of app ``app_name`` on ``stage``; ``pipeline`` is ``None`` for destroy.

    ``arm``, ``sender`` and ``blobs`` default to the real clients of the stage; a
    caller may pass its own (``plan`` shows changes through a sender that only displays).
    """

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

    def observe(self) -> dict[Key, Observed]:
        return observe(self.arm_clients, self.names)

    def read_record(self, found: Mapping[Key, Observed]) -> records.Record | None:
        """The record, when the data account exists (a first deploy has none to read)."""
        if (Kind.STORAGE_ACCOUNT, self.names.storage_account) not in found:
            return None
        state = self.blob_service().get_container_client(STATE_CONTAINER)
        return records.read_record(state, self.names.app, self.names.stage)

    def plan(self) -> Plan:
        """What a deploy would change: read-only calls only."""
        self.names  # noqa: B018 -- a stage without its settings fails before the build
        desired = self.desired
        found = self.observe()
        self._observed = found
        record = self.read_record(found)
        return plan_deploy(self.app_name, self.stage.name, desired, found, record)

    def plan_destroy(self) -> Plan:
        found = self.observe()
        self._observed = found
        record = self.read_record(found)
        return plan_destroy(self.app_name, self.stage.name, found, record)

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

    def status(self) -> dict[str, Any]:
        """Deployed versus declared: missing, changed and extra resources (drift)."""
        return status_report(self.app_name, self.stage.name, self.desired, self.observe())


def status_report(
    app: str, stage: str, desired: tuple[AzureResource, ...], found: Mapping[Key, Observed]
) -> dict[str, Any]:
    """Drift as JSON: declared but ``missing``, marked with another spec (``changed``),
    marked for this app and stage but no longer declared (``extra``)."""
    wanted = {r.key: r for r in desired}
    missing = [f"{r.kind} {r.path}" for key, r in wanted.items() if key not in found]
    changed = [
        f"{r.kind} {r.path}"
        for key, r in wanted.items()
        if key in found and found[key].spec_hash != r.spec_hash
    ]
    extra = [f"{o.kind} {o.path}" for key, o in found.items() if key not in wanted]
    return {
        "app": app,
        "stage": stage,
        "provider": PROVIDER,
        "in_sync": not (missing or changed or extra),
        "missing": sorted(missing),
        "changed": sorted(changed),
        "extra": sorted(extra),
    }
