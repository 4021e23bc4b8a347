"""IAM documents of a deployment: least privilege, derived from each function's uses.

A function's role may do exactly what its ``uses=[...]`` and its trigger need, on exact
ARNs from :class:`~portway_aws.naming.Names`: no ``*`` action, no ``*`` resource. Every
document is deterministic (statements sorted by ``Sid``, actions sorted), so a second
deploy hashes to the same spec and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from portway.model import (
    Action,
    Bucket,
    Function,
    MessageTrigger,
    ObjectCreatedTrigger,
    Queue,
    Topic,
)
from portway_aws.naming import Names

Document = dict[str, Any]

VERSION = "2012-10-17"

# What Lambda's event source mapping does with the function's role on its queue:
# receive, delete what succeeded, read attributes (visibility, redrive), and change a
# message's visibility (a failed message of a partial batch is returned early).
# https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
TRIGGER_QUEUE_ACTIONS = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
)

# The log group ARN with its trailing ':*' is the form IAM policies use for every
# CloudWatch Logs action but the tagging ones, CreateLogGroup included, and it covers
# the group's streams (CreateLogStream, PutLogEvents).
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html
# https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")


def function_trust_policy() -> Document:
    """Who may assume a function's role: the Lambda service."""
    return _trust("lambda.amazonaws.com")


def function_policy(function: Function, names: Names) -> Document:
    """The one inline policy of ``function``'s role.

    One statement per resource ARN (its actions merged and sorted): the function's log
    group, the queue its trigger reads (if any), and each resource its uses name.
    """
    grants: dict[str, tuple[str, set[str]]] = {}

    def grant(arn: str, sid: str, *actions: str) -> None:
        grants.setdefault(arn, (sid, set()))[1].update(actions)

    grant(names.log_group_arn(function.name), "Logs", *LOG_ACTIONS)
    trigger = function.trigger
    if isinstance(trigger, MessageTrigger) and isinstance(trigger.source, Queue):
        queue = trigger.source.name
        grant(names.queue_arn(names.queue(queue)), "Queue" + _camel(queue), *TRIGGER_QUEUE_ACTIONS)
    elif isinstance(trigger, MessageTrigger | ObjectCreatedTrigger):
        arn = names.queue_arn(names.trigger_queue(function.name))
        grant(arn, "TriggerQueue", *TRIGGER_QUEUE_ACTIONS)
    for use in function.uses:
        resource, action = use.resource, use.action
        if isinstance(resource, Bucket):
            bucket, objects = (
                names.bucket_arn(resource.name),
                names.bucket_arn(resource.name) + "/*",
            )
            bucket_sid, objects_sid = (
                "Bucket" + _camel(resource.name),
                "Objects" + _camel(resource.name),
            )
            if action is Action.READ:
                grant(objects, objects_sid, "s3:GetObject")
                # Without s3:ListBucket, S3 answers a GET of a missing key with 403
                # AccessDenied instead of 404 NoSuchKey, and read() must raise KeyError
                # for a missing key, not PermissionDenied.
                # https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
                grant(bucket, bucket_sid, "s3:ListBucket")
            elif action is Action.WRITE:
                grant(objects, objects_sid, "s3:PutObject")
            elif action is Action.LIST:
                grant(bucket, bucket_sid, "s3:ListBucket")
            elif action is Action.DELETE:
                grant(objects, objects_sid, "s3:DeleteObject")
        elif isinstance(resource, Queue) and action is Action.SEND:
            arn = names.queue_arn(names.queue(resource.name))
            grant(arn, "Queue" + _camel(resource.name), "sqs:SendMessage")
        elif isinstance(resource, Topic) and action is Action.PUBLISH:
            grant(names.topic_arn(resource.name), "Topic" + _camel(resource.name), "sns:Publish")
    statements = [
        {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": arn}
        for arn, (sid, actions) in sorted(grants.items())
    ]
    return _policy(_unique_sids(statements))


def scheduler_trust_policy(names: Names) -> Document:
    """Who may assume the scheduler role: EventBridge Scheduler, for this account only.

    The ``aws:SourceAccount`` condition keeps another account's schedules from using
    the role (the confused-deputy guard AWS recommends).
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role
    """
    return _trust(
        "scheduler.amazonaws.com",
        {"StringEquals": {"aws:SourceAccount": names.account}},
    )


def scheduler_policy(functions: Iterable[Function], names: Names) -> Document:
    """The scheduler role's policy: invoke exactly the scheduled ``functions``."""
    arns = sorted({names.function_arn(f.name) for f in functions})
    statement = {
        "Sid": "InvokeScheduledFunctions",
        "Effect": "Allow",
        "Action": ["lambda:InvokeFunction"],
        "Resource": arns,
    }
    return _policy([statement])


def queue_policy_for_bucket(queue_arn: str, bucket_arn: str, account: str) -> Document:
    """Let S3 send ``bucket_arn``'s notifications to the queue, and nobody else.

    ``aws:SourceAccount`` matters because bucket names are global: a bucket of that
    name in another account must not reach the queue.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html
    """
    return _policy([_from_bucket("sqs:SendMessage", queue_arn, bucket_arn, account)])


def topic_policy_for_bucket(topic_arn: str, bucket_arn: str, account: str) -> Document:
    """Let S3 publish ``bucket_arn``'s notifications to the topic (the fan-out of a bucket
    whose object triggers overlap), and nobody else."""
    return _policy([_from_bucket("sns:Publish", topic_arn, bucket_arn, account)])


def _from_bucket(action: str, resource: str, bucket_arn: str, account: str) -> dict[str, Any]:
    return {
        "Sid": "BucketNotifications",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": [action],
        "Resource": resource,
        "Condition": {
            "ArnEquals": {"aws:SourceArn": bucket_arn},
            "StringEquals": {"aws:SourceAccount": account},
        },
    }


def queue_policy_for_topic(queue_arn: str, topic_arn: str) -> Document:
    """Let SNS deliver ``topic_arn``'s messages to the queue (a topic ARN names its account).

    https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html
    """
    statement = {
        "Sid": "TopicSubscription",
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": ["sqs:SendMessage"],
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
    }
    return _policy([statement])


def _trust(service: str, condition: dict[str, Any] | None = None) -> Document:
    statement: dict[str, Any] = {
        "Sid": "AssumeRole",
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": ["sts:AssumeRole"],
    }
    if condition is not None:
        statement["Condition"] = condition
    return _policy([statement])


def _policy(statements: list[dict[str, Any]]) -> Document:
    return {"Version": VERSION, "Statement": sorted(statements, key=lambda s: s.get("Sid", ""))}


def _camel(name: str) -> str:
    """``transform-jobs`` -> ``TransformJobs``: a Sid takes letters and digits only."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("-"))


def _unique_sids(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Number a repeated Sid (``a-1b`` and ``a1b`` both give ``A1b``): Sids must be unique."""
    taken: set[str] = set()
    for statement in statements:
        sid, number = statement["Sid"], 1
        while statement["Sid"] in taken:
            number += 1
            statement["Sid"] = f"{sid}{number}"
        taken.add(statement["Sid"])
    return statements
