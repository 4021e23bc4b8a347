"""Stage 1 of a deploy: a pipeline -> the Google Cloud resources portway wants (pure).

What each neutral declaration becomes (specs as :mod:`portway_gcp.deploy.resources`
documents them):

* queue -> a Pub/Sub topic and a push subscription to its consumer's URL (ack deadline
  = the visibility timeout, a dead-letter policy counting ``max_attempts``), with a
  dead-letter topic and the pull subscription that keeps its messages for ``portway dlq``;
* topic -> a Pub/Sub topic; each subscribing function gets a push subscription of its
  own (+ dead-letter topic and pull subscription), so retries mean what they do on a queue;
* bucket -> a Cloud Storage bucket (uniform access, labelled); each object trigger on it
  -> an ``OBJECT_FINALIZE`` notification (prefix filtered natively) into a topic of its
  own, pushed to the function like a topic subscriber's; the suffix is the shim's to apply;
* function -> a service account of its own and a Cloud Run function (Cloud Functions v2);
* schedule -> a Cloud Scheduler job calling the function's URL in ``UTC``;
* every push subscription and job presents the OIDC token of one invoker account;
* IAM -> one ``iam:bindings`` resource per bound resource (:mod:`portway_gcp.iam`).

A push subscription delivers one message per request, so a function declared with
``batch_size > 1`` runs one message at a time on GCP (the capabilities say so and
``validate`` warns); a batch handler still receives a list, of one.

What Google Cloud would refuse and portway can tell beforehand is refused here with
:class:`~portway.errors.ValidationError`, naming the function or resource and the fix.
"""

from __future__ import annotations

import json
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
from portway.runtime_resources import APP, FUNCTION, STAGE
from portway.validation import Severity
from portway.validation.rules import portway_validate
from portway_gcp import iam
from portway_gcp.deploy.resources import GcpResource, Kind
from portway_gcp.naming import Names
from portway_gcp.plugin import CAPABILITIES
from portway_gcp.runtime_config import ResourceMap
from portway_gcp.schedules import pipeline_schedules

# The functions-framework target: portway_gcp.main.handle, the runtime shim (issue 8).
ENTRY_POINT = "handle"


# A subscription keeps unacknowledged messages 10 minutes to 7 days; dead letters are
# kept the longest Pub/Sub allows.
# https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions#Subscription
MIN_RETENTION = 600
MAX_RETENTION = 7 * 24 * 3600
DEAD_LETTER_RETENTION = MAX_RETENTION
# The ack deadline of a push subscription is also the timeout of the push request.
MIN_ACK_DEADLINE, MAX_ACK_DEADLINE = CAPABILITIES.visibility_timeout
# A subscription with no activity for 31 days is deleted unless its expiration policy
# says never (an empty ttl): a quiet queue, or an unread dead-letter subscription,
# must not vanish.
# https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions#ExpirationPolicy
NEVER = "never"


def desired_resources(
    pipeline: Pipeline,
    names: Names,
    *,
    app: str,
    source_sha256: str,
    runtime: str = "python311",
    project_number: str,
) -> tuple[GcpResource, ...]:
    """Every Google Cloud resource ``pipeline`` needs on ``names``' stage, by kind then name.

    ``app``: the pipeline as ``module:attr`` (the shim imports it). ``source_sha256``:
    the hex SHA-256 of the source zip. ``project_number``: the project's number, which
    names the Pub/Sub and Cloud Storage service agents bound by :mod:`portway_gcp.iam`.
    Raises :class:`ValidationError` for what Google Cloud would refuse.
    """
    _check_deployable(pipeline)
    expressions = pipeline_schedules(pipeline)
    labels = names.labels
    resources: list[GcpResource] = []
    invoked = [f for f in pipeline.functions.values() if _needs_invoker(f)]
    if invoked:
        resources.append(_service_account(names, names.invoker_service_account, "invoker"))
    for resource in pipeline.resources.values():
        if isinstance(resource, Queue):
            resources.extend(_queue(resource, pipeline, names, labels))
        elif isinstance(resource, Topic):
            topic = _topic(names, names.topic(resource.name), f"topic {resource.name}", labels)
            resources.append(topic)
        elif isinstance(resource, Bucket):
            resources.append(_bucket(resource, names, labels))
    for function in pipeline.functions.values():
        account = names.service_account(function.name)
        resources.append(_service_account(names, account, f"function {function.name}"))
        resources.append(_function(function, names, app, source_sha256, runtime, labels))
        resources.extend(_trigger_wiring(function, names, labels, expressions))
    resources.extend(_bindings(pipeline, names, project_number, resources))
    return tuple(sorted(resources, key=lambda r: (r.kind.rank, r.name)))


