"""A deployment (an app on a stage) as the stages make it: desired -> observe -> plan.

:class:`ReconciledDeployment` is the part of a provider's ``Deployment`` that is the
same on every cloud: ``plan`` is the desired resources, what is observed and the last
record handed to :func:`portway.deploy.reconcile.plan_deploy`; ``plan_destroy`` the
observed resources to :func:`~portway.deploy.reconcile.plan_destroy`; ``status`` is
:func:`~portway.deploy.reconcile.drift`; ``deploy`` and ``destroy`` plan, then apply
unless nothing is to change. It satisfies :class:`portway.deploy.provider.Deployment`.

A provider's subclass supplies :attr:`~ReconciledDeployment.provider_name`, the
``app_name``/``stage`` it was opened for, and four stages of its own:
:attr:`~ReconciledDeployment.desired` (built once: a ``functools.cached_property``),
:meth:`~ReconciledDeployment.observe` (read-only calls), :meth:`~ReconciledDeployment.
read_record` and :meth:`~ReconciledDeployment.apply`.

Porting a provider: make its deployment class subclass this one, rename its
observation and record reading to ``observe``/``read_record``, and delete its
``plan``, ``plan_destroy``, ``status``, ``deploy`` and ``destroy``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from portway.deploy import reconcile

if TYPE_CHECKING:
    from portway.config import StageConfig
    from portway.deploy.plan import Plan
    from portway.deploy.reconcile import DesiredResource, ObservedResource
    from portway.deploy.record import Record
    from portway.model import Pipeline


class ReconciledDeployment(ABC):
    """What every provider's deployment does the same way; see the module docstring."""

    #: The provider's name, as plans and status reports carry it (``"aws"``).
    provider_name: ClassVar[str]
    #: What a deletion says of a resource the record does not know (``"labelled"``).
    unrecorded: ClassVar[str] = "tagged"

    app_name: str
    stage: StageConfig
    #: ``None`` for a destroy, which works from the record and the marks.
    pipeline: Pipeline | None

    @property
    @abstractmethod
    def desired(self) -> Sequence[DesiredResource]:
        """The resources the pipeline wants, built once."""

    @abstractmethod
    def observe(self) -> Mapping[Any, ObservedResource]:
        """Every resource carrying the deployment's marks, by key: read-only calls only."""

    @abstractmethod
    def read_record(self) -> Record | None:
        """The last completed deploy's record, or ``None``."""

    @abstractmethod
    def apply(self, plan: Plan, *, destroy: bool = False) -> None:
        """Carry out ``plan`` and record the deployment (or forget it: ``destroy``)."""

    def plan(self) -> Plan:
        """What a deploy would change: read-only calls only (desired first: a build)."""
        desired = self.desired
        return reconcile.plan_deploy(
            self.provider_name,
            self.app_name,
            self.stage.name,
            desired,
            self.observe(),
            self.read_record(),
            unrecorded=self.unrecorded,
        )

    def plan_destroy(self) -> Plan:
        """The deletions that remove every observed resource of the deployment."""
        observed = self.observe()
        return reconcile.plan_destroy(
            self.provider_name,
            self.app_name,
            self.stage.name,
            observed,
            self.read_record(),
            unrecorded=self.unrecorded,
        )

    def status(self) -> dict[str, Any]:
        """Deployed versus declared: missing, changed and extra resources (drift)."""
        observed = self.observe()
        return reconcile.drift(
            self.provider_name, self.app_name, self.stage.name, self.desired, observed
        )

    def deploy(self) -> Plan:
        """Plan, then apply unless the plan is empty; return the plan carried out."""
        plan = self.plan()
        if not plan.is_empty:
            self.apply(plan)
        return plan

    def destroy(self) -> Plan:
        """Plan the destroy, then carry it out unless empty; return the plan."""
        plan = self.plan_destroy()
        if not plan.is_empty:
            self.apply(plan, destroy=True)
        return plan
