"""The ``aws`` provider object, created on first use by the registry.

Each deploy-side method goes to a :class:`~portway_aws.deploy.deployment.Deployment`
(imported on call: the registry and ``portway validate`` never import boto3), wired by
the core's :class:`~portway.deploy.provider.DeployingProvider`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portway.deploy.provider import DeployingProvider
from portway.errors import DeployError
from portway.model import Bucket, Queue, Topic

if TYPE_CHECKING:
    from pathlib import Path

    from portway.config import StageConfig
    from portway.dataplane import DataPlane
    from portway.model import Pipeline
    from portway.testing.harness import Harness
    from portway_aws.deploy.deployment import Deployment


class AwsProvider(DeployingProvider):
    """Runs a pipeline on AWS: Lambda, SQS, SNS, S3 and EventBridge Scheduler."""

    def open_deployment(
        self, app: str, stage: StageConfig, pipeline: Pipeline | None
    ) -> Deployment:
        from portway_aws.deploy.deployment import Deployment

        return Deployment(app, stage, pipeline)

    def package(self, pipeline: Pipeline, stage: StageConfig, output: Path) -> list[Path]:
        from portway_aws.deploy.deployment import Deployment
        from portway_aws.package import build_lambda_zip

        if stage.root is None:
            raise DeployError(f"stage {stage.name!r}: the project folder is unknown")
        target = output / f"{pipeline.name}-{stage.name}-lambda.zip"
        deployment = self.deployment(pipeline.name, stage, pipeline)
        assert isinstance(deployment, Deployment)
        artifact = build_lambda_zip(stage.root, architecture=deployment.architecture, output=target)
        return [artifact.path]

    def connect(self, pipeline: Pipeline, stage: StageConfig) -> DataPlane:
        """Data-plane clients for ``pipeline`` on ``stage``, named as deploy names them.

        Asks STS for the account (bucket names depend on it); the clients themselves are
        created on the first call.
        """
        from portway_aws.dataplane import AwsDataPlane
        from portway_aws.naming import Names
        from portway_aws.runtime_config import ResourceMap
        from portway_aws.session import AwsClients

        clients = AwsClients.for_stage(stage)
        account, partition = clients.identity
        names = Names(pipeline.name, stage.name, account, clients.region, partition)
        buckets: dict[str, str] = {}
        queues: dict[str, str] = {}
        topics: dict[str, str] = {}
        for resource in pipeline.resources.values():
            if isinstance(resource, Bucket):
                buckets[resource.name] = names.bucket(resource.name)
            elif isinstance(resource, Queue):
                queues[resource.name] = names.queue_url(names.queue(resource.name))
            elif isinstance(resource, Topic):
                topics[resource.name] = names.topic_arn(resource.name)
        return AwsDataPlane(
            ResourceMap(buckets=buckets, queues=queues, topics=topics),
            stage=stage.name,
            region=clients.region,
            endpoint_url=clients.endpoint_url,
            profile=clients.profile,
        )

    def runtime_entry(self) -> str:
        """The shim every portway Lambda function runs (see :mod:`portway_aws.handler`).

        ``module:attr`` as the core's contract spells it; Lambda's ``Handler`` setting
        spells the same thing ``portway_aws.handler.handler``.
        """
        return "portway_aws.handler:handler"

    def conformance_harness(self) -> Harness:
        """Deploys on moto and plays Lambda and Scheduler (see :mod:`portway_aws.testing`)."""
        from portway_aws.testing.harness import AwsMotoHarness

        return AwsMotoHarness()
