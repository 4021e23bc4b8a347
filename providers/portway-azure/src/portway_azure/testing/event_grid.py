"""An Event Grid player: what Event Grid does for a portway stage, played against Azurite.

Azurite has no Event Grid. :class:`EventGridPlayer` plays its two parts portway relies on:

* **custom topics**: a local HTTP server accepts the publish request the SDK sends
  (``POST <endpoint>?api-version=...``, a JSON array of events in the Event Grid schema,
  ``aeg-sas-key`` / ``aeg-sas-token`` or a bearer token), answers as Event Grid does
  (``200`` and no body; ``401`` without credentials, ``404`` for an unknown topic, ``400``
  for a malformed event or a CloudEvents batch, which an Event Grid-schema topic
  refuses, ``413`` above 1 MB), stamps each event with ``topic`` (the topic's resource
  id) and ``metadataVersion``, and delivers it to every subscription;
* **storage events**: :meth:`EventGridPlayer.blob_created` turns a blob written in
  Azurite into the ``Microsoft.Storage.BlobCreated`` event Azure's storage system topic
  publishes, with the blob's real properties, and delivers it the same way.

A subscription delivers to a Storage Queue as Event Grid's Storage Queue destination
does: one event per message, its JSON base64-encoded
(https://github.com/MicrosoftDocs/azure-docs/issues/102923), after its filters:
``includedEventTypes``, ``subjectBeginsWith`` and ``subjectEndsWith``, compared without
regard to case unless the subscription sets ``isSubjectCaseSensitive``
(https://learn.microsoft.com/azure/event-grid/event-filtering#subject-filtering).

Unlike Event Grid, delivery happens before the publish request is answered, so a test
finds the event in the queue as soon as ``publish()`` returns; a failed delivery (a
queue that does not exist) is recorded in :attr:`EventGridPlayer.failures`, as Event
Grid would retry and then dead-letter it, and never fails the publish.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from portway_azure.clients import AzureClients

#: Event Grid accepts at most 1 MB in one publish request.
#: https://learn.microsoft.com/azure/event-grid/quotas-limits
MAX_REQUEST_BYTES = 1_048_576
BLOB_CREATED = "Microsoft.Storage.BlobCreated"
_REQUIRED = ("id", "subject", "eventType", "eventTime")
_PATH_HEAD, _PATH_TAIL = "/topics/", "/api/events"


@dataclass(frozen=True, slots=True)
class Subscription:
    """An event subscription with a Storage Queue destination, and its filters."""

    topic: str
    queue: str
    subject_begins_with: str = ""
    subject_ends_with: str = ""
    included_event_types: tuple[str, ...] = ()
    subject_case_sensitive: bool = False

    def matches(self, event: dict[str, Any]) -> bool:
        """Whether Event Grid would deliver ``event`` to this subscription."""
        if self.included_event_types and event.get("eventType") not in self.included_event_types:
            return False
        subject = str(event.get("subject", ""))
        begins, ends = self.subject_begins_with, self.subject_ends_with
        if not self.subject_case_sensitive:
            subject, begins, ends = subject.lower(), begins.lower(), ends.lower()
        return subject.startswith(begins) and subject.endswith(ends)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event written to one subscription's queue."""

    subscription: Subscription
    event: dict[str, Any]


@dataclass(slots=True)
class _Topic:
    resource_id: str
    subscriptions: list[Subscription] = field(default_factory=list)


