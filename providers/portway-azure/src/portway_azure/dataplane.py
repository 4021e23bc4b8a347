"""The Azure data plane: ``lake.write()``, ``jobs.send()``, ``loaded.publish()`` on Blob
Storage, Storage Queues and Event Grid.

:class:`AzureDataPlane` maps each neutral resource to its Azure identity through an
:class:`~portway_azure.clients.AzureResources` map and makes the one SDK call that does
the job, through :class:`~portway_azure.clients.AzureClients` (created once, reused;
the SDK is imported on the first call). :func:`connect_pipeline` builds one for a
pipeline on a stage (``app.connect(stage=...)``, the provider's ``connect``);
:func:`from_environment` builds the one a deployed function uses from its app settings.

* bucket -> Blob container: ``upload_blob(overwrite=True)`` with the content type (a
  block blob upload is all or nothing), ``download_blob`` (a missing blob is
  ``KeyError``), ``list_blob_names``, ``delete_blob`` (a missing blob is no error);
* queue -> Storage Queue: one ``send_message`` per message (Storage Queues have no batch
  send), the envelope base64-encoded (:mod:`portway_azure.message_encoding`), kept for
  the queue's ``retention`` (the message's time to live);
* topic -> Event Grid topic: one publish request per batch of events (at most 1 MB), in
  the Event Grid schema.

A call the bound function did not declare raises
:class:`~portway.errors.PermissionDenied` before it gets here (:mod:`portway.dataplane`).
Every Azure SDK error is wrapped into a :class:`~portway.errors.PortwayError` naming the
resource, its Azure name and the fix.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portway.errors import ConfigError, DeployError, MessageTooLarge, PermissionDenied, PortwayError
from portway.keys import check_key
from portway.payload import check_sizes
from portway_azure import message_encoding, roles
from portway_azure.clients import STAGE, AzureClients, AzureResources
from portway_azure.message_encoding import (
    DECLARED_MAX_MESSAGE_BYTES,
    MAX_PUBLISH_REQUEST_BYTES,
    MAX_QUEUE_MESSAGE_BYTES,
)

if TYPE_CHECKING:
    from portway.config import StageConfig
    from portway.model import Bucket, Pipeline, Queue, Topic
    from portway.payload import OutgoingMessage
    from portway_azure.roles import Role

_MISSING_RESOURCE = frozenset({"ContainerNotFound", "QueueNotFound", "ResourceNotFound"})
_DENIED = frozenset(
    {"AuthorizationPermissionMismatch", "AuthorizationFailure", "AuthenticationFailed"}
)


@dataclass(frozen=True, slots=True)
class CallTarget:
    """What a call is about, for error messages: ``bucket 'lake' (container b-lake)``."""

    kind: str
    name: str
    service: str
    identity: str
    call: str
    role: Role

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r} ({self.service} {self.identity})"


class AzureDataPlane:
    """Implements :class:`portway.dataplane.DataPlane` on Blob Storage, Storage Queues and
    Event Grid. ``stage`` is named in errors."""

    def __init__(
        self, clients: AzureClients, resources: AzureResources, *, stage: str | None = None
    ) -> None:
        self.clients = clients
        self.resources = resources
        self.stage = stage

    # -- buckets ---------------------------------------------------------------------------

    def read_object(self, bucket: Bucket, key: str) -> bytes:
        check_key(key, bucket=bucket.name)
        target = self._bucket(
            bucket, f"{bucket.name}.read({key!r})", roles.STORAGE_BLOB_DATA_READER
        )
        with self._translated(target, missing_blob=f"bucket {bucket.name!r} has no object {key!r}"):
            data: bytes = self.clients.container(target.identity).download_blob(key).readall()
        return data

    def write_object(self, bucket: Bucket, key: str, data: bytes, content_type: str) -> None:
        from azure.storage.blob import ContentSettings

        check_key(key, bucket=bucket.name)
        target = self._bucket(
            bucket, f"{bucket.name}.write({key!r}, ...)", roles.STORAGE_BLOB_DATA_CONTRIBUTOR
        )
        with self._translated(target):
            self.clients.container(target.identity).upload_blob(
                key,
                data,
                overwrite=True,
                content_settings=ContentSettings(content_type=content_type),
            )

    def list_objects(self, bucket: Bucket, prefix: str) -> list[str]:
        target = self._bucket(
            bucket, f"{bucket.name}.list({prefix!r})", roles.STORAGE_BLOB_DATA_READER
        )
        with self._translated(target):
            names = self.clients.container(target.identity).list_blob_names(
                name_starts_with=prefix or None
            )
            return sorted(names)

    def delete_object(self, bucket: Bucket, key: str) -> None:
        check_key(key, bucket=bucket.name)
        target = self._bucket(
            bucket, f"{bucket.name}.delete({key!r})", roles.STORAGE_BLOB_DATA_CONTRIBUTOR
        )
        try:
            with self._translated(target, missing_blob="deleted"):
                self.clients.container(target.identity).delete_blob(key)
        except KeyError:
            return  # deleting a missing object is no error, as on every provider

    def _bucket(self, bucket: Bucket, call: str, role: Role) -> CallTarget:
        container = self.resources.container(bucket.name)
        return CallTarget("bucket", bucket.name, "container", container, call, role)

    # -- queues and topics -----------------------------------------------------------------

    def send_messages(self, queue: Queue, messages: Sequence[OutgoingMessage]) -> list[str]:
        call = f"{queue.name}.send()"
        physical = self.resources.queue(queue.name)
        target = CallTarget(
            "queue",
            queue.name,
            "Storage Queue",
            physical,
            call,
            roles.STORAGE_QUEUE_DATA_MESSAGE_SENDER,
        )
        check_sizes(messages, DECLARED_MAX_MESSAGE_BYTES, target=call)
        wire = []
        for index, message in enumerate(messages):
            encoded = message_encoding.queue_text(message, uuid.uuid4().hex)
            if encoded.size > MAX_QUEUE_MESSAGE_BYTES:
                raise MessageTooLarge(
                    f"{call}: the {_which(index, messages)} is {encoded.size:,} bytes on "
                    f"Storage Queue {physical!r} (base64 of portway's JSON envelope"
                    f"{_how(message)}), more than the {MAX_QUEUE_MESSAGE_BYTES:,} a queue "
                    f"message may be; store the data in a bucket and send its key"
                )
            wire.append(encoded)
        client = self.clients.queue(physical)
        for sent, encoded in enumerate(wire):
            with self._partial(sent, len(wire)), self._translated(target):
                # Storage Queues keep a message 7 days unless it says otherwise: the
                # queue's retention travels on every message (Azure has no queue-level
                # setting). https://learn.microsoft.com/rest/api/storageservices/put-message
                client.send_message(encoded.text, time_to_live=queue.retention)
        return [encoded.id for encoded in wire]

    def publish_messages(self, topic: Topic, messages: Sequence[OutgoingMessage]) -> list[str]:
        call = f"{topic.name}.publish()"
        endpoint = self.resources.topic(topic.name)
        target = CallTarget(
            "topic", topic.name, "Event Grid topic", endpoint, call, roles.EVENTGRID_DATA_SENDER
        )
        check_sizes(messages, DECLARED_MAX_MESSAGE_BYTES, target=call)
        events = []
        for index, message in enumerate(messages):
            event = message_encoding.topic_event(message, uuid.uuid4().hex, topic.name)
            delivered = message_encoding.delivered_size(event)
            if delivered > MAX_QUEUE_MESSAGE_BYTES:
                raise MessageTooLarge(
                    f"{call}: the {_which(index, messages)} would be {delivered:,} bytes in "
                    f"each subscriber's Storage Queue (base64 of the Event Grid event around "
                    f"portway's JSON envelope{_how(message)}), more than the "
                    f"{MAX_QUEUE_MESSAGE_BYTES:,} a queue message may be; store the data in a "
                    f"bucket and publish its key"
                )
            events.append(event)
        client = self.clients.event_grid(endpoint)
        sent = 0
        for batch in _batches(events):
            with self._partial(sent, len(events)), self._translated(target):
                client.send(batch)
            sent += len(batch)
        return [str(event["id"]) for event in events]

    def close(self) -> None:
        """Nothing to release: the clients' connections close with the process."""

    # -- errors ----------------------------------------------------------------------------

    @contextmanager
    def _partial(self, sent: int, total: int) -> Iterator[None]:
        """Say how many of ``total`` messages went before the one that failed."""
        try:
            yield
        except PortwayError as error:
            if sent == 0:
                raise
            raise type(error)(
                f"{error}; {sent} of the {total} messages were sent before it, the others were not"
            ) from None

    @contextmanager
    def _translated(self, target: CallTarget, *, missing_blob: str | None = None) -> Iterator[None]:
        """Turn the Azure SDK's exceptions raised in the block into portway's.

        ``missing_blob``: the ``KeyError`` message for a blob that does not exist.
        """
        try:
            yield
        except (PortwayError, KeyError):
            raise
        except Exception as error:
            code = str(getattr(error, "error_code", "") or "")
            if missing_blob is not None and code == "BlobNotFound":
                raise KeyError(missing_blob) from None
            translated = self._translate(error, code, target)
            if translated is None:
                raise
            raise translated from None

    def _translate(self, error: Exception, code: str, target: CallTarget) -> PortwayError | None:
        from azure.core.exceptions import (
            AzureError,
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
            ServiceRequestError,
        )

        deploy = f"'portway deploy --stage {self.stage}'" if self.stage else "'portway deploy'"
        on_stage = f"on stage {self.stage!r}" if self.stage else "on this stage"
        reason = _first_line(getattr(error, "message", None) or str(error))
        if isinstance(error, ResourceNotFoundError) or code in _MISSING_RESOURCE:
            return DeployError(f"{target.call}: {target} does not exist {on_stage}: run {deploy}")
        status = getattr(error, "status_code", None)
        if code in _DENIED or status == 403 or isinstance(error, ClientAuthenticationError):
            if type(error).__name__ == "CredentialUnavailableError" or status is None:
                return ConfigError(
                    f"{target.call}: no Azure credential could reach {target} ({reason}); "
                    f"run 'az login', or set the stage's connection_string"
                )
            return PermissionDenied(
                f"{target.call}: Azure refused it for {target} ({code or status}); the "
                f"function's identity needs {target.role.name} on it: declare the use in "
                f"uses=[...] and run {deploy}"
            )
        if isinstance(error, ServiceRequestError):
            return PortwayError(f"{target.call}: could not reach Azure for {target}: {reason}")
        if isinstance(error, HttpResponseError):
            return PortwayError(
                f"{target.call}: Azure refused it for {target}: {code or status}: {reason}"
            )
        if isinstance(error, AzureError):
            return PortwayError(f"{target.call}: the Azure SDK failed for {target}: {reason}")
        return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no reason given"


