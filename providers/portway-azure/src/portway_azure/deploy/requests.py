"""Requests: each change of a plan -> the azure-mgmt calls that carry it out (pure).

Every body is built with the azure-mgmt client's own model types (``Site``,
``StorageAccountCreateParameters``, ``EventSubscription``...), so what portway sends is
what the SDK serializes. No ARM emulator exists: the tests check these bodies as the
SDK puts them on the wire (:meth:`ArmRequest.wire_body`) against golden files.

Builders live in :mod:`portway_azure.deploy.kinds`, one module per family of kinds,
found through its ``BUILDERS`` registry (not names looked up as strings): ``create``
(also used to update: ARM's PUT is create-or-update) and ``delete``. Containers and
queues update with PATCH (their PUT refuses an existing one); a role assignment cannot
be updated: it is deleted and created again.

Some values exist only once Azure created a resource: an identity's principal and
client ids, a topic's endpoint. Apply collects them in :class:`Resolved` (from what it
observed, and from each create's result) before building a request that needs them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from portway.errors import DeployError
from portway_azure import clients
from portway_azure.deploy.resources import AzureResource, Kind, Observed
from portway_azure.naming import Names

#: The pseudo-operation that uploads an app group's package (Kudu's OneDeploy, with a
#: remote build): not an azure-mgmt call, see :mod:`portway_azure.deploy.arm`.
PUBLISH = "web.publish"


@dataclass(frozen=True, slots=True)
class ArmRequest:
    """One call: ``operation`` (``client.operations_group.method``), its keyword
    ``arguments``, and ``body`` (an azure-mgmt model) passed as ``body_parameter``."""

    operation: str
    arguments: tuple[tuple[str, str], ...]
    body_parameter: str = ""
    body: Any = None

    def wire_body(self) -> Any:
        """The JSON the SDK sends for ``body`` (read-only fields left out), or ``None``.

        azure-mgmt-eventgrid, -msi and -authorization models are msrest models
        (``serialize()``); azure-mgmt-web and -storage models are typed mappings whose
        ``as_dict(exclude_readonly=True)`` is what their operations send.
        """
        if self.body is None:
            return None
        if hasattr(self.body, "serialize"):
            return self.body.serialize()
        return self.body.as_dict(exclude_readonly=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "arguments": dict(self.arguments),
            "body": self.wire_body(),
        }


@dataclass
class Resolved:
    """Values Azure assigns: identities' ``principal_id`` and ``client_id`` by identity
    name, topics' endpoints by topic name."""

    identities: dict[str, Mapping[str, str]] = field(default_factory=dict)
    topic_endpoints: dict[str, str] = field(default_factory=dict)

    def identity(self, name: str, attribute: str) -> str:
        value = self.identities.get(name, {}).get(attribute)
        if not value:
            raise DeployError(
                f"managed identity {name!r}: its {attribute} is unknown (it was neither "
                f"found nor created by this deploy); run the command again"
            )
        return value

    def topic_endpoint(self, topic: str, location: str) -> str:
        return self.topic_endpoints.get(topic) or clients.topic_endpoint(topic, location)

    def learn(self, kind: Kind, name: str, details: Mapping[str, str]) -> None:
        """Keep what an observed or created resource tells (see ``Observed.details``)."""
        if kind is Kind.MANAGED_IDENTITY:
            self.identities[name] = dict(details)
        elif kind is Kind.EVENTGRID_TOPIC and details.get("endpoint"):
            self.topic_endpoints[name] = details["endpoint"]


Builder = Callable[[AzureResource, Names, Resolved], list[ArmRequest]]
Deleter = Callable[[Observed, Names], list[ArmRequest]]


@dataclass(frozen=True, slots=True)
class KindRequests:
    create: Builder
    delete: Deleter
    update: Builder | None = None


def _builders(kind: Kind) -> KindRequests:
    from portway_azure.deploy.kinds import BUILDERS  # the kinds import this module

    return BUILDERS[kind]


def create_requests(resource: AzureResource, names: Names, resolved: Resolved) -> list[ArmRequest]:
    """The requests that create ``resource``."""
    return _builders(resource.kind).create(resource, names, resolved)


def update_requests(
    resource: AzureResource, found: Observed, names: Names, resolved: Resolved
) -> list[ArmRequest]:
    """The requests that bring ``found`` to ``resource``: a PUT (or PATCH), except for a
    role assignment, which Azure cannot update: it is deleted and created again."""
    builders = _builders(resource.kind)
    if resource.kind is Kind.ROLE_ASSIGNMENT:
        return [*builders.delete(found, names), *builders.create(resource, names, resolved)]
    return (builders.update or builders.create)(resource, names, resolved)


def delete_requests(found: Observed, names: Names) -> list[ArmRequest]:
    """The requests that delete ``found``."""
    return _builders(found.kind).delete(found, names)


def in_group(names: Names, *pairs: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """Keyword arguments of a call on a resource of the stage's resource group."""
    return (("resource_group_name", names.resource_group), *pairs)


def golden_json(requests: list[ArmRequest]) -> str:
    """``requests`` as the indented JSON the golden files hold."""
    return json.dumps([r.to_json() for r in requests], indent=2, sort_keys=True) + "\n"


__all__ = [
    "PUBLISH",
    "ArmRequest",
    "Resolved",
    "create_requests",
    "delete_requests",
    "golden_json",
    "in_group",
    "update_requests",
]
