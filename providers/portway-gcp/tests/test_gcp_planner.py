"""The core planner on Google Cloud's resources: kind order, attachments known from the
record, and what a deletion of a labelled resource says."""

from __future__ import annotations

from typing import Any

from portway_gcp.deploy.desired import desired_resources
from portway_gcp.deploy.observe import Observed, recorded_attachments
from portway_gcp.deploy.resources import GcpResource, Kind
from portway_gcp.naming import Names

from portway import Pipeline
from portway.deploy import ChangeKind, Plan, reconcile
from portway.deploy.reconcile import ResourceChange
from portway.deploy.record import Record

NAMES = Names("demo", "test", "acme-data", "europe-west1")
TOPICS = "projects/acme-data/topics/demo-test-"
ACCOUNT = GcpResource(
    Kind.SERVICE_ACCOUNT,
    "projects/acme-data/serviceAccounts/demo-test-work@acme-data.iam.gserviceaccount.com",
    "service account of function work",
    {"account_id": "demo-test-work"},
)
DLQ = GcpResource(Kind.PUBSUB_TOPIC, f"{TOPICS}jobs-dlq", "dead-letter topic of queue jobs")
TOPIC = GcpResource(Kind.PUBSUB_TOPIC, f"{TOPICS}jobs", "queue jobs", {"labels": {"a": "b"}})
FUNCTION = GcpResource(
    Kind.FUNCTION,
    "projects/acme-data/locations/europe-west1/functions/demo-test-work",
    "function work",
    {"timeout_seconds": 10, "memory_mib": 256},
    depends_on=((Kind.SERVICE_ACCOUNT, ACCOUNT.name),),
)
SUBSCRIPTION = GcpResource(
    Kind.PUBSUB_SUBSCRIPTION,
    "projects/acme-data/subscriptions/demo-test-jobs--push",
    "subscription of queue jobs",
    {"topic": TOPIC.name},
    depends_on=((Kind.PUBSUB_TOPIC, TOPIC.name), (Kind.FUNCTION, FUNCTION.name)),
)
BINDINGS = GcpResource(
    Kind.IAM_BINDINGS,
    TOPIC.name,
    "IAM bindings on queue jobs",
    {"resource": TOPIC.name, "bindings": [{"role": "roles/pubsub.publisher", "member": "x"}]},
    depends_on=((Kind.PUBSUB_TOPIC, TOPIC.name),),
)
DESIRED = (BINDINGS, SUBSCRIPTION, FUNCTION, TOPIC, ACCOUNT, DLQ)


def plan_deploy(app: str, stage: str, desired: Any, observed: Any, record: Record | None) -> Plan:
    """The core's planner, as the GCP deployment calls it."""
    return reconcile.plan_deploy(
        "gcp", app, stage, desired, observed, record, unrecorded="labelled"
    )


def plan_destroy(app: str, stage: str, observed: Any, record: Record | None) -> Plan:
    return reconcile.plan_destroy("gcp", app, stage, observed, record, unrecorded="labelled")


def found(resource: GcpResource, spec_hash: str | None = None) -> Observed:
    return Observed(resource.kind, resource.name, spec_hash or resource.spec_hash)


def deployed(*resources: GcpResource) -> Record:
    return Record.of("demo", "test", resources)


def test_first_deploy_creates_everything_in_kind_and_dependency_order() -> None:
    plan = plan_deploy("demo", "test", DESIRED, {}, None)
    assert plan.provider == "gcp"
    assert [(c.kind, c.resource_type, c.name.rsplit("/", 1)[1]) for c in plan.changes] == [
        (
            ChangeKind.CREATE,
            "iam:service-account",
            "demo-test-work@acme-data.iam.gserviceaccount.com",
        ),
        (ChangeKind.CREATE, "pubsub:topic", "demo-test-jobs"),
        (ChangeKind.CREATE, "pubsub:topic", "demo-test-jobs-dlq"),
        (ChangeKind.CREATE, "functions:function", "demo-test-work"),
        (ChangeKind.CREATE, "pubsub:subscription", "demo-test-jobs--push"),
        (ChangeKind.CREATE, "iam:bindings", "demo-test-jobs"),
    ]
    assert all(isinstance(c, ResourceChange) and c.resource is not None for c in plan.changes)


def test_the_example_redeployed_unchanged_gives_an_empty_plan(example: Pipeline) -> None:
    desired = desired_resources(
        example, NAMES, app="pipeline:app", source_sha256="ab" * 32, project_number="42"
    )
    record = deployed(*desired)
    listed = {r.key: found(r) for r in desired if r.kind not in _FROM_RECORD}
    # Bindings and notifications are known from the record while what they sit on exists.
    observed = listed | {o.key: o for o in recorded_attachments(record, listed)}
    assert plan_deploy("demo", "test", desired, observed, record).is_empty


_FROM_RECORD = (Kind.IAM_BINDINGS, Kind.STORAGE_NOTIFICATION)


def test_bindings_on_a_missing_resource_are_planned_again_with_it() -> None:
    record = deployed(*DESIRED)
    listed = {r.key: found(r) for r in DESIRED if r.key not in {TOPIC.key, BINDINGS.key}}
    observed = listed | {o.key: o for o in recorded_attachments(record, listed)}
    plan = plan_deploy("demo", "test", DESIRED, observed, record)
    assert [(c.kind, c.resource_type) for c in plan.changes] == [
        (ChangeKind.CREATE, "pubsub:topic"),
        (ChangeKind.CREATE, "iam:bindings"),
    ]


def test_a_labelled_resource_no_longer_declared_is_deleted_after_the_rest() -> None:
    old = Observed(Kind.PUBSUB_TOPIC, f"{TOPICS}old")
    observed = {r.key: found(r) for r in (ACCOUNT, TOPIC, DLQ)} | {old.key: old}
    record = deployed(ACCOUNT, TOPIC, DLQ)
    plan = plan_deploy("demo", "test", DESIRED, observed, record)
    assert [(c.kind, c.resource_type) for c in plan.changes] == [
        (ChangeKind.CREATE, "functions:function"),
        (ChangeKind.CREATE, "pubsub:subscription"),
        (ChangeKind.CREATE, "iam:bindings"),
        (ChangeKind.DELETE, "pubsub:topic"),
    ]
    assert (plan.changes[-1].name, plan.changes[-1].neutral) == (old.name, "labelled")


def test_nothing_unobserved_is_ever_deleted() -> None:
    # The record names a topic that carries no labels of this deployment (not observed):
    # portway does not touch it.
    observed = {r.key: found(r) for r in DESIRED}
    other = GcpResource(Kind.PUBSUB_TOPIC, "projects/acme-data/topics/someone-else", "other")
    plan = plan_deploy("demo", "test", DESIRED, observed, deployed(*DESIRED, other))
    assert plan.is_empty
    assert plan_destroy("demo", "test", {}, deployed(*DESIRED, other)).is_empty


def test_destroy_deletes_every_found_resource_in_reverse_kind_order() -> None:
    observed = {r.key: found(r) for r in DESIRED}
    plan = plan_destroy("demo", "test", observed, deployed(*DESIRED))
    assert [(c.kind, c.resource_type) for c in plan.changes] == [
        (ChangeKind.DELETE, "iam:bindings"),
        (ChangeKind.DELETE, "pubsub:subscription"),
        (ChangeKind.DELETE, "functions:function"),
        (ChangeKind.DELETE, "pubsub:topic"),
        (ChangeKind.DELETE, "pubsub:topic"),
        (ChangeKind.DELETE, "iam:service-account"),
    ]
    assert plan.changes[2].neutral == "function work"
