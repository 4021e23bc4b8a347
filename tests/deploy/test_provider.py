"""DeployingProvider: the deploy commands of a provider, wired to one deployment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from portway import Pipeline
from portway.capabilities import Capabilities
from portway.config import StageConfig
from portway.deploy import Plan
from portway.deploy.provider import DeployingProvider, Deployment
from portway.errors import DeployError, NotSupported
from portway.providers import ProviderSpec

CAPS = Capabilities(
    max_message_bytes=1024,
    max_batch_size=1,
    max_attempts=(1, 5),
    visibility_timeout=(1, 60),
    max_timeout=60,
    max_http_timeout=60,
    memory=(128, 512),
)
STAGE = StageConfig("prod", "nimbus", {})


@dataclass
class NimbusDeployment:
    """A provider's deployment, noting what each command asked of it."""

    app: str
    pipeline: Pipeline | None
    done: list[str] = field(default_factory=list)

    def plan(self) -> Plan:
        self.done.append("plan")
        return Plan(self.app, STAGE.name, "nimbus")

    def plan_destroy(self) -> Plan:
        self.done.append("plan_destroy")
        return Plan(self.app, STAGE.name, "nimbus")

    def apply(self, plan: Plan, *, destroy: bool = False) -> None:
        self.done.append("destroy" if destroy else "apply")

    def status(self) -> Mapping[str, Any]:
        return {"in_sync": True}


class NimbusProvider(DeployingProvider):
    def __init__(self) -> None:
        super().__init__(ProviderSpec("nimbus", CAPS, "nimbus:NimbusProvider"))
        self.opened: list[NimbusDeployment] = []

    def open_deployment(
        self, app: str, stage: StageConfig, pipeline: Pipeline | None
    ) -> Deployment:
        deployment = NimbusDeployment(app, pipeline)
        self.opened.append(deployment)
        return deployment


def test_plan_then_apply_in_one_command_share_the_deployment() -> None:
    provider, pipeline = NimbusProvider(), Pipeline("shop")
    plan = provider.plan(pipeline, STAGE)
    provider.apply(plan, pipeline, STAGE)
    assert len(provider.opened) == 1
    assert provider.opened[0].done == ["plan", "apply"]
    assert provider.status(pipeline, STAGE) == {"in_sync": True}


def test_another_pipeline_object_opens_a_new_deployment() -> None:
    provider = NimbusProvider()
    provider.plan(Pipeline("shop"), STAGE)
    provider.plan(Pipeline("shop"), STAGE)
    assert len(provider.opened) == 2


def test_a_plan_for_another_app_stage_or_provider_is_refused() -> None:
    provider, pipeline = NimbusProvider(), Pipeline("shop")
    for plan in (Plan("other", "prod", "nimbus"), Plan("shop", "dev", "nimbus")):
        with pytest.raises(DeployError, match=r"; plan again$"):
            provider.apply(plan, pipeline, STAGE)
    with pytest.raises(DeployError, match=r"this plan is for 'shop' on stage 'prod' \(aws\)"):
        provider.destroy(Plan("shop", "prod", "aws"), "shop", STAGE)
    assert all(d.done == [] for d in provider.opened)


def test_destroy_works_without_the_pipeline_and_forgets_the_deployment() -> None:
    provider = NimbusProvider()
    plan = provider.plan_destroy("shop", STAGE)
    provider.destroy(plan, "shop", STAGE)
    assert provider.opened[0].pipeline is None
    assert provider.opened[0].done == ["plan_destroy", "destroy"]
    provider.plan_destroy("shop", STAGE)
    assert len(provider.opened) == 2


def test_a_provider_that_opens_no_deployment_says_it_offers_no_deploy() -> None:
    provider = DeployingProvider(ProviderSpec("bare", CAPS, "x:y"))
    with pytest.raises(NotSupported, match="does not offer plan/deploy"):
        provider.plan(Pipeline("shop"), STAGE)
