"""Stage 1 of a deploy: a pipeline -> the AWS resources portway wants (pure, no I/O).

What each neutral declaration becomes (specs as :mod:`portway_aws.deploy.resources`
documents them):

* bucket -> an S3 bucket, with one SQS notification per object trigger on it;
* queue -> an SQS queue and its dead-letter queue (the redrive policy counts attempts);
* topic -> an SNS topic; each subscribing function gets a queue of its own (+ DLQ)
  subscribed with raw delivery, so retries mean the same as on a queue;
* object trigger -> a queue of its own (+ DLQ) the bucket notifies;
* function -> an IAM role (least privilege, from its uses) and a Lambda function that
  holds its trigger's wiring (event source mapping, function URL or schedule);
* any schedule -> the scheduler's role and the deployment's schedule group.

What AWS would refuse and portway can tell beforehand is refused here with
:class:`~portway.errors.ValidationError`, naming the function or resource and the fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from portway.errors import ValidationError
from portway.model import (
    Bucket,
    Function,
    HttpTrigger,
    MessageTrigger,
    ObjectCreatedTrigger,
    Pipeline,
    Queue,
    ScheduleTrigger,
    Topic,
    limits,
)
from portway.validation import Severity
from portway.validation.rules import portway_validate
from portway_aws import policies
from portway_aws.deploy.resources import AwsResource, Kind
from portway_aws.naming import Names
from portway_aws.plugin import CAPABILITIES
from portway_aws.runtime_config import APP, FUNCTION, STAGE, ResourceMap
from portway_aws.schedules import pipeline_schedules

HANDLER = "portway_aws.handler.handler"

# Dead letters are kept as long as SQS allows (14 days): a message keeps its first
# enqueue time when it moves to the DLQ, so a DLQ with the source queue's retention
# could drop a dead letter at once.
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
DEAD_LETTER_RETENTION = 1_209_600
# AWS recommends a visibility timeout of six times the function timeout for a queue
# Lambda reads, so a throttled batch is retried before it reappears; 43,200 s is the
# most SQS accepts.
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
VISIBILITY_PER_TIMEOUT = 6
MAX_VISIBILITY_TIMEOUT = 43_200
# "The total size of all environment variables doesn't exceed 4 KB."
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
MAX_ENVIRONMENT_BYTES = 4096
# Keys the Lambda runtime sets itself; a function configuration that sets one is refused.
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
RESERVED_ENVIRONMENT = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
    }
)
_LAMBDA_ENVIRONMENT_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]+$")
# An inline role policy holds at most 10,240 characters, whitespace not counted.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
MAX_INLINE_POLICY_CHARACTERS = 10_240


def desired_resources(
    pipeline: Pipeline,
    names: Names,
    *,
    app: str,
    code_sha256: str,
    runtime: str = "python3.11",
    architecture: str = "x86_64",
) -> tuple[AwsResource, ...]:
    """Every AWS resource ``pipeline`` needs on ``names``' stage, sorted by kind then name.

    ``app``: the pipeline as ``module:attr`` (the handler imports it). ``code_sha256``:
    the base64 SHA-256 of the deployment package, as Lambda reports it.
    Raises :class:`ValidationError` for what AWS would refuse.
    """
    _check_deployable(pipeline)
    expressions = pipeline_schedules(pipeline)
    fanned_out = overlapping_buckets(pipeline)
    resources: list[AwsResource] = [_bucket_topic(b, names) for b in sorted(fanned_out)]
    notifications: dict[str, list[dict[str, str]]] = {}
    for resource in pipeline.resources.values():
        if isinstance(resource, Queue):
            resources.extend(_neutral_queue(resource, names))
        elif isinstance(resource, Topic):
            resources.append(
                AwsResource(
                    Kind.SNS_TOPIC,
                    names.topic(resource.name),
                    names.topic_arn(resource.name),
                    f"topic {resource.name}",
                )
            )
    scheduled = [f for f in pipeline.functions.values() if f.name in expressions]
    for function in pipeline.functions.values():
        resources.extend(_trigger_queue(function, names, notifications, fanned_out))
        resources.extend(
            _function(function, names, app, code_sha256, runtime, architecture, expressions)
        )
    for resource in pipeline.resources.values():
        if isinstance(resource, Bucket):
            fan_out = resource.name in fanned_out
            resources.append(
                _bucket(resource, names, notifications.get(resource.name, []), fan_out)
            )
    if scheduled:
        resources.extend(_scheduler(scheduled, names))
    return tuple(sorted(resources, key=lambda r: (r.kind.rank, r.name)))


# -- queues ------------------------------------------------------------------------------


def _queue_pair(
    names: Names,
    physical: str,
    dead_letters: str,
    neutral: str,
    *,
    visibility: int,
    retention: int,
    max_attempts: int,
    policy: Mapping[str, Any] | None = None,
    subscription: Mapping[str, Any] | None = None,
    depends_on: tuple[tuple[Kind, str], ...] = (),
) -> list[AwsResource]:
    """A queue and its dead-letter queue, which it depends on."""
    dead_letters_arn = names.queue_arn(dead_letters)
    redrive = {"deadLetterTargetArn": dead_letters_arn, "maxReceiveCount": max_attempts}
    attributes = {
        "MessageRetentionPeriod": str(retention),
        "RedrivePolicy": _compact(redrive),
        "VisibilityTimeout": str(visibility),
    }
    if policy is not None:
        attributes["Policy"] = _compact(policy)
    queue = AwsResource(
        Kind.SQS_QUEUE,
        physical,
        names.queue_arn(physical),
        neutral,
        {"attributes": attributes, "subscription": dict(subscription) if subscription else None},
        depends_on=((Kind.SQS_QUEUE, dead_letters), *depends_on),
    )
    dead_letter_queue = AwsResource(
        Kind.SQS_QUEUE,
        dead_letters,
        dead_letters_arn,
        f"dead letters of {neutral}",
        {
            "attributes": {
                "MessageRetentionPeriod": str(DEAD_LETTER_RETENTION),
                "VisibilityTimeout": str(visibility),
            },
            "subscription": None,
        },
    )
    return [queue, dead_letter_queue]


def _neutral_queue(queue: Queue, names: Names) -> list[AwsResource]:
    return _queue_pair(
        names,
        names.queue(queue.name),
        names.dead_letter_queue(queue.name),
        f"queue {queue.name}",
        visibility=queue.visibility_timeout,
        retention=queue.retention,
        max_attempts=queue.max_attempts,
    )


def trigger_visibility_timeout(function: Function) -> int:
    """The visibility timeout of the queue portway puts between a topic or bucket and
    ``function``: six times its timeout, at least the core default, at most SQS's cap."""
    wanted = max(limits.DEFAULT_VISIBILITY_TIMEOUT, VISIBILITY_PER_TIMEOUT * function.timeout)
    return min(wanted, MAX_VISIBILITY_TIMEOUT)


