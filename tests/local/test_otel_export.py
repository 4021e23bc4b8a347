"""Export of ``portway run``'s spans to OpenTelemetry (the ``portway[otel]`` extra)."""

from __future__ import annotations

import gzip
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from typer.testing import CliRunner

from portway.cli.main import app
from portway.config import StageConfig
from portway.errors import ConfigError
from portway.local import otel_export, traces
from portway.local.database import StageLayout, transaction
from portway.local.otel_export import NOT_INSTALLED, SpanExporterBridge
from portway.local.traces import SpanRow

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
WRITE: SpanRow = (
    TRACE,
    "00f067aa0ba902b7",
    None,
    "",
    "write",
    "landing/a.csv",
    10.0,
    0.5,
    "ok",
    None,
)
DELIVERY: SpanRow = (
    TRACE,
    "a3ce929d0e0e4736",
    "00f067aa0ba902b7",
    "transform",
    "bucket",
    "landing/a.csv",
    11.0,
    0.25,
    "dead-lettered",
    "ValueError: bad row 3",
)
STAGE = StageConfig("dev", "local", {}, app="pipeline:app")


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def bridge(exporter: InMemorySpanExporter) -> Iterator[SpanExporterBridge]:
    made = SpanExporterBridge(
        exporter, service_name="lake", attributes={"portway.app": "a:b", "portway.stage": "dev"}
    )
    yield made
    made.close()


def test_rows_become_spans_with_the_same_trace_span_and_parent_ids(
    bridge: SpanExporterBridge,
) -> None:
    write, delivery = bridge.to_spans([WRITE, DELIVERY])
    assert write.context is not None
    assert delivery.context is not None
    assert f"{write.context.trace_id:032x}" == f"{delivery.context.trace_id:032x}" == TRACE
    assert f"{write.context.span_id:016x}" == "00f067aa0ba902b7"
    assert f"{delivery.context.span_id:016x}" == "a3ce929d0e0e4736"
    assert write.parent is None
    assert delivery.parent is not None
    assert delivery.parent.span_id == write.context.span_id


def test_a_span_is_named_for_its_function_or_the_object_written(
    bridge: SpanExporterBridge,
) -> None:
    write, delivery = bridge.to_spans([WRITE, DELIVERY])
    assert (write.name, delivery.name) == ("write landing/a.csv", "transform")
    assert (write.kind, delivery.kind) == (SpanKind.INTERNAL, SpanKind.CONSUMER)
    assert (delivery.start_time, delivery.end_time) == (11_000_000_000, 11_250_000_000)


def test_a_failed_or_dead_lettered_span_has_an_error_status_with_the_reason(
    bridge: SpanExporterBridge,
) -> None:
    write, delivery = bridge.to_spans([WRITE, DELIVERY])
    assert write.status.status_code is StatusCode.UNSET
    assert delivery.status.status_code is StatusCode.ERROR
    assert delivery.status.description == "ValueError: bad row 3"


def test_a_span_carries_portways_attributes_and_the_pipeline_as_service(
    bridge: SpanExporterBridge,
) -> None:
    [delivery] = bridge.to_spans([DELIVERY])
    assert dict(delivery.attributes or {}) == {
        "portway.function": "transform",
        "portway.trigger": "bucket",
        "portway.subject": "landing/a.csv",
        "portway.outcome": "dead-lettered",
        "portway.app": "a:b",
        "portway.stage": "dev",
    }
    assert delivery.resource.attributes["service.name"] == "lake"


def test_rows_handed_over_are_exported_from_a_background_thread(
    bridge: SpanExporterBridge, exporter: InMemorySpanExporter
) -> None:
    bridge.start()
    bridge.hand_over([WRITE])
    bridge.hand_over([DELIVERY])
    bridge.close()
    assert [span.name for span in exporter.get_finished_spans()] == [
        "write landing/a.csv",
        "transform",
    ]
    assert bridge.exported == 2


def test_rows_past_the_queues_bound_are_dropped_and_counted(
    exporter: InMemorySpanExporter,
) -> None:
    bridge = SpanExporterBridge(exporter, service_name="lake", max_queued_rows=3)
    bridge.hand_over([WRITE, DELIVERY])  # not started: nothing drains the queue
    bridge.hand_over([WRITE, DELIVERY])
    bridge.hand_over([WRITE])
    bridge.start()
    bridge.close()
    assert bridge.dropped == 2
    assert len(exporter.get_finished_spans()) == 3


