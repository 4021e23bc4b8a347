"""The ``gcp`` provider object, created on first use by the registry.

Each deploy-side method goes to a :class:`~portway_gcp.deploy.deployment.GcpDeployment`
(imported on call: the registry and ``portway validate`` never import Google's SDK),
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
    from portway_gcp.deploy.deployment import GcpDeployment


class GcpProvider(DeployingProvider):
    """Runs a pipeline on Google Cloud: Cloud Run functions, Pub/Sub, Cloud Storage."""

    def open_deployment(
        self, app: str, stage: StageConfig, pipeline: Pipeline | None
    ) -> GcpDeployment:
        from portway_gcp.deploy.deployment import GcpDeployment

        return GcpDeployment(app, stage, pipeline)

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
