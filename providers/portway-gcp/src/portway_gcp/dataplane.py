"""The Google Cloud data plane: ``lake.write()``, ``jobs.send()``, ``loaded.publish()``
on Cloud Storage and Pub/Sub.

:class:`GcpDataPlane` maps each neutral resource to its Google Cloud identity through a
:class:`~portway_gcp.runtime_config.ResourceMap` (bucket id; topic path for a queue,
which is sent to through its topic, and for a topic) and makes the one SDK call that
does the job. Its clients come from a :class:`~portway_gcp.clients.GcpClients`, created
on the first call: no Google module is imported before, because the runtime shim builds
this object at cold start.

Permissions are checked before this module is reached: the binding
(:meth:`portway.dataplane.Binding.check`) refuses a use the running function did not
declare with :class:`~portway.errors.PermissionDenied`, before any call to Google.

Every SDK error is wrapped into a :class:`~portway.errors.PortwayError` naming the
resource, its Google Cloud identity and the fix; a missing object is ``KeyError`` as
everywhere.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from portway.errors import ConfigError, DeployError, MessageTooLarge, PermissionDenied, PortwayError
from portway.keys import check_key
from portway.model import Bucket, Queue, Topic
from portway.payload import OutgoingMessage, check_sizes
from portway_gcp.clients import GcpClients
from portway_gcp.message_encoding import (
    DECLARED_MAX_MESSAGE_BYTES,
    MAX_REQUEST_BYTES,
    attributes_of,
    publish_request_size,
)
from portway_gcp.runtime_config import ResourceMap

if TYPE_CHECKING:
    from portway.config import StageConfig
    from portway.model import Pipeline

#: Seconds a publish may take, retries included (the client's default is 600 s, longer
#: than any function runs): an unreachable Pub/Sub fails the call instead of hanging.
PUBLISH_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class CallTarget:
    """What a call is about, for error messages: ``bucket 'lake' (shop-prod-lake-1a2b)``."""

    kind: str
    name: str
    identity: str
    call: str
    permission: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r} ({self.identity})"


class GcpDataPlane:
    """Implements :class:`portway.dataplane.DataPlane` on Cloud Storage and Pub/Sub.

    ``resources`` maps neutral names to Google Cloud identities; ``clients`` makes the
    SDK clients (on first use); ``stage`` is named in errors.
    """

    def __init__(
        self, resources: ResourceMap, clients: GcpClients, *, stage: str | None = None
    ) -> None:
        self.resources = resources
        self.clients = clients
        self.stage = stage

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> GcpDataPlane:
        """The data plane of a deployed function: ``PORTWAY_GCP_RESOURCES``, the project of
        its topics (else ``GOOGLE_CLOUD_PROJECT``), and ``PUBSUB_EMULATOR_HOST`` /
        ``STORAGE_EMULATOR_HOST`` when set (tests on emulators)."""
        resources = ResourceMap.from_environment(environ)
        project = resources.project or environ.get("GOOGLE_CLOUD_PROJECT", "")
        clients = GcpClients(project, "", environ=environ)
        return cls(resources, clients, stage=environ.get("PORTWAY_STAGE") or None)

    # -- buckets ---------------------------------------------------------------------

    def read_object(self, bucket: Bucket, key: str) -> bytes:
        check_key(key, bucket=bucket.name)
        target = self._bucket(bucket, f"{bucket.name}.read({key!r})", "storage.objects.get")
        with self._translated(target):
            handle = self.clients.storage.bucket(target.identity)
            try:
                data: bytes = handle.blob(key).download_as_bytes()
            except Exception as error:
                # One 404 for a missing object and a missing bucket: tell them apart
                # with a second call, made only on this path.
                if _is_not_found(error) and handle.exists():
                    raise KeyError(f"bucket {bucket.name!r} has no object {key!r}") from None
                raise
        return data

    def write_object(self, bucket: Bucket, key: str, data: bytes, content_type: str) -> None:
        check_key(key, bucket=bucket.name)
        call = f"{bucket.name}.write({key!r}, ...)"
        target = self._bucket(bucket, call, "storage.objects.create")
        # One request (a multipart upload, or resumable above 8 MiB): the object appears
        # whole or not at all.
        with self._translated(target):
            blob = self.clients.storage.bucket(target.identity).blob(key)
            blob.upload_from_string(data, content_type=content_type)

    def list_objects(self, bucket: Bucket, prefix: str) -> list[str]:
        call = f"{bucket.name}.list({prefix!r})"
        target = self._bucket(bucket, call, "storage.objects.list")
        with self._translated(target):
            # list_blobs pages through the results itself (1,000 names a page).
            names = [
                b.name for b in self.clients.storage.list_blobs(target.identity, prefix=prefix)
            ]
        return sorted(names)

    def delete_object(self, bucket: Bucket, key: str) -> None:
        check_key(key, bucket=bucket.name)
        call = f"{bucket.name}.delete({key!r})"
        target = self._bucket(bucket, call, "storage.objects.delete")
        with self._translated(target):
            handle = self.clients.storage.bucket(target.identity)
            try:
                handle.blob(key).delete()
            except Exception as error:
                # Deleting a missing object is no error; deleting from a missing bucket is.
                if _is_not_found(error) and handle.exists():
                    return
                raise

    def _bucket(self, bucket: Bucket, call: str, permission: str) -> CallTarget:
        identity = self.resources.bucket(bucket.name)
        return CallTarget("bucket", bucket.name, identity, call, permission)

    # -- queues and topics ---------------------------------------------------------------

    def send_messages(self, queue: Queue, messages: Sequence[OutgoingMessage]) -> list[str]:
        call = f"{queue.name}.send()"
        path = self.resources.queue_topic(queue.name)
        target = CallTarget("queue", queue.name, path, call, "pubsub.topics.publish")
        return self._publish(target, messages)

    def publish_messages(self, topic: Topic, messages: Sequence[OutgoingMessage]) -> list[str]:
        call = f"{topic.name}.publish()"
        path = self.resources.topic(topic.name)
        target = CallTarget("topic", topic.name, path, call, "pubsub.topics.publish")
        return self._publish(target, messages)

    def _publish(self, target: CallTarget, messages: Sequence[OutgoingMessage]) -> list[str]:
        """Publish every message (the client batches them), wait for each; return the
        ids in order. Nothing is sent when a message is too large."""
        wire = _encode_all(target, messages)
        with self._translated(target):
            publisher = self.clients.publisher
            futures = [
                publisher.publish(target.identity, data, timeout=PUBLISH_TIMEOUT, **attributes)
                for data, attributes in wire
            ]
        ids: list[str] = []
        failure: tuple[int, PortwayError] | None = None
        for number, future in enumerate(futures, start=1):
            try:
                with self._translated(target):
                    ids.append(str(future.result(timeout=PUBLISH_TIMEOUT + 5)))
            except PortwayError as error:
                failure = failure or (number, error)
        if failure is None:
            return ids
        number, first = failure
        if len(futures) == 1:
            raise first
        raise type(first)(
            f"{first} (message {number} of {len(futures)} failed first; {len(ids)} of the "
            f"{len(futures)} were accepted)"
        ) from None

    # -- errors ----------------------------------------------------------------------------

    @contextmanager
    def _translated(self, target: CallTarget) -> Iterator[None]:
        """Turn Google's exceptions raised in the block into portway's."""
        try:
            yield
        except (PortwayError, KeyError):
            raise
        except Exception as error:
            translated = self._translate(error, target)
            if translated is None:
                raise
            raise translated from None

    def _translate(self, error: Exception, target: CallTarget) -> PortwayError | None:
        from google.api_core import exceptions as api
        from google.auth import exceptions as auth

        deploy = f"'portway deploy --stage {self.stage}'" if self.stage else "'portway deploy'"
        on_stage = f"on stage {self.stage!r}" if self.stage else "on this stage"
        if isinstance(error, api.NotFound):
            return DeployError(f"{target.call}: {target} does not exist {on_stage}: run {deploy}")
        if isinstance(error, api.Forbidden | api.PermissionDenied):
            return PermissionDenied(
                f"{target.call}: Google Cloud denied {target.permission} on {target} "
                f"({_reason(error)}); declare the use in the function's uses=[...] and "
                f"run {deploy}"
            )
        if isinstance(error, api.Unauthenticated | auth.DefaultCredentialsError):
            return ConfigError(
                f"{target.call}: Google Cloud did not accept the credentials "
                f"({_reason(error)}); run 'gcloud auth application-default login' or set "
                f"GOOGLE_APPLICATION_CREDENTIALS"
            )
        if isinstance(error, api.GoogleAPICallError):
            return PortwayError(
                f"{target.call}: Google Cloud refused it for {target}: {_reason(error)}"
            )
        if isinstance(error, api.RetryError | concurrent.futures.TimeoutError | ConnectionError):
            return PortwayError(
                f"{target.call}: could not reach Google Cloud for {target}: {error}"
            )
        if _is_transport_error(error):
            return PortwayError(
                f"{target.call}: could not reach Google Cloud for {target}: {error}"
            )
        return None


def connect_pipeline(pipeline: Pipeline, stage: StageConfig) -> GcpDataPlane:
    """Data-plane clients for ``pipeline`` on a ``gcp`` ``stage``, reaching its resources by
    the names deploy gives them (:class:`~portway_gcp.naming.Names`).

    No call is made here; the clients are created on the first data-plane call.
    Raises :class:`ConfigError` when the stage lacks ``project`` or ``region``.
    """
    from portway_gcp.naming import Names

    clients = GcpClients.for_stage(stage)
    names = Names(pipeline.name, stage.name, clients.project, clients.region)
    resources = names.resource_map(pipeline.resources.values())
    return GcpDataPlane(resources, clients, stage=stage.name)


def _encode_all(
    target: CallTarget, messages: Sequence[OutgoingMessage]
) -> list[tuple[bytes, dict[str, str]]]:
    """``(data, attributes)`` of each message; :class:`MessageTooLarge` if one exceeds
    the declared limit, or (a backstop) what one publish request carries."""
    check_sizes(messages, DECLARED_MAX_MESSAGE_BYTES, target=target.call)
    wire = []
    for index, message in enumerate(messages):
        attributes = attributes_of(message)
        size = publish_request_size(target.identity, message.body, attributes)
        if size > MAX_REQUEST_BYTES:
            which = f"message {index + 1} of {len(messages)}" if len(messages) > 1 else "message"
            raise MessageTooLarge(
                f"{target.call}: the {which} makes a {size:,}-byte publish request to "
                f"{target}, more than the {MAX_REQUEST_BYTES:,} Pub/Sub accepts; store the "
                f"data in a bucket and send its key"
            )
        wire.append((message.body, attributes))
    return wire


def _is_not_found(error: Exception) -> bool:
    from google.api_core.exceptions import NotFound

    return isinstance(error, NotFound)


def _is_transport_error(error: Exception) -> bool:
    """A connection failure of Cloud Storage's HTTP transport (requests)."""
    import requests

    return isinstance(error, requests.exceptions.ConnectionError | requests.exceptions.Timeout)


def _reason(error: Exception) -> str:
    message = getattr(error, "message", None)
    return str(message or error).strip() or type(error).__name__