def _needs_invoker(function: Function) -> bool:
    return isinstance(function.trigger, MessageTrigger | ObjectCreatedTrigger | ScheduleTrigger)


# -- accounts, topics, buckets --------------------------------------------------------------


def _service_account(names: Names, account_id: str, serves: str) -> GcpResource:
    email = names.service_account_email(account_id)
    return GcpResource(
        Kind.SERVICE_ACCOUNT,
        names.service_account_path(account_id),
        f"service account of {serves}",
        {
            "account_id": account_id,
            "email": email,
            "display_name": f"portway {names.app} {names.stage}: {serves}",
        },
    )


def _topic(names: Names, topic_id: str, neutral: str, labels: Mapping[str, str]) -> GcpResource:
    return GcpResource(Kind.PUBSUB_TOPIC, names.topic_path(topic_id), neutral, {"labels": labels})


def _bucket(bucket: Bucket, names: Names, labels: Mapping[str, str]) -> GcpResource:
    return GcpResource(
        Kind.STORAGE_BUCKET,
        iam.bucket_path(names.bucket(bucket.name)),
        f"bucket {bucket.name}",
        {
            "labels": labels,
            "location": names.region,
            # IAM alone grants access (no object ACLs), as the bindings assume.
            # https://cloud.google.com/storage/docs/uniform-bucket-level-access
            "uniform_bucket_level_access": True,
        },
    )


# -- subscriptions ------------------------------------------------------------------------


def _subscribed(
    names: Names,
    *,
    topic_id: str,
    subscription_id: str,
    dead_letter_id: str,
    neutral: str,
    labels: Mapping[str, str],
    ack_deadline: int,
    retention: int,
    max_attempts: int,
    consumer: Function | None,
) -> list[GcpResource]:
    """A subscription to ``topic_id`` with its dead-letter topic and pull subscription.

    The subscription pushes to ``consumer``'s URL with the invoker's OIDC token, or is
    a pull subscription keeping the messages when nothing consumes them.
    """
    topic = names.topic_path(topic_id)
    dead_letter_topic = names.topic_path(dead_letter_id)
    depends_on: list[tuple[Kind, str]] = [
        (Kind.PUBSUB_TOPIC, topic),
        (Kind.PUBSUB_TOPIC, dead_letter_topic),
    ]
    push: dict[str, str] | None = None
    if consumer is not None:
        function = names.function_path(consumer.name)
        invoker = names.service_account_email(names.invoker_service_account)
        push = {"push_to_function": function, "oidc_service_account_email": invoker}
        depends_on.append((Kind.FUNCTION, function))
        invoker_path = names.service_account_path(names.invoker_service_account)
        depends_on.append((Kind.SERVICE_ACCOUNT, invoker_path))
    subscription = GcpResource(
        Kind.PUBSUB_SUBSCRIPTION,
        names.subscription_path(subscription_id),
        neutral,
        {
            "topic": topic,
            "labels": labels,
            "ack_deadline_seconds": ack_deadline,
            "message_retention_seconds": retention,
            "expiration_policy": NEVER,
            "push": push,
            "dead_letter_policy": {
                "dead_letter_topic": dead_letter_topic,
                "max_delivery_attempts": max_attempts,
            },
        },
        depends_on=tuple(depends_on),
    )
    dead_letters = GcpResource(
        Kind.PUBSUB_SUBSCRIPTION,
        names.subscription_path(dead_letter_id),
        f"dead letters of {neutral}",
        {
            "topic": dead_letter_topic,
            "labels": labels,
            "ack_deadline_seconds": ack_deadline,
            "message_retention_seconds": DEAD_LETTER_RETENTION,
            "expiration_policy": NEVER,
            "push": None,
            "dead_letter_policy": None,
        },
        depends_on=((Kind.PUBSUB_TOPIC, dead_letter_topic),),
    )
    dead_letter_neutral = f"dead-letter topic of {neutral}"
    return [subscription, dead_letters, _topic(names, dead_letter_id, dead_letter_neutral, labels)]


