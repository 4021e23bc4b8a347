"""Azure Resource Manager played back from what a deploy sent, to count its calls.

No ARM emulator exists. To measure how many calls a deploy, a plan or a no-op redeploy
makes, :class:`ArmReplay` answers the azure-mgmt clients' HTTP requests from the
resources earlier requests created: the clients, their serializers, their pagers and
portway's :func:`~portway_azure.deploy.observe.observe` all run as they do against
Azure; only the HTTP answer comes from here. It is a ``requests`` adapter mounted on
the session of azure-core's own ``RequestsTransport`` (what the clients use by
default), under ``https://management.azure.com/``. Every call is counted in the core's
:class:`~portway.deploy.execute.CallLog` (:attr:`ArmReplay.log`, as ``"GET <path>"``).

What it answers, and nothing more (ARM's REST conventions,
https://learn.microsoft.com/azure/azure-resource-manager/management/resource-providers-and-types):

* ``PUT <id>``: stores the JSON body as the resource ``<id>`` (with ``id``, ``name``
  and ``properties.provisioningState = "Succeeded"``, so a long-running operation is
  done at once) and answers it back. Values Azure assigns are filled in: a managed
  identity's ``principalId``/``clientId``/``tenantId`` (derived from its id), an Event
  Grid topic's ``endpoint``, a role assignment's ``scope``.
* ``PATCH <id>``: merges the body's ``properties`` into the stored resource.
* ``DELETE <id>``: forgets it.
* ``GET <collection>``: ``{"value": [...]}``, the resources directly in it; for role
  assignments, those at or below the collection's scope, filtered by
  ``$filter=principalId eq '...'`` as ARM filters them.
* ``GET <id>``: the resource, or ARM's 404.

It holds no logic of portway's: it stores and lists what it was sent. It is for
counting calls (the benchmark's plan and no-op figures), never a proof that Azure
accepts a request: those are golden-tested with the SDK's models.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import re
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests
import requests.adapters

from portway.deploy.execute import CallLog
from portway_azure.deploy.arm import ArmClients
from portway_azure.deploy.requests import PUBLISH, ArmRequest

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken
    from azure.core.pipeline.transport import RequestsTransport
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.eventgrid import EventGridManagementClient
    from azure.mgmt.msi import ManagedServiceIdentityClient
    from azure.mgmt.storage import StorageManagementClient
    from azure.mgmt.web import WebSiteManagementClient

#: Where the azure-mgmt clients send their requests (the public cloud's ARM).
ARM_ENDPOINT = "https://management.azure.com/"
_ROLE_ASSIGNMENTS = "/providers/microsoft.authorization/roleassignments"
_PRINCIPAL_FILTER = re.compile(r"principalId\s+eq\s+'([^']*)'", re.IGNORECASE)
_MUTATING = frozenset({"PUT", "PATCH", "DELETE", "POST"})


@dataclass
class ArmReplay:
    """ARM's resources as the requests made so far left them; :attr:`log` counts every
    HTTP call the clients made, as ``"<method> <path>"`` (its ``reads`` and ``writes``:
    ``GET`` and the rest)."""

    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: CallLog = field(default_factory=CallLog)

    def clients(self, subscription: str) -> ReplayedArmClients:
        """azure-mgmt clients of ``subscription`` whose HTTP calls this replay answers."""
        return ReplayedArmClients(self, subscription)

    def transport(self) -> RequestsTransport:
        """azure-core's requests transport, on a session whose ARM calls land here."""
        from azure.core.pipeline.transport import RequestsTransport

        session = requests.Session()
        session.mount(ARM_ENDPOINT, _ReplayAdapter(self))
        return RequestsTransport(session=session, session_owner=False)

    def answer(self, method: str, url: str, body: bytes | None) -> tuple[int, Any]:
        """ARM's status and JSON answer to ``method url`` with ``body``."""
        location = urllib.parse.urlsplit(url)
        path = location.path.rstrip("/")
        self.log.note(f"{method} {path}", mutating=method in _MUTATING)
        key = path.lower()
        if method == "PUT":
            self.resources[key] = _stored(path, json.loads(body or b"{}"))
            return 200, self.resources[key]
        if method == "PATCH":
            if key not in self.resources:
                return _not_found(path)
            patch = json.loads(body or b"{}")
            self.resources[key].setdefault("properties", {}).update(patch.get("properties", {}))
            return 200, self.resources[key]
        if method == "DELETE":
            return (200, None) if self.resources.pop(key, None) is not None else (204, None)
        if method != "GET":
            return 405, {"error": {"code": "MethodNotAllowed", "message": method}}
        if key in self.resources:
            return 200, self.resources[key]
        query = urllib.parse.parse_qs(location.query)
        return 200, {"value": self._listed(key, query)}

    def _listed(self, collection: str, query: Mapping[str, list[str]]) -> list[dict[str, Any]]:
        if collection.endswith(_ROLE_ASSIGNMENTS):
            scope = collection.removesuffix(_ROLE_ASSIGNMENTS)
            wanted = _PRINCIPAL_FILTER.search(" ".join(query.get("$filter", [])))
            return [
                copy.deepcopy(item)
                for key, item in self.resources.items()
                if _ROLE_ASSIGNMENTS + "/" in key
                and key.startswith(scope + "/")
                and (wanted is None or item["properties"].get("principalId") == wanted[1])
            ]
        return [
            copy.deepcopy(item)
            for key, item in self.resources.items()
            if key.rsplit("/", 1)[0] == collection
        ]


