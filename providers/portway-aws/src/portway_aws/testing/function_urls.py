"""Function URLs, served locally: HTTP requests -> payload format 2.0 events -> responses.

moto stores a function's URL configuration but serves nothing. :class:`FunctionUrlServer`
answers on a local port for every function whose URL configuration exists: it picks
the function whose route matches the request (each portway HTTP route is a function
with its own URL), invokes it with the event a function URL sends, and writes back
its response, as the function URL front end does (a failed invocation is a 502).

https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from portway.model.triggers import HttpTrigger
from portway_aws.testing.lambda_runner import Invocation, LambdaWorker

_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
)


@dataclass(frozen=True, slots=True)
class UrlFunction:
    """A function with a URL configuration, and the route its trigger serves."""

    function: str
    trigger: HttpTrigger
    worker: LambdaWorker


def function_url_event(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    domain: str,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The payload format 2.0 event of one request (``target`` is path and query)."""
    split = urlsplit(target)
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    content_type = joined.get("content-type", "")
    as_text = content_type.startswith(_TEXT_TYPES)
    try:
        text = body.decode("utf-8") if as_text else None
    except UnicodeDecodeError:
        text = None
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": split.path or "/",
        "rawQueryString": split.query,
        "headers": joined,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": domain.split(".")[0],
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": method.upper(),
                "path": split.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": text is None and bool(body),
    }
    if cookies:
        event["cookies"] = cookies
    if split.query:
        event["queryStringParameters"] = dict(parse_qsl(split.query, keep_blank_values=True))
    if body:
        event["body"] = text if text is not None else base64.b64encode(body).decode("ascii")
    return event


def http_response(outcome: Invocation) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body a function URL answers for an invocation's outcome.

    A result without ``statusCode`` is a JSON body with status 200, as function URLs
    infer it; a failed invocation is a 502.
    """
    if outcome.error is not None:
        return 502, {"content-type": "application/json"}, b'{"Message":"Internal Server Error"}'
    result = outcome.result
    if not isinstance(result, Mapping) or "statusCode" not in result:
        return 200, {"content-type": "application/json"}, json.dumps(result).encode("utf-8")
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    cookies = result.get("cookies") or []
    if cookies:
        headers["set-cookie"] = ", ".join(str(c) for c in cookies)
    return int(result["statusCode"]), headers, data


class FunctionUrlServer:
    """A local HTTP server standing in for the function URLs of one deployment."""

    def __init__(self, functions: list[UrlFunction], observe: Callable[..., None]) -> None:
        self.functions = functions
        self.observe = observe
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="function-urls", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def route(self, method: str, path: str) -> UrlFunction | None:
        """The function serving ``method path``; one on the same path answers 405 itself."""
        on_path = [f for f in self.functions if f.trigger.match(path) is not None]
        for candidate in on_path:
            if candidate.trigger.method == method.upper():
                return candidate
        return on_path[0] if on_path else None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                chosen = server.route(self.command, path)
                if chosen is None:
                    reply = (404, {"content-type": "application/json"}, b'{"Message":null}')
                else:
                    event = function_url_event(
                        self.command,
                        self.path,
                        list(self.headers.items()),
                        body,
                        domain=f"{chosen.function}.lambda-url.localhost",
                    )
                    outcome = chosen.worker.invoke(event)
                    server.observe(chosen.function, event, outcome)
                    reply = http_response(outcome)
                status, headers, data = reply
                self.send_response(status)
                for name, value in headers.items():
                    if name not in ("content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return  # the invocation's own log line is what diagnostics show

        return Handler