def _queue(
    queue: Queue, pipeline: Pipeline, names: Names, labels: Mapping[str, str]
) -> list[GcpResource]:
    consumers = [
        f
        for f in pipeline.functions.values()
        if isinstance(f.trigger, MessageTrigger) and f.trigger.source == queue
    ]
    if len(consumers) > 1:
        listed = ", ".join(sorted(f.name for f in consumers))
        raise ValidationError(
            f"queue {queue.name!r} has several consumers ({listed}): a queue delivers each "
            f"message to one of them; use a topic to give every subscriber each message"
        )
    if not MIN_RETENTION <= queue.retention <= MAX_RETENTION:
        raise ValidationError(
            f"queue {queue.name!r}: retention {queue.retention} s is outside what Pub/Sub "
            f"keeps ({MIN_RETENTION} s to {MAX_RETENTION} s); choose one in that range"
        )
    topic_id = names.queue_topic(queue.name)
    neutral = f"queue {queue.name}"
    return [
        _topic(names, topic_id, neutral, labels),
        *_subscribed(
            names,
            topic_id=topic_id,
            subscription_id=names.queue_subscription(queue.name),
            dead_letter_id=names.dead_letter_topic(queue.name),
            neutral=f"subscription of {neutral}",
            labels=labels,
            ack_deadline=queue.visibility_timeout,
            retention=queue.retention,
            max_attempts=queue.max_attempts,
            consumer=consumers[0] if consumers else None,
        ),
    ]


def trigger_ack_deadline(function: Function) -> int:
    """The ack deadline of the subscription portway puts between a topic or bucket and
    ``function``: its timeout (the push request must not time out before it), at least
    the core default visibility timeout, within Pub/Sub's range."""
    wanted = max(limits.DEFAULT_VISIBILITY_TIMEOUT, function.timeout)
    return min(max(wanted, MIN_ACK_DEADLINE), MAX_ACK_DEADLINE)


def _trigger_wiring(
    function: Function,
    names: Names,
    labels: Mapping[str, str],
    expressions: Mapping[str, str],
) -> list[GcpResource]:
    """What feeds ``function`` beyond a queue's own subscription: a topic subscriber's
    subscription, an object trigger's notification, topic and subscription, a job."""
    trigger = function.trigger
    neutral = f"subscription of function {function.name}"
    settings: dict[str, Any] = {
        "subscription_id": names.trigger_subscription(function.name),
        "dead_letter_id": names.trigger_dead_letter_topic(function.name),
        "neutral": neutral,
        "labels": labels,
        "ack_deadline": trigger_ack_deadline(function),
        "retention": limits.DEFAULT_RETENTION,
        "max_attempts": limits.DEFAULT_MAX_ATTEMPTS,
        "consumer": function,
    }
    if isinstance(trigger, MessageTrigger) and isinstance(trigger.source, Topic):
        return _subscribed(names, topic_id=names.topic(trigger.source.name), **settings)
    if isinstance(trigger, ObjectCreatedTrigger):
        topic_id = names.trigger_topic(function.name)
        topic = _topic(names, topic_id, f"object events for function {function.name}", labels)
        return [
            topic,
            _notification(function, trigger, names, topic.name),
            *_subscribed(names, topic_id=topic_id, **settings),
        ]
    if isinstance(trigger, ScheduleTrigger):
        return [_scheduler_job(function, trigger, names, expressions[function.name])]
    return []


def _notification(
    function: Function, trigger: ObjectCreatedTrigger, names: Names, topic: str
) -> GcpResource:
    bucket = iam.bucket_path(names.bucket(trigger.bucket.name))
    topic_id = topic.rsplit("/", 1)[1]
    return GcpResource(
        Kind.STORAGE_NOTIFICATION,
        f"{bucket}/notificationConfigs/{topic_id}",
        f"object trigger of function {function.name}",
        {
            "bucket": bucket,
            "topic": topic,
            # A finalized object is a new object or a new version replacing one, which
            # is what "object created" means to portway.
            # https://cloud.google.com/storage/docs/pubsub-notifications#events
            "event_types": ["OBJECT_FINALIZE"],
            "object_name_prefix": trigger.prefix,
            "payload_format": "JSON_API_V1",
            "suffix": trigger.suffix,
        },
        depends_on=((Kind.STORAGE_BUCKET, bucket), (Kind.PUBSUB_TOPIC, topic)),
    )


def _scheduler_job(
    function: Function, trigger: ScheduleTrigger, names: Names, expression: str
) -> GcpResource:
    function_path = names.function_path(function.name)
    invoker = names.invoker_service_account
    return GcpResource(
        Kind.SCHEDULER_JOB,
        names.scheduler_job_path(function.name),
        f"schedule of function {function.name}",
        {
            "schedule": expression,
            "time_zone": "UTC",
            "http_target": {
                "function": function_path,
                "http_method": "POST",
                # The time the run was due comes with the request, in the
                # X-CloudScheduler-ScheduleTime header.
                "body": _compact({"portway": "schedule", "schedule": trigger.schedule.expression}),
                "oidc_service_account_email": names.service_account_email(invoker),
            },
        },
        depends_on=(
            (Kind.SERVICE_ACCOUNT, names.service_account_path(invoker)),
            (Kind.FUNCTION, function_path),
        ),
    )


