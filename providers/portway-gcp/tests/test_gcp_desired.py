"""Stage 1 of a Google Cloud deploy: the resources a pipeline wants (pure, no Google call)."""

from __future__ import annotations

import json

import pytest
from portway_gcp.deploy.desired import ENTRY_POINT, desired_resources, trigger_ack_deadline
from portway_gcp.deploy.resources import GcpResource, Kind, spec_hash
from portway_gcp.naming import Names

from portway import Message, Pipeline
from portway.errors import ValidationError

NAMES = Names("lake-to-warehouse", "prod", "acme-data", "europe-west1")
SHA = "ab" * 32
NUMBER = "123456789012"
P = "lake-to-warehouse-prod-"
ACCOUNTS = "projects/acme-data/serviceAccounts/"
EMAIL = "@acme-data.iam.gserviceaccount.com"
TOPICS = f"projects/acme-data/topics/{P}"
SUBSCRIPTIONS = f"projects/acme-data/subscriptions/{P}"
FUNCTIONS = f"projects/acme-data/locations/europe-west1/functions/{P}"
SERVICES = f"projects/acme-data/locations/europe-west1/services/{P}"
LANDING = "projects/_/buckets/lake-to-warehouse-prod-landing-e95485aa"
LAKE = "projects/_/buckets/lake-to-warehouse-prod-lake-e95485aa"
INVOKER_EMAIL = f"lake-to-warehouse-pro-af2c4790{EMAIL}"


def desired(pipeline: Pipeline, names: Names = NAMES) -> tuple[GcpResource, ...]:
    return desired_resources(
        pipeline, names, app="pipeline:app", source_sha256=SHA, project_number=NUMBER
    )


def find(resources: tuple[GcpResource, ...], kind: Kind, name: str) -> GcpResource:
    matches = [r for r in resources if r.key == (kind, name)]
    assert len(matches) == 1, [r.key for r in resources]
    return matches[0]


def test_example_wants_these_resources_in_creation_order(example: Pipeline) -> None:
    assert [(r.kind.value, r.name) for r in desired(example)] == [
        ("iam:service-account", f"{ACCOUNTS}lake-to-warehouse-pro-24263943{EMAIL}"),
        ("iam:service-account", f"{ACCOUNTS}{INVOKER_EMAIL}"),
        ("iam:service-account", f"{ACCOUNTS}lake-to-warehouse-pro-bbb5a164{EMAIL}"),
        ("iam:service-account", f"{ACCOUNTS}{P}enqueue{EMAIL}"),
        ("iam:service-account", f"{ACCOUNTS}{P}report{EMAIL}"),
        ("iam:service-account", f"{ACCOUNTS}{P}status{EMAIL}"),
        ("pubsub:topic", f"{TOPICS}enqueue--in"),
        ("pubsub:topic", f"{TOPICS}enqueue--in-dlq"),
        ("pubsub:topic", f"{TOPICS}loaded"),
        ("pubsub:topic", f"{TOPICS}report--in-dlq"),
        ("pubsub:topic", f"{TOPICS}transform-jobs"),
        ("pubsub:topic", f"{TOPICS}transform-jobs-dlq"),
        ("storage:bucket", LAKE),
        ("storage:bucket", LANDING),
        ("functions:function", f"{FUNCTIONS}enqueue"),
        ("functions:function", f"{FUNCTIONS}pull-ftp"),
        ("functions:function", f"{FUNCTIONS}report"),
        ("functions:function", f"{FUNCTIONS}status"),
        ("functions:function", f"{FUNCTIONS}transform"),
        ("pubsub:subscription", f"{SUBSCRIPTIONS}enqueue--in"),
        ("pubsub:subscription", f"{SUBSCRIPTIONS}enqueue--in-dlq"),
        ("pubsub:subscription", f"{SUBSCRIPTIONS}report--in"),
        ("pubsub:subscription", f"{SUBSCRIPTIONS}report--in-dlq"),
        ("pubsub:subscription", f"{SUBSCRIPTIONS}transform-jobs--push"),
        ("pubsub:subscription", f"{SUBSCRIPTIONS}transform-jobs-dlq"),
        ("scheduler:job", f"projects/acme-data/locations/europe-west1/jobs/{P}pull-ftp"),
        ("iam:bindings", LAKE),
        ("iam:bindings", LANDING),
        ("iam:bindings", f"{SERVICES}enqueue"),
        ("iam:bindings", f"{SERVICES}pull-ftp"),
        ("iam:bindings", f"{SERVICES}report"),
        ("iam:bindings", f"{SERVICES}transform"),
        ("iam:bindings", f"{SUBSCRIPTIONS}enqueue--in"),
        ("iam:bindings", f"{SUBSCRIPTIONS}report--in"),
        ("iam:bindings", f"{SUBSCRIPTIONS}transform-jobs--push"),
        ("iam:bindings", f"{TOPICS}enqueue--in"),
        ("iam:bindings", f"{TOPICS}enqueue--in-dlq"),
        ("iam:bindings", f"{TOPICS}loaded"),
        ("iam:bindings", f"{TOPICS}report--in-dlq"),
        ("iam:bindings", f"{TOPICS}transform-jobs"),
        ("iam:bindings", f"{TOPICS}transform-jobs-dlq"),
        (
            "storage:notification",
            f"{LANDING}/notificationConfigs/{P}enqueue--in",
        ),
    ]


