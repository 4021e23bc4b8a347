"""The core planner: (desired, observed, record) -> frozen changes in apply order.

Resources here are a provider's as any provider writes them: frozen dataclasses with a
``StrEnum`` kind that has a rank, keyed by ``(kind, name)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pytest

from portway.deploy import ChangeKind
from portway.deploy.names import spec_hash
from portway.deploy.reconcile import (
    ResourceChange,
    dependency_order,
    describe_update,
    drift,
    plan_deploy,
    plan_destroy,
)
from portway.deploy.record import Record


class Kind(StrEnum):
    ACCOUNT = "test:account"
    QUEUE = "test:queue"
    FUNCTION = "test:function"

    @property
    def rank(self) -> int:
        return list(Kind).index(self)


@dataclass(frozen=True, slots=True)
class Resource:
    kind: Kind
    name: str
    neutral: str
    spec: Mapping[str, Any] = field(default_factory=dict)
    depends_on: tuple[tuple[Kind, str], ...] = ()

    @property
    def key(self) -> tuple[Kind, str]:
        return (self.kind, self.name)

    @property
    def spec_hash(self) -> str:
        return spec_hash(self.spec)


@dataclass(frozen=True, slots=True)
class Found:
    kind: Kind
    name: str
    spec_hash: str | None = None

    @property
    def key(self) -> tuple[Kind, str]:
        return (self.kind, self.name)


ACCOUNT = Resource(Kind.ACCOUNT, "work", "account of function work", {"roles": ["read"]})
DLQ = Resource(Kind.QUEUE, "jobs-dlq", "dead letters of queue jobs")
QUEUE = Resource(
    Kind.QUEUE, "jobs", "queue jobs", {"retention": 60}, depends_on=((Kind.QUEUE, "jobs-dlq"),)
)
FUNCTION = Resource(
    Kind.FUNCTION,
    "work",
    "function work",
    {"timeout": 10, "environment": {"A": "1", "B": "2"}},
    depends_on=((Kind.ACCOUNT, "work"), (Kind.QUEUE, "jobs")),
)
DESIRED = (FUNCTION, QUEUE, ACCOUNT, DLQ)


def found(resource: Resource, mark: str | None = None) -> Found:
    return Found(resource.kind, resource.name, mark or resource.spec_hash)


def deployed(*resources: Resource) -> Record:
    return Record.of("demo", "test", resources)


def everything_found() -> dict[tuple[Kind, str], Found]:
    return {r.key: found(r) for r in DESIRED}


def test_a_first_deploy_creates_everything_by_rank_then_dependencies() -> None:
    plan = plan_deploy("test", "demo", "prod", DESIRED, {}, None)
    assert (plan.app, plan.stage, plan.provider) == ("demo", "prod", "test")
    assert [(c.kind, c.resource_type, c.name) for c in plan.changes] == [
        (ChangeKind.CREATE, "test:account", "work"),
        (ChangeKind.CREATE, "test:queue", "jobs-dlq"),
        (ChangeKind.CREATE, "test:queue", "jobs"),
        (ChangeKind.CREATE, "test:function", "work"),
    ]
    first = plan.changes[0]
    assert isinstance(first, ResourceChange)
    assert first.resource is ACCOUNT
    assert first.observed is None
    assert first.neutral == "account of function work"


def test_mark_record_and_desired_hash_agreeing_give_an_empty_plan() -> None:
    plan = plan_deploy("test", "demo", "test", DESIRED, everything_found(), deployed(*DESIRED))
    assert plan.is_empty


def test_a_changed_spec_updates_that_resource_showing_only_what_differs() -> None:
    longer = dataclasses.replace(
        FUNCTION, spec={"timeout": 30, "environment": {"A": "1", "B": "3"}}
    )
    plan = plan_deploy(
        "test",
        "demo",
        "test",
        (ACCOUNT, DLQ, QUEUE, longer),
        everything_found(),
        deployed(*DESIRED),
    )
    assert [(c.kind, c.name) for c in plan.changes] == [(ChangeKind.UPDATE, "work")]
    change = plan.changes[0]
    assert change.details == {"environment": {"B": ["2", "3"]}, "timeout": [10, 30]}
    assert isinstance(change, ResourceChange)
    assert change.resource is longer
    assert change.observed == found(FUNCTION)
    assert change.previous is not None
    assert change.previous.spec_hash == FUNCTION.spec_hash


def test_a_mark_that_differs_from_the_record_is_updated_again() -> None:
    # A deploy cut short: the queue was updated (new mark) but the record not written.
    observed = everything_found() | {QUEUE.key: found(QUEUE, "0123456789abcdef")}
    plan = plan_deploy("test", "demo", "test", DESIRED, observed, deployed(*DESIRED))
    assert [(c.kind, c.name) for c in plan.changes] == [(ChangeKind.UPDATE, "jobs")]
    assert plan.changes[0].details == {
        "reason": "changed outside portway, or a deploy was cut short"
    }


def test_a_resource_the_record_lacks_is_updated_not_trusted() -> None:
    plan = plan_deploy(
        "test", "demo", "test", DESIRED, everything_found(), deployed(ACCOUNT, DLQ, QUEUE)
    )
    assert [(c.kind, c.name) for c in plan.changes] == [(ChangeKind.UPDATE, "work")]
    assert "cut short" in plan.changes[0].details["reason"]


def test_a_resource_without_a_mark_is_updated() -> None:
    observed = everything_found() | {DLQ.key: Found(Kind.QUEUE, "jobs-dlq", None)}
    plan = plan_deploy("test", "demo", "test", DESIRED, observed, deployed(*DESIRED))
    assert [(c.kind, c.name) for c in plan.changes] == [(ChangeKind.UPDATE, "jobs-dlq")]


def test_a_found_resource_no_longer_declared_is_deleted_after_creations() -> None:
    old = Found(Kind.QUEUE, "old", "feed")
    observed = {r.key: found(r) for r in (ACCOUNT, DLQ, QUEUE)} | {old.key: old}
    plan = plan_deploy("test", "demo", "test", DESIRED, observed, deployed(ACCOUNT, DLQ, QUEUE))
    assert [(c.kind, c.name, c.neutral) for c in plan.changes] == [
        (ChangeKind.CREATE, "work", "function work"),
        (ChangeKind.DELETE, "old", "tagged"),
    ]


def test_a_deletion_names_what_the_record_says_it_served_or_how_it_was_found() -> None:
    observed = {r.key: found(r) for r in DESIRED}
    plan = plan_deploy("test", "demo", "test", (), observed, deployed(QUEUE), unrecorded="labelled")
    neutral = {c.name: c.neutral for c in plan.changes if c.resource_type == "test:queue"}
    assert neutral == {"jobs": "queue jobs", "jobs-dlq": "labelled"}


def test_destroy_deletes_every_found_resource_in_reverse_rank_order() -> None:
    plan = plan_destroy("test", "demo", "test", everything_found(), deployed(*DESIRED))
    assert [(c.kind, c.resource_type, c.name) for c in plan.changes] == [
        (ChangeKind.DELETE, "test:function", "work"),
        (ChangeKind.DELETE, "test:queue", "jobs"),
        (ChangeKind.DELETE, "test:queue", "jobs-dlq"),
        (ChangeKind.DELETE, "test:account", "work"),
    ]
    assert all(isinstance(c, ResourceChange) and c.observed for c in plan.changes)
    assert plan.changes[0].neutral == "function work"


def test_destroy_deletes_only_what_was_found() -> None:
    # The record lists the queue, but observation (marks) did not find it: not deleted.
    observed = {FUNCTION.key: found(FUNCTION)}
    plan = plan_destroy("test", "demo", "test", observed, deployed(*DESIRED))
    assert [c.name for c in plan.changes] == ["work"]


def test_the_change_is_named_by_the_second_part_of_the_key() -> None:
    @dataclass(frozen=True, slots=True)
    class Nested(Resource):
        parent: str = ""

        @property
        def key(self) -> tuple[Kind, str]:
            return (self.kind, f"{self.parent}/{self.name}")

    queue = Nested(Kind.QUEUE, "jobs", "queue jobs", parent="account1")
    plan = plan_deploy("test", "demo", "test", [queue], {}, None)
    assert plan.changes[0].name == "account1/jobs"


def test_dependencies_order_resources_within_a_kind_whatever_their_names() -> None:
    a = Resource(Kind.QUEUE, "a", "a", depends_on=((Kind.QUEUE, "c"),))
    b = Resource(Kind.QUEUE, "b", "b", depends_on=((Kind.QUEUE, "a"),))
    c = Resource(Kind.QUEUE, "c", "c", depends_on=((Kind.ACCOUNT, "elsewhere"),))
    assert [r.name for r in dependency_order([a, b, c])] == ["c", "a", "b"]


def test_a_dependency_cycle_is_a_bug_reported_loudly() -> None:
    a = Resource(Kind.QUEUE, "a", "a", depends_on=((Kind.QUEUE, "b"),))
    b = Resource(Kind.QUEUE, "b", "b", depends_on=((Kind.QUEUE, "a"),))
    with pytest.raises(AssertionError, match="cycle among test:queue a, test:queue b"):
        dependency_order([a, b])


def test_an_update_without_a_visible_difference_still_says_why() -> None:
    record = deployed(QUEUE)
    previous = record.resources[0]
    # Same spec, but the resource was re-marked: nothing in the spec differs.
    details = describe_update(QUEUE, found(QUEUE), dataclasses.replace(previous, spec_hash="x"))
    assert details == {"reason": "changed outside portway, or a deploy was cut short"}
    unchanged = dataclasses.replace(previous, spec={"retention": 60})
    assert describe_update(QUEUE, found(QUEUE), unchanged) == {"reason": "spec differs"}


def test_drift_lists_missing_changed_and_extra_resources() -> None:
    observed = {
        QUEUE.key: found(QUEUE, "stale"),
        DLQ.key: found(DLQ),
        (Kind.QUEUE, "old"): Found(Kind.QUEUE, "old", "x"),
    }
    report = drift("test", "demo", "prod", DESIRED, observed)
    assert report == {
        "app": "demo",
        "stage": "prod",
        "provider": "test",
        "in_sync": False,
        "missing": ["test:account work", "test:function work"],
        "changed": ["test:queue jobs"],
        "extra": ["test:queue old"],
    }
    assert drift("test", "demo", "prod", DESIRED, everything_found())["in_sync"] is True
