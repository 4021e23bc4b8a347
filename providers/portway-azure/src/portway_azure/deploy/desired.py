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
  assignments (:mod:`portway_azure.roles`, plus Storage Blob Data Owner on the host
  account), a Flex Consumption plan and a Function App, and the container its package
  is deployed from;
* schedules and HTTP routes live in the generated ``function_app.py``: no resource.

What Azure would refuse and portway can tell beforehand is refused here with
:class:`~portway.errors.ValidationError`, naming the function or resource and the fix.
"""

from __future__ import annotations

import json
import uuid
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
from portway_azure import clients, roles
from portway_azure.deploy.resources import AzureResource, Key, Kind
from portway_azure.grouping import AppGroup, group_functions
from portway_azure.naming import POISON_SUFFIX, Names
from portway_azure.plugin import CAPABILITIES

#: The storage account settings of both accounts: locally redundant general-purpose v2,
#: no anonymous blob access, TLS 1.2.
STORAGE_SKU = "Standard_LRS"
STORAGE_KIND = "StorageV2"
#: Flex Consumption: the plan's SKU, and the apps' Python runtime.
#: https://learn.microsoft.com/azure/azure-functions/flex-consumption-how-to
FLEX_SKU = "FC1"
PYTHON_VERSION = "3.11"
#: The most instances one app scales out to (Flex Consumption's default is 100).
MAXIMUM_INSTANCE_COUNT = 100
#: Event Grid's delivery retries into a queue: its defaults, stated so a plan shows them.
#: https://learn.microsoft.com/azure/event-grid/delivery-and-retry
MAX_DELIVERY_ATTEMPTS = 30
EVENT_TTL_MINUTES = 1440
#: A message Event Grid puts on a queue never expires (-1) until a function takes it.
QUEUE_MESSAGE_TTL = -1
BLOB_CREATED = "Microsoft.Storage.BlobCreated"
STORAGE_TOPIC_TYPE = "Microsoft.Storage.StorageAccounts"
BLOB_SUBJECT = "/blobServices/default/containers/{container}/blobs/{prefix}"

#: App settings of every Function App beyond the data plane's (:mod:`portway_azure.clients`).
APP = "PORTWAY_APP"
#: App settings whose value Azure assigns; apply fills them in (spec ``resolve``): the
#: identity's client id, and the resource map with the topics' endpoints.
RESOLVE_IDENTITY_CLIENT_ID = "identity-client-id"
RESOLVE_RESOURCES = "resources"

#: Role assignment names are GUIDs; portway derives them from (scope, role, principal),
#: so the same assignment gets the same name on every deploy.
ROLE_ASSIGNMENT_NAMESPACE = uuid.UUID("7d1c3a52-3f0e-4f8e-9c39-0f6f1a9d2b61")


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
        resources.extend(_app_group(group, names, app, packages.get(group.name, "")))
    return tuple(sorted(resources, key=lambda r: (r.kind.rank, r.path)))


def data_plane_resources(
    resources: tuple[AzureResource, ...], names: Names
) -> tuple[AzureResource, ...]:
    """The containers and queues of the data account: what the data plane reads and writes."""
    data = (Kind.STORAGE_CONTAINER, Kind.STORAGE_QUEUE)
    return tuple(r for r in resources if r.kind in data and r.parent == names.storage_account)


# -- storage -------------------------------------------------------------------------------


def account_id(names: Names, account: str) -> str:
    return (
        f"/subscriptions/{names.subscription}/resourceGroups/{names.resource_group}"
        f"/providers/Microsoft.Storage/storageAccounts/{account}"
    )


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


def system_topic_id(names: Names) -> str:
    return (
        f"/subscriptions/{names.subscription}/resourceGroups/{names.resource_group}"
        f"/providers/Microsoft.EventGrid/systemTopics/{names.storage_system_topic}"
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


# -- app groups ----------------------------------------------------------------------------


def _group_id(names: Names, provider: str, name: str) -> str:
    return (
        f"/subscriptions/{names.subscription}/resourceGroups/{names.resource_group}"
        f"/providers/{provider}/{name}"
    )


def identity_id(names: Names, identity: str) -> str:
    return _group_id(names, "Microsoft.ManagedIdentity/userAssignedIdentities", identity)


def plan_id(names: Names, plan: str) -> str:
    return _group_id(names, "Microsoft.Web/serverfarms", plan)


def site_id(names: Names, site: str) -> str:
    return _group_id(names, "Microsoft.Web/sites", site)


def role_assignment_name(assignment: roles.RoleAssignment) -> str:
    """The GUID naming ``assignment``: the same for the same scope, role and principal."""
    key = f"{assignment.scope}|{assignment.role.id}|{assignment.principal}"
    return str(uuid.uuid5(ROLE_ASSIGNMENT_NAMESPACE, key))


def group_role_assignments(group: AppGroup, names: Names) -> list[roles.RoleAssignment]:
    """The group's data roles (:func:`roles.role_assignments`) and its host storage role."""
    return sorted(
        [*roles.role_assignments(group, names), roles.host_storage_assignment(group, names)]
    )