def test_queue_subscription_pushes_to_its_consumer_and_dead_letters(example: Pipeline) -> None:
    subscription = find(
        desired(example), Kind.PUBSUB_SUBSCRIPTION, f"{SUBSCRIPTIONS}transform-jobs--push"
    )
    assert subscription.spec == {
        "topic": f"{TOPICS}transform-jobs",
        "labels": {"portway-app": "lake-to-warehouse", "portway-stage": "prod"},
        "ack_deadline_seconds": 30,  # the queue's visibility timeout
        "message_retention_seconds": 4 * 24 * 3600,
        "expiration_policy": "never",
        "push": {
            "push_to_function": f"{FUNCTIONS}transform",
            "oidc_service_account_email": INVOKER_EMAIL,
        },
        "dead_letter_policy": {
            "dead_letter_topic": f"{TOPICS}transform-jobs-dlq",
            "max_delivery_attempts": 5,  # the queue's max_attempts
        },
    }


def test_dead_letters_are_kept_seven_days_in_a_pull_subscription(example: Pipeline) -> None:
    dead_letters = find(
        desired(example), Kind.PUBSUB_SUBSCRIPTION, f"{SUBSCRIPTIONS}report--in-dlq"
    )
    assert dead_letters.spec["topic"] == f"{TOPICS}report--in-dlq"
    assert dead_letters.spec["push"] is None
    assert dead_letters.spec["dead_letter_policy"] is None
    assert dead_letters.spec["message_retention_seconds"] == 7 * 24 * 3600
    assert dead_letters.spec["expiration_policy"] == "never"


def test_a_topic_subscriber_gets_a_push_subscription_of_its_own(example: Pipeline) -> None:
    subscription = find(desired(example), Kind.PUBSUB_SUBSCRIPTION, f"{SUBSCRIPTIONS}report--in")
    assert subscription.spec["topic"] == f"{TOPICS}loaded"
    assert subscription.spec["push"]["push_to_function"] == f"{FUNCTIONS}report"
    assert subscription.spec["dead_letter_policy"] == {
        "dead_letter_topic": f"{TOPICS}report--in-dlq",
        "max_delivery_attempts": 5,
    }


def test_trigger_ack_deadline_covers_the_function_timeout() -> None:
    app = Pipeline("shop")
    events = app.topic("events")

    @app.on_message(events, timeout=300)
    def slow(message: Message) -> None:
        """Slow."""

    @app.on_message(events, timeout=5)
    def quick(message: Message) -> None:
        """Quick: the core default visibility timeout is the floor."""

    assert trigger_ack_deadline(app.functions["slow"]) == 300
    assert trigger_ack_deadline(app.functions["quick"]) == 30


def test_object_trigger_filters_the_prefix_natively_and_leaves_the_suffix_to_the_shim(
    example: Pipeline,
) -> None:
    resources = desired(example)
    notification = find(
        resources, Kind.STORAGE_NOTIFICATION, f"{LANDING}/notificationConfigs/{P}enqueue--in"
    )
    assert notification.spec == {
        "bucket": LANDING,
        "topic": f"{TOPICS}enqueue--in",
        "event_types": ["OBJECT_FINALIZE"],
        "object_name_prefix": "",
        "payload_format": "JSON_API_V1",
        "suffix": ".csv",
    }
    function = find(resources, Kind.FUNCTION, f"{FUNCTIONS}enqueue")
    assert function.spec["trigger"] == {
        "kind": "object_created",
        "bucket": "landing",
        "prefix": "",
        "suffix": ".csv",
    }


