"""Observe finds exactly this deployment's resources: its labels (or description marks)
and name prefix; never another stage's, never what portway did not create."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from portway_gcp.clients import GcpClients
from portway_gcp.deploy.observe import Observed, attached_to, marker, observe, recorded_attachments
from portway_gcp.deploy.resources import Kind
from portway_gcp.naming import Names

from portway.config import StageConfig
from portway.deploy.execute import CallLog
from portway.deploy.record import Record, RecordedResource

TOPIC = "projects/p/topics/demo-test-in"
BUCKET = "projects/_/buckets/demo-test-lake-1234abcd"


def test_bindings_and_notifications_are_attached_to_the_resource_they_sit_on() -> None:
    assert attached_to(Kind.IAM_BINDINGS, BUCKET) == ((Kind.STORAGE_BUCKET, BUCKET),)
    assert attached_to(Kind.IAM_BINDINGS, TOPIC) == ((Kind.PUBSUB_TOPIC, TOPIC),)
    subscription = "projects/p/subscriptions/demo-test-in"
    assert attached_to(Kind.IAM_BINDINGS, subscription) == (
        (Kind.PUBSUB_SUBSCRIPTION, subscription),
    )
    assert attached_to(Kind.IAM_BINDINGS, "projects/p/locations/r/services/demo-test-f") == (
        (Kind.FUNCTION, "projects/p/locations/r/functions/demo-test-f"),
    )
    notification = f"{BUCKET}/notificationConfigs/demo-test-in"
    assert attached_to(Kind.STORAGE_NOTIFICATION, notification) == ((Kind.STORAGE_BUCKET, BUCKET),)


def test_a_recorded_notification_is_observed_while_its_bucket_and_topic_exist() -> None:
    notification = RecordedResource(
        str(Kind.STORAGE_NOTIFICATION),  # as read back from the stored record
        f"{BUCKET}/notificationConfigs/demo-test-in",
        "0123456789abcdef",
        {"bucket": BUCKET, "topic": TOPIC},
    )
    record = Record("demo", "test", (notification,), "2026-11-29T00:00:00+00:00", "1")
    both = {
        (Kind.STORAGE_BUCKET, BUCKET): Observed(Kind.STORAGE_BUCKET, BUCKET),
        (Kind.PUBSUB_TOPIC, TOPIC): Observed(Kind.PUBSUB_TOPIC, TOPIC),
    }
    (found,) = recorded_attachments(record, both)
    assert (found.kind, found.name, found.spec_hash) == (
        Kind.STORAGE_NOTIFICATION,
        notification.name,
        "0123456789abcdef",
    )
    assert found.attributes["spec"] == notification.spec
    del both[(Kind.PUBSUB_TOPIC, TOPIC)]
    assert recorded_attachments(record, both) == []
    assert recorded_attachments(None, both) == []


@pytest.fixture
def clients(gcp_stage: StageConfig, unique_name: Callable[[str], str]) -> GcpClients:
    settings = {**gcp_stage.settings, "project": unique_name("proj")}
    return GcpClients.for_stage(StageConfig("test", "gcp", settings))


def test_only_this_deployments_labelled_resources_are_observed(clients: GcpClients) -> None:
    ours = Names("demo", "test", clients.project, clients.region)
    other_stage = Names("demo", "prod", clients.project, clients.region)
    labels = {**ours.labels, "portway-spec": "0123456789abcdef"}
    topics = {
        "labelled": (ours.topic_path("demo-test-jobs"), labels),
        "unlabelled, same prefix": (ours.topic_path("demo-test-manual"), {}),
        "another stage": (other_stage.topic_path("demo-prod-jobs"), other_stage.labels),
        # Labelled as ours but named outside the prefix: not portway's naming, left alone.
        "outside the prefix": (ours.topic_path("elsewhere"), ours.labels),
    }
    for path, topic_labels in topics.values():
        clients.publisher.create_topic(request={"name": path, "labels": topic_labels})
    bucket = clients.storage.bucket(ours.bucket("manual"))
    bucket.create()  # unlabelled, with the deployment's prefix
    account = ours.service_account("work")
    clients.iam_admin.create_service_account(
        request={
            "name": f"projects/{clients.project}",
            "account_id": account,
            "service_account": {"description": marker(ours, "fedcba9876543210")},
        }
    )
    log = CallLog()

    found = observe(clients, ours, None, log)

    assert sorted(found) == [
        (Kind.SERVICE_ACCOUNT, ours.service_account_path(account)),
        (Kind.PUBSUB_TOPIC, ours.topic_path("demo-test-jobs")),
    ]
    assert found[(Kind.PUBSUB_TOPIC, ours.topic_path("demo-test-jobs"))].spec_hash == (
        "0123456789abcdef"
    )
    assert found[(Kind.SERVICE_ACCOUNT, ours.service_account_path(account))].spec_hash == (
        "fedcba9876543210"
    )
    assert log.reads == [
        "iam.serviceAccounts.list",
        "pubsub.topics.list",
        "storage.buckets.list",
        "cloudfunctions.functions.list",
        "pubsub.subscriptions.list",
        "cloudscheduler.jobs.list",
    ]
    assert log.writes == []