def _scope_key(names: Names, scope: str) -> Key:
    """The resource a role assignment's scope is (it must exist before the assignment)."""
    account = roles.storage_account_scope(names)
    host = account_id(names, names.host_storage_account)
    if scope == host:
        return (Kind.STORAGE_ACCOUNT, names.host_storage_account)
    for marker, kind in (
        ("/blobServices/default/containers/", Kind.STORAGE_CONTAINER),
        ("/queueServices/default/queues/", Kind.STORAGE_QUEUE),
    ):
        if scope.startswith(account + marker):
            return (kind, f"{names.storage_account}/{scope.removeprefix(account + marker)}")
    return (Kind.EVENTGRID_TOPIC, scope.rsplit("/", 1)[1])


def _app_group(group: AppGroup, names: Names, app: str, package_sha256: str) -> list[AzureResource]:
    identity = roles.identity_name(group, names)
    site = names.function_app(group.name)
    functions = ", ".join(group.functions)
    resources = [
        AzureResource(
            Kind.MANAGED_IDENTITY,
            identity,
            identity_id(names, identity),
            f"identity of {functions}",
            {"location": names.location},
        ),
        AzureResource(
            Kind.APP_SERVICE_PLAN,
            site,
            plan_id(names, site),
            f"Flex Consumption plan of {functions}",
            {"location": names.location, "sku": FLEX_SKU},
        ),
    ]
    package = names.package_container(group.name)
    host = names.host_storage_account
    resources.append(
        AzureResource(
            Kind.STORAGE_CONTAINER,
            package,
            f"{account_id(names, host)}/blobServices/default/containers/{package}",
            f"package of {functions}",
            {"package": group.name},
            parent=host,
            depends_on=((Kind.STORAGE_ACCOUNT, host),),
        )
    )
    assignment_keys: list[Key] = []
    for assignment in group_role_assignments(group, names):
        name = role_assignment_name(assignment)
        assignment_keys.append((Kind.ROLE_ASSIGNMENT, name))
        resources.append(
            AzureResource(
                Kind.ROLE_ASSIGNMENT,
                name,
                f"{assignment.scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
                f"{assignment.role.name} for {functions}",
                {
                    "scope": assignment.scope,
                    "role": assignment.role.name,
                    "role_definition_id": assignment.role.definition(names.subscription),
                    "principal": assignment.principal,
                },
                depends_on=(
                    (Kind.MANAGED_IDENTITY, identity),
                    _scope_key(names, assignment.scope),
                ),
            )
        )
    settings, resolve = _app_settings(group, names, app, identity)
    resources.append(
        AzureResource(
            Kind.FUNCTION_APP,
            site,
            site_id(names, site),
            f"functions {functions}",
            {
                "location": names.location,
                "plan": site,
                "identity": identity,
                "runtime": ["python", PYTHON_VERSION],
                "instance_memory_mb": group.instance_memory,
                "maximum_instance_count": MAXIMUM_INSTANCE_COUNT,
                "package_container": package,
                "package_sha256": package_sha256,
                "app_settings": settings,
                "resolve": resolve,
            },
            depends_on=(
                (Kind.APP_SERVICE_PLAN, site),
                (Kind.MANAGED_IDENTITY, identity),
                (Kind.STORAGE_CONTAINER, f"{host}/{package}"),
                *assignment_keys,
            ),
        )
    )
    return resources


