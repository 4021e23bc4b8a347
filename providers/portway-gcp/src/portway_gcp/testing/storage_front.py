"""A pass-through front of the storage emulator that sees every object written.

Cloud Storage publishes a notification once an object is finalized; the emulators do
not. :class:`StorageFront` stands between every client (the harness, the functions)
and the emulator: it forwards each request unchanged and, when the emulator answers a
request that creates an object (an upload, a copy, a rewrite or a compose) with the
new object's resource, hands that resource to ``on_finalize`` before answering the
client. So the notification is published after the write, from the resource the JSON
API returned, whoever wrote the object, and before the writer continues.

Metadata updates (``PATCH``/``PUT`` of ``/storage/v1/b/B/o/O``) also return an object
resource but are ``OBJECT_METADATA_UPDATE`` events, which portway does not subscribe to.
https://cloud.google.com/storage/docs/pubsub-notifications#events
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# Requests that finalize an object, by path (the JSON API's upload, copy, rewrite and
# compose methods). https://cloud.google.com/storage/docs/json_api/v1/objects
_CREATES = re.compile(
    r"^(?:/upload/storage/v1/b/[^/]+/o"
    r"|/storage/v1/b/[^/]+/o/.+/(?:copyTo|rewriteTo)/b/[^/]+/o/.+"
    r"|/storage/v1/b/[^/]+/o/.+/compose)$"
)
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}
)
FORWARD_TIMEOUT = 120.0

#: Called with each new object's resource, before the writer gets its answer.
FinalizeObserver = Callable[[Mapping[str, Any]], None]


def created_object(method: str, path: str, status: int, body: bytes) -> dict[str, Any] | None:
    """The resource of the object a successful request created, or ``None``.

    A resumable upload answers its first requests without a resource (``308`` or an
    empty ``200`` with the session's ``Location``); the one completing it carries it.
    A rewrite that is not done yet carries none either.
    """
    if method not in ("POST", "PUT") or not 200 <= status < 300 or not _CREATES.match(path):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    if document.get("kind") == "storage#rewriteResponse":
        resource = document.get("resource") if document.get("done") else None
        return resource if isinstance(resource, dict) else None
    return document if document.get("kind") == "storage#object" else None


class StorageFront:
    """Forwards to the emulator at ``upstream`` (``http://host:port``) on a local port."""

    def __init__(self, upstream: str, on_finalize: FinalizeObserver) -> None:
        split = urlsplit(upstream)
        self.upstream_host = split.hostname or "127.0.0.1"
        self.upstream_port = split.port or 80
        self.upstream = upstream.rstrip("/")
        self.on_finalize = on_finalize
        self.errors: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="storage-front", daemon=True
        )

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``: what ``STORAGE_EMULATOR_HOST`` names for clients."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def forward(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send one request to the emulator; return its status, headers and body."""
        connection = http.client.HTTPConnection(
            self.upstream_host, self.upstream_port, timeout=FORWARD_TIMEOUT
        )
        try:
            connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read()
            kept = [
                (name, self._local(value) if name.lower() == "location" else value)
                for name, value in response.getheaders()
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length"
            ]
            return response.status, kept, data
        finally:
            connection.close()

    def _local(self, location: str) -> str:
        """A resumable upload's session URL, pointed back at this front."""
        return location.replace(self.upstream, self.endpoint, 1)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                body = self._body()
                try:
                    status, headers, data = front.forward(
                        self.command, self.path, list(self.headers.items()), body
                    )
                except OSError as error:
                    front.errors.append(f"{self.command} {self.path}: {error}")
                    status, headers, data = 502, [], b'{"error": "storage emulator unreachable"}'
                resource = created_object(self.command, urlsplit(self.path).path, status, data)
                if resource is not None:
                    try:
                        front.on_finalize(resource)
                    except Exception as error:  # the write happened: answer it anyway
                        front.errors.append(f"notification of {resource.get('name')}: {error}")
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _body(self) -> bytes:
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    parts: list[bytes] = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()  # the empty line after the last chunk
                            return b"".join(parts)
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("content-length") or 0)
                return self.rfile.read(length) if length else b""

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
