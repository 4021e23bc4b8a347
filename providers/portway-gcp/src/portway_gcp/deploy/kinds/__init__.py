"""The executor's per-kind operations: one module per Google Cloud resource kind.

Each module defines one :class:`KindOperations` object named ``OPERATIONS``, found
through :data:`_MODULES` (imported on first use by :func:`operations`). Contract of
every method:

* ``create``: make the resource from ``resource.spec``, marked with the deployment's
  labels (or description) and its spec hash; idempotent: if the resource already exists
  (a deploy cut short), bring it to the spec instead of failing.
* ``update``: bring an existing resource to ``resource.spec`` and store the new hash.
* ``delete``: remove the resource; one that is already gone is not an error.

Every call goes through :meth:`ApplyContext.calls` (counted, errors wrapped in
:class:`~portway.errors.DeployError` naming the resource and the fix).

**Emulator gaps.** Some calls have no emulator. A stage may name them in its
``emulator_skips`` setting (only on a stage whose endpoints are emulators); the
executor then makes every other call of the operation and notes the skipped one in the
call log, instead of failing. Nothing is faked: what the skipped call would send is
built by the same code and checked by the tests. :data:`SKIPS` lists each, and why.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from portway.deploy.execute import CallLog
from portway.errors import ConfigError
from portway_gcp.deploy.kinds.calls import ResourceCalls
from portway_gcp.deploy.resources import Kind

if TYPE_CHECKING:
    from pathlib import Path

    from portway_gcp.deploy.observe import Observed
    from portway_gcp.deploy.resources import GcpResource
    from portway_gcp.naming import Names

#: What each ``emulator_skips`` entry skips, and which emulator lacks it (checked with
#: the Pub/Sub emulator of the Cloud SDK, gcp-storage-emulator and drongo 0.8).
SKIPS: Mapping[str, str] = {
    "storage-notifications": (
        "Cloud Storage notificationConfigs insert/list/delete: neither gcp-storage-emulator "
        "(501) nor drongo serves them"
    ),
    "function-source-upload": (
        "the PUT of the source zip to the generateUploadUrl URL: drongo answers "
        "generateUploadUrl with a storage.googleapis.com URL that nothing serves locally"
    ),
    "function-iam": (
        "getIamPolicy/setIamPolicy on a function's Cloud Run service: drongo has no Cloud "
        "Run services API (nor functions :getIamPolicy)"
    ),
    "pubsub-iam": (
        "getIamPolicy/setIamPolicy on Pub/Sub topics and subscriptions: the Pub/Sub "
        "emulator answers 501"
    ),
    "pubsub-label-update": (
        "updating labels (and a subscription's expiration policy) of existing topics and "
        "subscriptions: the Pub/Sub emulator refuses those update masks"
    ),
    "service-account-update": (
        "patching an existing service account (display name, description): drongo's IAM "
        "Admin emulator answers 501"
    ),
}


def emulator_skips(settings: Mapping[str, Any], emulated: bool) -> frozenset[str]:
    """The stage's ``emulator_skips``, checked: known names, and only on emulators."""
    value = settings.get("emulator_skips") or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError("'emulator_skips' must be a list of names, like ['pubsub-iam']")
    unknown = sorted(set(value) - set(SKIPS))
    if unknown:
        raise ConfigError(
            f"emulator_skips: unknown {', '.join(unknown)}; known: {', '.join(sorted(SKIPS))}"
        )
    if value and not emulated:
        raise ConfigError(
            "emulator_skips is for stages whose endpoints are emulators; on Google Cloud "
            "every call is made: remove it"
        )
    return frozenset(value)


@dataclass
class ApplyContext:
    """What every operation may need besides the resource.

    ``clients``: a :class:`portway_gcp.clients.GcpClients`. ``source``: the source zip
    and its SHA-256 (``None`` when no function is created or updated). ``skips``: the
    stage's emulator gaps. ``function_urls``: function name -> URL, filled as functions
    are created or read (push subscriptions and jobs call them). ``url_overrides``:
    function name -> the URL to call instead (a test harness serving the functions
    itself, where the emulator runs none); empty on a real deploy.
    """

    clients: Any
    names: Names
    log: CallLog = field(default_factory=CallLog)
    source: tuple[Path, str] | None = None
    skips: frozenset[str] = frozenset()
    progress: Callable[[str], None] = print
    function_urls: dict[str, str] = field(default_factory=dict)
    url_overrides: Mapping[str, str] = field(default_factory=dict)

    def calls(self, kind: Kind, name: str) -> ResourceCalls:
        return ResourceCalls(self.log, str(kind), name)

    def skip(self, gap: str, operation: str) -> bool:
        """``True`` (and noted) when the stage's emulator lacks ``operation``."""
        assert gap in SKIPS, gap
        if gap in self.skips:
            self.log.skipped(operation)
            return True
        return False

    def function_url(self, function: str) -> str:
        """The URL of function ``function`` (a full name), read once if not yet known."""
        url = self.url_overrides.get(function) or self.function_urls.get(function)
        if url is None:
            calls = self.calls(Kind.FUNCTION, function)
            found = calls.read(
                "cloudfunctions.functions.get",
                self.clients.functions.get_function,
                request={"name": function},
            )
            url = found.url or found.service_config.uri
            self.function_urls[function] = url
        return url


class KindOperations(Protocol):
    kind: Kind

    def create(self, context: ApplyContext, resource: GcpResource) -> None: ...

    def update(self, context: ApplyContext, resource: GcpResource, observed: Observed) -> None: ...

    def delete(self, context: ApplyContext, observed: Observed) -> None: ...


_MODULES = {
    Kind.SERVICE_ACCOUNT: "service_accounts",
    Kind.PUBSUB_TOPIC: "pubsub_topics",
    Kind.STORAGE_BUCKET: "storage_buckets",
    Kind.FUNCTION: "functions",
    Kind.PUBSUB_SUBSCRIPTION: "pubsub_subscriptions",
    Kind.SCHEDULER_JOB: "scheduler_jobs",
    Kind.IAM_BINDINGS: "iam_bindings",
    Kind.STORAGE_NOTIFICATION: "storage_notifications",
}


def operations(kind: Kind) -> KindOperations:
    """The operations of ``kind``, from ``portway_gcp.deploy.kinds.<module>.OPERATIONS``."""
    module = importlib.import_module(f"{__name__}.{_MODULES[kind]}")
    found: KindOperations = module.OPERATIONS
    return found
