"""Azure SDK clients of one stage, created on first use, and where a function finds its resources.

The SDKs (``azure.storage.blob``, ``azure.storage.queue``, ``azure.eventgrid``,
``azure.identity``) are imported inside the methods that need them: the runtime shim
imports this module at cold start and pays for an SDK only on its first data-plane call.

**App settings** (a Function App's environment), the contract between ``portway deploy``
(which writes them on every Function App) and the data plane bound in the shim
(:meth:`AzureClients.from_environment`, :meth:`AzureResources.from_environment`):

``PORTWAY_STORAGE``
    A storage connection string (key-based access; Azurite in tests). The queue triggers
    of ``function_app.py`` read their queues through the same setting
    (:data:`portway_azure.packaging.app_files.STORAGE_CONNECTION`).
``PORTWAY_STORAGE__blobServiceUri``, ``PORTWAY_STORAGE__queueServiceUri``,
``PORTWAY_STORAGE__credential``, ``PORTWAY_STORAGE__clientId``
    Without a connection string: the Functions host's own convention for an
    identity-based connection (service URIs, ``managedidentity``, and the client ID of
    the app group's user-assigned identity), read here the same way so the triggers
    and the data plane use one identity.
    https://learn.microsoft.com/azure/azure-functions/functions-reference#common-properties-for-identity-based-connections
``PORTWAY_AZURE_RESOURCES``
    Compact JSON naming each resource the app's functions reach, by neutral name::

        {"buckets": {"lake": "b-lake"}, "queues": {"jobs": "q-jobs"},
         "topics": {"loaded": "https://orders-prod-loaded.westeurope-1.eventgrid.azure.net/api/events"}}

    Containers and queues live in the stage's storage account; a topic is the endpoint
    of its Event Grid topic. Build it with :meth:`AzureResources.for_pipeline` and
    :meth:`AzureResources.to_environment`.
``PORTWAY_AZURE_EVENT_GRID_KEY``
    Optional: an Event Grid access key sent as ``aeg-sas-key`` (the conformance
    harness's Event Grid player). Without it, topics are reached with the identity's
    Microsoft Entra token (role ``EventGrid Data Sender`` on the topic).
``PORTWAY_STAGE``
    The stage's name, used in error messages.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

from portway import runtime_resources
from portway.errors import ConfigError

if TYPE_CHECKING:
    from portway.config import StageConfig
    from portway.model import Pipeline
    from portway_azure.naming import Names

STORAGE = "PORTWAY_STORAGE"
BLOB_SERVICE_URI = f"{STORAGE}__blobServiceUri"
QUEUE_SERVICE_URI = f"{STORAGE}__queueServiceUri"
CREDENTIAL = f"{STORAGE}__credential"
CLIENT_ID = f"{STORAGE}__clientId"
RESOURCES = "PORTWAY_AZURE_RESOURCES"
EVENT_GRID_KEY = "PORTWAY_AZURE_EVENT_GRID_KEY"
STAGE = "PORTWAY_STAGE"


def topic_endpoint(topic: str, location: str) -> str:
    """The publishing endpoint of Event Grid topic ``topic`` in region ``location``.

    Azure gives every custom topic ``https://<topic>.<location>-1.eventgrid.azure.net/api/events``;
    deploy may pass the endpoint the topic reports instead.
    https://learn.microsoft.com/azure/event-grid/post-to-custom-topic#endpoint
    """
    return f"https://{topic}.{location}-1.eventgrid.azure.net/api/events"


class AzureResources(runtime_resources.ResourceMap):
    """Neutral resource names -> Azure identities (container, queue, topic endpoint).

    Parsing, validation and the JSON form are the core's
    (:class:`portway.runtime_resources.ResourceMap`). Lookups raise
    :class:`~portway.errors.ConfigError` for a name the map lacks: the app was deployed
    without it (its functions' uses changed since the last deploy).
    """

    __slots__ = ()
    VARIABLE = RESOURCES
    DEPLOYED_UNIT = "app"

    @classmethod
    def for_pipeline(
        cls,
        pipeline: Pipeline,
        names: Names,
        *,
        topic_endpoints: Mapping[str, str] | None = None,
    ) -> AzureResources:
        """Every bucket, queue and topic of ``pipeline`` under ``names``.

        A topic's endpoint is ``topic_endpoints[name]`` when given (the endpoint Azure
        reports, or an Event Grid player's in tests), else :func:`topic_endpoint`.
        """
        endpoints = topic_endpoints or {}
        buckets, queues, topics = {}, {}, {}
        for name, resource in pipeline.resources.items():
            if resource.kind == "bucket":
                buckets[name] = names.container(name)
            elif resource.kind == "queue":
                queues[name] = names.queue(name)
            elif resource.kind == "topic":
                topics[name] = endpoints.get(name) or topic_endpoint(
                    names.topic(name), names.location
                )
        return cls(buckets, queues, topics)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The map the deploy wrote in ``PORTWAY_AZURE_RESOURCES``: empty when the
        setting is absent or empty.

        Unlike the core (which refuses an empty value as malformed), an empty setting
        reads as no resources: an app setting cleared rather than removed reaches the
        app as an empty variable, and the app still starts (its functions that reach
        nothing keep working; a lookup names the missing resource).
        """
        text = (os.environ if environ is None else environ).get(cls.VARIABLE)
        return cls.from_json(text) if text else cls()

    def container(self, bucket: str) -> str:
        """The container of ``bucket``; :class:`ConfigError` if the map lacks it."""
        return self.lookup("buckets", bucket)

    def queue(self, queue: str) -> str:
        """The Storage Queue of ``queue``; :class:`ConfigError` if the map lacks it."""
        return self.lookup("queues", queue)

    def topic(self, topic: str) -> str:
        """The Event Grid endpoint of ``topic``; :class:`ConfigError` if the map lacks it."""
        return self.lookup("topics", topic)


class AzureClients:
    """One stage's Azure data-plane clients (lazy, cached, shared by threads).

    Storage is reached with ``connection_string`` when given (Azurite, key access), else
    at ``blob_url`` / ``queue_url`` with ``credential`` (default: ``DefaultAzureCredential``,
    for a user-assigned identity when ``client_id`` is set). Event Grid topics are
    reached with ``event_grid_key`` (``aeg-sas-key``) when given, else with the token
    credential.
    """

    def __init__(
        self,
        *,
        connection_string: str | None = None,
        blob_url: str | None = None,
        queue_url: str | None = None,
        credential: Any = None,
        client_id: str | None = None,
        event_grid_key: str | None = None,
    ) -> None:
        if not connection_string and not (blob_url and queue_url):
            raise ConfigError(
                "Azure storage needs a connection string, or both the blob and queue "
                "service URLs of the stage's storage account"
            )
        self.connection_string = connection_string or None
        self.blob_url = blob_url
        self.queue_url = queue_url
        self.client_id = client_id
        self.event_grid_key = event_grid_key
        self._credential = credential
        self._lock = threading.Lock()
        self._blob_service: Any = None
        self._queue_service: Any = None
        self._queues: dict[str, Any] = {}
        self._containers: dict[str, Any] = {}
        self._publishers: dict[str, Any] = {}

    @classmethod
    def for_stage(
        cls,
        stage: StageConfig,
        *,
        storage_account: str | None = None,
        event_grid_key: str | None = None,
    ) -> AzureClients:
        """The clients of ``stage``: its ``connection_string`` setting when set, else the
        storage account ``storage_account`` (:attr:`Names.storage_account`) with
        ``DefaultAzureCredential`` (``az login``, environment, or managed identity).
        Event Grid with ``event_grid_key`` when given, else with that credential."""
        connection = stage.settings.get("connection_string")
        if connection:
            return cls(connection_string=str(connection), event_grid_key=event_grid_key)
        if not storage_account:
            raise ConfigError(
                f"stage {stage.name!r}: no connection_string, and no storage account to "
                f"reach with your Azure identity; deploy the stage first"
            )
        return cls(
            blob_url=f"https://{storage_account}.blob.core.windows.net",
            queue_url=f"https://{storage_account}.queue.core.windows.net",
            event_grid_key=event_grid_key,
        )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> AzureClients:
        """The clients a deployed function uses, from its app settings (module docstring)."""
        env = os.environ if environ is None else environ
        connection = env.get(STORAGE)
        blob_url, queue_url = env.get(BLOB_SERVICE_URI), env.get(QUEUE_SERVICE_URI)
        if not connection and not (blob_url and queue_url):
            raise ConfigError(
                f"the app settings name no storage: set {STORAGE} (a connection string) or "
                f"{BLOB_SERVICE_URI} and {QUEUE_SERVICE_URI}; redeploy with 'portway deploy'"
            )
        return cls(
            connection_string=connection,
            blob_url=blob_url,
            queue_url=queue_url,
            client_id=env.get(CLIENT_ID) or None,
            event_grid_key=env.get(EVENT_GRID_KEY) or None,
        )

    @property
    def credential(self) -> Any:
        """The token credential (created on first use); unused with a connection string."""
        with self._lock:
            if self._credential is None:
                from azure.identity import DefaultAzureCredential

                self._credential = DefaultAzureCredential(managed_identity_client_id=self.client_id)
            return self._credential

    @property
    def blob_service(self) -> Any:
        """The ``azure.storage.blob.BlobServiceClient`` of the stage's account."""
        if self._blob_service is None:
            from azure.storage.blob import BlobServiceClient

            client = (
                BlobServiceClient.from_connection_string(self.connection_string)
                if self.connection_string
                else BlobServiceClient(str(self.blob_url), credential=self.credential)
            )
            with self._lock:
                if self._blob_service is None:
                    self._blob_service = client
        return self._blob_service

    @property
    def queue_service(self) -> Any:
        """The ``azure.storage.queue.QueueServiceClient`` of the stage's account.

        Its queue clients send text as given: portway base64-encodes message bodies
        itself (:mod:`portway_azure.dataplane`), so it can measure them first.
        """
        if self._queue_service is None:
            from azure.storage.queue import QueueServiceClient

            client = (
                QueueServiceClient.from_connection_string(self.connection_string)
                if self.connection_string
                else QueueServiceClient(str(self.queue_url), credential=self.credential)
            )
            with self._lock:
                if self._queue_service is None:
                    self._queue_service = client
        return self._queue_service

    def container(self, name: str) -> Any:
        """The ``ContainerClient`` of container ``name`` (one per name, shared transport)."""
        client = self._containers.get(name)
        if client is None:
            client = self.blob_service.get_container_client(name)
            with self._lock:
                client = self._containers.setdefault(name, client)
        return client

    def queue(self, name: str) -> Any:
        """The ``QueueClient`` of queue ``name`` (one per name, shared transport)."""
        client = self._queues.get(name)
        if client is None:
            client = self.queue_service.get_queue_client(name)
            with self._lock:
                client = self._queues.setdefault(name, client)
        return client

    def event_grid(self, endpoint: str) -> Any:
        """The ``EventGridPublisherClient`` of the topic at ``endpoint`` (one per endpoint)."""
        client = self._publishers.get(endpoint)
        if client is None:
            from azure.eventgrid import EventGridPublisherClient

            if self.event_grid_key:
                from azure.core.credentials import AzureKeyCredential

                credential: Any = AzureKeyCredential(self.event_grid_key)
            else:
                credential = self.credential
            client = EventGridPublisherClient(endpoint, credential)
            with self._lock:
                client = self._publishers.setdefault(endpoint, client)
        return client
