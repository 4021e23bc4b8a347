"""Observe: what exists on Google Cloud for one deployment, with read-only calls.

The number of calls grows with the resource kinds, not with the resources: one
paginated list call per kind, each result kept when it carries the deployment's marks:

* Pub/Sub topics and subscriptions, Cloud Storage buckets (listed by the name prefix)
  and Cloud Run functions carry the labels ``portway-app`` / ``portway-stage`` and the
  spec hash in ``portway-spec``;
* service accounts and Cloud Scheduler jobs take no labels: their description holds the
  same marks (:func:`marker`), and is parsed back (:func:`parse_marker`);
* IAM bindings and bucket notifications cannot be listed by label in one call (a
  policy or a notification list per resource would grow with the resources): they are
  known from the deploy record, and observed as long as what they are attached to is.
  Drift in them is therefore not seen by ``plan``; a deploy that changes them
  read-modify-writes the live policy, keeping what portway did not add.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from portway.errors import DeployError
from portway_gcp.deploy.kinds.calls import fix_for
from portway_gcp.deploy.resources import Kind
from portway_gcp.naming import APP_LABEL, SPEC_LABEL, STAGE_LABEL

if TYPE_CHECKING:
    from portway.deploy.execute import CallLog
    from portway.deploy.record import Record
    from portway_gcp.naming import Names

#: Labels of a function holding the first 32 hex digits of its source zip's SHA-256 (a
#: label value holds at most 63 characters): an unchanged zip is not uploaded again.
SOURCE_LABEL = "portway-source"
SOURCE_DIGITS = 32
# The largest page each list call takes, so that one request usually lists a kind.
# https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/list (100)
# https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.topics/list (1000)
# https://cloud.google.com/storage/docs/json_api/v1/buckets/list (1000)
# https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs/list (500)
_IAM_PAGE = 100
_PUBSUB_PAGE = 1000
_STORAGE_PAGE = 1000
_FUNCTIONS_PAGE = 1000
_SCHEDULER_PAGE = 500


@dataclass(frozen=True, slots=True)
class Observed:
    """One resource found on Google Cloud carrying this deployment's marks.

    ``spec_hash``: what the last deploy stored with it (``None``: absent, as after a
    deploy cut short between creating a resource and marking it). ``attributes``: what
    apply needs besides (a function's ``url`` and ``source``; for a kind known from the
    record, the recorded ``spec``).
    """

    kind: Kind
    name: str
    spec_hash: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[Kind, str]:
        return (self.kind, self.name)


def marker(names: Names, spec_hash: str) -> str:
    """The description of a resource that takes no labels: its deployment and spec hash."""
    return f"{APP_LABEL}={names.app} {STAGE_LABEL}={names.stage} {SPEC_LABEL}={spec_hash}"


def parse_marker(description: str) -> dict[str, str]:
    """The ``key=value`` marks of a description written by :func:`marker`."""
    marks = {}
    for word in description.split():
        key, sep, value = word.partition("=")
        if sep and key.startswith("portway-"):
            marks[key] = value
    return marks


def is_ours(names: Names, labels: Mapping[str, str]) -> bool:
    return labels.get(APP_LABEL) == names.app and labels.get(STAGE_LABEL) == names.stage


def observe(
    clients: Any, names: Names, record: Record | None, log: CallLog
) -> dict[tuple[Kind, str], Observed]:
    """Every resource of the deployment ``names`` describes, by ``(kind, name)``.

    ``clients``: a :class:`portway_gcp.clients.GcpClients` (its ``publisher``,
    ``subscriber``, ``storage``, ``functions``, ``scheduler``, ``iam_admin``).
    """
    from google.api_core import exceptions

    readers: list[tuple[str, Callable[[Any, Names, CallLog], Iterable[Observed]]]] = [
        ("iam.serviceAccounts.list", _service_accounts),
        ("pubsub.topics.list", _topics),
        ("storage.buckets.list", _buckets),
        ("cloudfunctions.functions.list", _functions),
        ("pubsub.subscriptions.list", _subscriptions),
        ("cloudscheduler.jobs.list", _jobs),
    ]
    found: dict[tuple[Kind, str], Observed] = {}
    for operation, reader in readers:
        try:
            for resource in reader(clients, names, log):
                found[resource.key] = resource
        except (exceptions.GoogleAPICallError, exceptions.RetryError) as error:
            raise DeployError(
                f"cannot read what is deployed for {names.prefix!r} in project "
                f"{names.project!r}: {operation} failed: {type(error).__name__}: "
                f"{getattr(error, 'message', error)}; {fix_for(error, operation)}".rstrip("; ")
            ) from None
    found.update({o.key: o for o in recorded_attachments(record, found)})
    return found


# -- kinds listed by label or description --------------------------------------------------


def _service_accounts(clients: Any, names: Names, log: CallLog) -> Iterator[Observed]:
    pages = log.read(
        "iam.serviceAccounts.list",
        clients.iam_admin.list_service_accounts,
        request={"name": f"projects/{names.project}", "page_size": _IAM_PAGE},
    )
    for account in pages:
        marks = parse_marker(account.description or "")
        if is_ours(names, marks):
            path = f"projects/{names.project}/serviceAccounts/{account.email}"
            yield Observed(Kind.SERVICE_ACCOUNT, path, marks.get(SPEC_LABEL), marks)


def _topics(clients: Any, names: Names, log: CallLog) -> Iterator[Observed]:
    start = names.topic_path(f"{names.prefix}-")
    pages = log.read(
        "pubsub.topics.list",
        clients.publisher.list_topics,
        request={"project": f"projects/{names.project}", "page_size": _PUBSUB_PAGE},
    )
    for topic in pages:
        labels = dict(topic.labels)
        if topic.name.startswith(start) and is_ours(names, labels):
            yield Observed(Kind.PUBSUB_TOPIC, topic.name, labels.get(SPEC_LABEL), labels)


def _subscriptions(clients: Any, names: Names, log: CallLog) -> Iterator[Observed]:
    start = names.subscription_path(f"{names.prefix}-")
    pages = log.read(
        "pubsub.subscriptions.list",
        clients.subscriber.list_subscriptions,
        request={"project": f"projects/{names.project}", "page_size": _PUBSUB_PAGE},
    )
    for subscription in pages:
        labels = dict(subscription.labels)
        if subscription.name.startswith(start) and is_ours(names, labels):
            yield Observed(
                Kind.PUBSUB_SUBSCRIPTION, subscription.name, labels.get(SPEC_LABEL), labels
            )


def _buckets(clients: Any, names: Names, log: CallLog) -> Iterator[Observed]:
    start = f"{names.prefix}-"
    # The iterator pages lazily: each page is a call, counted as the first.
    buckets = log.read(
        "storage.buckets.list",
        clients.storage.list_buckets,
        prefix=start,
        project=names.project,
        page_size=_STORAGE_PAGE,
    )
    for bucket in buckets:
        labels = dict(bucket.labels or {})
        # Emulators may ignore the prefix, and keep every project's buckets in one list:
        # the name is checked here too, with the project's suffix.
        ours = bucket.name.startswith(start) and bucket.name.endswith(f"-{names.bucket_suffix}")
        if ours and is_ours(names, labels):
            path = f"projects/_/buckets/{bucket.name}"
            yield Observed(Kind.STORAGE_BUCKET, path, labels.get(SPEC_LABEL), labels)


def _functions(clients: Any, names: Names, log: CallLog) -> Iterator[Observed]:
    start = f"{names.location_path}/functions/{names.prefix}-"
    pages = log.read(
        "cloudfunctions.functions.list",
        clients.functions.list_functions,
        request={"parent": names.location_path, "page_size": _FUNCTIONS_PAGE},
    )
    for function in pages:
        labels = dict(function.labels)
        if function.name.startswith(start) and is_ours(names, labels):
            url = function.url or function.service_config.uri
            attributes = {"url": url, "source": labels.get(SOURCE_LABEL, "")}
            yield Observed(Kind.FUNCTION, function.name, labels.get(SPEC_LABEL), labels, attributes)


def _jobs(clients: Any, names: Names, log: CallLog) -> Iterator[Observed]:
    start = f"{names.location_path}/jobs/{names.prefix}-"
    pages = log.read(
        "cloudscheduler.jobs.list",
        clients.scheduler.list_jobs,
        request={"parent": names.location_path, "page_size": _SCHEDULER_PAGE},
    )
    for job in pages:
        marks = parse_marker(job.description or "")
        if job.name.startswith(start) and is_ours(names, marks):
            yield Observed(Kind.SCHEDULER_JOB, job.name, marks.get(SPEC_LABEL), marks)


# -- kinds known from the record -----------------------------------------------------------


def attached_to(kind: Kind, name: str) -> tuple[tuple[Kind, str], ...]:
    """What an IAM bindings resource or a notification ``name`` is attached to."""
    if kind is Kind.STORAGE_NOTIFICATION:
        bucket = name.partition("/notificationConfigs/")[0]
        return ((Kind.STORAGE_BUCKET, bucket),)
    if "/services/" in name:  # a function's Cloud Run service: same id as the function
        return ((Kind.FUNCTION, name.replace("/services/", "/functions/", 1)),)
    if name.startswith("projects/_/buckets/"):
        return ((Kind.STORAGE_BUCKET, name),)
    if "/subscriptions/" in name:
        return ((Kind.PUBSUB_SUBSCRIPTION, name),)
    return ((Kind.PUBSUB_TOPIC, name),)


def recorded_attachments(
    record: Record | None, found: Mapping[tuple[Kind, str], Observed]
) -> list[Observed]:
    """Recorded IAM bindings and notifications whose resource is still there."""
    if record is None:
        return []
    kept = []
    for resource in record.resources:
        if resource.kind not in (Kind.IAM_BINDINGS, Kind.STORAGE_NOTIFICATION):
            continue
        kind = Kind(resource.kind)
        wanted = list(attached_to(kind, resource.name))
        if kind is Kind.STORAGE_NOTIFICATION:
            wanted.append((Kind.PUBSUB_TOPIC, str(resource.spec.get("topic", ""))))
        if all(key in found for key in wanted):
            kept.append(
                Observed(
                    kind,
                    resource.name,
                    resource.spec_hash,
                    attributes={"spec": resource.spec, "recorded": True},
                )
            )
    return kept
