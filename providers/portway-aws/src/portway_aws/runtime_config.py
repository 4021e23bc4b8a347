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
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from portway.errors import ConfigError

APP = "PORTWAY_APP"
FUNCTION = "PORTWAY_FUNCTION"
STAGE = "PORTWAY_STAGE"
RESOURCES = "PORTWAY_AWS_RESOURCES"

_KINDS = ("buckets", "queues", "topics")


@dataclass(frozen=True, slots=True)
class ResourceMap:
    """Neutral resource names -> AWS identities (bucket name, queue URL, topic ARN).

    Lookups raise :class:`~portway.errors.ConfigError` for a name the map lacks: the
    function was deployed without it (its uses changed since the last deploy).
    """

    buckets: Mapping[str, str] = field(default_factory=dict)
    queues: Mapping[str, str] = field(default_factory=dict)
    topics: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str) -> ResourceMap:
        """Parse the ``PORTWAY_AWS_RESOURCES`` value; :class:`ConfigError` if malformed."""
        try:
            document = json.loads(text)
        except ValueError as error:
            raise ConfigError(f"{RESOURCES} is not JSON ({error}); redeploy the function") from None
        if not isinstance(document, dict):
            raise ConfigError(f"{RESOURCES} must be a JSON object of {', '.join(_KINDS)}")
        unknown = sorted(set(document) - set(_KINDS))
        if unknown:
            raise ConfigError(f"{RESOURCES} has unknown sections {unknown}; expected {_KINDS}")
        sections: dict[str, dict[str, str]] = {}
        for kind in _KINDS:
            section = document.get(kind, {})
            if not isinstance(section, dict) or not all(
                isinstance(name, str) and isinstance(value, str) and value
                for name, value in section.items()
            ):
                raise ConfigError(
                    f"{RESOURCES}: {kind!r} must map neutral names to non-empty strings"
                )
            sections[kind] = dict(section)
        return cls(**sections)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ResourceMap:
        """Read ``PORTWAY_AWS_RESOURCES`` (an absent variable is an empty map)."""
        environ = os.environ if environ is None else environ
        text = environ.get(RESOURCES)
        return cls() if text is None else cls.from_json(text)

    def to_json(self) -> str:
        """The compact JSON form, keys sorted (deterministic, so redeploys diff clean)."""
        document = {kind: dict(getattr(self, kind)) for kind in _KINDS if getattr(self, kind)}
        return json.dumps(document, separators=(",", ":"), sort_keys=True)

    def to_environment(self) -> dict[str, str]:
        """``{"PORTWAY_AWS_RESOURCES": ...}``, to merge into a function's environment."""
        return {RESOURCES: self.to_json()}

    def bucket(self, name: str) -> str:
        return self._lookup("buckets", "bucket", name)

    def queue_url(self, name: str) -> str:
        return self._lookup("queues", "queue", name)

    def topic_arn(self, name: str) -> str:
        return self._lookup("topics", "topic", name)

    def _lookup(self, section: str, kind: str, name: str) -> str:
        value = getattr(self, section).get(name)
        if value is None:
            raise ConfigError(
                f"{kind} {name!r} is not among the resources this function was deployed "
                f"with ({RESOURCES}); redeploy with 'portway deploy' after changing its uses"
            )
        return str(value)


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