# -- functions ----------------------------------------------------------------------------


def _function(
    function: Function,
    names: Names,
    app: str,
    source_sha256: str,
    runtime: str,
    labels: Mapping[str, str],
) -> GcpResource:
    account = names.service_account(function.name)
    environment = {
        **function.environment,
        APP: app,
        FUNCTION: function.name,
        STAGE: names.stage,
        **resource_map(function, names).to_environment(),
    }
    return GcpResource(
        Kind.FUNCTION,
        names.function_path(function.name),
        f"function {function.name}",
        {
            "runtime": runtime,
            "entry_point": ENTRY_POINT,
            "memory_mib": function.memory,
            "timeout_seconds": function.timeout,
            "environment": dict(sorted(environment.items())),
            "service_account_email": names.service_account_email(account),
            "labels": labels,
            "source_sha256": source_sha256,
            "trigger": trigger_contract(function),
        },
        depends_on=((Kind.SERVICE_ACCOUNT, names.service_account_path(account)),),
    )


def trigger_contract(function: Function) -> dict[str, Any]:
    """What the runtime shim needs to know of ``function``'s trigger, JSON-ready.

    A message trigger keeps its declared ``batch_size`` (the handler contract: a batch
    handler gets a list) while Pub/Sub push delivers ``messages_per_request`` = 1.
    """
    trigger = function.trigger
    if isinstance(trigger, MessageTrigger):
        return {
            "kind": "message",
            "source": trigger.source.name,
            "batch": function.batch,
            "batch_size": trigger.batch_size,
            "messages_per_request": 1,
        }
    if isinstance(trigger, ObjectCreatedTrigger):
        return {
            "kind": "object_created",
            "bucket": trigger.bucket.name,
            "prefix": trigger.prefix,
            "suffix": trigger.suffix,
        }
    if isinstance(trigger, ScheduleTrigger):
        return {"kind": "schedule", "schedule": trigger.schedule.expression}
    if isinstance(trigger, HttpTrigger):
        return {
            "kind": "http",
            "method": trigger.method,
            "path": trigger.path,
            "public": trigger.public,
        }
    raise AssertionError(f"unknown trigger {trigger!r}")  # pragma: no cover


def resource_map(function: Function, names: Names) -> ResourceMap:
    """The Google Cloud identities of what ``function`` uses and what triggers it.

    Naming a resource grants nothing.
    """
    named = [use.resource for use in function.uses]
    if function.trigger.resource is not None:
        named.append(function.trigger.resource)
    return names.resource_map(named)


# -- IAM ----------------------------------------------------------------------------------


def _bindings(
    pipeline: Pipeline, names: Names, project_number: str, resources: list[GcpResource]
) -> list[GcpResource]:
    """One ``iam:bindings`` resource per bound resource, depending on it and on the
    deployment's accounts it names."""
    by_name = {resource.name: resource for resource in resources}
    for function in pipeline.functions.values():
        # Invoker bindings are on the function's Cloud Run service, which the function is.
        by_name[iam.run_service_path(function.name, names)] = by_name[
            names.function_path(function.name)
        ]
    accounts = {
        f"serviceAccount:{resource.spec['email']}": resource.key
        for resource in resources
        if resource.kind is Kind.SERVICE_ACCOUNT
    }
    bound = []
    for path, bindings in iam.deployment_bindings(pipeline, names, project_number).items():
        members = sorted({accounts[b.member] for b in bindings if b.member in accounts})
        target = by_name[path]
        bound.append(
            GcpResource(
                Kind.IAM_BINDINGS,
                path,
                f"IAM bindings on {target.neutral}",
                {
                    "resource": path,
                    "bindings": [{"role": b.role, "member": b.member} for b in bindings],
                },
                depends_on=(target.key, *members),
            )
        )
    return bound


# -- what Google Cloud would refuse -----------------------------------------------------------


def _check_deployable(pipeline: Pipeline) -> None:
    """Refuse what Google Cloud would refuse: the builtin validation errors for ``gcp``."""
    errors = [
        f"{finding.target}: {finding.message}"
        for finding in portway_validate(
            pipeline=pipeline, provider="gcp", capabilities=CAPABILITIES
        )
        if finding.severity is Severity.ERROR
    ]
    if errors:
        raise ValidationError(
            f"pipeline {pipeline.name!r} cannot be deployed on Google Cloud: " + "; ".join(errors)
        )


def _compact(document: Mapping[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))
