"""The planner is a pure function (desired, observed, record) -> frozen changes.

Observed state is built as the list calls return it: azure-mgmt models deserialized
from ARM's JSON, read by :mod:`portway_azure.deploy.observe`'s pure functions.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from portway_azure.deploy.desired import desired_resources
from portway_azure.deploy.record import deploy_record
from portway_azure.deploy.resources import AzureResource, Key, Kind, Observed
from portway_azure.naming import Names
from portway_azure.testing import arm_models
from portway_azure.testing.arm_models import listed_model

from portway import Pipeline
from portway.deploy import ChangeKind, Plan
from portway.deploy.reconcile import ResourceChange, dependency_order
from portway.deploy.reconcile import plan_deploy as reconcile_deploy
from portway.deploy.reconcile import plan_destroy as reconcile_destroy
from portway.deploy.record import Record

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
NAMES = Names("lake-to-warehouse", "prod", SUBSCRIPTION, "data-rg", "westeurope")


@pytest.fixture(scope="module")
def desired(example: Pipeline) -> tuple[AzureResource, ...]:
    return desired_resources(example, NAMES, app="pipeline:app")


# -- observed state as Azure's list calls return it ------------------------------------------


def listed(resource: AzureResource, names: Names = NAMES, spec_hash: str | None = None) -> Any:
    return listed_model(resource, names, spec_hash)


def observed_from(*models: tuple[AzureResource, Any]) -> dict[Key, Observed]:
    return arm_models.observed_from(models, NAMES)


def deployed(resources: tuple[AzureResource, ...]) -> dict[Key, Observed]:
    return arm_models.deployed(resources, NAMES)


def record_of(resources: tuple[AzureResource, ...]) -> Record:
    record = deploy_record(NAMES, resources)
    return dataclasses.replace(record, deployed_at="2026-11-29T00:00:00+00:00", version='"e"')


def plan_deploy(*args: Any) -> Plan:
    return reconcile_deploy("azure", *args)


def plan_destroy(*args: Any) -> Plan:
    return reconcile_destroy("azure", *args)


# -- the planner -----------------------------------------------------------------------------


def test_first_deploy_creates_everything_in_dependency_order(
    desired: tuple[AzureResource, ...],
) -> None:
    plan = plan_deploy(NAMES.app, NAMES.stage, desired, {}, None)
    assert {c.kind for c in plan.changes} == {ChangeKind.CREATE}
    assert len(plan.changes) == len(desired)
    position = {(c.resource_type, c.name): i for i, c in enumerate(plan.changes)}
    for resource in desired:
        for kind, path in resource.depends_on:
            assert position[(str(kind), path)] < position[(str(resource.kind), resource.path)]
    assert plan.changes[0].resource_type == "storage:account"
    assert plan.changes[-1].resource_type == "eventgrid:subscription"


def test_observed_state_read_from_list_models_matches_what_was_deployed(
    desired: tuple[AzureResource, ...],
) -> None:
    found = deployed(desired)
    assert found.keys() == {r.key for r in desired}
    assert all(found[r.key].spec_hash == r.spec_hash for r in desired)
    identity = next(r for r in desired if r.kind is Kind.MANAGED_IDENTITY)
    assert found[identity.key].details == {
        "principal_id": f"p-{identity.name}",
        "client_id": f"c-{identity.name}",
    }


def test_a_redeploy_with_matching_marks_and_record_plans_nothing(
    desired: tuple[AzureResource, ...],
) -> None:
    plan = plan_deploy(NAMES.app, NAMES.stage, desired, deployed(desired), record_of(desired))
    assert plan.is_empty


def test_resources_of_another_app_or_stage_are_not_observed(
    desired: tuple[AzureResource, ...],
) -> None:
    other_stage = Names(NAMES.app, "dev", SUBSCRIPTION, "data-rg", "westeurope")
    other_app = Names("shop", "prod", SUBSCRIPTION, "data-rg", "westeurope")
    models = [(r, listed(r, names)) for r in desired for names in (other_stage, other_app)]
    assert observed_from(*models) == {}
    unmarked = [
        (r, listed(r, Names("x", "y", SUBSCRIPTION, "data-rg", "westeurope"))) for r in desired
    ]
    plan = plan_destroy(NAMES.app, NAMES.stage, observed_from(*unmarked), None)
    assert plan.is_empty


def test_a_changed_spec_is_an_update_showing_what_differs(
    desired: tuple[AzureResource, ...],
) -> None:
    app = next(r for r in desired if r.kind is Kind.FUNCTION_APP)
    bigger = dataclasses.replace(app, spec={**app.spec, "instance_memory_mb": 4096})
    wanted = tuple(bigger if r is app else r for r in desired)
    plan = plan_deploy(NAMES.app, NAMES.stage, wanted, deployed(desired), record_of(desired))
    assert [(c.kind, c.name) for c in plan.changes] == [(ChangeKind.UPDATE, app.name)]
    assert plan.changes[0].details == {"instance_memory_mb": [app.spec["instance_memory_mb"], 4096]}


def test_a_resource_marked_differently_from_the_record_is_updated_again(
    desired: tuple[AzureResource, ...],
) -> None:
    queue = next(r for r in desired if r.kind is Kind.STORAGE_QUEUE)
    found = deployed(desired) | observed_from((queue, listed(queue, spec_hash="0" * 16)))
    plan = plan_deploy(NAMES.app, NAMES.stage, desired, found, record_of(desired))
    assert [(c.kind, c.name) for c in plan.changes] == [(ChangeKind.UPDATE, queue.path)]
    assert "reason" in plan.changes[0].details


def test_a_resource_missing_from_the_record_is_updated_not_trusted(
    desired: tuple[AzureResource, ...],
) -> None:
    topic = next(r for r in desired if r.kind is Kind.EVENTGRID_TOPIC)
    partial = tuple(r for r in desired if r is not topic)
    plan = plan_deploy(NAMES.app, NAMES.stage, desired, deployed(desired), record_of(partial))
    assert [(c.kind, c.name) for c in plan.changes] == [(ChangeKind.UPDATE, topic.name)]


def test_a_marked_resource_no_longer_declared_is_deleted_after_the_rest(
    desired: tuple[AzureResource, ...],
) -> None:
    subscription = next(r for r in desired if r.kind is Kind.EVENT_SUBSCRIPTION)
    old = AzureResource(
        Kind.STORAGE_QUEUE, "q-old", "/queues/q-old", "queue old", {}, NAMES.storage_account
    )
    found = deployed(desired) | observed_from((old, listed(old)))
    remaining = tuple(r for r in desired if r is not subscription)
    plan = plan_deploy(NAMES.app, NAMES.stage, remaining, found, record_of(desired))
    assert [(c.kind, c.resource_type, c.name) for c in plan.changes] == [
        (ChangeKind.DELETE, "eventgrid:subscription", subscription.path),
        (ChangeKind.DELETE, "storage:queue", old.path),
    ]
    assert plan.changes[0].neutral == subscription.neutral


def test_destroy_deletes_every_marked_resource_in_reverse_kind_order(
    desired: tuple[AzureResource, ...],
) -> None:
    plan = plan_destroy(NAMES.app, NAMES.stage, deployed(desired), record_of(desired))
    assert {c.kind for c in plan.changes} == {ChangeKind.DELETE}
    assert len(plan.changes) == len(desired)
    ranks = [Kind(c.resource_type).rank for c in plan.changes]
    assert ranks == sorted(ranks, reverse=True)
    assert all(isinstance(c, ResourceChange) and c.observed is not None for c in plan.changes)


def test_changes_are_frozen(desired: tuple[AzureResource, ...]) -> None:
    change = plan_deploy(NAMES.app, NAMES.stage, desired, {}, None).changes[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.name = "other"  # type: ignore[misc]


def test_a_dependency_cycle_is_a_bug_reported_loudly() -> None:
    a = AzureResource(Kind.STORAGE_QUEUE, "a", "/a", "a", depends_on=((Kind.STORAGE_QUEUE, "b"),))
    b = AzureResource(Kind.STORAGE_QUEUE, "b", "/b", "b", depends_on=((Kind.STORAGE_QUEUE, "a"),))
    with pytest.raises(AssertionError, match="cycle"):
        dependency_order([a, b])
