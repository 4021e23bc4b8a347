"""The ``gcp`` provider object, created on first use by the registry.

Each deploy-side method opens a :class:`~portway_gcp.deploy.deployment.GcpDeployment`
(imported on call: the registry and ``portway validate`` never import Google's SDK).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from portway.errors import DeployError
from portway.providers import Provider

if TYPE_CHECKING:
    from pathlib import Path

    from portway.config import StageConfig
    from portway.dataplane import DataPlane
    from portway.deploy import Plan
    from portway.model import Pipeline
    from portway.testing.harness import Harness
    from portway_gcp.deploy.deployment import GcpDeployment


class GcpProvider(Provider):
    """Runs a pipeline on Google Cloud: Cloud Run functions, Pub/Sub, Cloud Storage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # plan() then apply() in one command share the deployment (and its built zip).
        self._deployments: dict[tuple[str, str], GcpDeployment] = {}

    def _deployment(
        self, app: str, stage: StageConfig, pipeline: Pipeline | None = None
    ) -> GcpDeployment:
        from portway_gcp.deploy.deployment import GcpDeployment

        key = (app, stage.name)
        deployment = self._deployments.get(key)
        if deployment is None or (pipeline is not None and deployment.pipeline is not pipeline):
            deployment = GcpDeployment(app, stage, pipeline)
            self._deployments[key] = deployment
        return deployment

    def plan(self, pipeline: Pipeline, stage: StageConfig) -> Plan:
        return self._deployment(pipeline.name, stage, pipeline).plan()

    def apply(self, plan: Plan, pipeline: Pipeline, stage: StageConfig) -> None:
        self._check_plan(plan, pipeline.name, stage)
        self._deployment(pipeline.name, stage, pipeline).apply(plan)

    def plan_destroy(self, app: str, stage: StageConfig) -> Plan:
        return self._deployment(app, stage).plan_destroy()

    def destroy(self, plan: Plan, app: str, stage: StageConfig) -> None:
        self._check_plan(plan, app, stage)
        self._deployment(app, stage).apply(plan, destroy=True)
        self._deployments.pop((app, stage.name), None)

    def status(self, pipeline: Pipeline, stage: StageConfig) -> Mapping[str, Any]:
        return self._deployment(pipeline.name, stage, pipeline).status()

    def package(self, pipeline: Pipeline, stage: StageConfig, output: Path) -> list[Path]:
        from portway_gcp.package import build_source_archive

        target = output / f"{pipeline.name}-{stage.name}-source.zip"
        return [build_source_archive(pipeline, stage, target).path]

    def connect(self, pipeline: Pipeline, stage: StageConfig) -> DataPlane:
        """Data-plane clients for ``pipeline`` on ``stage``, named as deploy names them."""
        from portway_gcp.dataplane import connect_pipeline

        return connect_pipeline(pipeline, stage)

    def runtime_entry(self) -> str:
        """The shim every portway Cloud Run function serves (see :mod:`portway_gcp.main`)."""
        return "portway_gcp.main:handle"

    def conformance_harness(self) -> Harness:
        """Deploys on Google's emulators and plays Cloud Run, GCS notifications and Cloud
        Scheduler (see :mod:`portway_gcp.testing.harness`)."""
        from portway_gcp.testing.harness import GcpEmulatorHarness

        return GcpEmulatorHarness()

    def _check_plan(self, plan: Plan, app: str, stage: StageConfig) -> None:
        if plan.provider != self.name or plan.app != app or plan.stage != stage.name:
            raise DeployError(
                f"this plan is for {plan.app!r} on stage {plan.stage!r} ({plan.provider}), "
                f"not {app!r} on {stage.name!r}; plan again"
            )
