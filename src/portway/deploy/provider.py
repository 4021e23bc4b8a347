"""The deploy side of a provider, wired once: plan, apply, destroy and status.

Every cloud provider hands each deploy command to one object for the app on the stage
(its ``Deployment``: names resolved, artifact built once, desired -> observe -> plan ->
apply -> record). :class:`DeployingProvider` does the wiring around it: it keeps the
deployment between ``plan`` and ``apply`` of one command (so the artifact is built
once), opens a new one when the pipeline object changed, refuses a plan made for
another app, stage or provider, and forgets the deployment after a destroy.

Porting a provider: subclass :class:`DeployingProvider` instead of
:class:`~portway.providers.Provider`, implement :meth:`~DeployingProvider.open_deployment`
(import the deployment class inside it, so the registry and ``portway validate`` never
import the cloud's SDK), and delete ``__init__``, ``_deployment``, ``plan``, ``apply``,
``plan_destroy``, ``destroy``, ``status`` and ``_check_plan``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from portway.errors import DeployError
from portway.providers import Provider

if TYPE_CHECKING:
    from portway.config import StageConfig
    from portway.deploy.plan import Plan
    from portway.model import Pipeline


class Deployment(Protocol):
    """One app on one stage, as a provider deploys it.

    ``pipeline`` is ``None`` for a destroy (it works from the record and the marks).
    """

    @property
    def pipeline(self) -> Pipeline | None: ...

    def plan(self) -> Plan:
        """What a deploy would change: read-only calls only."""

    def plan_destroy(self) -> Plan:
        """The deletions that remove every resource of the deployment."""

    def apply(self, plan: Plan, *, destroy: bool = False) -> None:
        """Carry out ``plan`` and record the deployment (or forget it: ``destroy``)."""

    def status(self) -> Mapping[str, Any]:
        """Deployed versus declared (see :func:`portway.deploy.reconcile.drift`)."""


class DeployingProvider(Provider):
    """A :class:`~portway.providers.Provider` whose deploy commands go to a deployment."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # plan() then apply() in one command share the deployment (and its built artifact).
        self._deployments: dict[tuple[str, str], Deployment] = {}

    def open_deployment(
        self, app: str, stage: StageConfig, pipeline: Pipeline | None
    ) -> Deployment:
        """A new deployment of ``app`` on ``stage`` (``pipeline`` ``None``: a destroy).

        Every subclass implements it.
        """
        raise self._not_offered("plan/deploy")

    def deployment(
        self, app: str, stage: StageConfig, pipeline: Pipeline | None = None
    ) -> Deployment:
        """The deployment of ``app`` on ``stage``, reused while the pipeline is the same."""
        key = (app, stage.name)
        deployment = self._deployments.get(key)
        if deployment is None or (pipeline is not None and deployment.pipeline is not pipeline):
            deployment = self.open_deployment(app, stage, pipeline)
            self._deployments[key] = deployment
        return deployment

    def plan(self, pipeline: Pipeline, stage: StageConfig) -> Plan:
        return self.deployment(pipeline.name, stage, pipeline).plan()

    def apply(self, plan: Plan, pipeline: Pipeline, stage: StageConfig) -> None:
        self.check_plan(plan, pipeline.name, stage)
        self.deployment(pipeline.name, stage, pipeline).apply(plan)

    def plan_destroy(self, app: str, stage: StageConfig) -> Plan:
        return self.deployment(app, stage).plan_destroy()

    def destroy(self, plan: Plan, app: str, stage: StageConfig) -> None:
        self.check_plan(plan, app, stage)
        self.deployment(app, stage).apply(plan, destroy=True)
        self._deployments.pop((app, stage.name), None)

    def status(self, pipeline: Pipeline, stage: StageConfig) -> Mapping[str, Any]:
        return self.deployment(pipeline.name, stage, pipeline).status()

    def check_plan(self, plan: Plan, app: str, stage: StageConfig) -> None:
        """Refuse a plan made for another app, stage or provider: plan again."""
        if plan.provider != self.name or plan.app != app or plan.stage != stage.name:
            raise DeployError(
                f"this plan is for {plan.app!r} on stage {plan.stage!r} ({plan.provider}), "
                f"not {app!r} on {stage.name!r}; plan again"
            )
