"""The AWS resources of a deployment, as frozen data: what portway wants, what it found.

A desired resource carries a ``spec``: a JSON-ready mapping holding everything that
defines it. Its hash is stored with the resource (tag ``portway:spec``, or the IAM
role's description), so the planner compares one hash per resource, read in a single
listing call per kind, instead of reading every attribute of every resource.

Specs by kind (every ARN fully formed, every mapping JSON-ready; lists sorted):

``s3:bucket``
    ``{"notifications": [{"id", "queue_arn", "prefix", "suffix"}, ...],
    "topic_notifications": [{"id", "topic_arn"}]}``: one S3 event notification
    (``s3:ObjectCreated:*``) into an SQS queue per object trigger; or, when the bucket's
    triggers overlap (S3 refuses overlapping notifications), one unfiltered notification
    into the bucket's fan-out topic, to which each trigger's queue subscribes.
``sqs:queue``
    ``{"attributes": {"VisibilityTimeout": "30", "MessageRetentionPeriod": "345600",
    "RedrivePolicy": "<json>" (not on a DLQ), "Policy": "<json>" (queues S3 or SNS
    send to)}, "subscription": {"topic_arn", "raw": true} | null}``. A topic
    subscriber's queue holds its subscription: creating the queue subscribes it,
    deleting it unsubscribes.
``sns:topic``
    ``{}``; a bucket's fan-out topic: ``{"policy": {...}}`` (S3 may publish to it).
``iam:role``
    ``{"path", "assume_role_policy": {...}, "policy": {...}}``: the trust policy and the
    one inline policy (named ``portway``).
``lambda:function``
    ``{"role_arn", "handler", "runtime", "architecture", "timeout", "memory",
    "environment": {...}, "code_sha256", "event_source": {"queue_arn", "batch_size",
    "window"} | null, "url": {"auth_type"} | null, "schedule": {"group", "name",
    "expression", "role_arn", "input"} | null}``. A function holds its trigger's
    wiring (event source mapping, function URL, schedule): they live and die with it.
``scheduler:group``
    ``{}``: the schedule group of the deployment, present when a function has a schedule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from portway.deploy.names import spec_hash


class Kind(StrEnum):
    """The AWS resource kinds portway manages, in the order a deploy creates them."""

    IAM_ROLE = "iam:role"
    SNS_TOPIC = "sns:topic"
    SQS_QUEUE = "sqs:queue"
    S3_BUCKET = "s3:bucket"
    SCHEDULER_GROUP = "scheduler:group"
    LAMBDA_FUNCTION = "lambda:function"

    @property
    def rank(self) -> int:
        """Creation order: a kind may depend on the kinds before it, never after."""
        return list(Kind).index(self)


@dataclass(frozen=True, slots=True)
class AwsResource:
    """One AWS resource a deployment wants to exist.

    ``name``: the physical name (from :class:`~portway_aws.naming.Names`). ``neutral``:
    what it serves, for display (``"queue jobs"``, ``"function transform"``).
    ``depends_on``: ``(kind, name)`` of resources that must exist first (a queue's DLQ).
    """

    kind: Kind
    name: str
    arn: str
    neutral: str
    spec: Mapping[str, Any] = field(default_factory=dict)
    depends_on: tuple[tuple[Kind, str], ...] = ()

    @property
    def key(self) -> tuple[Kind, str]:
        return (self.kind, self.name)

    @property
    def spec_hash(self) -> str:
        return spec_hash(self.spec)


@dataclass(frozen=True, slots=True)
class Observed:
    """One resource found on AWS carrying this deployment's tags (or path, or group).

    ``spec_hash`` is what the last deploy stored with it (``None``: absent, as after a
    deploy cut short between creating a resource and marking it).
    """

    kind: Kind
    name: str
    arn: str
    spec_hash: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[Kind, str]:
        return (self.kind, self.name)
