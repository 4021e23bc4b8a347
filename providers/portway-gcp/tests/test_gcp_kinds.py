"""The executor's per-kind operations: over the wire where an emulator serves the call,
and, for the calls no emulator serves, the request portway builds with the SDK's own types.

Calls no emulator here serves (each skipped on emulator stages only when named in
``emulator_skips``): Cloud Storage notificationConfigs, the PUT to a Functions upload
URL, IAM policies of Pub/Sub topics and subscriptions and of Cloud Run services, label
updates of topics and subscriptions, and service account patches.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from google.api_core import exceptions
from portway_gcp.clients import GcpClients
from portway_gcp.deploy.kinds import SKIPS, ApplyContext, emulator_skips, operations
from portway_gcp.deploy.kinds.calls import ResourceCalls, fix_for
from portway_gcp.deploy.kinds.functions import function_body, put_source
from portway_gcp.deploy.kinds.iam_bindings import merge, pubsub_policy, run_policy_request
from portway_gcp.deploy.kinds.pubsub_subscriptions import subscription_body
from portway_gcp.deploy.kinds.scheduler_jobs import job_body
from portway_gcp.deploy.kinds.storage_notifications import notification
from portway_gcp.deploy.observe import Observed, marker, parse_marker
from portway_gcp.deploy.resources import GcpResource, Kind
from portway_gcp.naming import Names

from portway.config import StageConfig
from portway.deploy.execute import CallLog
from portway.errors import ConfigError, DeployError

LABELS = {"portway-app": "demo", "portway-stage": "test"}
A = "serviceAccount:demo-test-work@p.iam.gserviceaccount.com"


@pytest.fixture
def names(unique_name: Callable[[str], str]) -> Names:
    return Names("demo", "test", unique_name("proj"), "europe-west1")


@pytest.fixture
def context(gcp_stage: StageConfig, names: Names) -> ApplyContext:
    settings = {**gcp_stage.settings, "project": names.project}
    clients = GcpClients.for_stage(StageConfig("test", "gcp", settings))
    return ApplyContext(clients, names, CallLog(), skips=frozenset(SKIPS), progress=lambda _: None)


def test_every_kind_has_its_operations() -> None:
    for kind in Kind:
        assert operations(kind).kind is kind


# -- emulator gaps: explicit, known, and for emulators only ------------------------------------


def test_emulator_skips_must_be_known_names() -> None:
    with pytest.raises(ConfigError, match="unknown pubsub-everything; known: "):
        emulator_skips({"emulator_skips": ["pubsub-everything"]}, emulated=True)


def test_emulator_skips_are_refused_where_google_is_reached() -> None:
    with pytest.raises(ConfigError, match="every call is made: remove it"):
        emulator_skips({"emulator_skips": ["pubsub-iam"]}, emulated=False)
    assert emulator_skips({}, emulated=False) == frozenset()


# -- IAM bindings: read-modify-write -----------------------------------------------------------


def test_merge_adds_portways_bindings_and_keeps_everyone_elses() -> None:
    found = [{"role": "roles/storage.admin", "members": ["user:ops@example.com"]}]
    merged = merge(found, set(), {("roles/storage.objectViewer", A)})
    assert merged == [
        {"role": "roles/storage.admin", "members": ["user:ops@example.com"]},
        {"role": "roles/storage.objectViewer", "members": [A]},
    ]


def test_merge_removes_only_what_portway_added_before() -> None:
    found = [
        {"role": "roles/storage.objectViewer", "members": [A, "user:ops@example.com"]},
        {"role": "roles/storage.objectCreator", "members": [A]},
    ]
    merged = merge(found, {("roles/storage.objectCreator", A)}, {("roles/storage.objectViewer", A)})
    assert merged == [
        {"role": "roles/storage.objectViewer", "members": [A, "user:ops@example.com"]}
    ]


def test_merge_of_a_policy_that_already_holds_the_bindings_changes_nothing() -> None:
    found = [{"role": "roles/pubsub.publisher", "members": [A]}]
    assert merge(found, {("roles/pubsub.publisher", A)}, {("roles/pubsub.publisher", A)}) is None


def test_merge_keeps_conditional_bindings_as_found() -> None:
    conditional = {"role": "roles/pubsub.publisher", "members": [A], "condition": {"title": "t"}}
    merged = merge([conditional], {("roles/pubsub.publisher", A)}, {("roles/pubsub.viewer", A)})
    assert merged == [conditional, {"role": "roles/pubsub.viewer", "members": [A]}]


def bindings_on(path: str, *pairs: tuple[str, str]) -> GcpResource:
    return GcpResource(
        Kind.IAM_BINDINGS,
        path,
        "IAM bindings",
        {"resource": path, "bindings": [{"role": r, "member": m} for r, m in pairs]},
    )


def test_bucket_bindings_are_written_over_the_wire_keeping_others(
    context: ApplyContext, unique_name: Callable[[str], str]
) -> None:
    storage = context.clients.storage
    bucket = storage.bucket(unique_name("bucket"))
    bucket.create()
    policy = bucket.get_iam_policy(requested_policy_version=3)
    policy.bindings.append({"role": "roles/storage.admin", "members": {"user:ops@example.com"}})
    bucket.set_iam_policy(policy)
    path = f"projects/_/buckets/{bucket.name}"
    viewer = ("roles/storage.objectViewer", A)
    creator = ("roles/storage.objectCreator", A)
    operations(Kind.IAM_BINDINGS).create(context, bindings_on(path, viewer, creator))

    def roles() -> dict[str, set[str]]:
        found = bucket.get_iam_policy(requested_policy_version=3).bindings
        return {b["role"]: set(b["members"]) for b in found}

    assert roles() == {
        "roles/storage.admin": {"user:ops@example.com"},
        "roles/storage.objectViewer": {A},
        "roles/storage.objectCreator": {A},
    }
    before = Observed(
        Kind.IAM_BINDINGS, path, attributes={"spec": bindings_on(path, viewer, creator).spec}
    )
    operations(Kind.IAM_BINDINGS).update(context, bindings_on(path, viewer), before)
    assert roles() == {
        "roles/storage.admin": {"user:ops@example.com"},
        "roles/storage.objectViewer": {A},
    }

    writes = len(context.log.writes)
    unchanged = Observed(
        Kind.IAM_BINDINGS, path, attributes={"spec": bindings_on(path, viewer).spec}
    )
    operations(Kind.IAM_BINDINGS).update(context, bindings_on(path, viewer), unchanged)
    assert len(context.log.writes) == writes, "a policy already right is not written"
    operations(Kind.IAM_BINDINGS).delete(context, unchanged)
    assert roles() == {"roles/storage.admin": {"user:ops@example.com"}}


def test_pubsub_and_cloud_run_bindings_are_skipped_on_the_emulator_and_noted(
    context: ApplyContext, names: Names
) -> None:
    topic = names.topic_path(names.topic("jobs"))
    service = f"{names.location_path}/services/demo-test-work"
    operations(Kind.IAM_BINDINGS).create(context, bindings_on(topic, ("roles/pubsub.publisher", A)))
    operations(Kind.IAM_BINDINGS).create(context, bindings_on(service, ("roles/run.invoker", A)))
    assert context.log.writes == [
        f"setIamPolicy {topic} (skipped: emulator)",
        f"setIamPolicy {service} (skipped: emulator)",
    ]


def test_a_topic_policy_written_back_keeps_etag_version_and_conditions() -> None:
    from google.iam.v1 import policy_pb2  # type: ignore[import-untyped]
    from google.type import expr_pb2

    found = policy_pb2.Policy(version=3, etag=b"BwX1")
    found.bindings.add(role="roles/pubsub.viewer", members=["user:ops@example.com"])
    found.bindings.add(
        role="roles/pubsub.publisher",
        members=["user:night@example.com"],
        condition=expr_pb2.Expr(expression="request.time.getHours('UTC') < 6"),
    )
    written = pubsub_policy(found, set(), {("roles/pubsub.publisher", A)})
    assert (written.version, written.etag) == (3, b"BwX1")
    assert [(b.role, list(b.members), b.condition.expression) for b in written.bindings] == [
        ("roles/pubsub.publisher", [A], ""),
        ("roles/pubsub.viewer", ["user:ops@example.com"], ""),
        ("roles/pubsub.publisher", ["user:night@example.com"], "request.time.getHours('UTC') < 6"),
    ]
    assert pubsub_policy(written, set(), {("roles/pubsub.publisher", A)}) is None


def test_a_cloud_run_invoker_binding_is_set_with_the_etag_read() -> None:
    found = {
        "version": 1,
        "etag": "BwX2",
        "bindings": [{"role": "roles/run.admin", "members": ["user:o@example.com"]}],
    }
    assert run_policy_request(found, set(), {("roles/run.invoker", "allUsers")}) == {
        "policy": {
            "version": 1,
            "etag": "BwX2",
            "bindings": [
                {"role": "roles/run.admin", "members": ["user:o@example.com"]},
                {"role": "roles/run.invoker", "members": ["allUsers"]},
            ],
        }
    }


# -- requests the emulators cannot take: built with the SDK's own types ------------------------


def test_a_bucket_notification_is_the_sdks_object_finalize_config_for_the_trigger_topic(
    context: ApplyContext, names: Names
) -> None:
    spec = {
        "bucket": "projects/_/buckets/demo-test-landing-1234abcd",
        "topic": names.topic_path("demo-test-enqueue--in"),
        "event_types": ["OBJECT_FINALIZE"],
        "object_name_prefix": "incoming/",
        "payload_format": "JSON_API_V1",
        "suffix": ".csv",
    }
    built = notification(context.clients.storage, spec)
    assert built.bucket.name == "demo-test-landing-1234abcd"
    assert (built.topic_project, built.topic_name) == (names.project, "demo-test-enqueue--in")
    # What BucketNotification.create() POSTs to /b/BUCKET/notificationConfigs, less the
    # topic, which it adds as //pubsub.googleapis.com/projects/P/topics/T. No suffix:
    # Cloud Storage filters by prefix only.
    assert built._properties == {
        "event_types": ["OBJECT_FINALIZE"],
        "object_name_prefix": "incoming/",
        "payload_format": "JSON_API_V1",
    }


def test_a_skipped_notification_is_noted_not_faked(context: ApplyContext) -> None:
    resource = GcpResource(
        Kind.STORAGE_NOTIFICATION,
        "projects/_/buckets/b-1/notificationConfigs/t-in",
        "object trigger",
        {"bucket": "projects/_/buckets/b-1", "topic": "projects/p/topics/t-in"},
    )
    operations(Kind.STORAGE_NOTIFICATION).create(context, resource)
    assert context.log.calls == [
        (f"storage.notifications.insert {resource.name} (skipped: emulator)", True)
    ]


def function(spec_changes: dict[str, Any] | None = None) -> GcpResource:
    spec = {
        "runtime": "python312",
        "entry_point": "handle",
        "memory_mib": 256,
        "timeout_seconds": 60,
        "environment": {"PORTWAY_FUNCTION": "work"},
        "service_account_email": "demo-test-work@p.iam.gserviceaccount.com",
        "labels": LABELS,
        "source_sha256": "ab" * 32,
        "trigger": {"kind": "http"},
        **(spec_changes or {}),
    }
    return GcpResource(Kind.FUNCTION, "projects/p/locations/r/functions/demo-test-work", "f", spec)


def test_a_function_body_carries_its_marks_and_source_only_when_uploaded() -> None:
    resource = function()
    body = function_body(resource, {"bucket": "uploads", "object_": "source.zip"})
    assert body["labels"] == {
        **LABELS,
        "portway-spec": resource.spec_hash,
        "portway-source": "ab" * 16,
    }
    assert body["build_config"] == {
        "runtime": "python312",
        "entry_point": "handle",
        "source": {"storage_source": {"bucket": "uploads", "object_": "source.zip"}},
    }
    assert body["service_config"] == {
        "available_memory": "256Mi",
        "timeout_seconds": 60,
        "environment_variables": {"PORTWAY_FUNCTION": "work"},
        "service_account_email": "demo-test-work@p.iam.gserviceaccount.com",
    }
    assert "source" not in function_body(resource, None)["build_config"]


def subscription(push: bool) -> GcpResource:
    return GcpResource(
        Kind.PUBSUB_SUBSCRIPTION,
        "projects/p/subscriptions/demo-test-jobs--push",
        "subscription of queue jobs",
        {
            "topic": "projects/p/topics/demo-test-jobs",
            "labels": LABELS,
            "ack_deadline_seconds": 30,
            "message_retention_seconds": 345600,
            "expiration_policy": "never",
            "push": {
                "push_to_function": "projects/p/locations/r/functions/demo-test-work",
                "oidc_service_account_email": "invoker@p.iam.gserviceaccount.com",
            }
            if push
            else None,
            "dead_letter_policy": {
                "dead_letter_topic": "projects/p/topics/demo-test-jobs-dlq",
                "max_delivery_attempts": 5,
            },
        },
    )


def test_a_push_subscription_presents_the_invokers_token_for_the_function_url() -> None:
    from google.pubsub_v1 import Subscription

    url = "https://demo-test-work-abc-ew.a.run.app"
    message = Subscription(subscription_body(subscription(push=True), url))
    assert message.push_config.push_endpoint == url
    assert (
        message.push_config.oidc_token.service_account_email == "invoker@p.iam.gserviceaccount.com"
    )
    assert message.push_config.oidc_token.audience == url
    assert "expiration_policy" in message  # present with no ttl: it never expires
    assert not message.expiration_policy.ttl
    assert message.dead_letter_policy.max_delivery_attempts == 5
    assert message.labels["portway-spec"] == subscription(push=True).spec_hash


def test_a_scheduler_job_calls_the_url_with_oidc_and_its_marks_in_the_description(
    names: Names,
) -> None:
    from google.cloud.scheduler_v1 import Job

    resource = GcpResource(
        Kind.SCHEDULER_JOB,
        f"{names.location_path}/jobs/demo-test-pull-ftp",
        "schedule",
        {
            "schedule": "*/15 * * * *",
            "time_zone": "UTC",
            "http_target": {
                "function": "f",
                "http_method": "POST",
                "body": '{"portway":"schedule"}',
                "oidc_service_account_email": "invoker@p.iam.gserviceaccount.com",
            },
        },
    )
    job = Job(job_body(resource, names, "https://f.example"))
    assert job.http_target.oidc_token.audience == "https://f.example"
    assert json.loads(job.http_target.body) == {"portway": "schedule"}
    assert parse_marker(job.description) == {
        "portway-app": "demo",
        "portway-stage": "test",
        "portway-spec": resource.spec_hash,
    }


def test_a_marker_round_trips() -> None:
    names = Names("demo", "test", "acme-data", "europe-west1")
    assert parse_marker(marker(names, "0123456789abcdef")) == {
        "portway-app": "demo",
        "portway-stage": "test",
        "portway-spec": "0123456789abcdef",
    }


# -- over the wire: service accounts, topics, subscriptions, buckets ---------------------------


def test_a_service_account_left_by_a_cut_short_deploy_is_converged_not_refused(
    context: ApplyContext, names: Names
) -> None:
    account = names.service_account("work")
    resource = GcpResource(
        Kind.SERVICE_ACCOUNT,
        names.service_account_path(account),
        "service account of function work",
        {"account_id": account, "email": names.service_account_email(account), "display_name": "d"},
    )
    operations(Kind.SERVICE_ACCOUNT).create(context, resource)
    operations(Kind.SERVICE_ACCOUNT).create(context, resource)
    found = context.clients.iam_admin.get_service_account(request={"name": resource.name})
    assert parse_marker(found.description)["portway-spec"] == resource.spec_hash
    assert context.log.writes[-1] == "iam.serviceAccounts.patch (skipped: emulator)"


def test_a_pull_subscription_is_created_with_its_policy_and_deleted_twice_quietly(
    context: ApplyContext, names: Names
) -> None:
    publisher, subscriber = context.clients.publisher, context.clients.subscriber
    topic = names.topic_path("demo-test-jobs")
    dead = names.topic_path("demo-test-jobs-dlq")
    for path in (topic, dead):
        publisher.create_topic(request={"name": path})
    base = subscription(push=False)
    spec = {
        **base.spec,
        "topic": topic,
        "dead_letter_policy": {"dead_letter_topic": dead, "max_delivery_attempts": 7},
    }
    resource = GcpResource(
        base.kind, names.subscription_path("demo-test-jobs--push"), base.neutral, spec
    )
    operations(Kind.PUBSUB_SUBSCRIPTION).create(context, resource)
    found = subscriber.get_subscription(request={"subscription": resource.name})
    assert found.labels["portway-spec"] == resource.spec_hash
    assert found.dead_letter_policy.max_delivery_attempts == 7
    assert found.ack_deadline_seconds == 30
    observed = Observed(resource.kind, resource.name)
    operations(Kind.PUBSUB_SUBSCRIPTION).delete(context, observed)
    operations(Kind.PUBSUB_SUBSCRIPTION).delete(context, observed)  # already gone: fine
    with pytest.raises(exceptions.NotFound):
        subscriber.get_subscription(request={"subscription": resource.name})


def test_a_bucket_gets_its_labels_even_where_the_insert_drops_them(
    context: ApplyContext, names: Names
) -> None:
    resource = GcpResource(
        Kind.STORAGE_BUCKET,
        f"projects/_/buckets/{names.bucket('lake')}",
        "bucket lake",
        {"labels": LABELS, "location": "europe-west1", "uniform_bucket_level_access": True},
    )
    operations(Kind.STORAGE_BUCKET).create(context, resource)
    found = context.clients.storage.get_bucket(names.bucket("lake"))
    assert found.labels == {**LABELS, "portway-spec": resource.spec_hash}


def test_a_bucket_of_that_name_not_made_by_this_deployment_is_never_taken_over(
    context: ApplyContext, names: Names
) -> None:
    context.clients.storage.create_bucket(names.bucket("lake"))
    resource = GcpResource(
        Kind.STORAGE_BUCKET,
        f"projects/_/buckets/{names.bucket('lake')}",
        "bucket lake",
        {"labels": LABELS, "location": "europe-west1", "uniform_bucket_level_access": True},
    )
    with pytest.raises(DeployError, match="was not created by this deployment"):
        operations(Kind.STORAGE_BUCKET).create(context, resource)


# -- errors: the resource, the operation and the fix --------------------------------------------


def test_an_api_not_enabled_names_the_api_to_enable() -> None:
    error = exceptions.PermissionDenied(
        "Cloud Pub/Sub API has not been used in project 123 before or it is disabled. Enable "
        "it by visiting https://console.developers.google.com/apis/api/pubsub.googleapis.com"
    )
    assert "gcloud services enable pubsub.googleapis.com" in fix_for(error, "pubsub.topics.create")


def test_a_missing_permission_names_the_operation_and_the_resource() -> None:
    calls = ResourceCalls(CallLog(), "pubsub:topic", "projects/p/topics/t")

    def refuse(**_: Any) -> None:
        raise exceptions.PermissionDenied("User not authorized to perform this action.")

    with pytest.raises(DeployError) as caught:
        calls.write("pubsub.topics.create", refuse, request={})
    assert str(caught.value).startswith(
        "pubsub:topic projects/p/topics/t: pubsub.topics.create failed: PermissionDenied: "
    )
    assert "lacks the permission for pubsub.topics.create" in str(caught.value)


@pytest.mark.parametrize("refusal", [exceptions.InvalidArgument, exceptions.BadRequest])
def test_a_call_naming_a_new_service_account_is_tried_again_until_it_propagates(
    refusal: type[exceptions.GoogleAPICallError],
) -> None:
    # gRPC APIs refuse with InvalidArgument, the REST ones (Cloud Storage) with 400.
    calls = ResourceCalls(CallLog(), "functions:function", "f")
    answers: list[Exception | str] = [
        refusal("Service account a@p.iam.gserviceaccount.com does not exist."),
        "created",
    ]

    def create() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert calls.settling("cloudfunctions.functions.create", create, delays=(0,)) == "created"
    assert calls.log.writes == ["cloudfunctions.functions.create"] * 2


def test_the_source_zip_is_put_as_a_signed_url_upload_takes_it(
    context: ApplyContext, unique_name: Callable[[str], str]
) -> None:
    # drongo's upload URL points at storage.googleapis.com; the same PUT (an XML API
    # object URL, the zip's content type and the size range header) goes to the storage
    # emulator's XML endpoint here, and the object is read back.
    storage = context.clients.storage
    bucket = storage.create_bucket(unique_name("uploads"))
    data = b"PK\x05\x06" + bytes(18)
    put_source(f"{context.clients.storage_endpoint}/{bucket.name}/source.zip", data)
    blob = bucket.get_blob("source.zip")
    assert blob.download_as_bytes() == data
    assert blob.content_type == "application/zip"
