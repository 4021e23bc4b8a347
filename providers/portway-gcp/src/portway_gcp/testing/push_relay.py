"""The last hop of Pub/Sub push delivery, played: emulator push -> the function's server.

On Google Cloud a push subscription posts each message to the function's URL, and
Cloud Run routes the request to an instance. Here the deployed URL is not reachable, so
the harness points each push subscription at this relay (``/<function>``), which
forwards the request to that function's local server and answers Pub/Sub with the
function's status: 2xx acknowledges, anything else is a negative acknowledgement that
the emulator's own redelivery and dead-letter policy act on.

The relay also adds what the emulator leaves out of the push body: ``deliveryAttempt``,
which Pub/Sub sets on every push of a subscription with a dead-letter policy (all of
portway's). It counts the pushes of each message per subscription, as Pub/Sub counts
delivery attempts, so attempt ``n`` is the emulator's ``n``-th push; the dead letter the
emulator forwards after ``max_delivery_attempts`` says the same count
(``CloudPubSubDeadLetterSourceDeliveryCount``).
https://cloud.google.com/pubsub/docs/push#receive_push
https://cloud.google.com/pubsub/docs/handling-failures#track-delivery-attempts
"""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

DEFAULT_TIMEOUT = 60.0
DEAD_LETTER_ATTRIBUTE_PREFIX = "CloudPubSubDeadLetterSource"


@dataclass(frozen=True, slots=True)
class PushTarget:
    """Where pushes for one function go: its server's port, and the push request timeout
    (the subscription's ack deadline, after which Pub/Sub counts the push failed)."""

    port: int
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True, slots=True)
class Push:
    """One push the relay forwarded, and what the function answered."""

    function: str
    subscription: str
    message_id: str
    attempt: int
    status: int


def message_fingerprint(data: str, attributes: Mapping[str, str], publish_time: str) -> str:
    """What identifies a published message across a dead-letter hop.

    The dead-letter topic gives the forwarded message a new ``messageId``; it keeps its
    data (``data``: base64, as in the push body), its attributes (the
    ``CloudPubSubDeadLetterSource*`` ones it gains aside) and, in
    ``CloudPubSubDeadLetterSourceTopicPublishTime``, the original ``publishTime``.
    """
    kept = {
        name: value
        for name, value in attributes.items()
        if not name.startswith(DEAD_LETTER_ATTRIBUTE_PREFIX)
    }
    document = {"data": data, "attributes": kept, "published": publish_time}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode("utf-8")).hexdigest()


class PushRelay:
    """A local HTTP server receiving the emulator's pushes at ``/<function>``."""

    def __init__(self) -> None:
        self.targets: dict[str, PushTarget] = {}
        self.pushes: list[Push] = []
        self.errors: list[str] = []
        self._attempts: Counter[tuple[str, str]] = Counter()
        self._originals: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="pubsub-push-relay", daemon=True
        )

    def endpoint(self, function: str) -> str:
        """The push endpoint of ``function``'s subscription: this relay, its path."""
        return f"http://127.0.0.1:{self.port}/{function}"

    def route(self, function: str, target: PushTarget) -> None:
        self.targets[function] = target

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def attempts(self, subscription: str, message_id: str) -> int:
        """Pushes made so far of ``message_id`` by ``subscription`` (its short id)."""
        with self._lock:
            return self._attempts[(subscription, message_id)]

    def original_id(self, subscription: str, fingerprint: str) -> str | None:
        """The ``messageId`` ``subscription`` pushed for the message of ``fingerprint``
        (:func:`message_fingerprint`), or ``None`` if it pushed none."""
        with self._lock:
            return self._originals.get((subscription, fingerprint))

    def relay(self, function: str, body: bytes, headers: Mapping[str, str]) -> int:
        """Forward one push to ``function``'s server with ``deliveryAttempt``; its status."""
        target = self.targets.get(function)
        if target is None:
            return 404
        try:
            document = json.loads(body)
            message = document["message"]
            message_id = str(message["messageId"])
            subscription = str(document.get("subscription", "")).rsplit("/", 1)[-1]
        except (ValueError, KeyError, TypeError):
            document, message, message_id, subscription = None, None, "", ""
        attempt = 0
        if document is not None and message is not None:
            with self._lock:
                self._attempts[(subscription, message_id)] += 1
                attempt = self._attempts[(subscription, message_id)]
                fingerprint = message_fingerprint(
                    str(message.get("data") or ""),
                    message.get("attributes") or {},
                    str(message.get("publishTime", "")),
                )
                self._originals[(subscription, fingerprint)] = message_id
            document["deliveryAttempt"] = attempt
            body = json.dumps(document).encode("utf-8")
        status = self._forward(target, body, headers)
        with self._lock:
            self.pushes.append(Push(function, subscription, message_id, attempt, status))
        return status

    def _forward(self, target: PushTarget, body: bytes, headers: Mapping[str, str]) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", target.port, timeout=target.timeout)
        try:
            forwarded = {
                "Content-Type": headers.get("content-type", "application/json"),
                "User-Agent": "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
            }
            connection.request("POST", "/", body=body, headers=forwarded)
            response = connection.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException) as error:
            with self._lock:
                self.errors.append(f"push to port {target.port}: {type(error).__name__}: {error}")
            return 504 if isinstance(error, TimeoutError) else 502
        finally:
            connection.close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                function = urlsplit(self.path).path.strip("/")
                headers = {name.lower(): value for name, value in self.headers.items()}
                status = relay.relay(function, body, headers)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