def _trigger_queue(
    function: Function,
    names: Names,
    notifications: dict[str, list[dict[str, str]]],
    fanned_out: set[str],
) -> list[AwsResource]:
    """The queue (+ DLQ) of a topic subscriber or an object trigger; none otherwise.

    An object trigger on a bucket in ``fanned_out`` subscribes to the bucket's topic
    instead of receiving its own S3 notification (the shim applies its filters).
    """
    trigger = function.trigger
    physical = names.trigger_queue(function.name)
    queue_arn = names.queue_arn(physical)
    neutral = f"trigger queue of function {function.name}"
    settings: dict[str, Any] = {
        "visibility": trigger_visibility_timeout(function),
        "retention": limits.DEFAULT_RETENTION,
        "max_attempts": limits.DEFAULT_MAX_ATTEMPTS,
    }
    # A topic subscriber, or an object trigger on a fanned-out bucket: the queue
    # subscribes to a topic (the topic's, or the bucket's).
    subscribed_to: tuple[str, str] | None = None
    if isinstance(trigger, MessageTrigger) and isinstance(trigger.source, Topic):
        subscribed_to = (names.topic(trigger.source.name), names.topic_arn(trigger.source.name))
    elif isinstance(trigger, ObjectCreatedTrigger) and trigger.bucket.name in fanned_out:
        bucket_name = trigger.bucket.name
        subscribed_to = (names.bucket_topic(bucket_name), names.bucket_topic_arn(bucket_name))
    if subscribed_to is not None:
        topic, topic_arn = subscribed_to
        return _queue_pair(
            names,
            physical,
            names.trigger_dead_letter_queue(function.name),
            neutral,
            policy=policies.queue_policy_for_topic(queue_arn, topic_arn),
            subscription={"topic_arn": topic_arn, "raw": True},
            depends_on=((Kind.SNS_TOPIC, topic),),
            **settings,
        )
    if isinstance(trigger, ObjectCreatedTrigger):
        bucket = trigger.bucket.name
        notifications.setdefault(bucket, []).append(
            {
                "id": f"portway-{function.name}",
                "queue_arn": queue_arn,
                "prefix": trigger.prefix,
                "suffix": trigger.suffix,
            }
        )
        return _queue_pair(
            names,
            physical,
            names.trigger_dead_letter_queue(function.name),
            neutral,
            policy=policies.queue_policy_for_bucket(
                queue_arn, names.bucket_arn(bucket), names.account
            ),
            **settings,
        )
    return []


