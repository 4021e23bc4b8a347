"""Trace context across hops in the local provider, and spans in the stage database."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from portway import Message, Pipeline, tracing
from portway.local import messages, traces
from portway.local.database import SCHEMA_VERSION, StageLayout, connect, transaction
from portway.local.invoke import run_deliveries
from portway.local.objects import Buckets, recover
from portway.payload import OutgoingMessage
from portway.tracing import TraceContext, parse_traceparent

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lake-to-warehouse"


def _portway(project: Path, *arguments: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "portway", *arguments],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


def _open(project: Path) -> sqlite3.Connection:
    return connect(StageLayout(project / ".portway" / "dev"))


def test_a_put_csv_makes_one_trace_from_the_write_to_the_report(tmp_path: Path) -> None:
    project = tmp_path / "example"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".portway"))
    sample = sorted((project / "samples").glob("*.csv"))[0]
    _portway(project, "put", "landing", sample.name, str(sample))
    _portway(project, "run", "--until-idle")

    connection = _open(project)
    trace_id = traces.trace_of_object(connection, "landing", sample.name)
    assert trace_id is not None
    trace = traces.spans(connection, trace_id)
    by_function = {span.function or f"write {span.subject}": span for span in trace}
    clean = "lake/clean/" + sample.name.removesuffix(".csv") + ".jsonl"
    assert set(by_function) == {
        f"write landing/{sample.name}",
        "enqueue",
        "transform",
        f"write {clean}",
        "report",
    }
    write = by_function[f"write landing/{sample.name}"]
    enqueue, transform, report = (by_function[n] for n in ("enqueue", "transform", "report"))
    assert write.parent_span_id is None  # portway put started the trace
    assert enqueue.parent_span_id == write.span_id
    assert transform.parent_span_id == enqueue.span_id
    assert report.parent_span_id == transform.span_id  # reached through topic 'loaded'
    assert by_function[f"write {clean}"].parent_span_id == transform.span_id
    assert [s.outcome for s in trace] == ["ok"] * 5
    assert (enqueue.trigger, transform.trigger, report.trigger) == ("bucket", "queue", "topic")
    assert enqueue.subject == f"landing/{sample.name}"
    assert traces.trace_of_message(connection, transform.subject) == trace_id
    assert traces.trace_of_object(connection, "lake", clean.removeprefix("lake/")) == trace_id
    [summary] = traces.recent_traces(connection)
    assert summary.trace_id == trace_id
    assert summary.root_subject == f"landing/{sample.name}"
    assert summary.span_count == 5
    assert not summary.failed
    connection.close()


FAILING = """
from portway import Message, Pipeline

app = Pipeline("trace-test")
jobs = app.queue("jobs", max_attempts=5)

@app.on_message(jobs)
def work(msg: Message) -> None:
    record("work", msg.traceparent or "")
    raise ValueError("bad row 3")
