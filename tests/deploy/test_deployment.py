"""ReconciledDeployment: plan, destroy, status, deploy from a provider's four stages."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portway.config import StageConfig
from portway.deploy import ChangeKind, Plan
from portway.deploy.deployment import ReconciledDeployment
from portway.deploy.record import Record

from .test_reconcile import DESIRED, QUEUE, Found, Resource, found


@dataclass
class NimbusDeployment(ReconciledDeployment):
    """A deployment whose cloud is a dict: applying a plan makes it true."""

    provider_name = "nimbus"
    unrecorded = "labelled"

    app_name: str
    stage: StageConfig
    pipeline: None = None
    cloud: dict[Any, Found] = field(default_factory=dict)
    record: Record | None = None
    calls: list[str] = field(default_factory=list)

    @functools.cached_property
    def desired(self) -> tuple[Resource, ...]:
        self.calls.append("desired")
        return DESIRED

    def observe(self) -> Mapping[Any, Found]:
        self.calls.append("observe")
        return dict(self.cloud)

    def read_record(self) -> Record | None:
        self.calls.append("record")
        return self.record

    def apply(self, plan: Plan, *, destroy: bool = False) -> None:
        self.calls.append("destroy" if destroy else "apply")
        for change in plan.changes:
            key = (change.resource_type, change.name)
            if change.kind is ChangeKind.DELETE:
                self.cloud.pop(key)
            else:
                resource = next(r for r in DESIRED if r.key == key)
                self.cloud[key] = found(resource)
        self.record = None if destroy else Record.of(self.app_name, self.stage.name, DESIRED)


def deployment() -> NimbusDeployment:
    return NimbusDeployment("shop", StageConfig("prod", "nimbus", {}))


def test_a_deploy_plans_from_desired_observed_and_record_then_applies() -> None:
    shop = deployment()
    plan = shop.deploy()
    assert (plan.provider, plan.app, plan.stage) == ("nimbus", "shop", "prod")
    assert {c.kind for c in plan.changes} == {ChangeKind.CREATE}
    assert shop.calls == ["desired", "observe", "record", "apply"]
    assert shop.deploy().is_empty, "a second deploy changes nothing"
    assert shop.calls[-1] == "record", "and applies nothing"


def test_status_reports_drift_without_reading_the_record() -> None:
    shop = deployment()
    shop.deploy()
    shop.calls.clear()
    shop.cloud[QUEUE.key] = found(QUEUE, "changed-elsewhere")
    report = shop.status()
    assert report["provider"] == "nimbus"
    assert report["changed"] == ["test:queue jobs"]
    assert report["in_sync"] is False
    assert shop.calls == ["observe"]


def test_destroy_deletes_what_is_observed_and_forgets_the_record() -> None:
    shop = deployment()
    shop.deploy()
    shop.cloud[("test:queue", "stray")] = Found(QUEUE.kind, "stray", "x")
    plan = shop.destroy()
    assert {c.kind for c in plan.changes} == {ChangeKind.DELETE}
    assert {c.name: c.neutral for c in plan.changes}["stray"] == "labelled"
    assert shop.cloud == {}
    assert shop.record is None
    shop.calls.clear()
    assert shop.destroy().is_empty
    assert "destroy" not in shop.calls, "nothing to destroy applies nothing"
