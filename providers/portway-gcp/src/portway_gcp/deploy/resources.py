"""The Google Cloud resources of a deployment, as frozen data: what portway wants.

A desired resource carries a ``spec``: a JSON-ready mapping holding everything that
defines it. Its hash (:func:`spec_hash`) is stored with the resource (label
``portway-spec``, or the description of what takes no labels), so a second deploy
compares one hash per resource instead of every attribute.

``name`` is the resource's full relative name, as the Google APIs take it
(``projects/P/topics/T``, ``projects/_/buckets/B``...). Specs by kind (paths fully
formed, every mapping JSON-ready, lists sorted):

``iam:service-account`` (name ``projects/P/serviceAccounts/EMAIL``)
    ``{"account_id", "email", "display_name"}``: one per function, and the invoker
    account whose OIDC token Pub/Sub push and Cloud Scheduler present.
``pubsub:topic`` (``projects/P/topics/T``)
    ``{"labels"}``: a queue's or topic's topic, a bucket trigger's topic, a dead-letter
    topic.
``storage:bucket`` (``projects/_/buckets/B``)
    ``{"labels", "location", "uniform_bucket_level_access": true}``.
``storage:notification`` (``projects/_/buckets/B/notificationConfigs/<topic id>``)
    ``{"bucket", "topic", "event_types": ["OBJECT_FINALIZE"], "object_name_prefix",
    "payload_format": "JSON_API_V1", "suffix"}``. Cloud Storage assigns the config's id
    itself, so portway names a notification by the topic it publishes to (one per
    trigger). ``suffix`` is not sent to Cloud Storage (it filters by prefix only): the
    runtime shim applies it, acknowledging and skipping the other objects.
``functions:function`` (``projects/P/locations/R/functions/F``)
    ``{"runtime", "entry_point", "memory_mib", "timeout_seconds", "environment",
    "service_account_email", "labels", "source_sha256", "trigger"}``: a Cloud Run
    function (Cloud Functions v2 API). ``trigger`` is the handler contract the shim keeps
    (kind, declared batch size, one message per request, suffix filter).
``pubsub:subscription`` (``projects/P/subscriptions/S``)
    ``{"topic", "labels", "ack_deadline_seconds", "message_retention_seconds",
    "expiration_policy": "never", "push": {"push_to_function", "oidc_service_account_email"}
    | null, "dead_letter_policy": {"dead_letter_topic", "max_delivery_attempts"} | null}``.
    ``push_to_function`` is the function's full name: apply resolves it to the function's
    URL, which exists only once the function does.
``scheduler:job`` (``projects/P/locations/R/jobs/J``)
    ``{"schedule", "time_zone": "UTC", "http_target": {"function", "http_method", "body",
    "oidc_service_account_email"}}``; ``function`` is resolved to its URL at apply time.
``iam:bindings`` (named by the bound resource's full name)
    ``{"resource", "bindings": [{"role", "member"}, ...]}``: the exact role bindings
    portway adds to that resource's IAM policy (:mod:`portway_gcp.iam`), sorted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from portway.deploy.names import spec_hash


class Kind(StrEnum):
    """The Google Cloud resource kinds portway manages, in the order a deploy creates them.

    Push subscriptions come after functions (their endpoint is the function's URL); IAM
    bindings after every resource and account they name. Bucket notifications come last:
    Cloud Storage checks, when one is created, that its service agent may publish to the
    topic (a binding), and a notification published before the topic's subscription
    exists would be lost (a topic keeps no message without a subscription).
    https://cloud.google.com/storage/docs/reporting-changes
    """

    SERVICE_ACCOUNT = "iam:service-account"
    PUBSUB_TOPIC = "pubsub:topic"
    STORAGE_BUCKET = "storage:bucket"
    FUNCTION = "functions:function"
    PUBSUB_SUBSCRIPTION = "pubsub:subscription"
    SCHEDULER_JOB = "scheduler:job"
    IAM_BINDINGS = "iam:bindings"
    STORAGE_NOTIFICATION = "storage:notification"

    @property
    def rank(self) -> int:
        """Creation order: a kind may depend on the kinds before it, never after."""
        return list(Kind).index(self)


@dataclass(frozen=True, slots=True)
class GcpResource:
    """One Google Cloud resource a deployment wants to exist.

    ``name``: its full relative name (from :class:`~portway_gcp.naming.Names`).
    ``neutral``: what it serves, for display (``"queue transform-jobs"``).
    ``depends_on``: ``(kind, name)`` of resources that must exist first.
    """

    kind: Kind
    name: str
    neutral: str
    spec: Mapping[str, Any] = field(default_factory=dict)
    depends_on: tuple[tuple[Kind, str], ...] = ()

    @property
    def key(self) -> tuple[Kind, str]:
        return (self.kind, self.name)

    @property
    def spec_hash(self) -> str:
        return spec_hash(self.spec)
