"""Least-privilege IAM bindings on Google Cloud, asserted whole: exact roles on exact resources."""

from __future__ import annotations

import pytest
from portway_gcp.iam import (
    Binding,
    bucket_roles,
    deployment_bindings,
    function_bindings,
    invoker_bindings,
    pubsub_service_agent_bindings,
    storage_service_agent_bindings,
)
from portway_gcp.naming import Names

from portway import HttpRequest, Pipeline
from portway.errors import ConfigError
from portway.model import Action

NAMES = Names("lake-to-warehouse", "prod", "acme-data", "europe-west1")
NUMBER = "123456789012"

LANDING = "projects/_/buckets/lake-to-warehouse-prod-landing-e95485aa"
LAKE = "projects/_/buckets/lake-to-warehouse-prod-lake-e95485aa"
TOPICS = "projects/acme-data/topics/lake-to-warehouse-prod-"
SUBSCRIPTIONS = "projects/acme-data/subscriptions/lake-to-warehouse-prod-"
SERVICES = "projects/acme-data/locations/europe-west1/services/lake-to-warehouse-prod-"
ACCOUNTS = "@acme-data.iam.gserviceaccount.com"
# Service account ids hold at most 30 characters: longer ones end with a stable hash.
TRANSFORM = f"serviceAccount:lake-to-warehouse-pro-24263943{ACCOUNTS}"
PULL_FTP = f"serviceAccount:lake-to-warehouse-pro-bbb5a164{ACCOUNTS}"
INVOKER = f"serviceAccount:lake-to-warehouse-pro-af2c4790{ACCOUNTS}"
PUBSUB_AGENT = f"serviceAccount:service-{NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"
STORAGE_AGENT = f"serviceAccount:service-{NUMBER}@gs-project-accounts.iam.gserviceaccount.com"

VIEWER = "roles/storage.objectViewer"
CREATOR = "roles/storage.objectCreator"
USER = "roles/storage.objectUser"
PUBLISHER = "roles/pubsub.publisher"


def bindings_of(example: Pipeline, function: str) -> list[Binding]:
    return function_bindings(example.functions[function], NAMES)


def test_pull_ftp_may_create_objects_in_landing_only(example: Pipeline) -> None:
    assert bindings_of(example, "pull_ftp") == [Binding(LANDING, CREATOR, PULL_FTP)]


def test_enqueue_may_publish_to_the_jobs_topic_only(example: Pipeline) -> None:
    member = f"serviceAccount:lake-to-warehouse-prod-enqueue{ACCOUNTS}"
    assert bindings_of(example, "enqueue") == [
        Binding(f"{TOPICS}transform-jobs", PUBLISHER, member)
    ]


def test_transform_reads_landing_writes_lake_and_publishes_loaded(example: Pipeline) -> None:
    assert bindings_of(example, "transform") == [
        Binding(LAKE, CREATOR, TRANSFORM),
        Binding(LANDING, VIEWER, TRANSFORM),
        Binding(f"{TOPICS}loaded", PUBLISHER, TRANSFORM),
    ]


def test_report_may_read_the_lake_only(example: Pipeline) -> None:
    member = f"serviceAccount:lake-to-warehouse-prod-report{ACCOUNTS}"
    assert bindings_of(example, "report") == [Binding(LAKE, VIEWER, member)]


def test_listing_is_granted_by_object_viewer(example: Pipeline) -> None:
    member = f"serviceAccount:lake-to-warehouse-prod-status{ACCOUNTS}"
    assert bindings_of(example, "status") == [Binding(LAKE, VIEWER, member)]


