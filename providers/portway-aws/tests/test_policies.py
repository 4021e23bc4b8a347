"""Least-privilege IAM documents, asserted whole: exact actions on exact ARNs."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from portway_aws.naming import Names
from portway_aws.policies import (
    function_policy,
    function_trust_policy,
    queue_policy_for_bucket,
    queue_policy_for_topic,
    scheduler_policy,
    scheduler_trust_policy,
)

from portway import HttpRequest, Message, ObjectEvent, Pipeline, ScheduleEvent
from portway.loading import load_pipeline

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "lake-to-warehouse"
NAMES = Names("lake-to-warehouse", "prod", "123456789012", "eu-west-1")

ACCOUNT = "123456789012"
LANDING = "arn:aws:s3:::lake-to-warehouse-prod-landing-8365695b"
LAKE = "arn:aws:s3:::lake-to-warehouse-prod-lake-8365695b"
JOBS = "arn:aws:sqs:eu-west-1:123456789012:lake-to-warehouse-prod-transform-jobs"
LOADED = "arn:aws:sns:eu-west-1:123456789012:lake-to-warehouse-prod-loaded"
TRIGGER_QUEUE_ACTIONS = [
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
]
LOG_ACTIONS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]


def logs(function: str) -> dict[str, Any]:
    return {
        "Sid": "Logs",
        "Effect": "Allow",
        "Action": LOG_ACTIONS,
        "Resource": (
            f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/lake-to-warehouse-prod-"
            f"{function}:*"
        ),
    }


def allow(sid: str, actions: list[str], resource: str) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}


@pytest.fixture(scope="module")
def example() -> Iterator[Pipeline]:
    """The example pipeline, imported as the CLI does, then forgotten."""
    path = list(sys.path)
    try:
        yield load_pipeline("pipeline:app", EXAMPLE)
    finally:
        sys.modules.pop("pipeline", None)
        sys.path[:] = path


def test_transform_may_read_its_queue_read_landing_write_lake_and_publish(
    example: Pipeline,
) -> None:
    assert function_policy(example.function("transform"), NAMES) == {
        "Version": "2012-10-17",
        "Statement": [
            allow("BucketLanding", ["s3:ListBucket"], LANDING),
            logs("transform"),
            allow("ObjectsLake", ["s3:PutObject"], LAKE + "/*"),
            allow("ObjectsLanding", ["s3:GetObject"], LANDING + "/*"),
            allow("QueueTransformJobs", TRIGGER_QUEUE_ACTIONS, JOBS),
            allow("TopicLoaded", ["sns:Publish"], LOADED),
        ],
    }


def test_enqueue_may_read_its_trigger_queue_and_send_jobs(example: Pipeline) -> None:
    assert function_policy(example.function("enqueue"), NAMES) == {
        "Version": "2012-10-17",
        "Statement": [
            logs("enqueue"),
            allow("QueueTransformJobs", ["sqs:SendMessage"], JOBS),
            allow(
                "TriggerQueue",
                TRIGGER_QUEUE_ACTIONS,
                "arn:aws:sqs:eu-west-1:123456789012:lake-to-warehouse-prod-enqueue--in",
            ),
        ],
    }


def test_report_may_read_its_subscription_queue_and_read_lake(example: Pipeline) -> None:
    assert function_policy(example.function("report"), NAMES) == {
        "Version": "2012-10-17",
        "Statement": [
            allow("BucketLake", ["s3:ListBucket"], LAKE),
            logs("report"),
            allow("ObjectsLake", ["s3:GetObject"], LAKE + "/*"),
            allow(
                "TriggerQueue",
                TRIGGER_QUEUE_ACTIONS,
                "arn:aws:sqs:eu-west-1:123456789012:lake-to-warehouse-prod-report--in",
            ),
        ],
    }


def test_pull_ftp_may_only_write_landing(example: Pipeline) -> None:
    assert function_policy(example.function("pull_ftp"), NAMES) == {
        "Version": "2012-10-17",
        "Statement": [logs("pull-ftp"), allow("ObjectsLanding", ["s3:PutObject"], LANDING + "/*")],
    }


def test_status_may_only_list_lake(example: Pipeline) -> None:
    assert function_policy(example.function("status"), NAMES) == {
        "Version": "2012-10-17",
        "Statement": [allow("BucketLake", ["s3:ListBucket"], LAKE), logs("status")],
    }


def _status(request: HttpRequest) -> dict[str, object]:
    return {}


@pytest.mark.parametrize("public", [True, False])
def test_an_http_function_policy_is_the_same_public_or_private(public: bool) -> None:
    # Who may call a function URL is the URL's auth type, not the role's policy.
    app = Pipeline("lake-to-warehouse")
    lake = app.bucket("lake")
    app.http("GET", "/status", public=public, uses=[lake.read()], name="status")(_status)

    assert function_policy(app.function("status"), NAMES) == {
        "Version": "2012-10-17",
        "Statement": [
            allow("BucketLake", ["s3:ListBucket"], LAKE),
            logs("status"),
            allow("ObjectsLake", ["s3:GetObject"], LAKE + "/*"),
        ],
    }


def test_bucket_read_also_grants_list_bucket_so_a_missing_key_is_not_found() -> None:
    # Without s3:ListBucket S3 answers 403 for a missing key, and read() must raise
    # KeyError, not PermissionDenied.
    app = Pipeline("lake-to-warehouse")
    lake = app.bucket("lake")
    app.http("GET", "/status", uses=[lake.read()], name="status")(_status)

    statements = function_policy(app.function("status"), NAMES)["Statement"]

    assert allow("BucketLake", ["s3:ListBucket"], LAKE) in statements


def _everything(event: ObjectEvent) -> None: ...


def test_actions_on_one_arn_are_merged_into_one_statement() -> None:
    app = Pipeline("lake-to-warehouse")
    lake = app.bucket("lake")
    jobs = app.queue("transform-jobs")
    uses = [lake.delete(), lake.write(), lake.read(), lake.list(), jobs.send(), jobs.send()]
    app.on_object_created(lake, prefix="in/", uses=uses, name="tidy")(_everything)

    assert function_policy(app.function("tidy"), NAMES) == {
        "Version": "2012-10-17",
        "Statement": [
            allow("BucketLake", ["s3:ListBucket"], LAKE),
            logs("tidy"),
            allow("ObjectsLake", ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"], LAKE + "/*"),
            allow("QueueTransformJobs", ["sqs:SendMessage"], JOBS),
            allow(
                "TriggerQueue",
                TRIGGER_QUEUE_ACTIONS,
                "arn:aws:sqs:eu-west-1:123456789012:lake-to-warehouse-prod-tidy--in",
            ),
        ],
    }


def _work(batch: list[Message]) -> None: ...


def test_sending_to_the_queue_that_triggers_it_joins_the_trigger_statement() -> None:
    app = Pipeline("lake-to-warehouse")
    jobs = app.queue("transform-jobs")
    app.on_message(jobs, batch_size=5, uses=[jobs.send()], name="retry")(_work)

    assert function_policy(app.function("retry"), NAMES) == {
        "Version": "2012-10-17",
        "Statement": [
            logs("retry"),
            allow("QueueTransformJobs", [*TRIGGER_QUEUE_ACTIONS, "sqs:SendMessage"], JOBS),
        ],
    }


def test_statement_ids_stay_unique_when_two_names_camel_case_alike() -> None:
    app = Pipeline("lake-to-warehouse")
    first, second = app.bucket("ab-1c"), app.bucket("ab1c")
    app.http("GET", "/x", uses=[first.list(), second.list()], name="both")(_status)

    sids = [s["Sid"] for s in function_policy(app.function("both"), NAMES)["Statement"]]

    assert sorted(sids) == ["BucketAb1c", "BucketAb1c2", "Logs"]
    assert all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids)


def test_function_trust_policy_lets_lambda_assume_the_role() -> None:
    assert function_trust_policy() == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AssumeRole",
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": ["sts:AssumeRole"],
            }
        ],
    }


def test_scheduler_trust_policy_is_limited_to_the_account() -> None:
    assert scheduler_trust_policy(NAMES) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AssumeRole",
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": ["sts:AssumeRole"],
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            }
        ],
    }


def _tick(event: ScheduleEvent) -> None: ...


def test_scheduler_may_invoke_exactly_the_scheduled_functions(example: Pipeline) -> None:
    app = Pipeline("lake-to-warehouse")
    app.schedule("rate(1 hour)", name="zeta")(_tick)
    app.schedule("cron(0 6 * * *)", name="alpha")(_tick)
    scheduled = list(app.functions.values())

    assert scheduler_policy(scheduled, NAMES) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeScheduledFunctions",
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunction"],
                "Resource": [
                    "arn:aws:lambda:eu-west-1:123456789012:function:lake-to-warehouse-prod-alpha",
                    "arn:aws:lambda:eu-west-1:123456789012:function:lake-to-warehouse-prod-zeta",
                ],
            }
        ],
    }
    assert scheduler_policy([example.function("pull_ftp")], NAMES)["Statement"][0]["Resource"] == [
        "arn:aws:lambda:eu-west-1:123456789012:function:lake-to-warehouse-prod-pull-ftp"
    ]


def test_queue_policy_for_bucket_admits_s3_for_that_bucket_and_account_only() -> None:
    queue = "arn:aws:sqs:eu-west-1:123456789012:lake-to-warehouse-prod-enqueue--in"

    assert queue_policy_for_bucket(queue, LANDING, ACCOUNT) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "BucketNotifications",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": ["sqs:SendMessage"],
                "Resource": queue,
                "Condition": {
                    "ArnEquals": {"aws:SourceArn": LANDING},
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                },
            }
        ],
    }


def test_queue_policy_for_topic_admits_sns_for_that_topic_only() -> None:
    queue = "arn:aws:sqs:eu-west-1:123456789012:lake-to-warehouse-prod-report--in"

    assert queue_policy_for_topic(queue, LOADED) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TopicSubscription",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": ["sqs:SendMessage"],
                "Resource": queue,
                "Condition": {"ArnEquals": {"aws:SourceArn": LOADED}},
            }
        ],
    }


def _pipelines(example: Pipeline) -> list[Pipeline]:
    """The example and pipelines that use every action of every kind."""
    wide = Pipeline("wide")
    lake, raw = wide.bucket("lake"), wide.bucket("raw")
    jobs, events = wide.queue("jobs"), wide.topic("events")
    everything = [
        lake.read(),
        lake.write(),
        lake.list(),
        lake.delete(),
        raw.read(),
        jobs.send(),
        events.publish(),
    ]
    wide.schedule("cron(0 6 * * 1-5)", uses=everything, name="clock")(_tick)
    wide.on_object_created(raw, suffix=".csv", uses=everything, name="arrive")(_everything)
    wide.on_message(jobs, batch_size=10, uses=everything, name="work")(_work)
    wide.on_message(events, uses=everything, name="listen")(_work)
    wide.http("POST", "/in", public=True, uses=everything, name="hook")(_status)
    bare = Pipeline("bare")
    bare.http("GET", "/ping", name="ping")(_status)
    return [example, wide, bare]


def _wildcards(document: dict[str, Any]) -> list[str]:
    """Every action or resource of ``document`` with a '*' beyond the two allowed forms."""
    found = []
    for statement in document["Statement"]:
        actions = statement["Action"]
        resources = statement.get("Resource", [])
        for action in [actions] if isinstance(actions, str) else actions:
            if "*" in action:
                found.append(action)
        for resource in [resources] if isinstance(resources, str) else resources:
            # Objects of one bucket (arn/*) and the streams of one log group (:*) name
            # exactly one resource's contents.
            exact = re.sub(r"(?<=[a-z0-9])(/\*|:\*)$", "", resource)
            if "*" in exact or not exact.startswith("arn:aws:"):
                found.append(resource)
    return found


def test_no_policy_grants_a_wildcard_action_or_resource(example: Pipeline) -> None:
    documents = []
    for pipeline in _pipelines(example):
        names = Names(pipeline.name, "prod", ACCOUNT, "eu-west-1")
        functions = list(pipeline.functions.values())
        documents += [function_policy(f, names) for f in functions]
        documents.append(scheduler_policy(functions, names))
    documents.append(queue_policy_for_bucket(JOBS, LAKE, ACCOUNT))
    documents.append(queue_policy_for_topic(JOBS, LOADED))
    assert len(documents) == 5 + 1 + 5 + 1 + 1 + 1 + 2

    assert [w for d in documents for w in _wildcards(d)] == []


def test_every_statement_has_a_sid_and_sids_are_unique(example: Pipeline) -> None:
    for pipeline in _pipelines(example):
        names = Names(pipeline.name, "prod", ACCOUNT, "eu-west-1")
        for function in pipeline.functions.values():
            sids = [s["Sid"] for s in function_policy(function, names)["Statement"]]
            assert all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids), sids
            assert len(set(sids)) == len(sids), (function.name, sids)


def test_a_policy_is_the_same_on_every_call(example: Pipeline) -> None:
    for function in example.functions.values():
        assert function_policy(function, NAMES) == function_policy(function, NAMES)
        assert repr(function_policy(function, NAMES)) == repr(function_policy(function, NAMES))