def _which(index: int, messages: Sequence[object]) -> str:
    return f"message {index + 1} of {len(messages)}" if len(messages) > 1 else "message"


def _how(message: OutgoingMessage) -> str:
    try:
        message.body.decode("utf-8")
    except UnicodeDecodeError:
        return "; its body is not UTF-8 text, so it travels base64 inside, a third larger again"
    return ""


def _batches(events: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Consecutive batches within Event Grid's 1 MB per request, order kept."""
    batch: list[dict[str, Any]] = []
    size = 2  # the JSON array's brackets
    for event in events:
        event_size = message_encoding.event_size(event) + 1  # and its comma
        if batch and size + event_size > MAX_PUBLISH_REQUEST_BYTES:
            yield batch
            batch, size = [], 2
        batch.append(event)
        size += event_size
    if batch:
        yield batch


def connect_pipeline(
    pipeline: Pipeline,
    stage: StageConfig,
    *,
    topic_endpoints: Mapping[str, str] | None = None,
    event_grid_key: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> AzureDataPlane:
    """The data plane of ``pipeline`` on ``stage``, its resources named as deploy names them.

    Storage is reached with the stage's ``connection_string`` when set, else with the
    caller's Azure identity (``DefaultAzureCredential``) in the stage's storage account.
    A topic's endpoint is ``topic_endpoints[name]``, else the one ``PORTWAY_AZURE_RESOURCES``
    names in ``environ`` (default: the process environment; the conformance harness points
    it at its Event Grid player), else Azure's endpoint for the topic's name. Event Grid is
    reached with ``event_grid_key`` (else ``PORTWAY_AZURE_EVENT_GRID_KEY``), else the
    identity. No SDK is imported and no request is made until the first call.
    """
    from portway_azure.clients import EVENT_GRID_KEY
    from portway_azure.naming import Names

    env = environ if environ is not None else _environ()
    settings = stage.settings
    names = Names(
        pipeline.name,
        stage.name,
        str(settings.get("subscription", "")),
        str(settings.get("resource_group", "")),
        str(settings.get("location", "")),
    )
    endpoints = {**AzureResources.from_environment(env).topics, **(topic_endpoints or {})}
    resources = AzureResources.for_pipeline(pipeline, names, topic_endpoints=endpoints)
    clients = AzureClients.for_stage(
        stage,
        storage_account=names.storage_account,
        event_grid_key=event_grid_key or env.get(EVENT_GRID_KEY) or None,
    )
    return AzureDataPlane(clients, resources, stage=stage.name)


def from_environment(environ: Mapping[str, str] | None = None) -> AzureDataPlane:
    """The data plane of a deployed function, from its app settings
    (:mod:`portway_azure.clients` lists them). :class:`ConfigError` if they are missing."""
    env = environ if environ is not None else _environ()
    return AzureDataPlane(
        AzureClients.from_environment(env),
        AzureResources.from_environment(env),
        stage=env.get(STAGE) or None,
    )


def _environ() -> Mapping[str, str]:
    import os

    return os.environ
