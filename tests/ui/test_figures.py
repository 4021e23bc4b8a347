"""The dashboard's figures: invocation records and store counts, per graph node."""

from __future__ import annotations

import os
from pathlib import Path

from portway import Message, ObjectEvent, Pipeline
from portway.local import messages
from portway.local.database import StageLayout, connect, transaction
from portway.local.output import Record
from portway.payload import OutgoingMessage
from portway.ui.figures import WINDOW, Figures, open_read_only


def _pipeline() -> Pipeline:
    app = Pipeline("figures")
    drop = app.bucket("drop")
    jobs = app.queue("jobs")
    done = app.topic("done")

    @app.on_object_created(drop)
    def landed(event: ObjectEvent) -> None: ...

    @app.on_message(jobs)
    def work(msg: Message) -> None: ...

    @app.on_message(done)
    def report(msg: Message) -> None: ...

    return app


def test_a_snapshot_counts_invocations_and_messages_per_node(tmp_path: Path) -> None:
    layout = StageLayout(tmp_path / "stage")
    writer = connect(layout)
    body = OutgoingMessage(b"{}", "application/json", {})
    with transaction(writer):
        messages.enqueue(writer, [("queue/jobs", body)] * 3, 1.0)
        messages.enqueue(writer, [("topic/done/report", body)], 1.0)
        (claimed,) = messages.claim(
            writer, "topic/done/report", limit=1, visibility_timeout=30, max_attempts=5, now=1.0
        )
        messages.fail(writer, claimed, "boom", max_attempts=1, now=1.0)
    (layout.bucket("drop") / "in").mkdir(parents=True)
    (layout.bucket("drop") / "old.csv").write_text("x")
    os.utime(layout.bucket("drop") / "old.csv", (1.0, 1.0))  # written before the run
    figures = Figures(_pipeline(), layout)
    (layout.bucket("drop") / "in" / "a.csv").write_text("x")
    for seconds in (0.010, 0.020, 0.030, 0.040):
        figures.add(Record("work", "message", 1, seconds, 0))
    figures.add(Record("work", "message", 1, 0.5, 1, "ValueError: no"))
    figures.add(Record("not-a-function", "message", 1, 0.5, 0))  # ignored, no error
    reader = open_read_only(layout)
    snapshot = figures.snapshot(reader)
    reader.close()
    writer.close()
    work = snapshot["functions"]["work"]
    assert (work["invocations"], work["failures"]) == (5, 1)
    assert work["p50_ms"] == 30.0
    assert work["p95_ms"] == 500.0
    assert work["waiting"] == 3
    assert snapshot["channels"]["queue/jobs"]["waiting"] == 3
    nodes = snapshot["nodes"]
    assert {"text": "1 failed", "tone": "bad"} in nodes["function:work"]["badges"]
    assert {"text": "3 waiting", "tone": "info"} in nodes["queue:jobs"]["badges"]
    assert {"text": "1 dead", "tone": "bad"} in nodes["topic:done"]["badges"]
    assert "topic/done/report" in nodes["topic:done"]["tooltip"]
    assert nodes["dead-letter-queue:jobs-dlq"]["badges"] == []
    assert snapshot["buckets"]["drop"] == {"objects": 2, "written": 1}


def test_durations_are_kept_for_a_bounded_window(tmp_path: Path) -> None:
    figures = Figures(_pipeline(), StageLayout(tmp_path))
    for _ in range(WINDOW + 10):
        figures.add(Record("work", "message", 1, 0.001, 0))
    assert len(figures._functions["work"].durations) == WINDOW
    assert figures._functions["work"].invocations == WINDOW + 10
