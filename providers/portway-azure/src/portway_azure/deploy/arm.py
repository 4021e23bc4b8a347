"""The Azure Resource Manager clients of a deploy, and the sender that runs its requests.

:class:`ArmClients` creates each azure-mgmt client on first use, with one credential
(``DefaultAzureCredential``: ``az login``, the environment, or a managed identity).
:class:`ArmSender` carries out an :class:`~portway_azure.deploy.requests.ArmRequest`:
the operation's name is looked up in :data:`OPERATIONS` (a registry from name to the
client method, so a request names only operations portway knows), a long-running
operation is waited for, and :data:`~portway_azure.deploy.requests.PUBLISH` uploads an
app group's package with Kudu's OneDeploy
(https://learn.microsoft.com/azure/azure-functions/flex-consumption-how-to#deploy-your-code-project).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from portway.errors import DeployError
from portway_azure.deploy.requests import PUBLISH, ArmRequest

if TYPE_CHECKING:
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.eventgrid import EventGridManagementClient
    from azure.mgmt.msi import ManagedServiceIdentityClient
    from azure.mgmt.storage import StorageManagementClient
    from azure.mgmt.web import WebSiteManagementClient

#: The scope of a token for Azure Resource Manager and the Kudu (scm) site.
MANAGEMENT_SCOPE = "https://management.azure.com/.default"


class Sender(Protocol):
    """What apply hands each request to: the SDK (:class:`ArmSender`), or a display."""

    def send(self, request: ArmRequest) -> Any: ...


class ArmClients:
    """azure-mgmt clients for one subscription, created on first use."""

    def __init__(self, subscription: str, credential: Any = None) -> None:
        self.subscription = subscription
        self._credential = credential

    @functools.cached_property
    def credential(self) -> Any:
        if self._credential is None:
            from azure.identity import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
        return self._credential

    @functools.cached_property
    def storage(self) -> StorageManagementClient:
        from azure.mgmt.storage import StorageManagementClient

        return StorageManagementClient(self.credential, self.subscription)

    @functools.cached_property
    def web(self) -> WebSiteManagementClient:
        from azure.mgmt.web import WebSiteManagementClient

        return WebSiteManagementClient(self.credential, self.subscription)

    @functools.cached_property
    def eventgrid(self) -> EventGridManagementClient:
        from azure.mgmt.eventgrid import EventGridManagementClient

        return EventGridManagementClient(self.credential, self.subscription)

    @functools.cached_property
    def msi(self) -> ManagedServiceIdentityClient:
        from azure.mgmt.msi import ManagedServiceIdentityClient

        return ManagedServiceIdentityClient(self.credential, self.subscription)

    @functools.cached_property
    def authorization(self) -> AuthorizationManagementClient:
        from azure.mgmt.authorization import AuthorizationManagementClient

        return AuthorizationManagementClient(self.credential, self.subscription)


Method = Callable[..., Any]

#: Every operation a request may name -> the client method that carries it out.
OPERATIONS: Mapping[str, Callable[[ArmClients], Method]] = {
    "storage.storage_accounts.begin_create": lambda c: c.storage.storage_accounts.begin_create,
    "storage.storage_accounts.delete": lambda c: c.storage.storage_accounts.delete,
    "storage.blob_containers.create": lambda c: c.storage.blob_containers.create,
    "storage.blob_containers.update": lambda c: c.storage.blob_containers.update,
    "storage.blob_containers.delete": lambda c: c.storage.blob_containers.delete,
    "storage.queue.create": lambda c: c.storage.queue.create,
    "storage.queue.update": lambda c: c.storage.queue.update,
    "storage.queue.delete": lambda c: c.storage.queue.delete,
    "eventgrid.topics.begin_create_or_update": lambda c: c.eventgrid.topics.begin_create_or_update,
    "eventgrid.topics.begin_delete": lambda c: c.eventgrid.topics.begin_delete,
    "eventgrid.system_topics.begin_create_or_update": (
        lambda c: c.eventgrid.system_topics.begin_create_or_update
    ),
    "eventgrid.system_topics.begin_delete": lambda c: c.eventgrid.system_topics.begin_delete,
    "eventgrid.topic_event_subscriptions.begin_create_or_update": (
        lambda c: c.eventgrid.topic_event_subscriptions.begin_create_or_update
    ),
    "eventgrid.topic_event_subscriptions.begin_delete": (
        lambda c: c.eventgrid.topic_event_subscriptions.begin_delete
    ),
    "eventgrid.system_topic_event_subscriptions.begin_create_or_update": (
        lambda c: c.eventgrid.system_topic_event_subscriptions.begin_create_or_update
    ),
    "eventgrid.system_topic_event_subscriptions.begin_delete": (
        lambda c: c.eventgrid.system_topic_event_subscriptions.begin_delete
    ),
    "msi.user_assigned_identities.create_or_update": (
        lambda c: c.msi.user_assigned_identities.create_or_update
    ),
    "msi.user_assigned_identities.delete": lambda c: c.msi.user_assigned_identities.delete,
    "authorization.role_assignments.create": lambda c: c.authorization.role_assignments.create,
    "authorization.role_assignments.delete": lambda c: c.authorization.role_assignments.delete,
    "web.app_service_plans.begin_create_or_update": (
        lambda c: c.web.app_service_plans.begin_create_or_update
    ),
    "web.app_service_plans.delete": lambda c: c.web.app_service_plans.delete,
    "web.web_apps.begin_create_or_update": lambda c: c.web.web_apps.begin_create_or_update,
    "web.web_apps.delete": lambda c: c.web.web_apps.delete,
}


class ArmSender:
    """Sends requests through the azure-mgmt clients; ``packages``: zip path per site."""

    def __init__(self, clients: ArmClients, packages: Mapping[str, Path] | None = None) -> None:
        self.clients = clients
        self.packages = dict(packages or {})

    def send(self, request: ArmRequest) -> Any:
        if request.operation == PUBLISH:
            return self._publish(dict(request.arguments)["name"])
        method = OPERATIONS[request.operation](self.clients)
        arguments: dict[str, Any] = dict(request.arguments)
        if request.body_parameter:
            arguments[request.body_parameter] = request.body
        result = method(**arguments)
        if hasattr(result, "result") and callable(result.result):  # a long-running operation
            return result.result()
        return result

    def _publish(self, site: str) -> None:
        """Upload ``site``'s package with OneDeploy; Azure installs ``requirements.txt``."""
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
        from azure.core.rest import HttpRequest

        path = self.packages.get(site)
        if path is None:
            raise DeployError(f"Function App {site}: no package was built for it; deploy again")
        client: PipelineClient[Any, Any] = PipelineClient(
            base_url=f"https://{site}.scm.azurewebsites.net",
            policies=[
                RetryPolicy(),
                BearerTokenCredentialPolicy(self.clients.credential, MANAGEMENT_SCOPE),
            ],
        )
        request = HttpRequest(
            "POST",
            "/api/publish",
            params={"RemoteBuild": "true"},
            headers={"Content-Type": "application/zip"},
            content=path.read_bytes(),
        )
        response = client.send_request(request)
        if response.status_code >= 400:
            raise DeployError(
                f"Function App {site}: uploading its package failed (HTTP "
                f"{response.status_code}: {response.text()[:300]})"
            )