"""


def _retry_now(state: Path) -> bool:
    """Make failed messages visible at once (instead of after the visibility timeout)."""
    with sqlite3.connect(state / "state.db") as connection:
        connection.execute("UPDATE messages SET visible_at = 0 WHERE lease IS NULL")
        dead = connection.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
    connection.close()
    return bool(dead)


def test_a_failing_message_leaves_failed_spans_then_a_dead_lettered_one(
    local_run, wait_until
) -> None:
    run = local_run(FAILING).start()
    run.portway("send", "jobs", "x")
    wait_until(lambda: _retry_now(run.state), 60, "the message to be dead-lettered")
    assert run.stop() == 0

    connection = _open(run.root)
    [letter] = messages.dead_letters(connection)
    trace_id = traces.trace_of_message(connection, letter.id)
    assert trace_id is not None
    assert letter.traceparent is None  # portway send: untraced, the trace comes from its id
    trace = traces.spans(connection, trace_id)
    failed = ("work", "failed", "ValueError: bad row 3")
    dead = ("work", "dead-lettered", "ValueError: bad row 3")
    assert [(s.function, s.outcome, s.reason) for s in trace] == [failed] * 4 + [dead]
    # Every attempt is a root of the one trace: portway send records no span.
    assert {s.parent_span_id for s in trace} == {None}
    assert run.read("work") == [""] * 5  # the event was sent with no traceparent
    assert traces.recent_traces(connection)[0].failed
    connection.close()


def test_messages_sent_outside_an_invocation_start_one_trace_each(db: sqlite3.Connection) -> None:
    body = OutgoingMessage(b"x", "text/plain")
    with transaction(db):
        first, second = messages.enqueue(db, [("queue/a", body), ("queue/a", body)], 1.0)
    assert traces.trace_of_message(db, first) != traces.trace_of_message(db, second)


def test_every_copy_of_an_untraced_publish_is_delivered_in_one_trace(
    db: sqlite3.Connection,
) -> None:
    body = OutgoingMessage(b"x", "text/plain")
    with transaction(db):
        messages.enqueue(db, [("topic/t/f", body), ("topic/t/g", body)], 1.0, message_id="m1")
        [first] = messages.claim(
            db, "topic/t/f", limit=1, visibility_timeout=30, max_attempts=3, now=2.0
        )
        [second] = messages.claim(
            db, "topic/t/g", limit=1, visibility_timeout=30, max_attempts=3, now=2.0
        )
    assert first.trace_id == second.trace_id == traces.trace_of_message(db, "m1")
    assert first.span_id != second.span_id
    assert first.parent_span_id is None


def test_a_delivery_runs_under_a_child_of_what_its_message_carried(db: sqlite3.Connection) -> None:
    sender = TraceContext.new_root()
    body = OutgoingMessage(b"x", "text/plain")
    with transaction(db):
        messages.enqueue(db, [("queue/a", body)], 1.0, traceparent=sender.traceparent)
        [delivery] = messages.claim(
            db, "queue/a", limit=1, visibility_timeout=30, max_attempts=3, now=2.0
        )
    assert delivery.traceparent == sender.traceparent
    assert delivery.trace_id == sender.trace_id
    assert delivery.parent_span_id == sender.span_id
    assert parse_traceparent(f"00-{delivery.trace_id}-{delivery.span_id}-01") is not None
    assert delivery.span_id != sender.span_id


def test_retention_deletes_the_oldest_spans_beyond_the_limit(
    db: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(traces, "MAX_SPANS", 50)
    monkeypatch.setattr(traces, "TRIM_EVERY", 10)
    recorder = traces.SpanRecorder()
    for number in range(120):
        row = (f"{number:032x}", "1" * 16, None, "f", "queue", f"m{number}", 0.0, 0.0, "ok", None)
        recorder.add([row])
        with transaction(db):
            recorder.flush(db)  # the 120th span trims to the newest 50
    subjects = [row[0] for row in db.execute("SELECT subject FROM spans ORDER BY seq")]
    assert len(subjects) == 50
    assert subjects == [f"m{n}" for n in range(70, 120)]


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE messages (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, channel TEXT NOT NULL,
    body BLOB NOT NULL, content_type TEXT NOT NULL, attributes TEXT NOT NULL,
    published REAL NOT NULL, visible_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    lease TEXT, last_error TEXT, last_error_at REAL);
CREATE INDEX messages_ready ON messages (channel, visible_at, seq);
CREATE TABLE dead_letters (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, channel TEXT NOT NULL,
    body BLOB NOT NULL, content_type TEXT NOT NULL, attributes TEXT NOT NULL,
    published REAL NOT NULL, attempts INTEGER NOT NULL, reason TEXT NOT NULL,
    failed_at REAL NOT NULL, UNIQUE (channel, id));
CREATE TABLE pending_writes (id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL,
    temp TEXT NOT NULL, etag TEXT NOT NULL, size INTEGER NOT NULL, writer INTEGER NOT NULL,
    started REAL NOT NULL);
CREATE TABLE schedule_ticks (function TEXT PRIMARY KEY, last_tick REAL NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO messages (id, channel, body, content_type, attributes, published, visible_at)
    VALUES ('old-1', 'queue/a', X'6869', 'text/plain', '{}', 1.0, 1.0);
"""


def test_a_version_1_database_is_migrated_in_place_and_its_messages_delivered(
    layout: StageLayout,
) -> None:
    layout.create()
    with sqlite3.connect(layout.database) as old:
        old.executescript(V1_SCHEMA)
    old.close()
    connection = connect(layout)
    version = connection.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    assert int(version[0]) == SCHEMA_VERSION == 2
    with transaction(connection):
        [delivery] = messages.claim(
            connection, "queue/a", limit=1, visibility_timeout=30, max_attempts=3, now=2.0
        )
    assert delivery.id == "old-1"
    assert delivery.body == b"hi"
    assert delivery.traceparent is None  # sent before tracing: its delivery starts a trace
    assert parse_traceparent(f"00-{delivery.trace_id}-{delivery.span_id}-01") is not None
    with transaction(connection):
        traces.record(
            connection,
            [traces.delivery_span(delivery, "f", "queue", delivery.id, 2.0, 0.1, "ok")],
        )
    trace_id = traces.trace_of_message(connection, "old-1")
    assert trace_id is not None
    assert [s.parent_span_id for s in traces.spans(connection, trace_id)] == [None]
    connection.close()


HTTP = """
from portway import HttpRequest, Pipeline, tracing

app = Pipeline("trace-test")
jobs = app.queue("jobs")

@app.http("POST", "/orders", uses=[jobs.send()])
def orders(req: HttpRequest) -> dict:
    jobs.send("order")
    return {"sent_with": req.traceparent, "trace": tracing.current().trace_id}
"""