# -- buckets, functions, the scheduler ------------------------------------------------------


def _bucket(
    bucket: Bucket, names: Names, notifications: list[dict[str, str]], fan_out: bool
) -> AwsResource:
    ordered = sorted(notifications, key=lambda n: n["id"])
    queues = {n["queue_arn"].rsplit(":", 1)[1] for n in ordered}
    # S3 checks it may send to a queue or topic when the notification is set.
    depends_on = [(Kind.SQS_QUEUE, q) for q in sorted(queues)]
    topics = []
    if fan_out:
        topics = [{"id": "portway-objects", "topic_arn": names.bucket_topic_arn(bucket.name)}]
        depends_on.append((Kind.SNS_TOPIC, names.bucket_topic(bucket.name)))
    return AwsResource(
        Kind.S3_BUCKET,
        names.bucket(bucket.name),
        names.bucket_arn(bucket.name),
        f"bucket {bucket.name}",
        {"notifications": ordered, "topic_notifications": topics},
        depends_on=tuple(depends_on),
    )


def _bucket_topic(bucket: str, names: Names) -> AwsResource:
    """The SNS topic a bucket's object events fan out through (see :func:`overlapping_buckets`)."""
    topic_arn = names.bucket_topic_arn(bucket)
    return AwsResource(
        Kind.SNS_TOPIC,
        names.bucket_topic(bucket),
        topic_arn,
        f"object events of bucket {bucket}",
        {
            "policy": policies.topic_policy_for_bucket(
                topic_arn, names.bucket_arn(bucket), names.account
            )
        },
    )