def _stored(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The resource ARM keeps for a PUT of ``body`` at ``path``, with what Azure assigns."""
    resource = {**body, "id": path, "name": path.rsplit("/", 1)[1]}
    properties = resource.setdefault("properties", {})
    properties["provisioningState"] = "Succeeded"
    lowered = path.lower()
    if "/microsoft.managedidentity/userassignedidentities/" in lowered:
        for attribute in ("principalId", "clientId", "tenantId"):
            properties[attribute] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{attribute}:{lowered}"))
    elif "/microsoft.eventgrid/topics/" in lowered:
        location = resource.get("location", "westeurope")
        properties["endpoint"] = (
            f"https://{resource['name']}.{location}-1.eventgrid.azure.net/api/events"
        )
    elif _ROLE_ASSIGNMENTS + "/" in lowered:
        properties["scope"] = path[: lowered.index(_ROLE_ASSIGNMENTS)]
    return resource


def _not_found(path: str) -> tuple[int, Any]:
    return 404, {"error": {"code": "ResourceNotFound", "message": f"{path} was not found"}}


class _ReplayAdapter(requests.adapters.BaseAdapter):
    """A ``requests`` adapter that answers from an :class:`ArmReplay`."""

    def __init__(self, replay: ArmReplay) -> None:
        super().__init__()
        self.replay = replay

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **_options: Any
    ) -> requests.Response:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        if not isinstance(body, bytes | None):
            body = b"".join(part if isinstance(part, bytes) else part.encode() for part in body)  # type: ignore[union-attr]
        status, answer = self.replay.answer(str(request.method), str(request.url), body)
        content = b"" if answer is None else json.dumps(answer).encode()
        response = requests.Response()
        response.status_code = status
        response.reason = "OK" if status < 400 else "Error"
        response.headers.update({"Content-Type": "application/json; charset=utf-8"})
        response.raw = io.BytesIO(content)
        response._content = content
        response.encoding = "utf-8"
        response.url = str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release."""


class ReplayCredential:
    """A token credential whose token the replay never checks (no Azure sign-in)."""

    def get_token(self, *_scopes: str, **_options: Any) -> AccessToken:
        from azure.core.credentials import AccessToken

        return AccessToken("replayed", int(time.time()) + 3600)


class ReplayedArmClients(ArmClients):
    """:class:`ArmClients` whose azure-mgmt clients reach ``replay`` instead of Azure."""

    def __init__(self, replay: ArmReplay, subscription: str) -> None:
        super().__init__(subscription, credential=ReplayCredential())
        self.replay = replay

    @functools.cached_property
    def storage(self) -> StorageManagementClient:
        from azure.mgmt.storage import StorageManagementClient

        return StorageManagementClient(
            self.credential, self.subscription, transport=self.replay.transport()
        )

    @functools.cached_property
    def web(self) -> WebSiteManagementClient:
        from azure.mgmt.web import WebSiteManagementClient

        return WebSiteManagementClient(
            self.credential, self.subscription, transport=self.replay.transport()
        )

    @functools.cached_property
    def eventgrid(self) -> EventGridManagementClient:
        from azure.mgmt.eventgrid import EventGridManagementClient

        return EventGridManagementClient(
            self.credential, self.subscription, transport=self.replay.transport()
        )

    @functools.cached_property
    def msi(self) -> ManagedServiceIdentityClient:
        from azure.mgmt.msi import ManagedServiceIdentityClient

        return ManagedServiceIdentityClient(
            self.credential, self.subscription, transport=self.replay.transport()
        )

    @functools.cached_property
    def authorization(self) -> AuthorizationManagementClient:
        from azure.mgmt.authorization import AuthorizationManagementClient

        return AuthorizationManagementClient(
            self.credential, self.subscription, transport=self.replay.transport()
        )


class CountingSender:
    """A deploy's sender that counts every request (:attr:`sent`) and carries each out
    through ``inner`` (an :class:`~portway_azure.deploy.arm.ArmSender`), except the
    upload of an app group's package (:data:`~portway_azure.deploy.requests.PUBLISH`,
    to the Function App's Kudu site, which no replay serves): counted, not sent."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sent: list[ArmRequest] = []

    def send(self, request: ArmRequest) -> Any:
        self.sent.append(request)
        if request.operation == PUBLISH:
            return None
        return self.inner.send(request)