def _app_settings(
    group: AppGroup, names: Names, app: str, identity: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """The app settings of ``group``'s Function App, and those apply resolves.

    * ``AzureWebJobsStorage__*``: the host's storage account, through the group's identity
      (https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity);
    * ``PORTWAY_STORAGE__*``: the data account's services through the same identity,
      the connection every queue trigger names and the data plane reads
      (:mod:`portway_azure.clients`);
    * ``PORTWAY_AZURE_RESOURCES``: the containers, queues and topic endpoints of what the
      group's functions use or are triggered by (naming a resource grants nothing);
    * ``PORTWAY_APP``, ``PORTWAY_STAGE``, and the functions' declared environment
      (equal for every function of a group).

    Flex Consumption takes no ``FUNCTIONS_WORKER_RUNTIME`` nor
    ``FUNCTIONS_EXTENSION_VERSION``: the runtime is in the site's ``functionAppConfig``.
    """
    data = names.storage_account
    settings: dict[str, str] = {
        **dict(group.environment),
        "AzureWebJobsStorage__accountName": names.host_storage_account,
        "AzureWebJobsStorage__credential": "managedidentity",
        clients.BLOB_SERVICE_URI: f"https://{data}.blob.core.windows.net",
        clients.QUEUE_SERVICE_URI: f"https://{data}.queue.core.windows.net",
        clients.CREDENTIAL: "managedidentity",
        APP: app,
        clients.STAGE: names.stage,
    }
    client_id = {"resolve": RESOLVE_IDENTITY_CLIENT_ID, "identity": identity}
    resolve: dict[str, Any] = {
        "AzureWebJobsStorage__clientId": client_id,
        clients.CLIENT_ID: client_id,
        clients.RESOURCES: {"resolve": RESOLVE_RESOURCES, **_resource_names(group, names)},
    }
    for key, _ in group.environment:
        # The core refuses PORTWAY_* names; these are the ones the Azure host reads.
        if key.startswith("AzureWebJobs"):
            raise ValidationError(
                f"functions {', '.join(group.functions)}: environment variable {key!r} "
                f"is set by portway on Azure (the host's storage); rename it"
            )
    return dict(sorted(settings.items())), dict(sorted(resolve.items()))


def _resource_names(group: AppGroup, names: Names) -> dict[str, dict[str, str]]:
    """``{"buckets", "queues", "topics"}`` of what ``group`` uses; topics by their Event
    Grid topic's name (apply puts the endpoint in its place). Triggers need no entry:
    ``function_app.py`` names each trigger queue, and the shim reads containers back
    from Event Grid subjects by :func:`~portway_azure.naming.container_name`."""
    reached: dict[str, dict[str, str]] = {"buckets": {}, "queues": {}, "topics": {}}
    for resource, _ in group.uses:
        if isinstance(resource, Bucket):
            reached["buckets"][resource.name] = names.container(resource.name)
        elif isinstance(resource, Queue):
            reached["queues"][resource.name] = names.queue(resource.name)
        elif isinstance(resource, Topic):
            reached["topics"][resource.name] = names.topic(resource.name)
    return {kind: dict(sorted(found.items())) for kind, found in reached.items()}


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


def compact(document: Mapping[str, Any]) -> str:
    """``document`` as compact, key-sorted JSON (app settings that hold a mapping)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))