def _function(
    function: Function,
    names: Names,
    app: str,
    code_sha256: str,
    runtime: str,
    architecture: str,
    expressions: Mapping[str, str],
) -> list[AwsResource]:
    """The role of ``function`` and the Lambda function itself."""
    role_name = names.role(function.name)
    role_arn = names.role_arn(role_name)
    policy = policies.function_policy(function, names)
    _check_policy_size(function, policy)
    role = AwsResource(
        Kind.IAM_ROLE,
        role_name,
        role_arn,
        f"role of function {function.name}",
        {
            "path": names.role_path,
            "assume_role_policy": policies.function_trust_policy(),
            "policy": policy,
        },
    )
    depends_on: list[tuple[Kind, str]] = [(Kind.IAM_ROLE, role_name)]
    trigger = function.trigger
    event_source: dict[str, Any] | None = None
    url: dict[str, str] | None = None
    schedule: dict[str, str] | None = None
    if isinstance(trigger, MessageTrigger):
        queue = (
            names.queue(trigger.source.name)
            if isinstance(trigger.source, Queue)
            else names.trigger_queue(function.name)
        )
        event_source = {
            "queue_arn": names.queue_arn(queue),
            "batch_size": trigger.batch_size,
            "window": trigger.max_batching_window,
        }
        depends_on.append((Kind.SQS_QUEUE, queue))
    elif isinstance(trigger, ObjectCreatedTrigger):
        queue = names.trigger_queue(function.name)
        event_source = {"queue_arn": names.queue_arn(queue), "batch_size": 1, "window": 0}
        depends_on.append((Kind.SQS_QUEUE, queue))
    elif isinstance(trigger, HttpTrigger):
        url = {"auth_type": "NONE" if trigger.public else "AWS_IAM"}
    elif isinstance(trigger, ScheduleTrigger):
        schedule = {
            "group": names.schedule_group,
            "name": names.schedule(function.name),
            "expression": expressions[function.name],
            "role_arn": names.role_arn(names.scheduler_role),
            # <aws.scheduler.scheduled-time> is replaced by the time the run was due.
            # https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html
            "input": _compact(
                {
                    "portway": "schedule",
                    "schedule": trigger.schedule.expression,
                    "time": "<aws.scheduler.scheduled-time>",
                }
            ),
        }
        depends_on.append((Kind.IAM_ROLE, names.scheduler_role))
        depends_on.append((Kind.SCHEDULER_GROUP, names.schedule_group))
    environment = _environment(function, names, app)
    spec = {
        "role_arn": role_arn,
        "handler": HANDLER,
        "runtime": runtime,
        "architecture": architecture,
        "timeout": function.timeout,
        "memory": function.memory,
        "environment": environment,
        "code_sha256": code_sha256,
        "event_source": event_source,
        "url": url,
        "schedule": schedule,
    }
    lambda_function = AwsResource(
        Kind.LAMBDA_FUNCTION,
        names.function(function.name),
        names.function_arn(function.name),
        f"function {function.name}",
        spec,
        depends_on=tuple(depends_on),
    )
    return [role, lambda_function]


def resource_map(function: Function, names: Names) -> ResourceMap:
    """The AWS identities of what ``function`` uses and what triggers it, and nothing else.

    The trigger's resource is named too: the handler shim turns the physical bucket,
    queue or topic of an incoming event back into the neutral name
    (:mod:`portway_aws.runtime_config`). Naming a resource grants nothing.
    """
    buckets: dict[str, str] = {}
    queues: dict[str, str] = {}
    topics: dict[str, str] = {}
    named = [use.resource for use in function.uses]
    if function.trigger.resource is not None:
        named.append(function.trigger.resource)
    for resource in named:
        if isinstance(resource, Bucket):
            buckets[resource.name] = names.bucket(resource.name)
        elif isinstance(resource, Queue):
            queues[resource.name] = names.queue_url(names.queue(resource.name))
        elif isinstance(resource, Topic):
            topics[resource.name] = names.topic_arn(resource.name)
    return ResourceMap(buckets=buckets, queues=queues, topics=topics)


