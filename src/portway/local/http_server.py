"""The local HTTP server: ``http`` functions on 127.0.0.1, one request per invocation.

Each request becomes a neutral :class:`~portway.events.HttpRequest` handed to the
runtime (``submit``), which runs it on a worker like any invocation and answers with
the function's :class:`~portway.events.HttpResponse`. Answers portway gives itself are
JSON: 404 (no route, with the routes that exist), 405 (the path exists for other
methods), 413 (body over 6 MiB, Lambda's payload limit), 500 (the handler raised),
502 (the worker died), 504 (the function's timeout passed).

A *mount* (:meth:`LocalHttpServer.mount`) answers every path under a reserved prefix
itself, on the server's thread, without a worker: ``portway run --ui`` mounts the
dashboard at :data:`RESERVED_PREFIX`. It may answer with a :class:`StreamingResponse`
(server-sent events), written chunk by chunk until its iterator ends or the client goes.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from portway.events import HttpRequest, HttpResponse
from portway.local.messages import new_id
from portway.model import Function
from portway.model.triggers import HttpTrigger, path_pattern

MAX_BODY_BYTES = 6 * 1024 * 1024
JSON_TYPE = "application/json"

RESERVED_PREFIX = "/_portway"

# Runs a request on a worker and returns the response (blocking).
Submit = Callable[[Function, HttpRequest], HttpResponse]


@dataclass(frozen=True, slots=True)
class StreamingResponse:
    """A response sent as its chunks come, then the connection is closed."""

    status: int
    headers: dict[str, str]
    chunks: Iterable[bytes]


# Answers a request under a mounted prefix: (method, target, headers, body) -> response.
Mount = Callable[[str, str, dict[str, str], bytes], "HttpResponse | StreamingResponse"]


@dataclass(frozen=True, slots=True)
class Route:
    function: Function
    method: str
    pattern: re.Pattern[str]
    path: str


def routes_of(functions: list[Function]) -> list[Route]:
    routes = []
    for function in functions:
        trigger = function.trigger
        if not isinstance(trigger, HttpTrigger):
            continue
        routes.append(Route(function, trigger.method, path_pattern(trigger.path), trigger.path))
    return routes


def json_response(status: int, document: object) -> HttpResponse:
    body = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return HttpResponse(body, status, {"content-type": JSON_TYPE})


class LocalHttpServer:
    """Serves ``routes`` on ``127.0.0.1:port`` in a background thread."""

    def __init__(self, routes: list[Route], submit: Submit, port: int) -> None:
        self.routes = routes
        self.submit = submit
        self.mounts: dict[str, Mount] = {}
        handler = _handler_class(self)
        try:
            self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError as error:
            from portway.errors import ConfigError

            raise ConfigError(
                f"cannot serve HTTP on 127.0.0.1:{port} ({error.strerror}); pass --port N "
                f"or set port = N in the stage"
            ) from None
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="portway-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def mount(self, prefix: str, answer: Mount) -> None:
        """Answer every request for ``prefix`` or below it with ``answer`` (call before start)."""
        self.mounts[prefix.rstrip("/")] = answer

    def answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> HttpResponse | StreamingResponse:
        """Route one request and return the response (runs it on a worker)."""
        url = urlsplit(target)
        path = unquote(url.path) or "/"
        for prefix, mounted in self.mounts.items():
            if path == prefix or path.startswith(prefix + "/"):
                return mounted(method, target, headers, body)
        allowed = []
        for route in self.routes:
            match = route.pattern.fullmatch(path)
            if match is None:
                continue
            if route.method != method and not (method == "HEAD" and route.method == "GET"):
                allowed.append(route.method)
                continue
            request = HttpRequest(
                id=new_id(),
                source="/portway/local/http",
                method=method,
                path=path,
                headers=headers,
                query=dict(parse_qsl(url.query, keep_blank_values=True)),
                path_params=match.groupdict(),
                body=body,
            )
            return self.submit(route.function, request)
        if allowed:
            response = json_response(405, {"error": f"{method} is not allowed on {path}"})
            return HttpResponse(
                response.body, 405, {**response.headers, "allow": ", ".join(sorted(allowed))}
            )
        known = [f"{r.method} {r.path}" for r in self.routes]
        return json_response(404, {"error": f"no route for {method} {path}", "routes": known})


def _handler_class(server: LocalHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "portway-local"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                self._send(json_response(413, {"error": "request body over 6 MiB"}))
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            response = server.answer(self.command, self.path, headers, body)
            self._send(response)

        def _send(self, response: HttpResponse | StreamingResponse) -> None:
            if isinstance(response, StreamingResponse):
                self._stream(response)
                return
            body = response.body if isinstance(response.body, bytes) else response.body.encode()
            self.send_response(response.status)
            for name, value in response.headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _stream(self, response: StreamingResponse) -> None:
            self.close_connection = True  # the stream's end is the connection's end
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("connection", "close")
            self.end_headers()
            try:
                for chunk in response.chunks:
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away: the stream ends here
            finally:
                close = getattr(response.chunks, "close", None)
                if close is not None:
                    close()  # a generator's cleanup runs now, not at garbage collection

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: object) -> None:
            return  # the runtime's live output reports every invocation

    return Handler
