"""Deterministic Azure names for a pipeline's resources on one stage.

Each app and stage gets its own portway-managed storage account; containers and queues
live inside it, so their names need no app or stage prefix. Two kinds of queue share the
account's one queue namespace, so each physical queue starts with its kind: ``q-`` for a
declared queue, ``t-`` for the queue portway owns between a topic or a bucket and a
function. Neither containers nor queues allow a double hyphen, so the kind prefix (not the
``--`` the AWS provider uses) is what keeps portway's names apart from declared ones.

Event Grid topics and Function Apps are resources of the resource group, so they carry
``{app}-{stage}`` and use ``--`` for the names portway adds (``orders--blobs``), which the
portable name rule forbids in user names.

Where a limit is shorter than a name, the name is cut and ends with a stable hash of the
whole (``-`` + 8 hex digits), so it stays unique and the same on every run. Names that
must be globally unique (the storage account, a Function App's host name) end with a
stable hash of the subscription and resource group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from portway.deploy.names import fit, stable_hash
from portway.errors import ConfigError

if TYPE_CHECKING:
    from portway.config import StageConfig

# https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftstorage
# Storage account: 3-24 lowercase letters and digits, unique across Azure.
STORAGE_ACCOUNT_LIMIT = 24
# https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata#container-names
# Container: 3-63 lowercase letters, digits and hyphens; starts with a letter or digit;
# every hyphen between two letters or digits.
CONTAINER_LIMIT = 63
# https://learn.microsoft.com/rest/api/storageservices/naming-queues-and-metadata#queue-names
# Queue: 3-63, the same alphabet and hyphen rule as containers.
QUEUE_LIMIT = 63
# https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger#poison-messages
# The Functions host moves a message to "<queue>-poison" after maxDequeueCount attempts;
# the queue name must leave room for that suffix.
POISON_SUFFIX = "-poison"
# https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsofteventgrid
# Event Grid topic: 3-50 letters, digits and hyphens.
TOPIC_LIMIT = 50
# https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftweb
# Function App (site): 2-60 letters, digits and hyphens, not starting or ending with a
# hyphen; it is the host name <name>.azurewebsites.net, unique across Azure.
FUNCTION_APP_LIMIT = 60
# https://learn.microsoft.com/azure/azure-functions/storage-considerations#host-id-considerations
# The Functions host derives its host ID from the first 32 characters of the app name;
# two apps that share a storage account (every app of a stage shares its account) and
# agree on those 32 characters collide. Portway keeps the whole name within 32.
FUNCTION_APP_HOST_ID_LIMIT = 32

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,19}$")
_APP = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,39}$")
_STORAGE_NAME = re.compile(r"^[a-z0-9]{3,24}$")
# Containers and queues: 3-63, single hyphens between letters or digits.
_STORAGE_CHILD = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")
_TOPIC = re.compile(r"^[A-Za-z0-9-]{3,50}$")
_FUNCTION_APP = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,58}[A-Za-z0-9])?$")

#: Tags on every resource portway creates; destroy and status find them by these.
#: (Azure tag names may not contain ``<>%&\?/``; hyphens are safe everywhere.)
APP_TAG = "portway-app"
STAGE_TAG = "portway-stage"
#: A hash of the resource's desired definition, compared by the next deploy.
SPEC_TAG = "portway-spec"

#: The container, in the stage's storage account, holding the deploy record. Declared
#: buckets are ``b-...``, so it cannot clash with one.
STATE_CONTAINER = "portway-state"


@dataclass(frozen=True, slots=True)
class Names:
    """Physical names of one app on one stage, in one subscription and resource group."""

    app: str
    stage: str
    subscription: str
    resource_group: str
    location: str

    def __post_init__(self) -> None:
        if not _APP.fullmatch(self.app):
            raise ConfigError(
                f"app {self.app!r}: an Azure app name must be 1 to 40 lowercase letters, "
                f"digits and single hyphens, starting with a letter (it is part of Event "
                f"Grid topic and Function App names); rename the app"
            )
        if not _LABEL.fullmatch(self.stage):
            raise ConfigError(
                f"stage {self.stage!r}: an Azure stage name must be 1 to 20 lowercase "
                f"letters, digits and single hyphens (it is part of resource names); "
                f"rename the stage"
            )

    @property
    def prefix(self) -> str:
        """``{app}-{stage}``: the start of every resource-group-level name."""
        return f"{self.app}-{self.stage}"

    @property
    def tags(self) -> dict[str, str]:
        """The tags that mark a resource as this deployment's."""
        return {APP_TAG: self.app, STAGE_TAG: self.stage}

    @property
    def global_suffix(self) -> str:
        """Makes globally unique names unique, and stable for this resource group."""
        return stable_hash(f"{self.subscription}/{self.resource_group}")

    # -- Storage account, containers -----------------------------------------------------

    @property
    def storage_account(self) -> str:
        """The portway-managed storage account of this app and stage.

        A readable head (app and stage with everything but letters and digits dropped)
        and a hash of subscription, resource group, app and stage: the hash tells
        ``ab``/``c`` from ``a``/``bc``, and makes the name unique across Azure.
        """
        readable = re.sub(r"[^a-z0-9]", "", f"{self.app}{self.stage}")
        digest = stable_hash(f"{self.subscription}/{self.resource_group}/{self.prefix}")
        name = readable[: STORAGE_ACCOUNT_LIMIT - len(digest)] + digest
        return _checked(name, _STORAGE_NAME, "storage account")

    @property
    def host_storage_account(self) -> str:
        """The storage account of the stage's Functions hosts (``AzureWebJobsStorage``).

        Separate from :attr:`storage_account` because the host needs account-wide blob
        rights on its storage (leases, timer schedules, keys, the deployed package):
        granting those on the data account would let every function read every
        container. Readable head, ``h``, and a hash distinct from the data account's.
        """
        readable = re.sub(r"[^a-z0-9]", "", f"{self.app}{self.stage}")
        digest = stable_hash(f"{self.subscription}/{self.resource_group}/{self.prefix}/host")
        name = readable[: STORAGE_ACCOUNT_LIMIT - len(digest) - 1] + "h" + digest
        return _checked(name, _STORAGE_NAME, "storage account")

    def package_container(self, group: str) -> str:
        """The container, in :attr:`host_storage_account`, Flex Consumption deploys
        app group ``group``'s package from."""
        return _checked(
            fit(f"package-{_resource(group)}", CONTAINER_LIMIT), _STORAGE_CHILD, "container"
        )

    def container(self, bucket: str) -> str:
        """The Blob container of neutral bucket ``bucket``, in :attr:`storage_account`."""
        return _checked(container_name(bucket), _STORAGE_CHILD, "container")

    # -- Storage Queues --------------------------------------------------------------------

    def queue(self, name: str) -> str:
        """The Storage Queue of neutral queue ``name`` (its poison queue: :meth:`poison_queue`)."""
        return _queue(f"q-{name}")

    def poison_queue(self, name: str) -> str:
        return self.queue(name) + POISON_SUFFIX

    def trigger_queue(self, function: str) -> str:
        """The queue portway owns between a topic or a bucket and ``function``."""
        return _queue(f"t-{_resource(function)}")

    def trigger_poison_queue(self, function: str) -> str:
        return self.trigger_queue(function) + POISON_SUFFIX

    # -- Event Grid ------------------------------------------------------------------------

    def topic(self, name: str) -> str:
        """The Event Grid topic of neutral topic ``name``."""
        return _checked(fit(f"{self.prefix}-{name}", TOPIC_LIMIT), _TOPIC, "Event Grid topic")

    @property
    def storage_system_topic(self) -> str:
        """The Event Grid system topic of :attr:`storage_account` (``BlobCreated`` events)."""
        return _checked(fit(f"{self.prefix}--blobs", TOPIC_LIMIT), _TOPIC, "Event Grid topic")

    # -- Function Apps ---------------------------------------------------------------------

    def function_app(self, group: str) -> str:
        """The Function App of app group ``group`` (a name the grouping chooses).

        ``{app}-{stage}-{group}``, cut to leave room for ``-`` and :attr:`global_suffix`
        within the 32 characters the host ID is derived from.
        """
        suffix = f"-{self.global_suffix}"
        head = fit(f"{self.prefix}-{_resource(group)}", FUNCTION_APP_HOST_ID_LIMIT - len(suffix))
        return _checked(head + suffix, _FUNCTION_APP, "Function App")