def test_function_spec_runs_the_shim_as_its_own_account(example: Pipeline) -> None:
    function = find(desired(example), Kind.FUNCTION, f"{FUNCTIONS}transform")
    resources = json.loads(function.spec["environment"]["PORTWAY_GCP_RESOURCES"])
    assert function.spec == {
        "runtime": "python311",
        "entry_point": ENTRY_POINT,
        "memory_mib": 256,
        "timeout_seconds": 30,
        "environment": {
            "PORTWAY_APP": "pipeline:app",
            "PORTWAY_FUNCTION": "transform",
            "PORTWAY_GCP_RESOURCES": function.spec["environment"]["PORTWAY_GCP_RESOURCES"],
            "PORTWAY_STAGE": "prod",
        },
        "service_account_email": f"lake-to-warehouse-pro-24263943{EMAIL}",
        "labels": {"portway-app": "lake-to-warehouse", "portway-stage": "prod"},
        "source_sha256": SHA,
        # Pub/Sub push delivers one message per request; the batch handler gets a list.
        "trigger": {
            "kind": "message",
            "source": "transform-jobs",
            "batch": True,
            "batch_size": 10,
            "messages_per_request": 1,
        },
    }
    assert resources == {
        "buckets": {
            "lake": "lake-to-warehouse-prod-lake-e95485aa",
            "landing": "lake-to-warehouse-prod-landing-e95485aa",
        },
        "queues": {"transform-jobs": f"{TOPICS}transform-jobs"},
        "topics": {"loaded": f"{TOPICS}loaded"},
    }


def test_schedule_calls_the_function_in_utc_with_the_invoker_token(example: Pipeline) -> None:
    job = find(
        desired(example),
        Kind.SCHEDULER_JOB,
        f"projects/acme-data/locations/europe-west1/jobs/{P}pull-ftp",
    )
    assert job.spec == {
        "schedule": "*/15 * * * *",
        "time_zone": "UTC",
        "http_target": {
            "function": f"{FUNCTIONS}pull-ftp",
            "http_method": "POST",
            "body": '{"portway":"schedule","schedule":"rate(15 minutes)"}',
            "oidc_service_account_email": INVOKER_EMAIL,
        },
    }


def test_bindings_are_resources_holding_their_exact_list(example: Pipeline) -> None:
    bindings = find(desired(example), Kind.IAM_BINDINGS, LAKE)
    assert bindings.spec == {
        "resource": LAKE,
        "bindings": [
            {
                "role": "roles/storage.objectCreator",
                "member": f"serviceAccount:lake-to-warehouse-pro-24263943{EMAIL}",
            },
            {
                "role": "roles/storage.objectViewer",
                "member": f"serviceAccount:{P}report{EMAIL}",
            },
            {
                "role": "roles/storage.objectViewer",
                "member": f"serviceAccount:{P}status{EMAIL}",
            },
        ],
    }
    assert bindings.depends_on[0] == (Kind.STORAGE_BUCKET, LAKE)


def test_no_role_is_bound_on_the_project(example: Pipeline) -> None:
    for resource in desired(example):
        if resource.kind is Kind.IAM_BINDINGS:
            assert resource.name not in ("projects/acme-data", "projects/_")
            assert resource.name.count("/") >= 3


def test_every_dependency_exists_and_is_created_first(example: Pipeline) -> None:
    resources = desired(example)
    position = {r.key: index for index, r in enumerate(resources)}
    for index, resource in enumerate(resources):
        for dependency in resource.depends_on:
            assert dependency in position, (resource.key, dependency)
            assert position[dependency] < index, (resource.key, dependency)
            assert dependency[0].rank <= resource.kind.rank
    assert len(position) == len(resources)


def test_desired_resources_are_deterministic(example: Pipeline) -> None:
    first, second = desired(example), desired(example)
    assert first == second
    assert [r.spec_hash for r in first] == [r.spec_hash for r in second]


def test_spec_hash_is_canonical_json() -> None:
    assert spec_hash({"b": 1, "a": [2]}) == spec_hash({"a": [2], "b": 1})
    assert len(spec_hash({})) == 16


def test_a_queue_without_consumer_keeps_its_messages_in_a_pull_subscription() -> None:
    app = Pipeline("shop")
    app.queue("orders")
    names = Names("shop", "prod", "acme-data", "europe-west1")
    resources = desired(app, names)
    subscription = find(
        resources,
        Kind.PUBSUB_SUBSCRIPTION,
        "projects/acme-data/subscriptions/shop-prod-orders--push",
    )
    assert subscription.spec["push"] is None
    assert not any(r.kind is Kind.SERVICE_ACCOUNT for r in resources)


def test_what_pubsub_would_refuse_is_refused_before_deploying() -> None:
    app = Pipeline("shop")
    orders = app.queue("orders", visibility_timeout=600)

    @app.on_message(orders, timeout=600)
    def handle(message: Message) -> None:
        """Event-driven Cloud Run functions run at most 540 s."""

    names = Names("shop", "prod", "acme-data", "europe-west1")
    with pytest.raises(ValidationError, match="cannot be deployed on Google Cloud"):
        desired(app, names)