@pytest.mark.parametrize(
    ("actions", "roles"),
    [
        ({Action.READ}, [VIEWER]),
        ({Action.LIST}, [VIEWER]),
        ({Action.READ, Action.LIST}, [VIEWER]),
        ({Action.WRITE}, [CREATOR]),
        ({Action.READ, Action.WRITE}, [CREATOR, VIEWER]),
        ({Action.DELETE}, [USER]),
        ({Action.WRITE, Action.DELETE}, [USER]),
        ({Action.READ, Action.WRITE, Action.LIST, Action.DELETE}, [USER]),
    ],
)
def test_bucket_uses_merge_into_the_smallest_role_set(
    actions: set[Action], roles: list[str]
) -> None:
    assert bucket_roles(actions) == roles


def test_a_function_gets_one_binding_per_role_and_bucket() -> None:
    app = Pipeline("shop")
    orders = app.bucket("orders")

    @app.http("POST", "/tidy", uses=[orders.read(), orders.list(), orders.delete()])
    def tidy(request: HttpRequest) -> None:
        """Reads, lists and deletes: objectUser alone covers all three."""

    names = Names("shop", "prod", "acme-data", "europe-west1")
    bucket = f"projects/_/buckets/{names.bucket('orders')}"
    member = f"serviceAccount:shop-prod-tidy{ACCOUNTS}"
    assert function_bindings(app.functions["tidy"], names) == [Binding(bucket, USER, member)]


def test_the_invoker_may_call_every_function_fed_by_pubsub_or_scheduler(
    example: Pipeline,
) -> None:
    # status is a private HTTP route: its callers are granted run.invoker themselves.
    assert invoker_bindings(example, NAMES) == [
        Binding(f"{SERVICES}{function}", "roles/run.invoker", INVOKER)
        for function in ("enqueue", "pull-ftp", "report", "transform")
    ]


def test_a_public_route_is_invokable_by_all_users() -> None:
    app = Pipeline("shop")

    @app.http("GET", "/health", public=True)
    def health(request: HttpRequest) -> None:
        """Public."""

    names = Names("shop", "prod", "acme-data", "europe-west1")
    service = "projects/acme-data/locations/europe-west1/services/shop-prod-health"
    assert invoker_bindings(app, names) == [Binding(service, "roles/run.invoker", "allUsers")]


def test_pubsub_agent_may_forward_dead_letters(example: Pipeline) -> None:
    subscriber = "roles/pubsub.subscriber"
    assert pubsub_service_agent_bindings(example, NAMES, NUMBER) == [
        Binding(f"{SUBSCRIPTIONS}enqueue--in", subscriber, PUBSUB_AGENT),
        Binding(f"{SUBSCRIPTIONS}report--in", subscriber, PUBSUB_AGENT),
        Binding(f"{SUBSCRIPTIONS}transform-jobs--push", subscriber, PUBSUB_AGENT),
        Binding(f"{TOPICS}enqueue--in-dlq", PUBLISHER, PUBSUB_AGENT),
        Binding(f"{TOPICS}report--in-dlq", PUBLISHER, PUBSUB_AGENT),
        Binding(f"{TOPICS}transform-jobs-dlq", PUBLISHER, PUBSUB_AGENT),
    ]


def test_storage_agent_may_publish_to_each_object_trigger_topic(example: Pipeline) -> None:
    assert storage_service_agent_bindings(example, NAMES, NUMBER) == [
        Binding(f"{TOPICS}enqueue--in", PUBLISHER, STORAGE_AGENT)
    ]


def test_no_binding_is_on_the_project(example: Pipeline) -> None:
    everything = deployment_bindings(example, NAMES, NUMBER)
    for resource, bindings in everything.items():
        assert resource.split("/")[:2] in (["projects", "_"], ["projects", "acme-data"])
        assert len(resource.split("/")) >= 4, resource
        assert all(b.resource == resource for b in bindings)
        assert bindings == sorted(bindings)
    assert list(everything) == sorted(everything)


def test_a_project_number_is_digits(example: Pipeline) -> None:
    with pytest.raises(ConfigError, match="projectNumber"):
        pubsub_service_agent_bindings(example, NAMES, "acme-data")
