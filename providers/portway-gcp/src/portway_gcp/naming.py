"""Deterministic Google Cloud names for a pipeline's resources on one stage (no I/O).

Every name starts ``{app}-{stage}-``, so two stages of one app, or two apps in one
project, never collide, and a second deploy finds what the first created. Where a
service's limit is shorter, the name is cut and ends with a stable hash of the whole
(``-`` + 8 hex digits), so it stays unique and the same on every run.

Names portway adds itself use a double hyphen (``transform--in``), which the portable
name rule forbids in user names, so they never clash with a declared one. Cloud Storage
bucket names are global across all projects: they end with a stable hash of the project.
A deployment (app, stage) lives in one project: Pub/Sub topics and service accounts are
project-wide, so the region is not part of any name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from portway.deploy.names import fit, stable_hash
from portway.errors import ConfigError
from portway.model import Bucket, Queue, Resource, Topic
from portway_gcp.runtime_config import ResourceMap

# Name limits (characters) and rules, each from Google's documentation.
# Buckets: 3-63 characters (without dots), lowercase letters, digits, '-', '_', starting
# and ending with a letter or digit; no "goog" prefix, no "google" (nor misspellings).
# https://cloud.google.com/storage/docs/buckets#naming
BUCKET_LIMIT = 63
# Topic and subscription ids: 3-255 characters, start with a letter, letters, digits and
# - . _ ~ + %; must not start with "goog".
# https://cloud.google.com/pubsub/docs/create-topic#resource_names
PUBSUB_LIMIT = 255
# Cloud Functions v2 function id: lowercase letters, digits and hyphens, starting with a
# letter, at most 63 characters (it names the Cloud Run service, which ends with a letter
# or digit).
# https://cloud.google.com/functions/docs/reference/rest/v2/projects.locations.functions/create
FUNCTION_LIMIT = 63
# Service account id: 6-30 characters, matching [a-z]([-a-z0-9]*[a-z0-9]).
# https://cloud.google.com/iam/docs/service-accounts-create#creating
SERVICE_ACCOUNT_LIMIT = 30
SERVICE_ACCOUNT_MINIMUM = 6
# Cloud Scheduler job id: letters, digits, hyphens and underscores, at most 500.
# https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs#Job
SCHEDULER_JOB_LIMIT = 500
# Label keys and values: at most 63 characters, lowercase letters, digits, '_' and '-';
# keys start with a lowercase letter.
# https://cloud.google.com/resource-manager/docs/labels-overview#requirements
LABEL_LIMIT = 63

# Project ids: 6-30 characters, lowercase letters, digits and hyphens, starting with a
# letter and not ending with a hyphen; legacy domain-scoped ids start "example.com:".
# https://cloud.google.com/resource-manager/docs/creating-managing-projects#before_you_begin
_PROJECT = re.compile(r"^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_STAGE = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,19}$")
# Cloud Storage refuses "google" and close misspellings of it anywhere in a bucket name.
_GOOGLE = re.compile(r"g[o0]{2}g[l1]e")
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")

#: Labels on every resource portway creates that takes labels (Cloud Scheduler jobs and
#: service accounts take none: they are found by their name prefix).
APP_LABEL = "portway-app"
STAGE_LABEL = "portway-stage"
#: A hash of the resource's desired definition, compared by a second deploy.
SPEC_LABEL = "portway-spec"


def check_project(project: str) -> str:
    """Return ``project`` if it is a Google Cloud project id; raise :class:`ConfigError`."""
    if not _PROJECT.fullmatch(project):
        raise ConfigError(
            f"project {project!r} is not a Google Cloud project id (6 to 30 lowercase "
            f"letters, digits and hyphens, starting with a letter); set the stage's "
            f"'project' to the id shown by 'gcloud projects list', not its name or number"
        )
    return project


def check_stage(stage: str) -> str:
    """Return ``stage`` if it can be part of Google Cloud names; raise :class:`ConfigError`."""
    if not _STAGE.fullmatch(stage) or _GOOGLE.search(stage):
        raise ConfigError(
            f"stage {stage!r}: a Google Cloud stage name must be 1 to 20 lowercase letters, "
            f"digits and single hyphens, without 'google' (it is part of every resource "
            f"name, and Cloud Storage refuses 'google' in bucket names); rename the stage"
        )
    return stage


def check_labels(labels: dict[str, str]) -> dict[str, str]:
    """Return ``labels`` if Google Cloud accepts them; raise :class:`ConfigError` otherwise."""
    for key, value in labels.items():
        if not _LABEL_KEY.fullmatch(key) or not _LABEL_VALUE.fullmatch(value):
            raise ConfigError(
                f"label {key}={value!r}: label keys and values are at most 63 lowercase "
                f"letters, digits, '_' and '-', and keys start with a letter"
            )
    return labels


@dataclass(frozen=True, slots=True)
class Names:
    """Physical names and resource paths of one app on one stage, in one project."""

    app: str
    stage: str
    project: str
    region: str

    def __post_init__(self) -> None:
        check_stage(self.stage)
        check_project(self.project)

    @property
    def prefix(self) -> str:
        """``{app}-{stage}``: the start of every name of this deployment."""
        return f"{self.app}-{self.stage}"

    @property
    def labels(self) -> dict[str, str]:
        """The labels that mark a resource as this deployment's."""
        return check_labels({APP_LABEL: self.app, STAGE_LABEL: self.stage})

    @property
    def label_filter(self) -> str:
        """A list filter (``labels.portway-app=...``) finding this deployment's resources."""
        return f"labels.{APP_LABEL}={self.app} AND labels.{STAGE_LABEL}={self.stage}"

    # -- Cloud Storage ---------------------------------------------------------------------

    @property
    def bucket_suffix(self) -> str:
        """Makes bucket names globally unique, and stable for this project."""
        return stable_hash(self.project)

    def bucket(self, name: str) -> str:
        """The Cloud Storage bucket of neutral bucket ``name``."""
        suffix = f"-{self.bucket_suffix}"
        return fit(f"{self.prefix}-{name}", BUCKET_LIMIT - len(suffix)) + suffix

    @property
    def state_bucket(self) -> str:
        """The portway-managed bucket holding deploy records (one per project)."""
        return f"portway-state-{self.bucket_suffix}"

    @property
    def record_key(self) -> str:
        """The object name of this deployment's record in :attr:`state_bucket`."""
        return f"deployments/{self.app}/{self.stage}.json"

    # -- Pub/Sub: queues -------------------------------------------------------------------
    # Topics and subscriptions are separate namespaces (projects/P/topics/X and
    # projects/P/subscriptions/X), so a dead-letter topic and the pull subscription that
    # keeps its messages share one id.

    def queue_topic(self, name: str) -> str:
        """The topic of neutral queue ``name``."""
        return fit(f"{self.prefix}-{name}", PUBSUB_LIMIT - len("--push-dlq"))

    def queue_subscription(self, name: str) -> str:
        """The push subscription delivering queue ``name`` to its consumer."""
        return self.queue_topic(name) + "--push"

    def dead_letter_topic(self, name: str) -> str:
        """The dead-letter topic of queue ``name`` (and id of its pull subscription)."""
        return self.queue_topic(name) + "-dlq"

    def dead_letter_subscription(self, name: str) -> str:
        """The pull subscription keeping queue ``name``'s dead letters for ``portway dlq``."""
        return self.dead_letter_topic(name)

    # -- Pub/Sub: topics and object triggers -----------------------------------------------

    def topic(self, name: str) -> str:
        """The topic of neutral topic ``name``."""
        return fit(f"{self.prefix}-{name}", PUBSUB_LIMIT)

    def trigger_topic(self, function: str) -> str:
        """The topic a bucket's notification publishes to for ``function``'s object trigger."""
        return fit(f"{self.prefix}-{_resource(function)}--in", PUBSUB_LIMIT - len("-dlq"))

    def trigger_subscription(self, function: str) -> str:
        """The push subscription feeding ``function`` from a topic or a bucket's trigger topic.

        A function has one trigger, so one subscription per function is unique.
        """
        return self.trigger_topic(function)

    def trigger_dead_letter_topic(self, function: str) -> str:
        """The dead-letter topic of ``function``'s subscription (and its pull subscription)."""
        return self.trigger_subscription(function) + "-dlq"

    def trigger_dead_letter_subscription(self, function: str) -> str:
        return self.trigger_dead_letter_topic(function)

    def topic_path(self, topic_id: str) -> str:
        """``projects/P/topics/T`` of the topic ``topic_id`` (a name from this class)."""
        return f"projects/{self.project}/topics/{topic_id}"

    def subscription_path(self, subscription_id: str) -> str:
        return f"projects/{self.project}/subscriptions/{subscription_id}"

    def resource_map(self, resources: Iterable[Resource]) -> ResourceMap:
        """Where ``resources`` are, as a deployed function's environment names them: bucket
        ids, and topic paths for queues and topics (a queue is sent to through its topic)."""
        sections: dict[str, dict[str, str]] = {"buckets": {}, "queues": {}, "topics": {}}
        for resource in resources:
            if isinstance(resource, Bucket):
                sections["buckets"][resource.name] = self.bucket(resource.name)
            elif isinstance(resource, Queue):
                path = self.topic_path(self.queue_topic(resource.name))
                sections["queues"][resource.name] = path
            elif isinstance(resource, Topic):
                sections["topics"][resource.name] = self.topic_path(self.topic(resource.name))
        return ResourceMap(**sections)

    # -- Cloud Run functions, service accounts -----------------------------------------------

    @property
    def location_path(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    def function(self, function: str) -> str:
        """The Cloud Functions v2 id of portway function ``function`` (``pull_ftp``)."""
        return fit(f"{self.prefix}-{_resource(function)}", FUNCTION_LIMIT)

    def function_path(self, function: str) -> str:
        return f"{self.location_path}/functions/{self.function(function)}"

    def service_account(self, function: str) -> str:
        """The service account id of ``function`` (one per function)."""
        return fit(f"{self.prefix}-{_resource(function)}", SERVICE_ACCOUNT_LIMIT)

    @property
    def invoker_service_account(self) -> str:
        """The account whose OIDC token Pub/Sub push and Cloud Scheduler present."""
        return fit(f"{self.prefix}--invoker", SERVICE_ACCOUNT_LIMIT)

    def service_account_email(self, account_id: str) -> str:
        """The email of service account ``account_id`` (from :meth:`service_account`)."""
        return f"{account_id}@{self.project}.iam.gserviceaccount.com"

    def service_account_path(self, account_id: str) -> str:
        email = self.service_account_email(account_id)
        return f"projects/{self.project}/serviceAccounts/{email}"

    # -- Cloud Scheduler -------------------------------------------------------------------

    def scheduler_job(self, function: str) -> str:
        """The Cloud Scheduler job calling ``function``."""
        return fit(f"{self.prefix}-{_resource(function)}", SCHEDULER_JOB_LIMIT)

    def scheduler_job_path(self, function: str) -> str:
        return f"{self.location_path}/jobs/{self.scheduler_job(function)}"


def _resource(function: str) -> str:
    """``pull_ftp`` -> ``pull-ftp``: function and account ids take no underscores.

    A function name whose hyphenated form would end with a hyphen or hold ``--`` (which
    portway keeps for its own names) gets a stable hash of the original instead.
    """
    hyphenated = function.replace("_", "-")
    if hyphenated.endswith("-") or "--" in hyphenated:
        return f"{re.sub('-+', '-', hyphenated).strip('-')}-{stable_hash(function)}"
    return hyphenated