def test_the_recorder_hands_what_it_writes_to_the_installed_exporter(
    exporter: InMemorySpanExporter, db: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(traces, "export_hook", None)
    bridge = otel_export.install(STAGE, "lake", exporter=exporter)
    assert bridge is not None
    recorder = traces.SpanRecorder()
    with db:
        recorder.record(db, [WRITE, DELIVERY])
    bridge.close()
    assert traces.export_hook is None
    assert [s.name for s in exporter.get_finished_spans()] == ["write landing/a.csv", "transform"]
    assert {s.attributes["portway.app"] for s in exporter.get_finished_spans()} == {"pipeline:app"}


@pytest.mark.parametrize(
    ("settings", "environ", "expected"),
    [
        ({}, {}, False),
        ({"otel": True}, {}, True),
        ({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({}, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"otel": False}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
    ],
)
def test_export_is_asked_for_by_the_stage_setting_or_an_otlp_endpoint_variable(
    settings: dict[str, bool], environ: dict[str, str], expected: bool
) -> None:
    stage = StageConfig("dev", "local", settings)
    assert otel_export.wanted(stage, environ) is expected


def test_nothing_is_installed_when_export_is_not_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in otel_export.ENDPOINT_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    assert otel_export.install(STAGE, "lake") is None


def test_asking_for_export_without_the_extra_stops_run_with_one_line(
    local_run, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = local_run(PIPELINE, STAGE_CONFIG + "otel = true\n")
    # As if portway[otel] were not installed: importing the exporter fails.
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    monkeypatch.chdir(run.root)
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        result = CliRunner().invoke(app, ["run", "--for", "0"])
    finally:
        sys.modules.pop("pipeline", None)  # the project's module, imported in this process
    assert result.exit_code != 0
    assert result.output.strip() == f"error: {NOT_INSTALLED}"
    assert not (run.state / "runtime.json").exists()


def test_install_without_the_extra_raises_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(ConfigError, match=r"install portway\[otel\]"):
        otel_export.install(StageConfig("dev", "local", {"otel": True}), "lake")


# -- portway run, exporting over OTLP/HTTP to a collector in the test -------------------------

STAGE_CONFIG = 'app = "pipeline:app"\n\n[stages.dev]\nprovider = "local"\n'
PIPELINE = """
from portway import Message, ObjectEvent, Pipeline

app = Pipeline("otel-test")
jobs = app.queue("jobs")
done = app.queue("done")
lake = app.bucket("lake")

@app.on_message(jobs, uses=[done.send(), lake.write()])
def work(msg: Message) -> None:
    done.send("next")
    lake.write("out.txt", "x")

@app.on_message(done)
def finish(msg: Message) -> None:
    record("finish", msg.traceparent or "")

@app.on_object_created(lake)
def landed(event: ObjectEvent) -> None:
    record("landed", event.key)
"""


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP traces endpoint that keeps every request it is sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CollectorHandler)
        self.requests: list[ExportTraceServiceRequest] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/traces"

    def spans(self) -> list[tuple[str, str, str, str]]:
        """(service.name, trace id, span id, name) of every span received."""
        received = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                service = next(
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                )
                for scope_spans in resource_spans.scope_spans:
                    received += [
                        (service, s.trace_id.hex(), s.span_id.hex(), s.name)
                        for s in scope_spans.spans
                    ]
        return received


class _CollectorHandler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.server.requests.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_run_exports_its_spans_to_an_otlp_http_endpoint(
    local_run, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.endpoint)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    run = local_run(PIPELINE)
    run.portway("send", "jobs", "x")
    run.start("--until-idle", wait=False)
    assert run.process is not None
    assert run.process.wait(timeout=120) == 0, run.output()

    connection = sqlite3.connect(Path(run.state) / "state.db")
    recorded = {
        (str(trace_id), str(span_id), str(function))
        for trace_id, span_id, function in connection.execute(
            "SELECT trace_id, span_id, function FROM spans"
        )
    }
    connection.close()
    # work, the write it made (recorded by its worker), and the two hops they caused
    assert {function for _, _, function in recorded} == {"work", "", "finish", "landed"}
    assert collector.requests
    received = collector.spans()
    assert {
        (trace, span, "" if name == "write lake/out.txt" else name)
        for _, trace, span, name in received
    } == recorded
    assert {service for service, *_ in received} == {"otel-test"}
    # Both hops of the message are one trace, there as here.
    assert len({trace for _, trace, _, _ in received}) == 1


def test_object_writes_recorded_by_other_processes_are_read_from_the_database(
    exporter: InMemorySpanExporter, layout: StageLayout, db: sqlite3.Connection
) -> None:
    with transaction(db):
        traces.record(db, [WRITE])  # before the export started: not exported
    bridge = SpanExporterBridge(exporter, service_name="lake", database=layout.database)
    bridge.start()
    later = (TRACE, "1111111111111111", None, "", "write", "lake/b.jsonl", 12.0, 0.1, "ok", None)
    with transaction(db):
        traces.record(db, [DELIVERY, later])  # a delivery's span comes through the hook
    bridge.close()
    assert [span.name for span in exporter.get_finished_spans()] == ["write lake/b.jsonl"]


def test_importing_portway_and_its_traces_imports_no_opentelemetry() -> None:
    code = (
        "import sys, portway, portway.local.traces, portway.cli.run_command; "
        "print(any(name.startswith('opentelemetry') for name in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
