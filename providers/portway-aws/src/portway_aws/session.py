"""boto3 clients for deploy-time work on one stage, created on first use.

Only the deploy, plan, destroy and status commands come here; the handler shim's data
plane has its own lazily created clients. Settings come from the stage (``region``,
``profile``, ``endpoint_url``); the standard ``AWS_ENDPOINT_URL`` works too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from portway.deploy.execute import CallLog
from portway.errors import ConfigError, DeployError

if TYPE_CHECKING:
    from portway.config import StageConfig

# Retries for throttling and transient errors, as the AWS CLI's "standard" mode.
_RETRIES = {"mode": "standard", "max_attempts": 5}
#: The AWS operations that change nothing, by their name's verb.
READ_ONLY = re.compile(r"\.(Get|List|Describe|Head)[A-Za-z]*$")


class AwsClients:
    """One stage's boto3 clients: ``clients.sqs``, ``clients.lambda_`` ... (lazy, cached)."""

    def __init__(
        self,
        region: str,
        *,
        profile: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self.region = region
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.calls: list[str] = []
        """Every API operation made, in order (``"sqs.CreateQueue"``): plan and tests count them."""

    @classmethod
    def for_stage(cls, stage: StageConfig) -> AwsClients:
        settings: Mapping[str, Any] = stage.settings
        region = settings.get("region")
        if not region:
            raise ConfigError(
                f"stage {stage.name!r}: the aws provider needs a region; add "
                f'region = "eu-west-1" (for instance) to [stages.{stage.name}]'
            )
        return cls(
            str(region),
            profile=settings.get("profile"),
            endpoint_url=settings.get("endpoint_url"),
        )

    @functools.cached_property
    def _session(self) -> Any:
        import boto3

        try:
            return boto3.session.Session(profile_name=self.profile, region_name=self.region)
        except Exception as error:  # botocore's ProfileNotFound and kin
            raise ConfigError(f"AWS profile {self.profile!r}: {error}") from None

    def client(self, service: str) -> Any:
        """The boto3 client of ``service`` (created once), its calls recorded in :attr:`calls`."""
        return self._client(service)

    @functools.cache  # noqa: B019 -- one client per service for the object's lifetime
    def _client(self, service: str) -> Any:
        from botocore.config import Config

        client = self._session.client(
            service,
            endpoint_url=self.endpoint_url,
            config=Config(retries=_RETRIES),
        )
        client.meta.events.register("before-call.*.*", self._count)
        return client

    def _count(self, model: Any, **_: Any) -> None:
        self.calls.append(f"{model.service_model.service_name}.{model.name}")

    @property
    def log(self) -> CallLog:
        """:attr:`calls` told apart: reads (:data:`READ_ONLY`) and writes (the rest)."""
        return CallLog([(call, not READ_ONLY.search(call)) for call in self.calls])

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def sqs(self) -> Any:
        return self.client("sqs")

    @property
    def sns(self) -> Any:
        return self.client("sns")

    @property
    def iam(self) -> Any:
        return self.client("iam")

    @property
    def lambda_(self) -> Any:
        return self.client("lambda")

    @property
    def scheduler(self) -> Any:
        return self.client("scheduler")

    @property
    def tagging(self) -> Any:
        return self.client("resourcegroupstaggingapi")

    @functools.cached_property
    def identity(self) -> tuple[str, str]:
        """``(account, partition)`` of the credentials in use."""
        try:
            arn = self.client("sts").get_caller_identity()["Arn"]
        except Exception as error:
            raise DeployError(
                f"cannot reach AWS in {self.region} with the configured credentials "
                f"({type(error).__name__}: {error}); check AWS_PROFILE or the stage's profile"
            ) from None
        parts = str(arn).split(":")
        return parts[4], parts[1]
