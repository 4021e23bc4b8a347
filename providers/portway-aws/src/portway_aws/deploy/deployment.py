"""One deployment (an app on a stage) and the stages that act on it, wired together.

:class:`Deployment` is what :class:`~portway_aws.provider.AwsProvider` hands each
command to: it resolves the account (one STS call), names everything, builds the
Lambda zip once, and runs desired -> observe -> plan -> apply -> record.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from portway.deploy.deployment import ReconciledDeployment
from portway.deploy.execute import console_progress
from portway.errors import ConfigError
from portway_aws.deploy import record as records
from portway_aws.deploy.apply import apply_plan
from portway_aws.deploy.observe import observe as observe_deployment
from portway_aws.naming import Names
from portway_aws.session import AwsClients

if TYPE_CHECKING:
    from collections.abc import Callable

    from portway.config import StageConfig
    from portway.deploy import Plan
    from portway.deploy.record import Record
    from portway.model import Pipeline
    from portway_aws.deploy.resources import AwsResource, Kind, Observed
    from portway_aws.package import LambdaArtifact

Architecture = Literal["x86_64", "arm64"]
ARCHITECTURES: tuple[Architecture, ...] = ("x86_64", "arm64")


def lambda_runtime() -> str:
    """The Lambda runtime matching this interpreter (the zip's wheels are built for it)."""
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


@dataclass
class Deployment(ReconciledDeployment):
    """The deployment of app ``app_name`` on ``stage``; ``pipeline`` is ``None`` for destroy.

    ``plan``, ``plan_destroy``, ``status``, ``deploy`` and ``destroy`` are the core's
    (:class:`~portway.deploy.deployment.ReconciledDeployment`); AWS supplies the stages.
    """

    provider_name = "aws"

    app_name: str
    stage: StageConfig
    pipeline: Pipeline | None = None
    clients: AwsClients | None = None
    progress: Callable[[str], None] = field(default_factory=lambda: console_progress)

    def __post_init__(self) -> None:
        if self.clients is None:
            self.clients = AwsClients.for_stage(self.stage)

    @property
    def aws(self) -> AwsClients:
        assert self.clients is not None
        return self.clients

    @functools.cached_property
    def names(self) -> Names:
        account, partition = self.aws.identity
        return Names(self.app_name, self.stage.name, account, self.aws.region, partition)

    @property
    def architecture(self) -> Architecture:
        value = str(self.stage.settings.get("architecture", "x86_64"))
        if value not in ARCHITECTURES:
            raise ConfigError(
                f"stage {self.stage.name!r}: architecture {value!r} is not one of "
                f"{', '.join(ARCHITECTURES)}"
            )
        return value

    @functools.cached_property
    def artifact(self) -> LambdaArtifact:
        """The Lambda zip of the project, built once (the same bytes for the same inputs)."""
        from portway_aws.package import build_lambda_zip

        root = self._root()
        output = root / ".portway" / "build" / f"aws-{self.stage.name}.zip"
        return build_lambda_zip(
            root,
            architecture=self.architecture,
            python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
            output=output,
            progress=self.progress,
        )

    def _root(self) -> Path:
        if self.stage.root is None:
            raise ConfigError(f"stage {self.stage.name!r}: the project folder is unknown")
        return Path(self.stage.root)

    @functools.cached_property
    def desired(self) -> tuple[AwsResource, ...]:
        from portway_aws.deploy.desired import desired_resources

        if self.pipeline is None:
            raise ConfigError("the pipeline is needed to deploy")  # pragma: no cover
        if not self.stage.app:
            raise ConfigError(f"stage {self.stage.name!r}: the app's module:attr is unknown")
        return desired_resources(
            self.pipeline,
            self.names,
            app=self.stage.app,
            code_sha256=self.artifact.code_sha256,
            runtime=lambda_runtime(),
            architecture=self.architecture,
        )

    def plan(self) -> Plan:
        """What a deploy would change: read-only calls only."""
        self.names  # noqa: B018 -- reach AWS first: a wrong profile fails before the build
        return super().plan()

    def observe(self) -> dict[tuple[Kind, str], Observed]:
        return observe_deployment(self.aws, self.names)

    def read_record(self) -> Record | None:
        return records.stage_records(self.aws, self.names).read()

    def apply(self, plan: Plan, *, destroy: bool = False) -> None:
        if destroy:
            apply_plan(plan, self.aws, self.names, desired=None, progress=self.progress)
            return
        needs_code = any(c.resource_type == "lambda:function" for c in plan.changes)
        code = self.artifact.path.read_bytes() if needs_code else None
        apply_plan(
            plan, self.aws, self.names, desired=self.desired, code=code, progress=self.progress
        )
