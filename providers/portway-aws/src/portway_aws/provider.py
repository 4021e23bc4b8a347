"""The ``aws`` provider object, created on first use by the registry.

Deploy arrives in a later version; until then the base class refuses plan, deploy,
destroy and status with a message that names the provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portway.model import Bucket, Queue, Topic
from portway.providers import Provider

if TYPE_CHECKING:
    from portway.config import StageConfig
    from portway.dataplane import DataPlane
    from portway.model import Pipeline


class AwsProvider(Provider):
    """Runs a pipeline on AWS: Lambda, SQS, SNS, S3 and EventBridge Scheduler."""

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
