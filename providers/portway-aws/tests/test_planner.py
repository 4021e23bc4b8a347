"""AWS resources through the core planner: (desired, observed, record) -> frozen changes."""

from __future__ import annotations

import functools

import pytest
from portway_aws.deploy.record import deploy_record
from portway_aws.deploy.resources import AwsResource, Kind, Observed
from portway_aws.naming import Names

from portway.deploy import ChangeKind, reconcile
from portway.deploy.reconcile import ResourceChange, dependency_order
from portway.deploy.record import Record

plan_deploy = functools.partial(reconcile.plan_deploy, "aws")
plan_destroy = functools.partial(reconcile.plan_destroy, "aws")

ROLE = AwsResource(Kind.IAM_ROLE, "demo-test-work", "arn:role", "role of function work", {"p": 1})
DLQ = AwsResource(Kind.SQS_QUEUE, "demo-test-jobs-dlq", "arn:dlq", "dead letters of queue jobs")
QUEUE = AwsResource(
    Kind.SQS_QUEUE,
    "demo-test-jobs",
    "arn:jobs",
    "queue jobs",
    {"attributes": {"VisibilityTimeout": "30"}},
    depends_on=((Kind.SQS_QUEUE, "demo-test-jobs-dlq"),),
)
FUNCTION = AwsResource(
    Kind.LAMBDA_FUNCTION,
    "demo-test-work",
    "arn:function",
    "function work",
    {"timeout": 10, "memory": 256},
    depends_on=((Kind.IAM_ROLE, "demo-test-work"), (Kind.SQS_QUEUE, "demo-test-jobs")),
)
DESIRED = (FUNCTION, QUEUE, ROLE, DLQ)


def found(resource: AwsResource, spec_hash: str | None = None) -> Observed:
    return Observed(resource.kind, resource.name, resource.arn, spec_hash or resource.spec_hash)


def deployed(*resources: AwsResource) -> Record:
    return deploy_record(Names("demo", "test", "123456789012", "eu-west-1"), resources)


def test_first_deploy_creates_everything_in_dependency_order() -> None:
    plan = plan_deploy("demo", "test", DESIRED, {}, None)
    assert [(c.kind, c.resource_type, c.name) for c in plan.changes] == [
        (ChangeKind.CREATE, "iam:role", "demo-test-work"),
        (ChangeKind.CREATE, "sqs:queue", "demo-test-jobs-dlq"),
        (ChangeKind.CREATE, "sqs:queue", "demo-test-jobs"),
        (ChangeKind.CREATE, "lambda:function", "demo-test-work"),
    ]
    assert all(isinstance(c, ResourceChange) and c.resource is not None for c in plan.changes)


def test_nothing_changed_gives_an_empty_plan() -> None:
    observed = {r.key: found(r) for r in DESIRED}
    plan = plan_deploy("demo", "test", DESIRED, observed, deployed(*DESIRED))
    assert plan.is_empty


def test_a_changed_spec_is_an_update_showing_what_differs() -> None:
    observed = {r.key: found(r) for r in DESIRED}
    longer = AwsResource(
        FUNCTION.kind,
        FUNCTION.name,
        FUNCTION.arn,
        FUNCTION.neutral,
        {"timeout": 30, "memory": 256},
        FUNCTION.depends_on,
    )
    plan = plan_deploy("demo", "test", (ROLE, DLQ, QUEUE, longer), observed, deployed(*DESIRED))
    assert [(c.kind, c.name) for c in plan.changes] == [(ChangeKind.UPDATE, "demo-test-work")]
    assert plan.changes[0].details == {"timeout": [10, 30]}


def test_a_resource_marked_differently_from_the_record_is_updated_again() -> None:
    # A deploy cut short: the queue was updated (new mark) but the record was not written.
    observed = {r.key: found(r) for r in DESIRED}
    observed[QUEUE.key] = found(QUEUE, "0123456789abcdef")
    plan = plan_deploy("demo", "test", DESIRED, observed, deployed(*DESIRED))
    assert [(c.kind, c.name) for c in plan.changes] == [(ChangeKind.UPDATE, "demo-test-jobs")]
    assert "reason" in plan.changes[0].details


def test_a_resource_missing_from_the_record_is_updated_not_trusted() -> None:
    observed = {r.key: found(r) for r in DESIRED}
    plan = plan_deploy("demo", "test", DESIRED, observed, deployed(ROLE, DLQ, QUEUE))
    assert [(c.kind, c.name) for c in plan.changes] == [(ChangeKind.UPDATE, "demo-test-work")]


def test_a_tagged_resource_no_longer_declared_is_deleted_after_the_rest() -> None:
    old = Observed(Kind.SQS_QUEUE, "demo-test-old", "arn:old", "feed")
    observed = {r.key: found(r) for r in (ROLE, DLQ, QUEUE)} | {old.key: old}
    plan = plan_deploy("demo", "test", DESIRED, observed, deployed(ROLE, DLQ, QUEUE))
    assert [(c.kind, c.name) for c in plan.changes] == [
        (ChangeKind.CREATE, "demo-test-work"),
        (ChangeKind.DELETE, "demo-test-old"),
    ]


def test_destroy_deletes_every_found_resource_in_reverse_kind_order() -> None:
    observed = {r.key: found(r) for r in DESIRED}
    plan = plan_destroy("demo", "test", observed, deployed(*DESIRED))
    assert [(c.kind, c.resource_type) for c in plan.changes] == [
        (ChangeKind.DELETE, "lambda:function"),
        (ChangeKind.DELETE, "sqs:queue"),
        (ChangeKind.DELETE, "sqs:queue"),
        (ChangeKind.DELETE, "iam:role"),
    ]
    assert plan.changes[0].neutral == "function work"


def test_a_dependency_cycle_is_a_bug_reported_loudly() -> None:
    a = AwsResource(Kind.SQS_QUEUE, "a", "arn:a", "a", depends_on=((Kind.SQS_QUEUE, "b"),))
    b = AwsResource(Kind.SQS_QUEUE, "b", "arn:b", "b", depends_on=((Kind.SQS_QUEUE, "a"),))
    with pytest.raises(AssertionError, match="cycle"):
        dependency_order([a, b])
