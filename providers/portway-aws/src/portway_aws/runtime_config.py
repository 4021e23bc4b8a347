"""What a deployed Lambda function is told through its environment, and how it is read.

The contract between ``portway deploy`` (which sets these variables on every function)
and the handler shim :mod:`portway_aws.handler` (which reads them at cold start):

``PORTWAY_APP``
    The pipeline as ``"module:attr"`` (``"pipeline:app"``), importable from the Lambda
    task root (``LAMBDA_TASK_ROOT``, which Lambda puts on ``sys.path``).
``PORTWAY_FUNCTION``
    The portway function this Lambda runs, by its Python name (``"transform"``).
``PORTWAY_STAGE``
    The stage name (``"prod"``), named in error messages ("run 'portway deploy --stage
    prod'").
``PORTWAY_AWS_RESOURCES``
    Compact JSON naming, for each resource the function's ``uses=[...]`` and trigger
    name, its AWS identity::

        {"buckets": {"lake": "acme-prod-lake-1a2b3c"},
         "queues": {"transform-jobs": "https://sqs.eu-west-1.amazonaws.com/123/..."},
         "topics": {"loaded": "arn:aws:sns:eu-west-1:123:..."}}

    Keys are the neutral names of the pipeline; values are the S3 bucket name, the SQS
    queue URL and the SNS topic ARN. A kind with no entry may be left out. Produce it
    with :meth:`ResourceMap.to_environment`; the shim parses it once per container.
``AWS_REGION`` and ``AWS_ENDPOINT_URL``
    The standard variables: Lambda sets ``AWS_REGION``; ``AWS_ENDPOINT_URL`` (honoured
    by boto3 itself) points every client at one endpoint, such as a moto server in tests.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass

from portway import runtime_resources
from portway.errors import ConfigError
from portway.runtime_resources import APP, FUNCTION, STAGE

RESOURCES = "PORTWAY_AWS_RESOURCES"

__all__ = ["APP", "FUNCTION", "RESOURCES", "STAGE", "ResourceMap", "RuntimeConfig", "current"]


class ResourceMap(runtime_resources.ResourceMap):
    """Neutral resource names -> AWS identities (bucket name, queue URL, topic ARN).

    Parsing, validation and the JSON form are the core's
    (:class:`portway.runtime_resources.ResourceMap`). Lookups raise
    :class:`~portway.errors.ConfigError` for a name the map lacks: the function was
    deployed without it (its uses changed since the last deploy).
    """

    __slots__ = ()
    VARIABLE = RESOURCES

    def bucket(self, name: str) -> str:
        return self.lookup("buckets", name)

    def queue_url(self, name: str) -> str:
        return self.lookup("queues", name)

    def topic_arn(self, name: str) -> str:
        return self.lookup("topics", name)


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """Everything the environment contract tells a deployed function."""

    app: str
    function: str
    stage: str
    resources: ResourceMap

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> RuntimeConfig:
        """Read the contract; :class:`ConfigError` naming each missing variable."""
        environ = os.environ if environ is None else environ
        missing = [name for name in (APP, FUNCTION, STAGE) if not environ.get(name)]
        if missing:
            raise ConfigError(
                f"this Lambda function lacks {', '.join(missing)} in its environment: "
                f"it was not deployed by 'portway deploy', or its configuration was edited"
            )
        return cls(
            app=environ[APP],
            function=environ[FUNCTION],
            stage=environ[STAGE],
            resources=ResourceMap.from_environment(environ),
        )


@functools.cache
def current() -> RuntimeConfig:
    """The contract of this container, read once (Lambda's environment never changes)."""
    return RuntimeConfig.from_environment()
