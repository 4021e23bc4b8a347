"""The Functions host's HTTP front end, played: HTTP triggers served on a local port.

One server stands for the host names of every app group with HTTP functions. A request
is routed as the host routes it (https://learn.microsoft.com/azure/azure-functions/functions-bindings-http-webhook-trigger):

* the path is matched against each HTTP trigger's ``route`` (``routePrefix`` is empty
  in portway's ``host.json``), ``{name}`` taking one segment, literal segments compared
  without case; the method must be one of the trigger's ``methods``; no match is 404;
* ``authLevel`` ``function`` needs the app's key, in the ``x-functions-key`` header or
  the ``code`` query parameter, else 401; ``anonymous`` needs none;
* the function gets an ``azure.functions.HttpRequest`` (the query as ``params``, the
  route's values as ``route_params``); an exception from it is a 500 with no body.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from portway_azure.testing.functions_worker import AppWorker, Invocation
from portway_azure.testing.host import Observer

KEY_HEADER = "x-functions-key"
KEY_PARAMETER = "code"


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP trigger: its function, app worker and key, from the worker's index."""

    function: str
    template: str
    methods: frozenset[str]
    auth_level: str
    worker: AppWorker
    key: str
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", _pattern(self.template))

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path.strip("/"))
        return {k: unquote(v) for k, v in found.groupdict().items()} if found else None


def _pattern(template: str) -> re.Pattern[str]:
    parts = []
    for segment in template.strip("/").split("/"):
        parameter = re.fullmatch(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", segment)
        if parameter:
            parts.append(f"(?P<{parameter[1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("/".join(parts), re.IGNORECASE)


def route_of(function: str, trigger: dict[str, Any], worker: AppWorker, key: str) -> Route:
    """The :class:`Route` of an ``httpTrigger`` binding as the worker indexed it."""
    methods = frozenset(str(m).upper() for m in trigger.get("methods") or ())
    return Route(
        function=function,
        template=str(trigger.get("route") or function),
        methods=methods,
        auth_level=str(trigger.get("authLevel") or "function").lower(),
        worker=worker,
        key=key,
    )


def new_key() -> str:
    """A fresh function key, as the host generates one per app."""
    return secrets.token_urlsafe(30)


class HttpHost:
    """Serves ``routes`` on ``127.0.0.1``; :attr:`port` once :meth:`start` returned."""

    def __init__(self, routes: list[Route], observe: Observer) -> None:
        self.routes = routes
        self.observe = observe
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route serving ``method path`` and its route values, or ``None``."""
        for route in self.routes:
            values = route.match(path)
            if values is not None and method.upper() in route.methods:
                return route, values
        return None

    def start(self) -> int:
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return  # the invocations are observed instead

            def do_any(self) -> None:
                host.serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        # A short poll interval: stop() waits for the serving loop's next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="http-host",
            daemon=True,
        )
        self._thread.start()
        return self.port

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        found = self.find(handler.command, unquote(split.path))
        if found is None:
            self._reply(handler, 404, {}, b"")
            return
        route, values = found
        if route.auth_level != "anonymous":
            given = handler.headers.get(KEY_HEADER) or params.get(KEY_PARAMETER)
            if not given or not secrets.compare_digest(given, route.key):
                self._reply(handler, 401, {}, b"")
                return
        headers: dict[str, str] = {}
        for name, value in handler.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        outcome = route.worker.invoke(
            {
                "kind": "http",
                "function": route.function,
                "method": handler.command,
                "url": f"http://127.0.0.1:{self.port}{handler.path}",
                "headers": headers,
                "params": params,
                "route_params": values,
                "body": base64.b64encode(body).decode("ascii"),
            }
        )
        self.observe(route.function, f"{handler.command} {split.path}", outcome)
        self._respond(handler, outcome)

    def _respond(self, handler: BaseHTTPRequestHandler, outcome: Invocation) -> None:
        result = outcome.result
        if outcome.error is not None or not isinstance(result, dict):
            self._reply(handler, 500, {}, b"")
            return
        body = base64.b64decode(result["body"])
        self._reply(handler, int(result["status"]), dict(result["headers"]), body)

    def _reply(
        self, handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                handler.send_header(name, value)
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