def _queue(name: str) -> str:
    """``name`` fitted so that ``name + "-poison"`` still fits a queue name."""
    physical = fit(name, QUEUE_LIMIT - len(POISON_SUFFIX))
    if physical.endswith(POISON_SUFFIX):
        # The host would pick "<physical>-poison" for the poison queue of a different
        # queue, "<physical minus -poison>": refuse the ambiguity.
        raise ConfigError(
            f"queue {physical!r}: Azure Functions names poison queues '<queue>-poison', "
            f"so a queue or function name may not end in 'poison'; rename it"
        )
    return _checked(physical, _STORAGE_CHILD, "Storage Queue")


def _resource(name: str) -> str:
    """``pull_ftp`` -> ``pull-ftp``: Azure names take no underscores.

    Python allows what Azure does not (``_private``, ``a__b``, capitals): such a name is
    folded and ends with a hash of the original, so two functions never share a name.
    """
    simple = name.replace("_", "-")
    folded = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", simple.lower())).strip("-")
    if folded == simple:
        return simple
    return f"{folded or 'f'}-{stable_hash(name)}"


def _checked(name: str, rule: re.Pattern[str], kind: str) -> str:
    """``name`` if it follows Azure's rule for ``kind``; :class:`ConfigError` otherwise."""
    if not rule.fullmatch(name):
        raise ConfigError(
            f"{kind} name {name!r} breaks Azure's naming rule ({rule.pattern}); use "
            f"portable names: 3 to 56 lowercase letters, digits and single hyphens, "
            f"starting with a letter"
        )
    return name


def container_name(bucket: str) -> str:
    """The container of neutral bucket ``bucket``: the same in every stage's account, so
    the runtime shim (which knows no app, stage or subscription) maps containers back."""
    return fit(f"b-{bucket}", CONTAINER_LIMIT)


def names_for_stage(app: str, stage: StageConfig) -> Names:
    """The names of app ``app`` on ``stage``, from its ``subscription``,
    ``resource_group`` and ``location`` settings; :class:`ConfigError` if one is missing."""
    values = []
    for setting in ("subscription", "resource_group", "location"):
        value = str(stage.settings.get(setting) or "").strip()
        if not value:
            raise ConfigError(
                f"stage {stage.name!r}: the azure provider needs {setting!r} in "
                f"[stages.{stage.name}]"
            )
        values.append(value)
    return Names(app, stage.name, *values)
