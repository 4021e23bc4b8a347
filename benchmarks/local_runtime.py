"""Local runtime figures: throughput against a raw SQLite loop, and object-event latency.

Measured in one run, on the same machine state:

* ``raw``: a plain loop over the store's own database (same schema, WAL, same
  ``synchronous`` setting, opened by the same function): claim one message (or 10) in a
  transaction, acknowledge it in another, repeat. No processes, no events, no handler.
* ``portway``: ``portway run`` in a child process with its default worker pool; this
  process sends N messages (``send_batch`` in tens, as an SQS client would) and the
  clock stops when the last one is acknowledged. Send, claim, event construction,
  hand-off to a worker process, a trivial handler and acknowledgement all count.
* ``latency``: objects written one at a time (spaced out, so this is latency, not
  throughput); each handler records when it started; the figure is handler start minus
  the moment ``write()`` returned (``time.monotonic`` is system-wide on Linux).

The ratio ``portway / raw`` is the figure to watch (target >= 0.5 for batch 1 and 10).

The raw loop runs with glibc's heap trimming off (``mallopt(M_TRIM_THRESHOLD)``): in a
small process, each transaction's freed memory is handed back to the system and asked
for again, which halves the loop's speed, while a bigger process (a script that imported
``urllib.request``, or portway's runtime) never pays it. Without this the baseline moved
by 2x with unrelated imports, and the ratio with it.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from portway.local.database import StageLayout, connect, transaction

PIPELINE = """
import time
from portway import Pipeline, Message, ObjectEvent

app = Pipeline("bench")
one = app.queue("one-at-a-time")
ten = app.queue("ten-at-a-time")
drop = app.bucket("drop")

@app.on_message(one)
def single(msg: Message) -> None:
    pass

@app.on_message(ten, batch_size=10)
def batched(batch: list[Message]) -> None:
    pass

@app.on_object_created(drop)
def landed(event: ObjectEvent) -> None:
    started = time.monotonic()
    with open("latency.log", "a") as log:
        log.write(f"{event.key} {started!r}\\n")
"""

CONFIG = 'app = "pipeline:app"\n\n[stages.bench]\nprovider = "local"\npath = "state"\n'


def _keep_freed_memory() -> None:
    """Stop glibc from returning freed heap memory after every transaction (see above)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return
    m_trim_threshold = -1  # mallopt's parameter number, from glibc's malloc.h
    ctypes.CDLL(name).mallopt(m_trim_threshold, 64 * 1024 * 1024)


def raw_loop(count: int, batch: int) -> float:
    """Messages per second of a plain claim+ack loop over the store's database."""
    _keep_freed_memory()
    root = Path(tempfile.mkdtemp(prefix="portway-bench-raw-"))
    connection = connect(StageLayout(root))
    now = time.time()
    with transaction(connection):
        connection.executemany(
            "INSERT INTO messages (id, channel, body, content_type, attributes, published, "
            "visible_at) VALUES (?, 'raw', ?, 'application/json', '{}', ?, ?)",
            [(f"m{i}", b'{"n":1}', now, now) for i in range(count)],
        )
    handled = 0
    started = time.perf_counter()
    while handled < count:
        connection.execute("BEGIN IMMEDIATE")
        rows = connection.execute(
            "UPDATE messages SET attempts = attempts + 1, visible_at = ?, lease = 'x' "
            "WHERE seq IN (SELECT seq FROM messages WHERE channel = 'raw' AND visible_at <= ? "
            "ORDER BY visible_at, seq LIMIT ?) RETURNING seq, body",
            (time.time() + 30, time.time(), batch),
        ).fetchall()
        connection.execute("COMMIT")
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany("DELETE FROM messages WHERE seq = ?", [(r[0],) for r in rows])
        connection.execute("COMMIT")
        handled += len(rows)
    elapsed = time.perf_counter() - started
    connection.close()
    return count / elapsed


