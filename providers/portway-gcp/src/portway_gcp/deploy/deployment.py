"""One deployment (an app on a stage) and the stages that act on it, wired together.

:class:`GcpDeployment` is what :class:`~portway_gcp.provider.GcpProvider` hands each
command to, and the Python entry point of the conformance harness and the tests::

    deployment = GcpDeployment(pipeline.name, stage, pipeline)
    plan = deployment.plan()          # read-only calls only
    deployment.apply(plan)            # dependency order, lock, record
    deployment.plan().is_empty        # True right after
    deployment.status()               # {"in_sync": ..., "missing", "changed", "extra"}
    GcpDeployment(app, stage).destroy()   # no pipeline needed: record + labels
    deployment.log.writes             # every mutating call made, in order

It names everything (:class:`~portway_gcp.naming.Names`), builds the source zip once
(:func:`portway_gcp.package.build_source_archive`), and runs desired -> observe -> plan
-> apply -> record. The project *number* names the Pub/Sub and Cloud Storage service
agents bound by :mod:`portway_gcp.iam`: the stage's ``project_number`` setting, or one
read-only lookup (Cloud Storage's service agent of the project).
"""

from __future__ import annotations

import functools
import socket
import sys
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portway.deploy.deployment import ReconciledDeployment
from portway.deploy.execute import CallLog, console_progress
from portway.errors import ConfigError, DeployError
from portway_gcp.deploy import record as records
from portway_gcp.deploy.apply import apply_plan
from portway_gcp.deploy.kinds import ApplyContext, emulator_skips
from portway_gcp.deploy.kinds.calls import fix_for
from portway_gcp.deploy.observe import observe
from portway_gcp.iam import check_project_number
from portway_gcp.naming import Names

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from portway.config import StageConfig
    from portway.deploy import Plan
    from portway.deploy.record import Record, StageRecords
    from portway.model import Pipeline
    from portway_gcp.clients import GcpClients
    from portway_gcp.deploy.observe import Observed
    from portway_gcp.deploy.resources import GcpResource, Kind
    from portway_gcp.package import SourceArchive

#: :attr:`GcpDeployment._observed_record` before :meth:`GcpDeployment.observe` read one.
_UNREAD: Any = object()


def python_runtime() -> str:
    """The Cloud Run functions runtime matching this interpreter (``python312``): the
    zip's requirements are pinned to what is installed here."""
    return f"python{sys.version_info.major}{sys.version_info.minor}"


#: How long an emulator may take to accept a connection before deploy says it is down.
EMULATOR_CONNECT_TIMEOUT = 3.0
_ENDPOINTS = ("pubsub_endpoint", "storage_endpoint", "api_endpoint", "iam_endpoint")


def check_emulators(stage: StageConfig) -> None:
    """Fail at once, naming the setting, when an emulator endpoint of ``stage`` refuses
    connections (Google's clients would retry a refused connection for two minutes)."""
    for setting in _ENDPOINTS:
        endpoint = str(stage.settings.get(setting) or "")
        if not endpoint:
            continue
        location = urllib.parse.urlsplit(endpoint if "//" in endpoint else f"//{endpoint}")
        host, port = location.hostname, location.port
        if host is None or port is None:
            continue
        try:
            socket.create_connection((host, port), timeout=EMULATOR_CONNECT_TIMEOUT).close()
        except OSError as error:
            raise DeployError(
                f"stage {stage.name!r}: nothing answers at {setting} = {endpoint!r} ({error}); "
                f"start the emulator (the stage's comment in {stage.source} says how), or fix "
                f"the endpoint"
            ) from None


