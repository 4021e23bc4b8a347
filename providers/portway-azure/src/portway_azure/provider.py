"""The ``azure`` provider object, created on first use by the registry.

Each deploy-side method opens a :class:`~portway_azure.deploy.deployment.Deployment`
(imported on call: the registry and ``portway validate`` never import an Azure SDK).
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
    from portway_azure.deploy.deployment import Deployment


class AzureProvider(Provider):
    """Runs a pipeline on Azure: Functions, Storage Queues, Blob Storage and Event Grid."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # plan() then apply() in one command share the deployment (its zips, what it saw).
        self._deployments: dict[tuple[str, str], Deployment] = {}

    def _deployment(
        self, app: str, stage: StageConfig, pipeline: Pipeline | None = None
    ) -> Deployment:
        from portway_azure.deploy.deployment import Deployment

        key = (app, stage.name)
        deployment = self._deployments.get(key)
        if deployment is None or (pipeline is not None and deployment.pipeline is not pipeline):
            deployment = Deployment(app, stage, pipeline)
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
        """One zip per Function App group (:func:`portway_azure.package.build_app_archives`)."""
        from portway_azure.package import build_app_archives

        return [archive.path for archive in build_app_archives(pipeline, stage, output)]

    def connect(self, pipeline: Pipeline, stage: StageConfig) -> DataPlane:
        """Data-plane clients for ``pipeline`` on ``stage`` (no request until the first call)."""
        from portway_azure.dataplane import connect_pipeline

        return connect_pipeline(pipeline, stage)

    def runtime_entry(self) -> str:
        """The v2-model app every Function App runs: the generated ``function_app.py``,
        which hands each invocation to :mod:`portway_azure.shim`."""
        return "function_app:app"

    def conformance_harness(self) -> Harness:
        """Plays the Functions host and Event Grid on Azurite (see :mod:`portway_azure.testing`)."""
        from portway_azure.testing.harness import AzuriteHarness

        return AzuriteHarness()

    def _check_plan(self, plan: Plan, app: str, stage: StageConfig) -> None:
        if plan.provider != self.name or plan.app != app or plan.stage != stage.name:
            raise DeployError(
                f"this plan is for {plan.app!r} on stage {plan.stage!r} ({plan.provider}), "
                f"not {app!r} on {stage.name!r}; plan again"
            )
