"""The ``azure`` provider object, created on first use by the registry.

Each deploy-side method goes to a :class:`~portway_azure.deploy.deployment.Deployment`
(imported on call: the registry and ``portway validate`` never import an Azure SDK),
wired by the core's :class:`~portway.deploy.provider.DeployingProvider`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portway.deploy.provider import DeployingProvider

if TYPE_CHECKING:
    from pathlib import Path

    from portway.config import StageConfig
    from portway.dataplane import DataPlane
    from portway.model import Pipeline
    from portway.testing.harness import Harness
    from portway_azure.deploy.deployment import Deployment


class AzureProvider(DeployingProvider):
    """Runs a pipeline on Azure: Functions, Storage Queues, Blob Storage and Event Grid."""

    def open_deployment(
        self, app: str, stage: StageConfig, pipeline: Pipeline | None
    ) -> Deployment:
        from portway_azure.deploy.deployment import Deployment

        return Deployment(app, stage, pipeline)

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