class RunningPipeline:
    """The benchmark pipeline under ``portway run``, in a child process."""

    def __init__(self, extra_args: tuple[str, ...] = ()) -> None:
        self.extra_args = extra_args  # more `portway run` options (--ui)
        self.root = Path(tempfile.mkdtemp(prefix="portway-bench-"))
        (self.root / "pipeline.py").write_text(textwrap.dedent(PIPELINE), encoding="utf-8")
        (self.root / "portway.toml").write_text(CONFIG, encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RunningPipeline:
        info = self.root / "state" / "runtime.json"
        command = [sys.executable, "-m", "portway", "run", "--stage", "bench", "--quiet"]
        with (self.root / "run.log").open("wb") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [*command, *self.extra_args], cwd=self.root, stdout=log, stderr=subprocess.PIPE
            )
        deadline = time.monotonic() + 60
        while not info.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"portway run did not start: {error}")
            time.sleep(0.02)
        sys.path.insert(0, str(self.root))
        from portway.config import load_project
        from portway.loading import load_pipeline

        self.config = load_project(self.root)
        self.app = load_pipeline(self.config.app, self.root)
        self.connection = connect(StageLayout(self.root / "state"))
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        self.connection.close()

    def waiting(self, channel: str) -> int:
        row = self.connection.execute(
            "SELECT count(*) FROM messages WHERE channel = ?", (channel,)
        ).fetchone()
        return int(row[0])

    def throughput(self, queue_name: str, count: int) -> float:
        """Messages per second from the first send to the last acknowledgement."""
        queue = self.app.resource(queue_name)
        channel = f"queue/{queue_name}"
        body = {"n": 1}
        started = time.perf_counter()
        with self.app.connect("bench", config=self.config):
            for _ in range(0, count, 10):
                queue.send_batch([body] * 10)  # type: ignore[attr-defined]
        while self.waiting(channel):
            time.sleep(0.001)
        return count / (time.perf_counter() - started)

    def latency(self, count: int, spacing: float) -> list[float]:
        """Seconds from each object write's return to its handler's start."""
        bucket = self.app.resource("drop")
        log = self.root / "latency.log"
        written: dict[str, float] = {}
        with self.app.connect("bench", config=self.config):
            for index in range(count):
                key = f"in/{index}.bin"
                bucket.write(key, b"x")  # type: ignore[attr-defined]
                written[key] = time.monotonic()
                time.sleep(spacing)
        deadline = time.monotonic() + 30
        started: dict[str, float] = {}
        while len(started) < count and time.monotonic() < deadline:
            time.sleep(0.05)
            if log.exists():
                for line in log.read_text().splitlines():
                    key, _, stamp = line.partition(" ")
                    started[key] = float(stamp)
        return sorted(started[k] - written[k] for k in written if k in started)


def _percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(fraction * len(values)))]


def local_runtime(messages: int, objects: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"messages": messages, "workers": os.cpu_count()}
    raw_one = statistics.median(raw_loop(messages, 1) for _ in range(3))
    raw_ten = statistics.median(raw_loop(messages, 10) for _ in range(3))
    with RunningPipeline() as running:
        running.throughput("one-at-a-time", min(messages, 1000))  # warm the workers up
        portway_one = statistics.median(
            running.throughput("one-at-a-time", messages) for _ in range(3)
        )
        portway_ten = statistics.median(
            running.throughput("ten-at-a-time", messages) for _ in range(3)
        )
        latencies = running.latency(objects, 0.01)
    figures.update(
        {
            "raw_claim_ack_batch1_per_s": round(raw_one),
            "raw_claim_ack_batch10_per_s": round(raw_ten),
            "portway_send_handle_ack_batch1_per_s": round(portway_one),
            "portway_send_handle_ack_batch10_per_s": round(portway_ten),
            "ratio_batch1": round(portway_one / raw_one, 2),
            "ratio_batch10": round(portway_ten / raw_ten, 2),
            "object_events": len(latencies),
            "object_write_to_handler_p50_ms": round(_percentile(latencies, 0.5) * 1000, 2),
            "object_write_to_handler_p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
        }
    )
    return figures


if __name__ == "__main__":
    print(json.dumps(local_runtime(int(sys.argv[1]) if len(sys.argv) > 1 else 5000, 200), indent=2))