def test_an_http_request_with_a_traceparent_header_joins_the_callers_trace(
    local_run, wait_until
) -> None:
    run = local_run(HTTP).start("--port", "0")
    caller = TraceContext.new_root()
    request = urllib.request.Request(
        f"http://127.0.0.1:{run.port}/orders",
        method="POST",
        data=b"",
        headers={"traceparent": caller.traceparent},
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        answer = json.loads(response.read())
    assert answer == {"sent_with": caller.traceparent, "trace": caller.trace_id}

    def recorded() -> list[traces.Span]:
        connection = _open(run.root)
        try:
            return traces.spans(connection, caller.trace_id)
        finally:
            connection.close()

    wait_until(recorded, 20, "the request's span")
    [span] = recorded()
    assert (span.function, span.trigger, span.subject) == ("orders", "http", "POST /orders")
    assert span.parent_span_id == caller.span_id
    assert span.outcome == "ok"
    connection = _open(run.root)
    [waiting] = connection.execute("SELECT traceparent FROM messages").fetchall()
    connection.close()
    assert waiting[0] == f"00-{caller.trace_id}-{span.span_id}-01"  # sent under its span


def _delivery(seq: int, traceparent: str) -> messages.Delivery:
    return messages.Delivery(
        seq, f"m{seq}", "queue/jobs", b"{}", "application/json", "{}", 1.0, 1, "0123456789abcdef",
        traceparent,
    )  # fmt: skip


def test_a_batch_handler_runs_under_its_first_messages_span() -> None:
    app = Pipeline("trace-test")
    jobs = app.queue("jobs")
    seen: list[TraceContext | None] = []

    @app.on_message(jobs, batch_size=10)
    def batched(batch: list[Message]) -> None:
        seen.append(tracing.current())

    deliveries = [_delivery(n, TraceContext.new_root().traceparent) for n in range(3)]
    assert run_deliveries(app.functions["batched"], deliveries, dataplane=None) == []  # type: ignore[arg-type]
    first = deliveries[0]
    assert seen == [TraceContext(first.trace_id, first.span_id)]


def test_a_single_message_handler_runs_under_each_messages_span_in_turn() -> None:
    app = Pipeline("trace-test")
    jobs = app.queue("jobs")
    seen: list[TraceContext | None] = []

    @app.on_message(jobs, batch_size=10)
    def single(msg: Message) -> None:
        seen.append(tracing.current())

    deliveries = [_delivery(n, TraceContext.new_root().traceparent) for n in range(3)]
    assert run_deliveries(app.functions["single"], deliveries, dataplane=None) == []  # type: ignore[arg-type]
    assert seen == [TraceContext(d.trace_id, d.span_id) for d in deliveries]


def _no_channels(bucket: str, key: str) -> list[str]:
    return []


def test_an_object_written_inside_an_invocation_is_a_child_of_its_span(
    db: sqlite3.Connection, layout: StageLayout
) -> None:
    invocation = TraceContext.new_root()
    with tracing.activate(invocation):
        Buckets(layout).write(db, "lake", "clean/a.jsonl", b"{}\n", _no_channels)
    trace_id = traces.trace_of_object(db, "lake", "clean/a.jsonl")
    assert trace_id == invocation.trace_id
    [write] = traces.spans(db, trace_id)
    assert (write.function, write.trigger, write.subject) == ("", "write", "lake/clean/a.jsonl")
    assert write.parent_span_id == invocation.span_id


def test_a_write_finished_by_recovery_keeps_its_trace_and_says_so(
    db: sqlite3.Connection, layout: StageLayout
) -> None:
    context = TraceContext.new_root()
    target = layout.bucket("landing") / "a.csv"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"data")
    with transaction(db):
        db.execute(
            "INSERT INTO pending_writes (id, bucket, key, temp, etag, size, writer, started, "
            "traceparent) VALUES ('w1', 'landing', 'a.csv', 'w1.part', 'e', 4, -1, 1.0, ?)",
            (context.traceparent,),
        )
    assert recover(db, layout, _no_channels, alive=lambda pid: False) == (1, 0)
    assert traces.trace_of_object(db, "landing", "a.csv") == context.trace_id
    [write] = traces.spans(db, context.trace_id)
    assert (write.span_id, write.outcome) == (context.span_id, "recovered")


def test_the_recorder_writes_spans_once_enough_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(traces, "FLUSH_ROWS", 3)
    monkeypatch.setattr(traces, "FLUSH_SECONDS", 3600.0)
    recorder = traces.SpanRecorder()
    row = ("1" * 32, "1" * 16, None, "f", "queue", "m", 0.0, 0.0, "ok", None)
    recorder.add([row, row])
    assert not recorder.due()
    recorder.add([row])
    assert recorder.due()