class EventGridPlayer:
    """Event Grid topics and subscriptions over Azurite's queues (see the module docstring).

    ``connection_string``: Azurite's (the subscriptions' queues live there). ``key``: the
    access key publishers send as ``aeg-sas-key``. Usable as a context manager.
    """

    def __init__(
        self,
        connection_string: str,
        *,
        key: str = "portway-event-grid-player",
        subscription_id: str = "00000000-0000-0000-0000-000000000000",
        resource_group: str = "portway-test-rg",
    ) -> None:
        self.key = key
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.clients = AzureClients(connection_string=connection_string)
        self.deliveries: list[Delivery] = []
        """Every event delivered, in order."""
        self.failures: list[tuple[Delivery, str]] = []
        """Deliveries that failed, with the reason (Event Grid would retry them)."""
        self._topics: dict[str, _Topic] = {}
        self._lock = threading.Lock()
        self._sequence = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> EventGridPlayer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the server ---------------------------------------------------------------------------

    def start(self) -> EventGridPlayer:
        """Serve publish requests on a free port of 127.0.0.1 (in a daemon thread)."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        # A short poll interval: stop() waits for the serving loop's next poll.
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="event-grid-player",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Event Grid player is not running: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def endpoint(self, topic: str) -> str:
        """The publish endpoint of ``topic`` (which :meth:`add_topic` creates)."""
        return f"{self.url}{_PATH_HEAD}{quote(topic, safe='')}{_PATH_TAIL}"

    # -- topics and subscriptions ---------------------------------------------------------------

    def add_topic(self, topic: str, *, resource_id: str | None = None) -> str:
        """Create custom topic ``topic`` (idempotent); return its endpoint."""
        with self._lock:
            if topic not in self._topics:
                self._topics[topic] = _Topic(
                    resource_id
                    or f"/subscriptions/{self.subscription_id}/resourceGroups/"
                    f"{self.resource_group}/providers/Microsoft.EventGrid/topics/{topic}"
                )
        return self.endpoint(topic)

    def add_storage_topic(self, topic: str, storage_account: str) -> None:
        """Create the system topic of ``storage_account`` (its ``BlobCreated`` events)."""
        self.add_topic(
            topic,
            resource_id=f"/subscriptions/{self.subscription_id}/resourceGroups/"
            f"{self.resource_group}/providers/Microsoft.Storage/storageAccounts/{storage_account}",
        )

    def subscribe(
        self,
        topic: str,
        queue: str,
        *,
        subject_begins_with: str = "",
        subject_ends_with: str = "",
        included_event_types: tuple[str, ...] = (),
        subject_case_sensitive: bool = False,
    ) -> Subscription:
        """Subscribe Storage Queue ``queue`` to ``topic`` (created if needed)."""
        self.add_topic(topic)
        subscription = Subscription(
            topic,
            queue,
            subject_begins_with,
            subject_ends_with,
            tuple(included_event_types),
            subject_case_sensitive,
        )
        with self._lock:
            self._topics[topic].subscriptions.append(subscription)
        return subscription

    # -- delivery -------------------------------------------------------------------------------

    def deliver(self, topic: str, events: list[dict[str, Any]]) -> list[Delivery]:
        """Stamp ``events`` as coming from ``topic`` and write each to every matching
        subscription's queue; return the deliveries made. ``KeyError`` for an unknown topic."""
        with self._lock:
            known = self._topics[topic]
            subscriptions = list(known.subscriptions)
        made = []
        for raw in events:
            event = {**raw, "topic": known.resource_id, "metadataVersion": "1"}
            event.setdefault("dataVersion", "")
            for subscription in subscriptions:
                if not subscription.matches(event):
                    continue
                delivery = Delivery(subscription, event)
                text = base64.b64encode(json.dumps(event).encode("utf-8")).decode("ascii")
                try:
                    self.clients.queue(subscription.queue).send_message(text)
                except Exception as error:  # Event Grid retries, then dead-letters
                    with self._lock:
                        self.failures.append((delivery, f"{type(error).__name__}: {error}"))
                    continue
                with self._lock:
                    self.deliveries.append(delivery)
                made.append(delivery)
        return made

    def blob_created(
        self, topic: str, container: str, key: str, *, api: str = "PutBlob"
    ) -> list[Delivery]:
        """Deliver the ``BlobCreated`` event of blob ``key`` in ``container`` (in Azurite)
        from storage system topic ``topic``; return the deliveries made."""
        return self.deliver(topic, [self.blob_created_event(container, key, api=api)])

    def blob_created_event(
        self, container: str, key: str, *, api: str = "PutBlob"
    ) -> dict[str, Any]:
        """The ``Microsoft.Storage.BlobCreated`` event (Event Grid schema, without the
        ``topic`` delivery adds) of a blob in Azurite, from its real properties.
        https://learn.microsoft.com/azure/event-grid/event-schema-blob-storage"""
        blob = self.clients.container(container).get_blob_client(key)
        properties = blob.get_blob_properties()
        with self._lock:
            self._sequence += 1
            sequencer = f"{self._sequence:032x}"
        blob_type = str(getattr(properties.blob_type, "value", properties.blob_type))
        return {
            "id": str(uuid.uuid4()),
            "subject": f"/blobServices/default/containers/{container}/blobs/{key}",
            "eventType": BLOB_CREATED,
            "eventTime": _now(),
            "data": {
                "api": api,
                "clientRequestId": str(uuid.uuid4()),
                "requestId": str(uuid.uuid4()),
                "eTag": str(properties.etag).strip('"'),
                "contentType": properties.content_settings.content_type,
                "contentLength": properties.size,
                "blobType": blob_type,
                "url": blob.url,
                "sequencer": sequencer,
                "storageDiagnostics": {"batchId": str(uuid.uuid4())},
            },
            "dataVersion": "",
        }

    # -- publish requests -------------------------------------------------------------------------

    def _publish(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[HTTPStatus, dict[str, Any] | None]:
        """Answer one publish request as Event Grid does: ``(status, error body or None)``."""
        parts = urlsplit(path)
        topic = _topic_of(parts.path)
        with self._lock:
            known = topic is not None and topic in self._topics
        if topic is None or not known:
            return _error(HTTPStatus.NOT_FOUND, "NotFound", f"no topic at {parts.path}")
        if not self._authorized(headers):
            return _error(
                HTTPStatus.UNAUTHORIZED,
                "Unauthorized",
                "the request carries no valid aeg-sas-key, aeg-sas-token or bearer token",
            )
        if "api-version" not in parse_qs(parts.query):
            return _error(HTTPStatus.BAD_REQUEST, "BadRequest", "api-version is required")
        if len(body) > MAX_REQUEST_BYTES:
            return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "RequestEntityTooLarge", "over 1 MB")
        if "cloudevents" in headers.get("content-type", ""):
            return _error(
                HTTPStatus.BAD_REQUEST,
                "BadRequest",
                "this topic's input schema is EventGridSchema, not CloudEvents",
            )
        try:
            events = json.loads(body)
        except ValueError as error:
            return _error(HTTPStatus.BAD_REQUEST, "BadRequest", f"the body is not JSON: {error}")
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            return _error(HTTPStatus.BAD_REQUEST, "BadRequest", "expected a JSON array of events")
        for event in events:
            missing = [name for name in _REQUIRED if not event.get(name)]
            if missing:
                return _error(
                    HTTPStatus.BAD_REQUEST, "BadRequest", f"an event lacks {', '.join(missing)}"
                )
        self.deliver(topic, events)
        return HTTPStatus.OK, None

    def _authorized(self, headers: dict[str, str]) -> bool:
        if headers.get("aeg-sas-key") == self.key:
            return True
        if headers.get("aeg-sas-token"):
            return True
        return headers.get("authorization", "").lower().startswith("bearer ")


def _topic_of(path: str) -> str | None:
    if path.startswith(_PATH_HEAD) and path.endswith(_PATH_TAIL):
        topic = path[len(_PATH_HEAD) : -len(_PATH_TAIL)]
        return topic if topic and "/" not in topic else None
    return None


def _error(status: HTTPStatus, code: str, message: str) -> tuple[HTTPStatus, dict[str, Any]]:
    return status, {"error": {"code": code, "message": message}}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _handler(player: EventGridPlayer) -> type[BaseHTTPRequestHandler]:
    class PublishHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, error = player._publish(self.path, headers, body)
            payload = json.dumps(error).encode("utf-8") if error is not None else b""
            self.send_response(status)
            if error is not None:
                self.send_header("content-type", "application/json; charset=utf-8")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests' output is for their own failures."""

    return PublishHandler
