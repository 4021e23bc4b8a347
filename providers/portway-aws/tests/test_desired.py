"""Stage 1 of an AWS deploy: the resources a pipeline wants (pure, no AWS call)."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from portway_aws.deploy.desired import desired_resources, trigger_visibility_timeout
from portway_aws.deploy.resources import AwsResource, Kind
from portway_aws.naming import Names
from portway_aws.policies import function_policy, function_trust_policy
from portway_aws.runtime_config import ResourceMap

from portway import HttpRequest, Message, ObjectEvent, Pipeline, ScheduleEvent
from portway.errors import ValidationError
from portway.loading import load_pipeline
from portway.model import limits

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "lake-to-warehouse"
NAMES = Names("lake-to-warehouse", "prod", "123456789012", "eu-west-1")
SHA = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
PREFIX = "lake-to-warehouse-prod"
SQS = "arn:aws:sqs:eu-west-1:123456789012:"
NAMES_OF_SHOP = Names("shop", "prod", "123456789012", "eu-west-1")
ROLES = "arn:aws:iam::123456789012:role/portway/lake-to-warehouse/prod/"


@pytest.fixture(scope="module")
def example() -> Iterator[Pipeline]:
    """The example pipeline, imported as the CLI does, then forgotten."""
    path = list(sys.path)
    try:
        yield load_pipeline("pipeline:app", EXAMPLE)
    finally:
        sys.modules.pop("pipeline", None)
        sys.path[:] = path


def desired(pipeline: Pipeline) -> tuple[AwsResource, ...]:
    names = Names(pipeline.name, "prod", "123456789012", "eu-west-1")
    return desired_resources(pipeline, names, app="pipeline:app", code_sha256=SHA)


def find(resources: tuple[AwsResource, ...], kind: Kind, name: str) -> AwsResource:
    matches = [r for r in resources if r.key == (kind, name)]
    assert len(matches) == 1, [r.key for r in resources]
    return matches[0]


def test_example_wants_these_resources_in_creation_order(example: Pipeline) -> None:
    assert [(r.kind.value, r.name, r.neutral) for r in desired(example)] == [
        ("iam:role", f"{PREFIX}--scheduler", "scheduler role"),
        ("iam:role", f"{PREFIX}-enqueue", "role of function enqueue"),
        ("iam:role", f"{PREFIX}-pull-ftp", "role of function pull_ftp"),
        ("iam:role", f"{PREFIX}-report", "role of function report"),
        ("iam:role", f"{PREFIX}-status", "role of function status"),
        ("iam:role", f"{PREFIX}-transform", "role of function transform"),
        ("sns:topic", f"{PREFIX}-loaded", "topic loaded"),
        ("sqs:queue", f"{PREFIX}-enqueue--in", "trigger queue of function enqueue"),
        (
            "sqs:queue",
            f"{PREFIX}-enqueue--in-dlq",
            "dead letters of trigger queue of function enqueue",
        ),
        ("sqs:queue", f"{PREFIX}-report--in", "trigger queue of function report"),
        (
            "sqs:queue",
            f"{PREFIX}-report--in-dlq",
            "dead letters of trigger queue of function report",
        ),
        ("sqs:queue", f"{PREFIX}-transform-jobs", "queue transform-jobs"),
        ("sqs:queue", f"{PREFIX}-transform-jobs-dlq", "dead letters of queue transform-jobs"),
        ("s3:bucket", f"{PREFIX}-lake-8365695b", "bucket lake"),
        ("s3:bucket", f"{PREFIX}-landing-8365695b", "bucket landing"),
        ("scheduler:group", PREFIX, "schedule group"),
        ("lambda:function", f"{PREFIX}-enqueue", "function enqueue"),
        ("lambda:function", f"{PREFIX}-pull-ftp", "function pull_ftp"),
        ("lambda:function", f"{PREFIX}-report", "function report"),
        ("lambda:function", f"{PREFIX}-status", "function status"),
        ("lambda:function", f"{PREFIX}-transform", "function transform"),
    ]


def test_resources_are_sorted_by_kind_then_name(example: Pipeline) -> None:
    resources = desired(example)

    assert list(resources) == sorted(resources, key=lambda r: (r.kind.rank, r.name))


def test_every_dependency_is_desired_of_an_earlier_kind_or_the_same(example: Pipeline) -> None:
    # Within one kind (a queue and its DLQ) the executor orders by depends_on.
    resources = {r.key: r for r in desired(example)}
    for resource in resources.values():
        for kind, name in resource.depends_on:
            assert (kind, name) in resources, (resource.key, name)
            assert kind.rank <= resource.kind.rank, (resource.key, name)


def test_arns_come_from_names(example: Pipeline) -> None:
    resources = desired(example)

    assert find(resources, Kind.S3_BUCKET, f"{PREFIX}-lake-8365695b").arn == NAMES.bucket_arn(
        "lake"
    )
    assert find(resources, Kind.SCHEDULER_GROUP, PREFIX).arn == NAMES.schedule_group_arn()
    assert find(resources, Kind.IAM_ROLE, f"{PREFIX}-report").arn == f"{ROLES}{PREFIX}-report"
    assert find(resources, Kind.LAMBDA_FUNCTION, f"{PREFIX}-report").arn == (
        f"arn:aws:lambda:eu-west-1:123456789012:function:{PREFIX}-report"
    )


def test_a_queue_redrives_to_its_dead_letter_queue_after_max_attempts(example: Pipeline) -> None:
    queue = find(desired(example), Kind.SQS_QUEUE, f"{PREFIX}-transform-jobs")

    assert queue.spec == {
        "attributes": {
            "MessageRetentionPeriod": "345600",
            "RedrivePolicy": (
                '{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:123456789012:'
                'lake-to-warehouse-prod-transform-jobs-dlq","maxReceiveCount":5}'
            ),
            "VisibilityTimeout": "30",
        },
        "subscription": None,
    }
    assert queue.depends_on == ((Kind.SQS_QUEUE, f"{PREFIX}-transform-jobs-dlq"),)


def _work(batch: list[Message]) -> None: ...


def _one(message: Message) -> None: ...


def test_queue_settings_reach_its_attributes() -> None:
    app = Pipeline("shop")
    orders = app.queue("orders", max_attempts=12, visibility_timeout=600, retention=3600)
    app.on_message(orders, batch_size=3, max_batching_window=20, name="take")(_work)
    resources = desired(app)

    queue = find(resources, Kind.SQS_QUEUE, "shop-prod-orders")
    redrive = json.loads(queue.spec["attributes"]["RedrivePolicy"])
    function = find(resources, Kind.LAMBDA_FUNCTION, "shop-prod-take")

    assert queue.spec["attributes"]["VisibilityTimeout"] == "600"
    assert queue.spec["attributes"]["MessageRetentionPeriod"] == "3600"
    assert redrive == {"deadLetterTargetArn": f"{SQS}shop-prod-orders-dlq", "maxReceiveCount": 12}
    assert function.spec["event_source"] == {
        "queue_arn": f"{SQS}shop-prod-orders",
        "batch_size": 3,
        "window": 20,
    }


def test_dead_letters_are_kept_fourteen_days(example: Pipeline) -> None:
    resources = desired(example)
    dead_letter_queues = [r for r in resources if r.name.endswith("-dlq")]

    assert len(dead_letter_queues) == 3
    for queue in dead_letter_queues:
        assert queue.spec["attributes"]["MessageRetentionPeriod"] == "1209600"
        assert "RedrivePolicy" not in queue.spec["attributes"]
        assert queue.depends_on == ()


def test_a_topic_subscriber_gets_its_own_raw_subscribed_queue(example: Pipeline) -> None:
    resources = desired(example)
    queue = find(resources, Kind.SQS_QUEUE, f"{PREFIX}-report--in")
    topic_arn = f"arn:aws:sns:eu-west-1:123456789012:{PREFIX}-loaded"
    attributes = dict(queue.spec["attributes"])
    policy = json.loads(attributes.pop("Policy"))

    assert queue.spec["subscription"] == {"topic_arn": topic_arn, "raw": True}
    assert attributes == {
        "MessageRetentionPeriod": str(limits.DEFAULT_RETENTION),
        "RedrivePolicy": json.dumps(
            {
                "deadLetterTargetArn": f"{SQS}{PREFIX}-report--in-dlq",
                "maxReceiveCount": limits.DEFAULT_MAX_ATTEMPTS,
            },
            separators=(",", ":"),
        ),
        "VisibilityTimeout": "180",  # six times the function's 30 s timeout
    }
    assert policy["Statement"][0]["Principal"] == {"Service": "sns.amazonaws.com"}
    assert policy["Statement"][0]["Condition"] == {"ArnEquals": {"aws:SourceArn": topic_arn}}
    assert queue.depends_on == (
        (Kind.SQS_QUEUE, f"{PREFIX}-report--in-dlq"),
        (Kind.SNS_TOPIC, f"{PREFIX}-loaded"),
    )


def test_an_object_trigger_is_a_bucket_notification_into_its_own_queue(example: Pipeline) -> None:
    resources = desired(example)
    landing = find(resources, Kind.S3_BUCKET, f"{PREFIX}-landing-8365695b")
    queue = find(resources, Kind.SQS_QUEUE, f"{PREFIX}-enqueue--in")
    policy = json.loads(queue.spec["attributes"]["Policy"])

    assert landing.spec == {
        "notifications": [
            {
                "id": "portway-enqueue",
                "queue_arn": f"{SQS}{PREFIX}-enqueue--in",
                "prefix": "",
                "suffix": ".csv",
            }
        ],
        "topic_notifications": [],
    }
    assert landing.depends_on == ((Kind.SQS_QUEUE, f"{PREFIX}-enqueue--in"),)
    assert policy["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    assert policy["Statement"][0]["Condition"] == {
        "ArnEquals": {"aws:SourceArn": NAMES.bucket_arn("landing")},
        "StringEquals": {"aws:SourceAccount": "123456789012"},
    }
    assert queue.spec["subscription"] is None
    assert find(resources, Kind.S3_BUCKET, f"{PREFIX}-lake-8365695b").spec == {
        "notifications": [],
        "topic_notifications": [],
    }


def _arrived(event: ObjectEvent) -> None: ...


def test_notifications_of_one_bucket_are_sorted_by_id() -> None:
    app = Pipeline("shop")
    inbox = app.bucket("inbox")
    app.on_object_created(inbox, suffix=".json", name="zeta")(_arrived)
    app.on_object_created(inbox, prefix="csv/", suffix=".csv", name="alpha")(_arrived)

    bucket = next(r for r in desired(app) if r.kind is Kind.S3_BUCKET)

    assert [(n["id"], n["prefix"], n["suffix"]) for n in bucket.spec["notifications"]] == [
        ("portway-alpha", "csv/", ".csv"),
        ("portway-zeta", "", ".json"),
    ]


def test_transform_function_spec(example: Pipeline) -> None:
    function = find(desired(example), Kind.LAMBDA_FUNCTION, f"{PREFIX}-transform")

    assert function.spec == {
        "role_arn": f"{ROLES}{PREFIX}-transform",
        "handler": "portway_aws.handler.handler",
        "runtime": "python3.11",
        "architecture": "x86_64",
        "timeout": 30,
        "memory": 256,
        "environment": {
            "PORTWAY_APP": "pipeline:app",
            "PORTWAY_AWS_RESOURCES": (
                '{"buckets":{"lake":"lake-to-warehouse-prod-lake-8365695b",'
                '"landing":"lake-to-warehouse-prod-landing-8365695b"},'
                '"queues":{"transform-jobs":"https://sqs.eu-west-1.amazonaws.com/123456789012/'
                'lake-to-warehouse-prod-transform-jobs"},'
                '"topics":{"loaded":"arn:aws:sns:eu-west-1:123456789012:'
                'lake-to-warehouse-prod-loaded"}}'
            ),
            "PORTWAY_FUNCTION": "transform",
            "PORTWAY_STAGE": "prod",
        },
        "code_sha256": SHA,
        "event_source": {
            "queue_arn": f"{SQS}{PREFIX}-transform-jobs",
            "batch_size": 10,
            "window": 0,
        },
        "url": None,
        "schedule": None,
    }
    assert function.depends_on == (
        (Kind.IAM_ROLE, f"{PREFIX}-transform"),
        (Kind.SQS_QUEUE, f"{PREFIX}-transform-jobs"),
    )


def test_runtime_and_architecture_reach_every_function(example: Pipeline) -> None:
    resources = desired_resources(
        example,
        NAMES,
        app="pipeline:app",
        code_sha256=SHA,
        runtime="python3.12",
        architecture="arm64",
    )
    functions = [r for r in resources if r.kind is Kind.LAMBDA_FUNCTION]

    assert {(f.spec["runtime"], f.spec["architecture"]) for f in functions} == {
        ("python3.12", "arm64")
    }


def test_a_role_holds_its_path_trust_and_least_privilege_policy(example: Pipeline) -> None:
    role = find(desired(example), Kind.IAM_ROLE, f"{PREFIX}-transform")

    assert role.spec == {
        "path": "/portway/lake-to-warehouse/prod/",
        "assume_role_policy": function_trust_policy(),
        "policy": function_policy(example.function("transform"), NAMES),
    }
    assert role.depends_on == ()


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        # Its uses, and the resource that triggers it (the shim names events by it).
        ("pull_ftp", ResourceMap(buckets={"landing": f"{PREFIX}-landing-8365695b"})),
        ("status", ResourceMap(buckets={"lake": f"{PREFIX}-lake-8365695b"})),
        (
            "enqueue",
            ResourceMap(
                buckets={"landing": f"{PREFIX}-landing-8365695b"},
                queues={
                    "transform-jobs": (
                        f"https://sqs.eu-west-1.amazonaws.com/123456789012/{PREFIX}-transform-jobs"
                    )
                },
            ),
        ),
        (
            "report",
            ResourceMap(
                buckets={"lake": f"{PREFIX}-lake-8365695b"},
                topics={"loaded": f"arn:aws:sns:eu-west-1:123456789012:{PREFIX}-loaded"},
            ),
        ),
    ],
)
def test_a_function_is_told_only_the_resources_it_uses_or_is_triggered_by(
    example: Pipeline, function: str, expected: ResourceMap
) -> None:
    resources = desired(example)
    lambda_name = NAMES.function(function)
    environment = find(resources, Kind.LAMBDA_FUNCTION, lambda_name).spec["environment"]

    assert ResourceMap.from_json(environment["PORTWAY_AWS_RESOURCES"]) == expected


def _status(request: HttpRequest) -> dict[str, object]:
    return {}


@pytest.mark.parametrize(("public", "auth_type"), [(True, "NONE"), (False, "AWS_IAM")])
def test_an_http_function_has_a_url_public_or_signed(public: bool, auth_type: str) -> None:
    app = Pipeline("shop")
    app.http("GET", "/status", public=public, name="status")(_status)

    function = find(desired(app), Kind.LAMBDA_FUNCTION, "shop-prod-status")

    assert function.spec["url"] == {"auth_type": auth_type}
    assert function.spec["event_source"] is None
    assert function.spec["schedule"] is None
    assert function.depends_on == ((Kind.IAM_ROLE, "shop-prod-status"),)


def test_user_environment_is_kept_beside_portways(example: Pipeline) -> None:
    app = Pipeline("shop")
    app.http("GET", "/status", environment={"LOG_LEVEL": "debug"}, name="status")(_status)

    environment = find(desired(app), Kind.LAMBDA_FUNCTION, "shop-prod-status").spec["environment"]

    assert environment == {
        "LOG_LEVEL": "debug",
        "PORTWAY_APP": "pipeline:app",
        "PORTWAY_AWS_RESOURCES": "{}",
        "PORTWAY_FUNCTION": "status",
        "PORTWAY_STAGE": "prod",
    }


def test_a_scheduled_function_holds_its_schedule(example: Pipeline) -> None:
    resources = desired(example)
    function = find(resources, Kind.LAMBDA_FUNCTION, f"{PREFIX}-pull-ftp")

    assert function.spec["schedule"] == {
        "group": PREFIX,
        "name": "pull-ftp",
        "expression": "rate(15 minutes)",
        "role_arn": f"{ROLES}{PREFIX}--scheduler",
        "input": (
            '{"portway":"schedule","schedule":"rate(15 minutes)",'
            '"time":"<aws.scheduler.scheduled-time>"}'
        ),
    }
    assert function.spec["event_source"] is None
    assert function.depends_on == (
        (Kind.IAM_ROLE, f"{PREFIX}-pull-ftp"),
        (Kind.IAM_ROLE, f"{PREFIX}--scheduler"),
        (Kind.SCHEDULER_GROUP, PREFIX),
    )


def test_the_scheduler_role_may_invoke_only_scheduled_functions(example: Pipeline) -> None:
    role = find(desired(example), Kind.IAM_ROLE, f"{PREFIX}--scheduler")

    assert role.spec["path"] == "/portway/lake-to-warehouse/prod/"
    assert role.spec["assume_role_policy"]["Statement"][0]["Principal"] == {
        "Service": "scheduler.amazonaws.com"
    }
    assert role.spec["policy"]["Statement"][0]["Resource"] == [
        f"arn:aws:lambda:eu-west-1:123456789012:function:{PREFIX}-pull-ftp"
    ]


def _tick(event: ScheduleEvent) -> None: ...


def test_cron_schedules_are_translated_for_eventbridge() -> None:
    app = Pipeline("shop")
    app.schedule("cron(30 7 * * 1-5)", name="morning")(_tick)

    function = find(desired(app), Kind.LAMBDA_FUNCTION, "shop-prod-morning")

    assert function.spec["schedule"]["expression"] == "cron(30 7 ? * 2-6 *)"
    assert json.loads(function.spec["schedule"]["input"])["schedule"] == "cron(30 7 * * 1-5)"


def test_without_a_schedule_there_is_no_scheduler_role_nor_group() -> None:
    app = Pipeline("shop")
    app.http("GET", "/status", name="status")(_status)

    assert [r.key for r in desired(app)] == [
        (Kind.IAM_ROLE, "shop-prod-status"),
        (Kind.LAMBDA_FUNCTION, "shop-prod-status"),
    ]


@pytest.mark.parametrize(("timeout", "visibility"), [(1, 30), (30, 180), (60, 360), (900, 5400)])
def test_a_trigger_queue_hides_messages_six_times_the_function_timeout(
    timeout: int, visibility: int
) -> None:
    app = Pipeline("shop")
    news = app.topic("news")
    app.on_message(news, timeout=timeout, name="read")(_one)

    queue = find(desired(app), Kind.SQS_QUEUE, "shop-prod-read--in")

    assert queue.spec["attributes"]["VisibilityTimeout"] == str(visibility)


def test_a_trigger_queue_visibility_is_capped_at_the_sqs_maximum() -> None:
    app = Pipeline("shop")
    news = app.topic("news")
    app.on_message(news, name="read")(_one)
    slow = dataclasses.replace(app.function("read"), timeout=10_000)

    assert trigger_visibility_timeout(slow) == 43_200


def test_two_calls_want_the_same_resources(example: Pipeline) -> None:
    first, second = desired(example), desired(example)

    assert first == second
    assert [r.spec_hash for r in first] == [r.spec_hash for r in second]


def test_another_stage_gets_other_names(example: Pipeline) -> None:
    dev = Names("lake-to-warehouse", "dev", "123456789012", "eu-west-1")
    prod_names = {r.name for r in desired(example)}
    dev_names = {
        r.name for r in desired_resources(example, dev, app="pipeline:app", code_sha256=SHA)
    }

    assert prod_names.isdisjoint(dev_names)


def test_every_spec_is_json_ready(example: Pipeline) -> None:
    for resource in desired(example):
        assert json.loads(json.dumps(resource.spec)) == resource.spec


# -- what AWS would refuse ------------------------------------------------------------------


def _refusal(app: Pipeline) -> str:
    with pytest.raises(ValidationError) as caught:
        desired(app)
    return str(caught.value)


def test_a_timeout_longer_than_the_queue_visibility_is_refused() -> None:
    app = Pipeline("shop")
    orders = app.queue("orders", visibility_timeout=60)
    app.on_message(orders, timeout=120, name="take")(_one)

    message = _refusal(app)

    assert "function take" in message
    assert "queue orders" in message
    assert "raise visibility_timeout to at least 120" in message


def test_a_timeout_over_lambdas_limit_is_refused() -> None:
    app = Pipeline("shop")
    app.http("GET", "/status", timeout=1200, name="status")(_status)

    message = _refusal(app)

    assert "function status" in message
    assert "900s" in message


def test_both_day_fields_restricted_is_refused_naming_the_function() -> None:
    app = Pipeline("shop")
    app.schedule("cron(0 9 1 * 1)", name="first")(_tick)

    assert "function 'first'" in _refusal(app)


def test_overlapping_object_triggers_fan_out_through_one_topic_of_the_bucket() -> None:
    app = Pipeline("shop")
    inbox = app.bucket("inbox")
    app.on_object_created(inbox, prefix="in/", name="every")(_arrived)
    app.on_object_created(inbox, prefix="in/csv/", suffix=".csv", name="csv")(_arrived)

    resources = desired(app)
    names = NAMES_OF_SHOP
    topic = find(resources, Kind.SNS_TOPIC, names.bucket_topic("inbox"))
    bucket = find(resources, Kind.S3_BUCKET, names.bucket("inbox"))

    # S3 refuses overlapping notifications: one unfiltered notification into a topic...
    assert bucket.spec == {
        "notifications": [],
        "topic_notifications": [
            {"id": "portway-objects", "topic_arn": names.bucket_topic_arn("inbox")}
        ],
    }
    assert (Kind.SNS_TOPIC, names.bucket_topic("inbox")) in bucket.depends_on
    assert topic.spec == {
        "policy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "BucketNotifications",
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": ["sns:Publish"],
                    "Resource": names.bucket_topic_arn("inbox"),
                    "Condition": {
                        "ArnEquals": {"aws:SourceArn": names.bucket_arn("inbox")},
                        "StringEquals": {"aws:SourceAccount": names.account},
                    },
                }
            ],
        }
    }
    # ...and each trigger's own queue subscribes to it (the shim applies the filters).
    for function in ("every", "csv"):
        queue = find(resources, Kind.SQS_QUEUE, names.trigger_queue(function))
        assert queue.spec["subscription"] == {
            "topic_arn": names.bucket_topic_arn("inbox"),
            "raw": True,
        }
        policy = json.loads(queue.spec["attributes"]["Policy"])
        assert policy["Statement"][0]["Principal"] == {"Service": "sns.amazonaws.com"}


def test_object_triggers_with_disjoint_filters_share_a_bucket() -> None:
    app = Pipeline("shop")
    inbox = app.bucket("inbox")
    app.on_object_created(inbox, suffix=".csv", name="csv")(_arrived)
    app.on_object_created(inbox, suffix=".json", name="json")(_arrived)
    app.on_object_created(inbox, prefix="a/", suffix=".txt", name="text")(_arrived)

    bucket = find(desired(app), Kind.S3_BUCKET, NAMES_OF_SHOP.bucket("inbox"))

    assert [n["id"] for n in bucket.spec["notifications"]] == [
        "portway-csv",
        "portway-json",
        "portway-text",
    ]


@pytest.mark.parametrize(
    ("environment", "fragment"),
    [
        ({"AWS_REGION": "us-east-1"}, "'AWS_REGION' is reserved by the Lambda runtime"),
        ({"_HANDLER": "x"}, "'_HANDLER' is reserved"),
        ({"X": "1"}, "at least two characters"),
        ({"_PRIVATE": "1"}, "start with a letter"),
        ({"BIG": "x" * 4050}, "more than Lambda's 4096"),
    ],
)
def test_an_environment_lambda_refuses_is_refused(
    environment: dict[str, str], fragment: str
) -> None:
    app = Pipeline("shop")
    app.http("GET", "/status", environment=environment, name="status")(_status)

    message = _refusal(app)

    assert message.startswith("function 'status': ")
    assert fragment in message


def test_an_iam_policy_too_long_for_iam_is_refused() -> None:
    app = Pipeline("shop")
    buckets = [app.bucket(f"bucket-number-{i:03d}") for i in range(60)]
    uses: list[Any] = [b.read() for b in buckets] + [b.write() for b in buckets]
    app.http("GET", "/status", uses=uses, name="status")(_status)

    assert "its IAM policy takes" in _refusal(app)
