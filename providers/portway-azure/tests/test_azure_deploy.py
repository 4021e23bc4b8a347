"""Deploy, redeploy, destroy and status end to end: the record and lock on Azurite, the
control-plane calls through an executor that counts them (no ARM emulator exists).

Azure's answers to list calls are the azure-mgmt models deserialized from ARM's JSON,
for what the deploy created (marked as its requests mark it).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import pytest
from azure.mgmt.msi.models import Identity
from portway_azure.deploy import record as records
from portway_azure.deploy.apply import apply_plan
from portway_azure.deploy.deployment import Deployment
from portway_azure.deploy.desired import desired_resources
from portway_azure.deploy.requests import ArmRequest
from portway_azure.deploy.resources import Key, Kind, Observed
from portway_azure.naming import STATE_CONTAINER, Names
from portway_azure.provider import AzureProvider
from portway_azure.testing.arm_models import deployed

from portway import HttpRequest, Message, ObjectEvent, Pipeline
from portway.config import StageConfig
from portway.deploy import ChangeKind, Plan
from portway.deploy.reconcile import plan_destroy
from portway.deploy.record import StageRecords
from portway.errors import DeployError
from portway.providers import registry

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient


def pipeline_named(name: str, report_memory: int = 512) -> Pipeline:
    """A bucket trigger, a queue, a topic fan-out and an HTTP route."""
    app = Pipeline(name)
    landing = app.bucket(name)  # unique: the session's Azurite is shared
    jobs = app.queue("jobs", max_attempts=7)
    done = app.topic("done")

    @app.on_object_created(landing, suffix=".csv", uses=[jobs.send()])
    def enqueue(event: ObjectEvent) -> None: ...

    @app.on_message(jobs, uses=[landing.read(), done.publish()])
    def work(message: Message) -> None: ...

    @app.on_message(done, memory=report_memory)
    def report(message: Message) -> None: ...

    @app.http("GET", "/status", uses=[landing.list()])
    def status(request: HttpRequest) -> object:
        return {}

    return app


class CountingSender:
    """The executor's sender for tests: counts each request and answers as Azure would
    where apply reads the answer (an identity's ids, a topic's endpoint)."""

    def __init__(self) -> None:
        self.sent: list[ArmRequest] = []

    def send(self, request: ArmRequest) -> Any:
        self.sent.append(request)
        name = dict(request.arguments).get("resource_name", "")
        if request.operation == "msi.user_assigned_identities.create_or_update":
            return Identity.deserialize(
                {
                    "name": name,
                    "location": "westeurope",
                    "properties": {"principalId": "p", "clientId": "c"},
                }
            )
        return None


class Seen(Deployment):
    """A deployment whose observation is what Azure would list (``self.azure``) and
    whose app groups are not zipped (their packages are golden-tested elsewhere)."""

    azure: dict[Key, Observed]

    def list_deployed(self) -> dict[Key, Observed]:
        return dict(self.azure)

    @property
    def archives(self) -> dict[str, Any]:  # type: ignore[override]
        return {}


@pytest.fixture
def blobs(azurite_connection_string: str) -> BlobServiceClient:
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(azurite_connection_string)


@pytest.fixture
def stage(azurite_connection_string: str) -> StageConfig:
    return StageConfig(
        "dev",
        "azure",
        {
            "subscription": "00000000-0000-0000-0000-000000000001",
            "resource_group": "rg",
            "location": "westeurope",
            "connection_string": azurite_connection_string,
        },
        app="pipeline:app",
    )


def deployment(
    name: str, stage: StageConfig, blobs: BlobServiceClient, sender: CountingSender
) -> Seen:
    seen = Seen(
        name,
        stage,
        pipeline_named(name),
        sender=sender,
        blobs=lambda: blobs,
        progress=lambda _: None,
    )
    seen.azure = {}
    return seen


def stage_records(blobs: BlobServiceClient, app: str) -> StageRecords:
    names = Names(app, "dev", "00000000-0000-0000-0000-000000000001", "rg", "westeurope")
    return records.stage_records(records.state_container(blobs), names)


def mutating(sender: CountingSender) -> list[str]:
    return [r.operation for r in sender.sent]


def test_a_first_deploy_creates_everything_and_a_second_makes_no_call(
    stage: StageConfig, blobs: BlobServiceClient, unique_name: str
) -> None:
    first_sender = CountingSender()
    first = deployment(unique_name, stage, blobs, first_sender)
    plan = first.plan()
    assert {c.kind for c in plan.changes} == {ChangeKind.CREATE}
    first.apply(plan)
    created = [r for r in mutating(first_sender) if "create" in r]
    assert len(created) == len(first.desired)
    stage_record = stage_records(blobs, unique_name)
    written = stage_record.read()
    assert written is not None
    assert {r.key for r in written.resources} == {r.key for r in first.desired}

    second_sender = CountingSender()
    second = deployment(unique_name, stage, blobs, second_sender)
    second.azure = deployed(first.desired, first.names)
    again = second.plan()
    assert again.is_empty
    second.apply(again)
    assert mutating(second_sender) == []
    unchanged = stage_record.read()
    assert unchanged is not None
    assert unchanged.version == written.version


def test_a_changed_setting_updates_only_what_it_touches(
    stage: StageConfig, blobs: BlobServiceClient, unique_name: str
) -> None:
    first = deployment(unique_name, stage, blobs, CountingSender())
    first.apply(first.plan())
    sender = CountingSender()
    changed = deployment(unique_name, stage, blobs, sender)
    changed.pipeline = pipeline_named(unique_name, report_memory=4096)
    changed.azure = deployed(first.desired, first.names)
    plan = changed.plan()
    assert [(c.kind, c.resource_type) for c in plan.changes] == [
        (ChangeKind.UPDATE, "web:function-app")
    ]
    assert plan.changes[0].details == {"instance_memory_mb": [512, 4096]}


def test_destroy_deletes_exactly_this_app_and_stage_and_forgets_it(
    stage: StageConfig, blobs: BlobServiceClient, unique_name: str
) -> None:
    ours = deployment(unique_name, stage, blobs, CountingSender())
    ours.apply(ours.plan())
    other_stage = Names(
        unique_name, "prod", "00000000-0000-0000-0000-000000000001", "rg", "westeurope"
    )
    others = deployed(ours.desired, ours.names, marked_as=other_stage)
    assert others == {}  # observe keeps only this app and stage's marks
    sender = CountingSender()
    destroyer = Seen(
        unique_name, stage, None, sender=sender, blobs=lambda: blobs, progress=lambda _: None
    )
    destroyer.azure = deployed(ours.desired, ours.names)
    plan = destroyer.plan_destroy()
    assert {c.kind for c in plan.changes} == {ChangeKind.DELETE}
    assert {(c.resource_type, c.name) for c in plan.changes} == {
        (str(k), p) for k, p in destroyer.azure
    }
    # The shared Azurite account stands for the data account, so this destroy stops
    # short of deleting the accounts (their requests are golden-tested).
    kept = Plan(plan.app, plan.stage, plan.provider, plan.changes[:-2])
    assert {c.resource_type for c in plan.changes[-2:]} == {"storage:account"}
    destroyer.apply(kept, destroy=True)
    assert len(sender.sent) == len(kept.changes)
    assert all("delete" in operation for operation in mutating(sender))
    stage_record = stage_records(blobs, unique_name)
    assert stage_record.read() is None
    stage_record.acquire("deploy")  # the lock was released
    stage_record.release()


def test_destroy_refuses_before_any_change_while_a_container_holds_blobs(
    stage: StageConfig, blobs: BlobServiceClient, unique_name: str
) -> None:
    names = Names(unique_name, "dev", "00000000-0000-0000-0000-000000000001", "rg", "westeurope")
    container = f"b-{unique_name}"
    blobs.create_container(container)
    blobs.get_container_client(container).upload_blob("kept.csv", b"a,b\n")
    doomed = Observed(Kind.STORAGE_CONTAINER, container, "/c", "h", names.storage_account)
    plan = plan_destroy("azure", unique_name, "dev", {doomed.key: doomed}, None)
    sender = CountingSender()
    with pytest.raises(DeployError, match=rf"container\(s\) {container} still hold blobs"):
        apply_plan(
            plan, sender, names, lambda: blobs, desired=None, observed={}, progress=lambda _: None
        )
    assert sender.sent == []
    records.ensure_state_container(blobs.get_container_client(STATE_CONTAINER))
    stage_record = stage_records(blobs, unique_name)
    stage_record.acquire("deploy")  # never taken
    stage_record.release()


def test_status_reports_missing_changed_and_extra_resources(
    stage: StageConfig, blobs: BlobServiceClient, unique_name: str
) -> None:
    seen = deployment(unique_name, stage, blobs, CountingSender())
    desired = seen.desired
    found = deployed(desired, seen.names)
    queue = next(r for r in desired if r.kind is Kind.STORAGE_QUEUE)
    topic = next(r for r in desired if r.kind is Kind.EVENTGRID_TOPIC)
    found[queue.key] = dataclasses.replace(found[queue.key], spec_hash="0" * 16)
    del found[topic.key]
    old = Observed(Kind.STORAGE_QUEUE, "q-old", "/q-old", "h", seen.names.storage_account)
    found[old.key] = old
    seen.azure = found
    report = seen.status()
    assert report["in_sync"] is False
    assert report["missing"] == [f"eventgrid:topic {topic.path}"]
    assert report["changed"] == [f"storage:queue {queue.path}"]
    assert report["extra"] == [f"storage:queue {old.path}"]
    in_sync = deployed(desired, seen.names)
    seen.azure = in_sync
    assert seen.status()["in_sync"] is True


def test_the_provider_refuses_a_plan_made_for_another_stage(stage: StageConfig) -> None:
    provider = registry().provider("azure")
    assert isinstance(provider, AzureProvider)
    plan = Plan("shop", "prod", "azure")
    with pytest.raises(DeployError, match="plan again"):
        provider.apply(plan, pipeline_named("shop"), stage)


def test_the_provider_runs_the_generated_function_app_and_connects_lazily(
    stage: StageConfig,
) -> None:
    provider = registry().provider("azure")
    assert provider.runtime_entry() == "function_app:app"
    plane = provider.connect(pipeline_named("shop"), stage)
    assert plane is not None


def test_a_deploy_that_drops_a_bucket_holding_blobs_is_refused_before_any_change(
    stage: StageConfig, blobs: BlobServiceClient, unique_name: str
) -> None:
    first = deployment(unique_name, stage, blobs, CountingSender())
    first.apply(first.plan())
    kept = f"b-{unique_name}-old"  # the container of a bucket no longer declared
    blobs.create_container(kept)
    blobs.get_container_client(kept).upload_blob("report.csv", b"a,b\n")
    gone = Observed(Kind.STORAGE_CONTAINER, kept, "/c", "h", first.names.storage_account)
    sender = CountingSender()
    later = deployment(unique_name, stage, blobs, sender)
    later.azure = deployed(first.desired, first.names)
    later.azure[gone.key] = gone
    plan = later.plan()
    assert [(c.kind, c.name) for c in plan.changes] == [(ChangeKind.DELETE, gone.path)]
    with pytest.raises(DeployError, match="portway never deletes data; nothing was changed"):
        later.apply(plan)
    assert sender.sent == []


def test_destroy_after_the_data_account_went_deletes_the_rest_without_a_lock(
    stage: StageConfig, unique_name: str
) -> None:
    names = Names(unique_name, "dev", "00000000-0000-0000-0000-000000000001", "rg", "westeurope")
    desired = desired_resources(pipeline_named(unique_name), names, app="pipeline:app")
    left = deployed([r for r in desired if r.kind is Kind.FUNCTION_APP], names)
    plan = plan_destroy("azure", unique_name, "dev", left, None)

    def no_storage() -> BlobServiceClient:
        raise AssertionError("the data account is gone: nothing to lock")

    sender = CountingSender()
    apply_plan(
        plan, sender, names, no_storage, desired=None, observed=left, progress=lambda _: None
    )
    assert mutating(sender) == ["web.web_apps.delete"] * len(left)
