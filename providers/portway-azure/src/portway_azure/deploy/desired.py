"""Stage 1 of a deploy: a pipeline -> the Azure resources portway wants (pure, no I/O).

What each neutral declaration becomes (specs as :mod:`portway_azure.deploy.resources`
documents them):

* the stage -> two storage accounts: the **data** account (a container per bucket, the
  queues, the ``portway-state`` container of the deploy record) and the **host**
  account, the Functions hosts' own storage (``AzureWebJobsStorage``) and the packages
  Flex Consumption deploys from. They are apart because the host needs account-wide
  blob rights on its storage (Storage Blob Data Owner: leases, timer schedules, keys),
  and on the data account that right would let every function read every container.
  So on the data account every role is scoped to one container or queue;
* bucket -> a Blob container in the data account;
* queue -> a Storage Queue and its ``-poison`` queue (the Functions host moves a
  message there after ``maxDequeueCount`` = ``max_attempts`` attempts);
* topic -> an Event Grid topic; each subscribing function gets a trigger queue (+
  poison queue) of its own, filled by an event subscription, so every subscriber
  retries and dead-letters on its own;
* object trigger -> a trigger queue (+ poison) filled by an event subscription of the
  data account's Event Grid system topic: ``BlobCreated`` with ``subjectBeginsWith``
  (container and prefix) and ``subjectEndsWith`` (suffix), both native;
* app group (:mod:`portway_azure.grouping`) -> a user-assigned managed identity, its role
  assignments, a Flex Consumption plan and a Function App, and the container its
  package is deployed from (:mod:`portway_azure.deploy.app_groups`);
* schedules and HTTP routes live in the generated ``function_app.py``: no resource.

What Azure would refuse and portway can tell beforehand is refused here with
:class:`~portway.errors.ValidationError`, naming the function or resource and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portway.errors import ValidationError
from portway.model import (
    Bucket,
    Function,
    MessageTrigger,
    ObjectCreatedTrigger,
    Pipeline,
    Queue,
    Topic,
)
from portway.validation import Severity
from portway.validation.rules import portway_validate
from portway_azure import roles
from portway_azure.deploy.app_groups import app_group_resources
from portway_azure.deploy.resources import AzureResource, Key, Kind, account_id, system_topic_id
from portway_azure.grouping import group_functions
from portway_azure.naming import POISON_SUFFIX, Names
from portway_azure.plugin import CAPABILITIES

#: The storage account settings of both accounts: locally redundant general-purpose v2,
#: no anonymous blob access, TLS 1.2.
STORAGE_SKU = "Standard_LRS"
STORAGE_KIND = "StorageV2"
#: Event Grid's delivery retries into a queue: its defaults, stated so a plan shows them.
#: https://learn.microsoft.com/azure/event-grid/delivery-and-retry
MAX_DELIVERY_ATTEMPTS = 30
EVENT_TTL_MINUTES = 1440
#: A message Event Grid puts on a queue never expires (-1) until a function takes it.
QUEUE_MESSAGE_TTL = -1
BLOB_CREATED = "Microsoft.Storage.BlobCreated"
STORAGE_TOPIC_TYPE = "Microsoft.Storage.StorageAccounts"
BLOB_SUBJECT = "/blobServices/default/containers/{container}/blobs/{prefix}"


def desired_resources(
    pipeline: Pipeline,
    names: Names,
    *,
    app: str,
    packages: Mapping[str, str] | None = None,
) -> tuple[AzureResource, ...]:
    """Every Azure resource ``pipeline`` needs on ``names``' stage, sorted by kind then path.

    ``app``: the pipeline as ``module:attr``. ``packages``: the SHA-256 (hex) of each app
    group's package zip by group name (missing: ``""``, as for a plan before packaging
    or for a test harness that runs the functions itself).
    Raises :class:`ValidationError` for what Azure would refuse.

    The data-plane resources a harness creates on Azurite are the
    :data:`~Kind.STORAGE_CONTAINER` and :data:`~Kind.STORAGE_QUEUE` resources whose
    ``parent`` is ``names.storage_account`` (:func:`data_plane_resources`); the event
    subscriptions say which queue each topic or ``BlobCreated`` event goes to, with
    which filters.
    """
    _check_deployable(pipeline)
    packages = packages or {}
    groups = group_functions(pipeline)
    resources: list[AzureResource] = [
        _storage_account(names, names.storage_account, "data"),
        _storage_account(names, names.host_storage_account, "host"),
    ]
    for resource in pipeline.resources.values():
        if isinstance(resource, Bucket):
            resources.append(_container(names, resource))
        elif isinstance(resource, Queue):
            resources.extend(_queue_pair(names, names.queue(resource.name), "queue", resource))
        elif isinstance(resource, Topic):
            resources.append(_topic(names, resource))
    object_triggers = False
    for function in sorted(pipeline.functions.values(), key=lambda f: f.name):
        trigger = function.trigger
        if isinstance(trigger, MessageTrigger) and isinstance(trigger.source, Topic):
            resources.extend(_trigger_queues(names, function))
            resources.append(_topic_subscription(names, function, trigger.source))
        elif isinstance(trigger, ObjectCreatedTrigger):
            object_triggers = True
            resources.extend(_trigger_queues(names, function))
            resources.append(_blob_subscription(names, function, trigger))
    if object_triggers:
        resources.append(_system_topic(names))
    for group in groups:
        resources.extend(app_group_resources(group, names, app, packages.get(group.name, "")))
    return tuple(sorted(resources, key=lambda r: (r.kind.rank, r.path)))


def data_plane_resources(
    resources: tuple[AzureResource, ...], names: Names
) -> tuple[AzureResource, ...]:
    """The containers and queues of the data account: what the data plane reads and writes."""
    data = (Kind.STORAGE_CONTAINER, Kind.STORAGE_QUEUE)
    return tuple(r for r in resources if r.kind in data and r.parent == names.storage_account)


# -- storage -------------------------------------------------------------------------------


def _storage_account(names: Names, account: str, purpose: str) -> AzureResource:
    what = "data" if purpose == "data" else "Functions hosts' storage"
    return AzureResource(
        Kind.STORAGE_ACCOUNT,
        account,
        account_id(names, account),
        f"storage account ({what})",
        {"location": names.location, "purpose": purpose, "sku": STORAGE_SKU, "kind": STORAGE_KIND},
    )


def _container(names: Names, bucket: Bucket) -> AzureResource:
    account = names.storage_account
    container = names.container(bucket.name)
    return AzureResource(
        Kind.STORAGE_CONTAINER,
        container,
        roles.container_scope(names, container),
        f"bucket {bucket.name}",
        {},
        parent=account,
        depends_on=((Kind.STORAGE_ACCOUNT, account),),
    )


def _queue_pair(
    names: Names, physical: str, role: str, queue: Queue | None, neutral: str = ""
) -> list[AzureResource]:
    """A queue and its ``-poison`` queue, in the data account."""
    account = names.storage_account
    neutral = neutral or (f"queue {queue.name}" if queue is not None else physical)
    spec: dict[str, Any] = {"role": role}
    if queue is not None:
        spec |= {
            "max_dequeue_count": queue.max_attempts,
            "visibility_timeout": queue.visibility_timeout,
        }
    poison = physical + POISON_SUFFIX
    depends = ((Kind.STORAGE_ACCOUNT, account),)
    return [
        AzureResource(
            Kind.STORAGE_QUEUE,
            physical,
            roles.queue_scope(names, physical),
            neutral,
            spec,
            parent=account,
            depends_on=depends,
        ),
        AzureResource(
            Kind.STORAGE_QUEUE,
            poison,
            roles.queue_scope(names, poison),
            f"poison messages of {neutral}",
            {"role": "poison"},
            parent=account,
            depends_on=depends,
        ),
    ]


def _trigger_queues(names: Names, function: Function) -> list[AzureResource]:
    return _queue_pair(
        names,
        names.trigger_queue(function.name),
        "trigger",
        None,
        f"trigger queue of function {function.name}",
    )


# -- Event Grid ----------------------------------------------------------------------------


def _topic(names: Names, topic: Topic) -> AzureResource:
    physical = names.topic(topic.name)
    return AzureResource(
        Kind.EVENTGRID_TOPIC,
        physical,
        roles.topic_scope(names, physical),
        f"topic {topic.name}",
        {"location": names.location, "input_schema": "EventGridSchema"},
    )


def _system_topic(names: Names) -> AzureResource:
    account = names.storage_account
    return AzureResource(
        Kind.EVENTGRID_SYSTEM_TOPIC,
        names.storage_system_topic,
        system_topic_id(names),
        "object events of the data account",
        {
            # A system topic of a global source (a storage account is regional) takes
            # the source's location.
            "location": names.location,
            "source": account_id(names, account),
            "topic_type": STORAGE_TOPIC_TYPE,
        },
        depends_on=((Kind.STORAGE_ACCOUNT, account),),
    )


def _subscription(
    names: Names,
    function: Function,
    *,
    source: str,
    parent: str,
    parent_id: str,
    neutral_source: str,
    event_filter: Mapping[str, Any],
    depends_on: Key,
) -> AzureResource:
    queue = names.trigger_queue(function.name)
    name = queue  # 3-64 letters, digits, hyphens: a trigger queue's name fits.
    spec = {
        "source": source,
        "neutral_source": neutral_source,
        "function": function.name,
        "queue": queue,
        "account_id": account_id(names, names.storage_account),
        "queue_message_ttl": QUEUE_MESSAGE_TTL,
        "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS,
        "event_ttl_minutes": EVENT_TTL_MINUTES,
        **event_filter,
    }
    return AzureResource(
        Kind.EVENT_SUBSCRIPTION,
        name,
        f"{parent_id}/eventSubscriptions/{name}",
        f"events for function {function.name}",
        spec,
        parent=parent,
        depends_on=(depends_on, (Kind.STORAGE_QUEUE, f"{names.storage_account}/{queue}")),
    )


def _topic_subscription(names: Names, function: Function, topic: Topic) -> AzureResource:
    physical = names.topic(topic.name)
    return _subscription(
        names,
        function,
        source="topic",
        parent=physical,
        parent_id=roles.topic_scope(names, physical),
        neutral_source=f"topic {topic.name}",
        event_filter={
            "included_event_types": [],
            "subject_begins_with": "",
            "subject_ends_with": "",
        },
        depends_on=(Kind.EVENTGRID_TOPIC, physical),
    )


def _blob_subscription(
    names: Names, function: Function, trigger: ObjectCreatedTrigger
) -> AzureResource:
    container = names.container(trigger.bucket.name)
    return _subscription(
        names,
        function,
        source="system-topic",
        parent=names.storage_system_topic,
        parent_id=system_topic_id(names),
        neutral_source=f"bucket {trigger.bucket.name}",
        event_filter={
            "included_event_types": [BLOB_CREATED],
            "subject_begins_with": BLOB_SUBJECT.format(container=container, prefix=trigger.prefix),
            "subject_ends_with": trigger.suffix,
        },
        depends_on=(Kind.EVENTGRID_SYSTEM_TOPIC, names.storage_system_topic),
    )


# -- what Azure would refuse ---------------------------------------------------------------


def _check_deployable(pipeline: Pipeline) -> None:
    """Refuse what Azure would refuse: the builtin validation errors for ``azure``."""
    errors = [
        f"{finding.target}: {finding.message}"
        for finding in portway_validate(
            pipeline=pipeline, provider="azure", capabilities=CAPABILITIES
        )
        if finding.severity is Severity.ERROR
    ]
    if errors:
        raise ValidationError(
            f"pipeline {pipeline.name!r} cannot be deployed on Azure: " + "; ".join(errors)
        )