@dataclass
class GcpDeployment(ReconciledDeployment):
    """The deployment of app ``app_name`` on ``stage``; ``pipeline`` is ``None`` for destroy.

    ``plan``, ``plan_destroy``, ``status``, ``deploy`` and ``destroy`` are the core's
    (:class:`~portway.deploy.deployment.ReconciledDeployment`); Google Cloud supplies
    the stages.

    ``clients`` defaults to :meth:`GcpClients.for_stage`. ``source``: a source zip built
    already (the harness shares one); built on first need otherwise. ``log`` counts
    every call (``log.reads``, ``log.writes``). ``function_urls``: portway function
    name -> the URL push subscriptions and Scheduler jobs call instead of the deployed
    function's (for a test harness serving the functions where the emulator runs none;
    it is not part of the spec, so set it before the first deploy of a stage).
    """

    app_name: str
    stage: StageConfig
    pipeline: Pipeline | None = None
    clients: GcpClients | None = None
    progress: Callable[[str], None] = field(default_factory=lambda: console_progress)
    source: SourceArchive | None = None
    log: CallLog = field(default_factory=CallLog)
    function_urls: Mapping[str, str] = field(default_factory=dict)
    _observed_record: Record | None = field(default=_UNREAD, init=False, repr=False)

    provider_name = "gcp"
    unrecorded = "labelled"

    def __post_init__(self) -> None:
        if self.clients is None:
            from portway_gcp.clients import GcpClients

            self.clients = GcpClients.for_stage(self.stage)

    @property
    def gcp(self) -> GcpClients:
        assert self.clients is not None
        return self.clients

    @functools.cached_property
    def names(self) -> Names:
        return Names(self.app_name, self.stage.name, self.gcp.project, self.gcp.region)

    @functools.cached_property
    def skips(self) -> frozenset[str]:
        """The calls this stage's emulators lack (``emulator_skips``, see :data:`SKIPS`)."""
        return emulator_skips(self.stage.settings, self.gcp.emulated)

    @functools.cached_property
    def project_number(self) -> str:
        configured = self.stage.settings.get("project_number")
        if configured:
            return check_project_number(str(configured))
        from google.api_core import exceptions

        try:
            email = self.log.read(
                "storage.projects.serviceAccount.get",
                self.gcp.storage.get_service_account_email,
                project=self.gcp.project,
            )
        except (exceptions.GoogleAPICallError, exceptions.RetryError) as error:
            operation = "storage.projects.serviceAccount.get"
            raise DeployError(
                f"cannot find the number of project {self.gcp.project!r} ({error}); "
                f"{fix_for(error, operation) or 'set project_number in the stage'}"
            ) from None
        # service-<number>@gs-project-accounts.iam.gserviceaccount.com
        return check_project_number(str(email).split("@")[0].removeprefix("service-"))

    @functools.cached_property
    def artifact(self) -> SourceArchive:
        """The source zip of the project, built once (the same bytes for the same inputs)."""
        if self.source is not None:
            return self.source
        from portway_gcp.package import build_source_archive

        if self.pipeline is None:
            raise ConfigError("the pipeline is needed to build the source zip")
        if self.stage.root is None:
            raise ConfigError(f"stage {self.stage.name!r}: the project folder is unknown")
        output = Path(self.stage.root) / ".portway" / "build" / f"gcp-{self.stage.name}.zip"
        return build_source_archive(self.pipeline, self.stage, output, progress=self.progress)

    @functools.cached_property
    def desired(self) -> tuple[GcpResource, ...]:
        from portway_gcp.deploy.desired import desired_resources

        if self.pipeline is None:
            raise ConfigError("the pipeline is needed to deploy")
        if not self.stage.app:
            raise ConfigError(f"stage {self.stage.name!r}: the app's module:attr is unknown")
        return desired_resources(
            self.pipeline,
            self.names,
            app=self.stage.app,
            source_sha256=self.artifact.sha256,
            runtime=python_runtime(),
            project_number=self.project_number,
        )

    @functools.cached_property
    def reachable(self) -> bool:
        """Checked once: on an emulator stage, every endpoint accepts connections."""
        if self.gcp.emulated:
            check_emulators(self.stage)
        return True

    @property
    def records(self) -> StageRecords:
        """The stage's record and lock in the state bucket (calls counted in :attr:`log`)."""
        return records.stage_records(self.gcp.storage, self.names, self.log)

    def plan(self) -> Plan:
        """What a deploy would change: read-only calls only."""
        self.skips  # noqa: B018 -- a bad emulator_skips fails before the build
        self.reachable  # noqa: B018 -- and so does an emulator that is down
        return super().plan()

    def observe(self) -> dict[tuple[Kind, str], Observed]:
        """Every resource of the deployment; IAM bindings and notifications come from the
        record, read here once and handed to the :meth:`read_record` that follows."""
        self.reachable  # noqa: B018 -- an emulator that is down fails in a second
        self._observed_record = self.records.read()
        return observe(self.gcp, self.names, self._observed_record, self.log)

    def read_record(self) -> Record | None:
        """The record :meth:`observe` just read (one read per plan), else read now."""
        record, self._observed_record = self._observed_record, _UNREAD
        return self.records.read() if record is _UNREAD else record

    def apply(self, plan: Plan, *, destroy: bool = False) -> None:
        """Carry out ``plan`` (from :meth:`plan`, or :meth:`plan_destroy` with ``destroy``)."""
        needs_source = not destroy and any(
            c.resource_type == "functions:function" and c.kind != "delete" for c in plan.changes
        )
        source = (self.artifact.path, self.artifact.sha256) if needs_source else None
        context = ApplyContext(
            self.gcp,
            self.names,
            self.log,
            source,
            self.skips,
            progress=self.progress,
            url_overrides={
                self.names.function_path(name): url for name, url in self.function_urls.items()
            },
        )
        apply_plan(plan, context, desired=None if destroy else self.desired)
