"""IAM role bindings of a deployment: least privilege, derived from each function's uses.

Every binding is on one resource (a bucket, a topic, a subscription, a Cloud Run
service), never on the project: a function's service account can touch exactly what its
``uses=[...]`` name. Lists are sorted, so a second deploy hashes to the same spec.

Bucket roles (https://cloud.google.com/storage/docs/access-control/iam-roles):

* read -> ``roles/storage.objectViewer`` (``storage.objects.get`` and ``.list``);
* list -> ``roles/storage.objectViewer`` too: listing needs ``storage.objects.list``,
  which objectViewer has and no narrower predefined role grants alone;
* write -> ``roles/storage.objectCreator`` (``storage.objects.create``);
* delete -> ``roles/storage.objectUser``: objectCreator cannot delete.

Merge rule, per bucket: the smallest set of these roles that covers every use. Any
delete gives ``objectUser`` alone, since it holds get, list, create and delete;
otherwise read or list give ``objectViewer`` and write adds ``objectCreator`` (read +
write -> objectViewer + objectCreator).

Caveat, written where it bites: Cloud Storage needs ``storage.objects.delete`` to
*replace* an existing object, which objectCreator lacks, so a write to a key that
already exists is refused unless the function also declares ``delete()``.
https://cloud.google.com/storage/docs/access-control/iam-permissions

The service agents' bindings need the project *number* (not its id), which names them;
it is an argument here rather than a field of :class:`~portway_gcp.naming.Names`, whose
names never depend on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from portway.errors import ConfigError
from portway.model import (
    Action,
    Bucket,
    Function,
    HttpTrigger,
    MessageTrigger,
    ObjectCreatedTrigger,
    Pipeline,
    Queue,
    ScheduleTrigger,
    Topic,
)
from portway_gcp.naming import Names

OBJECT_VIEWER = "roles/storage.objectViewer"
OBJECT_CREATOR = "roles/storage.objectCreator"
OBJECT_USER = "roles/storage.objectUser"
PUBLISHER = "roles/pubsub.publisher"
SUBSCRIBER = "roles/pubsub.subscriber"
# A Cloud Run function (gen2) is served by a Cloud Run service of the same id; invoking
# it is run.routes.invoke on that service.
# https://cloud.google.com/functions/docs/securing/authenticating
RUN_INVOKER = "roles/run.invoker"
ALL_USERS = "allUsers"

_PROJECT_NUMBER = re.compile(r"^[1-9][0-9]{0,19}$")


@dataclass(frozen=True, slots=True, order=True)
class Binding:
    """``member`` holds ``role`` on ``resource`` (a full relative resource name)."""

    resource: str
    role: str
    member: str


def bucket_path(bucket_id: str) -> str:
    """The resource name of a Cloud Storage bucket, as its IAM API takes it."""
    return f"projects/_/buckets/{bucket_id}"


def run_service_path(function: str, names: Names) -> str:
    """The Cloud Run service serving portway function ``function`` (same id as the function)."""
    return f"{names.location_path}/services/{names.function(function)}"


def service_account_member(account_id: str, names: Names) -> str:
    return f"serviceAccount:{names.service_account_email(account_id)}"


def bucket_roles(actions: Iterable[Action]) -> list[str]:
    """The smallest set of bucket roles covering ``actions`` (the merge rule above)."""
    wanted = set(actions)
    if Action.DELETE in wanted:
        return [OBJECT_USER]
    roles = set()
    if wanted & {Action.READ, Action.LIST}:
        roles.add(OBJECT_VIEWER)
    if Action.WRITE in wanted:
        roles.add(OBJECT_CREATOR)
    return sorted(roles)


def function_bindings(function: Function, names: Names) -> list[Binding]:
    """What ``function``'s own service account may do: exactly its uses, sorted.

    Its trigger needs nothing from it: Pub/Sub pushes to the function and Cloud
    Scheduler calls it, each as the invoker account (:func:`invoker_bindings`).
    """
    member = service_account_member(names.service_account(function.name), names)
    by_bucket: dict[str, set[Action]] = {}
    bindings: set[Binding] = set()
    for use in function.uses:
        resource, action = use.resource, use.action
        if isinstance(resource, Bucket):
            by_bucket.setdefault(resource.name, set()).add(action)
        elif isinstance(resource, Queue) and action is Action.SEND:
            topic = names.topic_path(names.queue_topic(resource.name))
            bindings.add(Binding(topic, PUBLISHER, member))
        elif isinstance(resource, Topic) and action is Action.PUBLISH:
            topic = names.topic_path(names.topic(resource.name))
            bindings.add(Binding(topic, PUBLISHER, member))
    for bucket, actions in by_bucket.items():
        path = bucket_path(names.bucket(bucket))
        bindings.update(Binding(path, role, member) for role in bucket_roles(actions))
    return sorted(bindings)


def invoker_bindings(pipeline: Pipeline, names: Names) -> list[Binding]:
    """Who may invoke each function's Cloud Run service, sorted.

    The invoker account, for a function fed by a push subscription (queue, topic, object
    trigger) or a Cloud Scheduler job; ``allUsers`` for a public HTTP route. A private
    HTTP route gets no binding: its callers need ``roles/run.invoker`` granted to them.
    """
    invoker = service_account_member(names.invoker_service_account, names)
    bindings = []
    for function in pipeline.functions.values():
        service = run_service_path(function.name, names)
        trigger = function.trigger
        if isinstance(trigger, MessageTrigger | ObjectCreatedTrigger | ScheduleTrigger):
            bindings.append(Binding(service, RUN_INVOKER, invoker))
        elif isinstance(trigger, HttpTrigger) and trigger.public:
            bindings.append(Binding(service, RUN_INVOKER, ALL_USERS))
    return sorted(bindings)


def check_project_number(project_number: str) -> str:
    """Return ``project_number`` if it is a project number; raise :class:`ConfigError`."""
    if not _PROJECT_NUMBER.fullmatch(project_number):
        raise ConfigError(
            f"project number {project_number!r} is not a Google Cloud project number (digits "
            f"only); find it with 'gcloud projects describe PROJECT_ID "
            f"--format=value(projectNumber)'"
        )
    return project_number


def pubsub_service_agent(project_number: str) -> str:
    """The Pub/Sub service agent of the project, which forwards dead letters."""
    number = check_project_number(project_number)
    return f"serviceAccount:service-{number}@gcp-sa-pubsub.iam.gserviceaccount.com"


def storage_service_agent(project_number: str) -> str:
    """The Cloud Storage service agent of the project, which publishes notifications."""
    number = check_project_number(project_number)
    return f"serviceAccount:service-{number}@gs-project-accounts.iam.gserviceaccount.com"


def dead_lettered(pipeline: Pipeline, names: Names) -> list[tuple[str, str]]:
    """``(subscription id, dead-letter topic id)`` of every subscription portway dead-letters."""
    pairs = []
    for resource in pipeline.resources.values():
        if isinstance(resource, Queue):
            pairs.append(
                (names.queue_subscription(resource.name), names.dead_letter_topic(resource.name))
            )
    for function in pipeline.functions.values():
        trigger = function.trigger
        if isinstance(trigger, ObjectCreatedTrigger) or (
            isinstance(trigger, MessageTrigger) and isinstance(trigger.source, Topic)
        ):
            pairs.append(
                (
                    names.trigger_subscription(function.name),
                    names.trigger_dead_letter_topic(function.name),
                )
            )
    return sorted(pairs)


def pubsub_service_agent_bindings(
    pipeline: Pipeline, names: Names, project_number: str
) -> list[Binding]:
    """What Pub/Sub's service agent needs to forward dead letters, sorted.

    Publisher on each dead-letter topic, subscriber on each subscription with a
    dead-letter policy (to acknowledge the forwarded message there).
    https://cloud.google.com/pubsub/docs/handling-failures#grant_forwarding_permissions
    """
    agent = pubsub_service_agent(project_number)
    bindings = []
    for subscription, dead_letter_topic in dead_lettered(pipeline, names):
        bindings.append(Binding(names.topic_path(dead_letter_topic), PUBLISHER, agent))
        bindings.append(Binding(names.subscription_path(subscription), SUBSCRIBER, agent))
    return sorted(bindings)


def storage_service_agent_bindings(
    pipeline: Pipeline, names: Names, project_number: str
) -> list[Binding]:
    """What Cloud Storage's service agent needs to send notifications, sorted.

    Publisher on each object trigger's topic: a notification config is refused, and
    nothing is published, without it.
    https://cloud.google.com/storage/docs/reporting-changes#before-you-begin
    """
    agent = storage_service_agent(project_number)
    return sorted(
        Binding(names.topic_path(names.trigger_topic(function.name)), PUBLISHER, agent)
        for function in pipeline.functions.values()
        if isinstance(function.trigger, ObjectCreatedTrigger)
    )


def deployment_bindings(
    pipeline: Pipeline, names: Names, project_number: str
) -> dict[str, list[Binding]]:
    """Every binding of the deployment, by bound resource (keys and lists sorted)."""
    everything: set[Binding] = set()
    for function in pipeline.functions.values():
        everything.update(function_bindings(function, names))
    everything.update(invoker_bindings(pipeline, names))
    everything.update(pubsub_service_agent_bindings(pipeline, names, project_number))
    everything.update(storage_service_agent_bindings(pipeline, names, project_number))
    by_resource: dict[str, list[Binding]] = {}
    for binding in sorted(everything):
        by_resource.setdefault(binding.resource, []).append(binding)
    return by_resource
