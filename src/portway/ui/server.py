"""``portway run --ui``: the live dashboard, served under ``/_portway/`` by the run's server.

Mounted on the runtime's own HTTP server (:mod:`portway.local.http_server`), so one
port serves the pipeline's ``http`` functions and the dashboard. Every answer is
computed on the server's request threads, never on the runtime's loop.

Security, for a server any web page in the user's browser can send requests to:

* it listens on 127.0.0.1 only (the server's rule), and answers only requests whose
  ``Host`` is ``127.0.0.1:PORT`` or ``localhost:PORT``: a DNS-rebinding page, whose
  requests carry its own host name, gets 403;
* every request but the static assets (code, no data) needs the run's token, made
  fresh at each start and printed in the dashboard's URL: as ``?token=`` for reads,
  and for the one action that changes state (redrive) as the ``X-Portway-Token``
  header with a JSON body, which a cross-site page cannot send without a CORS
  preflight this server never grants;
* message bodies are sent as JSON strings; the page sets them with ``textContent``;
* the answers forbid framing and inline scripts (``Content-Security-Policy``).

Endpoints (JSON unless said): ``GET /_portway/`` (the page), ``/_portway/static/<asset>``,
``/_portway/api/graph`` (``portway.graph/1``), ``/_portway/api/stream`` (server-sent
events: a ``figures`` snapshot every second), ``/_portway/api/dlq``,
``POST /_portway/api/dlq/redrive`` ``{"channel", "ids": [...] | null}``,
``/_portway/api/traces`` and ``/_portway/api/traces/<trace id>``
(``?message=ID`` or ``?bucket=B&key=K`` finds the trace of a message or object).
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from portway.events import HttpResponse
from portway.graph import build_graph
from portway.local import messages
from portway.local.channels import find_channel
from portway.local.database import StageLayout, connect, transaction
from portway.local.http_server import (
    RESERVED_PREFIX,
    LocalHttpServer,
    StreamingResponse,
    json_response,
)
from portway.local.output import LiveOutput
from portway.model import Pipeline
from portway.ui.figures import Figures, open_read_only

TOKEN_HEADER = "x-portway-token"
BODY_PREVIEW_BYTES = 2048
DEAD_LETTERS_PER_CHANNEL = 200
STREAM_INTERVAL = 1.0
# Sent on every dashboard answer: no framing, no inline script, nothing from elsewhere.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
_ASSETS = {
    "dashboard.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "portway-graph.js": "text/javascript; charset=utf-8",
    "portway-graph.css": "text/css; charset=utf-8",
}


class Dashboard:
    """The dashboard of one run: ``answer`` is mounted at :data:`RESERVED_PREFIX`."""

    def __init__(self, pipeline: Pipeline, layout: StageLayout, port: int) -> None:
        self.pipeline = pipeline
        self.layout = layout
        self.port = port
        self.token = secrets.token_urlsafe(24)
        self.figures = Figures(pipeline, layout)
        self.stopping = threading.Event()
        self._hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{RESERVED_PREFIX}/?token={self.token}"

    def stop(self) -> None:
        """End the event streams (the server's shutdown does not wait for them)."""
        self.stopping.set()

    # -- dispatch -------------------------------------------------------------------------

    def answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> HttpResponse | StreamingResponse:
        url = urlsplit(target)
        path = unquote(url.path).removeprefix(RESERVED_PREFIX) or "/"
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        if headers.get("host", "").lower() not in self._hosts:
            return _error(403, "the dashboard answers only to 127.0.0.1 or localhost")
        if method == "GET" and path.startswith("/static/"):
            return self._asset(path.removeprefix("/static/"))
        if method == "POST" and path == "/api/dlq/redrive":
            return self._redrive(headers, body)
        if method not in ("GET", "HEAD"):
            return _error(405, f"{method} is not allowed on {RESERVED_PREFIX}{path}")
        if not self._token_matches(query.get("token", "")):
            return _error(
                403, "open the dashboard with the URL portway run printed (it holds the token)"
            )
        if path == "/":
            return self._asset("dashboard.html")
        if path == "/api/graph":
            return _json(200, build_graph(self.pipeline).to_json())
        if path == "/api/stream":
            return self._stream()
        if path == "/api/dlq":
            return self._dead_letters()
        if path == "/api/traces":
            return self._traces(query)
        if path.startswith("/api/traces/"):
            return self._trace(path.removeprefix("/api/traces/"))
        return _error(404, f"no dashboard page {RESERVED_PREFIX}{path}")

    def _token_matches(self, offered: str) -> bool:
        return hmac.compare_digest(offered.encode(), self.token.encode())

    def _asset(self, name: str) -> HttpResponse:
        content_type = _ASSETS.get(name)
        if content_type is None:
            return _error(404, f"no dashboard asset {name!r}")
        try:
            data = resources.files("portway.ui").joinpath("static", name).read_bytes()
        except FileNotFoundError:
            return _error(404, f"the dashboard asset {name!r} is not installed")
        return HttpResponse(data, 200, {"content-type": content_type, **SECURITY_HEADERS})

    # -- live figures -----------------------------------------------------------------------

    def _stream(self) -> StreamingResponse:
        headers = {"content-type": "text/event-stream", **SECURITY_HEADERS}
        return StreamingResponse(200, headers, self._events())

    def _events(self) -> Iterator[bytes]:
        """One ``figures`` event a second while the page stays (and the run goes on)."""
        connection = open_read_only(self.layout)
        try:
            yield b"retry: 2000\n\n"
            while not self.stopping.is_set():
                try:
                    snapshot = self.figures.snapshot(connection)
                except sqlite3.Error as error:
                    snapshot = {"error": f"cannot read the stage database: {error}"}
                data = json.dumps(snapshot, separators=(",", ":"))
                yield f"event: figures\ndata: {data}\n\n".encode()
                self.stopping.wait(STREAM_INTERVAL)
        finally:
            connection.close()

    # -- dead letters -----------------------------------------------------------------------

    def _dead_letters(self) -> HttpResponse:
        connection = open_read_only(self.layout)
        try:
            queues = []
            for channel in self.figures.channels.values():
                letters = messages.dead_letters(connection, channel.name, DEAD_LETTERS_PER_CHANNEL)
                queues.append(
                    {
                        "channel": channel.name,
                        "kind": channel.kind,
                        "name": channel.dead_letter_name,
                        "source": channel.source,
                        "functions": list(channel.functions),
                        "max_attempts": channel.max_attempts,
                        "dead_letters": [_letter_json(letter) for letter in letters],
                    }
                )
        finally:
            connection.close()
        return _json(200, {"queues": queues})

    def _redrive(self, headers: dict[str, str], body: bytes) -> HttpResponse:
        if not self._token_matches(headers.get(TOKEN_HEADER, "")):
            return _error(403, f"redrive needs the run's token in the {TOKEN_HEADER} header")
        if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return _error(415, "redrive takes a JSON body (content-type: application/json)")
        try:
            document = json.loads(body)
            channel_name = document["channel"]
            ids = document.get("ids")
            if not isinstance(channel_name, str):
                raise TypeError
            if ids is not None and not (
                isinstance(ids, list) and all(isinstance(i, str) for i in ids)
            ):
                raise TypeError
        except (ValueError, KeyError, TypeError, AttributeError):
            return _error(400, 'redrive takes {"channel": "...", "ids": ["...", ...] or null}')
        try:
            channel = find_channel(self.pipeline, channel_name)
        except KeyError as error:
            return _error(404, str(error.args[0]))
        # The same call as `portway dlq redrive`, on its own read-write connection.
        connection = connect(self.layout)
        try:
            with transaction(connection):
                moved = messages.redrive(connection, channel.name, time.time(), ids)
        finally:
            connection.close()
        return _json(200, {"channel": channel.name, "moved": moved})

    # -- traces -----------------------------------------------------------------------------

    def _traces(self, query: dict[str, str]) -> HttpResponse:
        traces = _traces_module()
        if traces is None:
            return _error(501, "tracing is not available in this version of portway")
        connection = open_read_only(self.layout)
        try:
            if "message" in query or "key" in query:
                if "message" in query:
                    found = traces.trace_of_message(connection, query["message"])
                else:
                    found = traces.trace_of_object(
                        connection, query.get("bucket", ""), query["key"]
                    )
                return _json(200, {"trace_id": found})
            limit = min(200, max(1, int(query.get("limit", "50") or 50)))
            summaries = traces.recent_traces(connection, limit)
        except ValueError:
            return _error(400, "limit must be a whole number")
        except sqlite3.OperationalError as error:
            return _error(501, f"tracing is not available: {error}")
        finally:
            connection.close()
        return _json(
            200,
            {
                "traces": [
                    {
                        "trace_id": s.trace_id,
                        "root_subject": s.root_subject,
                        "root_function": s.root_function,
                        "started": s.started,
                        "ended": s.ended,
                        "span_count": s.span_count,
                        "failed": s.failed,
                    }
                    for s in summaries
                ]
            },
        )

    def _trace(self, trace_id: str) -> HttpResponse:
        traces = _traces_module()
        if traces is None:
            return _error(501, "tracing is not available in this version of portway")
        connection = open_read_only(self.layout)
        try:
            found = traces.spans(connection, trace_id)
        except sqlite3.OperationalError as error:
            return _error(501, f"tracing is not available: {error}")
        finally:
            connection.close()
        if not found:
            return _error(404, f"no spans recorded for trace {trace_id}")
        spans = [
            {
                "span_id": s.span_id,
                "parent_span_id": s.parent_span_id,
                "function": s.function,
                "trigger": s.trigger,
                "subject": s.subject,
                "started": s.started,
                "duration_ms": round(s.duration * 1000, 3),
                "outcome": s.outcome,
                "reason": s.reason,
            }
            for s in found
        ]
        return _json(200, {"trace_id": trace_id, "spans": spans})


def _traces_module() -> Any:
    """:mod:`portway.local.traces`, or ``None`` in a portway without tracing."""
    try:
        from portway.local import traces
    except ImportError:
        return None
    return traces


def _letter_json(letter: messages.DeadLetter) -> dict[str, Any]:
    """A dead letter for the page: the body as text (2 KiB at most), or a note if binary."""
    preview = letter.body[:BODY_PREVIEW_BYTES]
    body: str | None
    try:
        letter.body.decode("utf-8")
        body = preview.decode("utf-8", errors="replace")  # a cut may split a character
        note = None
    except UnicodeDecodeError:
        body = None
        note = f"{len(letter.body):,} bytes, not UTF-8 text; base64: " + (
            base64.b64encode(preview).decode("ascii")
        )
    return {
        "id": letter.id,
        "attempts": letter.attempts,
        "reason": letter.reason,
        "failed_at": letter.failed_at,
        "published": letter.published,
        "content_type": letter.content_type,
        "size": len(letter.body),
        "body": body,
        "body_note": note,
        "truncated": len(letter.body) > BODY_PREVIEW_BYTES,
        "traceparent": getattr(letter, "traceparent", None),
    }


def _json(status: int, document: object) -> HttpResponse:
    response = json_response(status, document)
    return HttpResponse(response.body, status, {**response.headers, **SECURITY_HEADERS})


def _error(status: int, message: str) -> HttpResponse:
    return _json(status, {"error": message})


def check_routes(pipeline: Pipeline) -> None:
    """Refuse a pipeline with an ``http`` route under the dashboard's reserved prefix."""
    from portway.errors import ConfigError
    from portway.model.triggers import HttpTrigger

    for function in pipeline.functions.values():
        trigger = function.trigger
        if isinstance(trigger, HttpTrigger) and (
            trigger.path == RESERVED_PREFIX or trigger.path.startswith(RESERVED_PREFIX + "/")
        ):
            raise ConfigError(
                f"function {function.name!r}: the path {trigger.path!r} is under "
                f"{RESERVED_PREFIX}/, which portway run --ui keeps for the dashboard; "
                f"choose another path"
            )


def mount_dashboard(
    server: LocalHttpServer, pipeline: Pipeline, layout: StageLayout, output: LiveOutput
) -> Dashboard:
    """Create the run's dashboard, feed it the invocation records, mount it on ``server``."""
    check_routes(pipeline)
    dashboard = Dashboard(pipeline, layout, server.port)
    output.add_listener(dashboard.figures.add)
    server.mount(RESERVED_PREFIX, dashboard.answer)
    return dashboard
