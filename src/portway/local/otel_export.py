"""Export of ``portway run``'s spans to OpenTelemetry, for a user who has a collector.

Only when asked: the stage setting ``otel = true``, or the standard
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT`` variable. The
spans go over OTLP/HTTP (``opentelemetry-exporter-otlp-proto-http``, which reads the
``OTEL_EXPORTER_OTLP_*`` variables for its endpoint, headers and timeout). Both packages
are the ``portway[otel]`` extra and are imported here only, when the export is asked for.

The spans exported are the rows :class:`portway.local.traces.SpanRecorder` writes, with
the same trace, span and parent span ids: a collector shows the traces the dashboard
shows, and joins them to a caller's spans through an HTTP ``traceparent``. Object
writes' spans are recorded by the process that writes (a worker, ``portway put``), not
by the recorder: the export thread reads those from the stage database, the ``write``
spans newer than the last it read (a rowid range: no index needed), so a collector
gets whole traces. Writes recorded before the run started are not exported.

The runtime's loop must not wait on a network: :meth:`SpanExporterBridge.hand_over`
(the recorder's hook) appends the flushed rows to a bounded queue and returns; a
background thread turns them into OpenTelemetry spans and exports them in batches. When
the collector is slower than the runtime, the queue fills and further rows are dropped
and counted (:attr:`SpanExporterBridge.dropped`), never the runtime slowed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from portway.errors import ConfigError
from portway.local import traces
from portway.local.traces import SpanRow

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter

    from portway.config import StageConfig

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
NOT_INSTALLED = "install portway[otel] to export spans to OpenTelemetry"
# Rows waiting for the export thread; past this, rows are dropped (and counted).
MAX_QUEUED_ROWS = 20_000
# Spans per export call: OpenTelemetry's BatchSpanProcessor default.
EXPORT_BATCH = 512
# How often the thread exports when fewer than EXPORT_BATCH rows are waiting.
EXPORT_SECONDS = 1.0
# How long stopping waits for the last export.
CLOSE_SECONDS = 10.0

# Delivery triggers as OpenTelemetry span kinds (by name; the enum is imported lazily).
_KINDS = {"http": "SERVER", "queue": "CONSUMER", "topic": "CONSUMER", "bucket": "CONSUMER"}


def wanted(stage: StageConfig, environ: Mapping[str, str] | None = None) -> bool:
    """True when the stage setting ``otel`` or an OTLP endpoint variable asks for export.

    ``otel = false`` in the stage wins over the variables (a collector set up for other
    programs need not receive this stage's spans).
    """
    if "otel" in stage.settings:
        return bool(stage.settings["otel"])
    environ = os.environ if environ is None else environ
    return any(environ.get(variable) for variable in ENDPOINT_VARIABLES)


def install(
    stage: StageConfig,
    pipeline_name: str,
    database: Path | None = None,
    exporter: SpanExporter | None = None,
) -> SpanExporterBridge | None:
    """Start exporting the runtime's spans if the stage asks for it; None if it does not.

    Sets :data:`portway.local.traces.export_hook`; call :meth:`SpanExporterBridge.close`
    when the runtime has stopped. ``database``: the stage's database, whose object
    writes' spans are exported too. ``exporter``: what to export to (default: OTLP/HTTP
    configured by the ``OTEL_EXPORTER_OTLP_*`` variables). Raises :class:`ConfigError`
    with :data:`NOT_INSTALLED` when export is asked for but ``portway[otel]`` is missing.
    """
    if exporter is None and not wanted(stage):
        return None
    try:
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        bridge = SpanExporterBridge(
            exporter,
            service_name=pipeline_name,
            attributes={"portway.app": stage.app, "portway.stage": stage.name},
            database=database,
        )
    except ImportError:
        raise ConfigError(NOT_INSTALLED) from None
    bridge.start()
    traces.export_hook = bridge.hand_over
    return bridge


class SpanExporterBridge:
    """Portway's span rows to OpenTelemetry spans, exported from a background thread.

    ``attributes`` are added to every span (``portway.app``, ``portway.stage``);
    ``service_name`` is the resource's ``service.name`` (the pipeline's name);
    ``database``: the stage database whose ``write`` spans the thread reads and exports.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        service_name: str,
        attributes: Mapping[str, str] | None = None,
        max_queued_rows: int = MAX_QUEUED_ROWS,
        database: Path | None = None,
    ) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.sdk.trace.export import SpanExportResult
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

        self._exporter = exporter
        self._resource = Resource.create({"service.name": service_name})
        self._scope = InstrumentationScope("portway", _portway_version())
        self._attributes = dict(attributes or {})
        self._max_queued_rows = max_queued_rows
        # The SDK's names, kept so the export thread does not look them up per span.
        self._readable_span = ReadableSpan
        self._span_context = SpanContext
        self._kinds = {trigger: SpanKind[name] for trigger, name in _KINDS.items()}
        self._internal = SpanKind.INTERNAL
        self._sampled = TraceFlags(TraceFlags.SAMPLED)
        self._unset = Status(StatusCode.UNSET)
        self._status = Status
        self._error = StatusCode.ERROR
        self._success = SpanExportResult.SUCCESS
        self._queue: deque[Sequence[SpanRow]] = deque()
        self._queued = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="portway-otel-export", daemon=True)
        self._database = database
        self._writes_after = 0  # the seq of the last write span read from the database
        self.dropped = 0
        self.exported = 0

    # -- the runtime's side ---------------------------------------------------------------

    def hand_over(self, rows: Sequence[SpanRow]) -> None:
        """Queue ``rows`` for export (called by the recorder's flush; never blocks)."""
        with self._lock:
            if self._queued + len(rows) > self._max_queued_rows:
                self.dropped += len(rows)
                return
            self._queued += len(rows)
            self._queue.append(rows)
            if self._queued >= EXPORT_BATCH:
                self._wake.set()

    # -- lifetime -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the export thread; object writes recorded from now on will be exported."""
        if self._database is not None and self._database.exists():
            with contextlib.suppress(sqlite3.Error), self._reading() as connection:
                self._writes_after = connection.execute(
                    "SELECT coalesce(max(seq), 0) FROM spans"
                ).fetchone()[0]
        self._thread.start()

    def close(self, timeout: float = CLOSE_SECONDS) -> None:
        """Export what is queued, then shut the exporter down (waits at most ``timeout``)."""
        if traces.export_hook == self.hand_over:
            traces.export_hook = None
        self._stopping = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._exporter.shutdown()

    # -- conversion -----------------------------------------------------------------------

    def to_spans(self, rows: Sequence[SpanRow]) -> list[ReadableSpan]:
        """OpenTelemetry spans of span rows, with the same trace, span and parent ids."""
        return [self._span(row) for row in rows]

    def _span(self, row: SpanRow) -> ReadableSpan:
        trace_id, span_id, parent_span_id, function, trigger, subject = row[:6]
        started, duration, outcome, reason = row[6:]
        trace = int(trace_id, 16)
        context = self._span_context(trace, int(span_id, 16), False, self._sampled)
        parent = (
            None
            if parent_span_id is None
            else self._span_context(trace, int(parent_span_id, 16), False, self._sampled)
        )
        # As the dashboard counts it (traces.Span.failed): all but ok and recovered.
        failed = outcome not in ("ok", "recovered")
        start = int(started * 1e9)
        return self._readable_span(
            name=function or f"write {subject}",
            context=context,
            parent=parent,
            resource=self._resource,
            attributes={
                "portway.function": function,
                "portway.trigger": trigger,
                "portway.subject": subject,
                "portway.outcome": outcome,
                **self._attributes,
            },
            kind=self._kinds.get(trigger, self._internal),
            status=self._status(self._error, reason or outcome) if failed else self._unset,
            start_time=start,
            end_time=start + int(duration * 1e9),
            instrumentation_scope=self._scope,
        )

    # -- the export thread ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(EXPORT_SECONDS)
            self._wake.clear()
            stopping = self._stopping
            with self._lock:
                batches = list(self._queue)
                self._queue.clear()
                self._queued = 0
            self._export([row for batch in batches for row in batch])
            if self._database is not None:
                self._export(self._new_writes(self._database))
            if stopping:
                return

    def _new_writes(self, database: Path) -> list[SpanRow]:
        """The ``write`` spans recorded since the last call (none if no database yet)."""
        if not database.exists():
            return []
        try:
            with self._reading() as connection:
                last = connection.execute("SELECT coalesce(max(seq), 0) FROM spans").fetchone()[0]
                # A smaller seq than the last read: the stage was started afresh.
                after = self._writes_after if last >= self._writes_after else 0
                rows = connection.execute(
                    f"SELECT {traces.COLUMNS} FROM spans WHERE seq > ? AND seq <= ? "
                    "AND trigger = 'write' ORDER BY seq",
                    (after, last),
                ).fetchall()
        except sqlite3.Error:
            return []  # busy or being migrated: the next tick reads them
        self._writes_after = last
        return rows

    def _reading(self) -> contextlib.closing[sqlite3.Connection]:
        assert self._database is not None
        # Read-only, a transaction per statement: never holds back the runtime's writes.
        uri = f"{self._database.resolve().as_uri()}?mode=ro"
        return contextlib.closing(sqlite3.connect(uri, uri=True, timeout=1.0))

    def _export(self, rows: Sequence[SpanRow]) -> None:
        for first in range(0, len(rows), EXPORT_BATCH):
            spans = self.to_spans(rows[first : first + EXPORT_BATCH])
            try:
                result = self._exporter.export(spans)
            except Exception:  # a collector's failure must not stop the runtime
                continue  # the exporter logs its own failures; these spans are lost
            if result == self._success:
                self.exported += len(spans)


def _portway_version() -> str:
    try:
        return version("portway")
    except PackageNotFoundError:
        return "0"