def _environment(function: Function, names: Names, app: str) -> dict[str, str]:
    where = f"function {function.name!r}"
    for key in function.environment:
        if key in RESERVED_ENVIRONMENT:
            raise ValidationError(
                f"{where}: environment variable {key!r} is reserved by the Lambda runtime, "
                f"which sets it itself; rename it"
            )
        # Lambda's key pattern is [a-zA-Z][a-zA-Z0-9_]+: a letter first, two characters.
        # https://docs.aws.amazon.com/lambda/latest/api/API_Environment.html
        if not _LAMBDA_ENVIRONMENT_KEY.fullmatch(key):
            raise ValidationError(
                f"{where}: environment variable {key!r}: Lambda takes names that start "
                f"with a letter and have at least two characters; rename it"
            )
    environment = {
        **function.environment,
        APP: app,
        FUNCTION: function.name,
        STAGE: names.stage,
        **resource_map(function, names).to_environment(),
    }
    size = sum(len(k.encode()) + len(v.encode()) for k, v in environment.items())
    if size > MAX_ENVIRONMENT_BYTES:
        raise ValidationError(
            f"{where}: its environment takes {size} bytes with the names of the resources "
            f"it uses, more than Lambda's {MAX_ENVIRONMENT_BYTES}; move large values to a "
            f"bucket and read them at start-up"
        )
    return dict(sorted(environment.items()))


def _scheduler(scheduled: list[Function], names: Names) -> list[AwsResource]:
    role = names.scheduler_role
    return [
        AwsResource(
            Kind.IAM_ROLE,
            role,
            names.role_arn(role),
            "scheduler role",
            {
                "path": names.role_path,
                "assume_role_policy": policies.scheduler_trust_policy(names),
                "policy": policies.scheduler_policy(scheduled, names),
            },
        ),
        AwsResource(
            Kind.SCHEDULER_GROUP,
            names.schedule_group,
            names.schedule_group_arn(),
            "schedule group",
        ),
    ]


# -- what AWS would refuse ------------------------------------------------------------------


def _check_deployable(pipeline: Pipeline) -> None:
    """Refuse what AWS would refuse: the builtin validation errors for ``aws`` (timeouts,
    ranges, visibility covering timeouts...)."""
    errors = [
        f"{finding.target}: {finding.message}"
        for finding in portway_validate(
            pipeline=pipeline, provider="aws", capabilities=CAPABILITIES
        )
        if finding.severity is Severity.ERROR
    ]
    if errors:
        raise ValidationError(
            f"pipeline {pipeline.name!r} cannot be deployed on AWS: " + "; ".join(errors)
        )


def overlapping_buckets(pipeline: Pipeline) -> set[str]:
    """Buckets with two object triggers whose filters can match the same key.

    S3 refuses two notifications of one event type on one bucket whose filters could both
    match a key (one prefix starts the other and one suffix ends the other):
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html
    Such a bucket sends every object event to one SNS topic instead, to which each
    trigger's queue subscribes, and the handler shim applies each trigger's filters
    (acknowledging and skipping the keys that do not match), as S3 would have.
    """
    by_bucket: dict[str, list[ObjectCreatedTrigger]] = {}
    for function in pipeline.functions.values():
        if isinstance(function.trigger, ObjectCreatedTrigger):
            by_bucket.setdefault(function.trigger.bucket.name, []).append(function.trigger)
    overlapping = set()
    for bucket, triggers in by_bucket.items():
        for index, one in enumerate(triggers):
            for other in triggers[index + 1 :]:
                prefixes = one.prefix.startswith(other.prefix) or other.prefix.startswith(
                    one.prefix
                )
                suffixes = one.suffix.endswith(other.suffix) or other.suffix.endswith(one.suffix)
                if prefixes and suffixes:
                    overlapping.add(bucket)
    return overlapping


def _check_policy_size(function: Function, policy: Mapping[str, Any]) -> None:
    size = len(_compact(policy))
    if size > MAX_INLINE_POLICY_CHARACTERS:
        raise ValidationError(
            f"function {function.name!r}: its IAM policy takes {size} characters, more "
            f"than the {MAX_INLINE_POLICY_CHARACTERS} IAM allows; it uses too many "
            f"resources for one function: split it"
        )


def _compact(document: Mapping[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))
