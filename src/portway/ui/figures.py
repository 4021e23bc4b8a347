"""The dashboard's live figures: per function, per channel, per bucket, per graph node.

Two sources, so the runtime's loop never does any work for the dashboard:

* invocation records, fed by :meth:`Figures.add` from the live output's printer thread
  (:meth:`portway.local.output.LiveOutput.add_listener`): O(1) per record, a few
  counters and a bounded window of recent durations;
* the stage database, read by :meth:`Figures.snapshot` (once per second, on the
  dashboard's stream thread, only while a page is connected) over a read-only
  connection: messages waiting and in flight per channel, dead letters per channel;
  plus the bucket folders, walked at most once a second (less often when walking
  them takes long), for the objects each holds and how many were written this run.

A snapshot also carries, per node of the ``portway.graph/1`` graph, the badges and
tooltip the graph view draws (``view.setFigures``), so the page does no arithmetic.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from portway.local.channels import Channel, channels_of
from portway.local.database import StageLayout
from portway.local.messages import dead_letter_counts, pending_counts
from portway.local.output import Record
from portway.model import Pipeline

# Durations kept per function for p50/p95: the most recent invocations.
WINDOW = 1000
# A bucket walk that took t seconds is not repeated for WALK_SPACING * t seconds.
WALK_SPACING = 20.0
MIN_WALK_INTERVAL = 1.0
# File times come from the kernel's coarse clock (a tick behind time.time()): a file
# written just after the run started may carry a time just before it.
MTIME_SLACK = 0.05


@dataclass
class _FunctionCounts:
    invocations: int = 0
    events: int = 0
    failures: int = 0
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))


@dataclass
class _BucketCounts:
    objects: int = 0
    written: int = 0
    walked_at: float = -1e9
    walk_seconds: float = 0.0


def open_read_only(layout: StageLayout) -> sqlite3.Connection:
    """A connection that can only read the stage database (WAL: it never blocks a writer)."""
    uri = layout.database.resolve().as_uri() + "?mode=ro"
    connection = sqlite3.connect(uri, uri=True, timeout=1.0, check_same_thread=False)
    connection.execute("PRAGMA query_only=ON")
    return connection


class Figures:
    """Collects the figures of one run of ``pipeline`` on the stage at ``layout``."""

    def __init__(self, pipeline: Pipeline, layout: StageLayout) -> None:
        self.pipeline = pipeline
        self.layout = layout
        self.channels: dict[str, Channel] = channels_of(pipeline)
        self.started = time.time()
        self._functions = {name: _FunctionCounts() for name in pipeline.functions}
        self._buckets = {
            name: _BucketCounts()
            for name, resource in pipeline.resources.items()
            if resource.kind == "bucket"
        }
        self._lock = threading.Lock()
        self._previous: tuple[float, dict[str, int]] | None = None
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._snapshot_lock = threading.Lock()

    def add(self, record: Record) -> None:
        """Count one invocation (called on the printer thread: O(1))."""
        counts = self._functions.get(record.function)
        if counts is None:
            return
        with self._lock:
            counts.invocations += 1
            counts.events += record.events
            counts.failures += 1 if record.failed else 0
            counts.durations.append(record.seconds)

    def snapshot(self, connection: sqlite3.Connection, max_age: float = 0.5) -> dict[str, Any]:
        """The figures now (shared by every connected page: computed at most every ``max_age``)."""
        with self._snapshot_lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < max_age:
                return self._cached[1]
            document = self._compute(connection, now)
            self._cached = (now, document)
            return document

    # -- computing -----------------------------------------------------------------------

    def _compute(self, connection: sqlite3.Connection, now: float) -> dict[str, Any]:
        pending = pending_counts(connection)
        dead = dead_letter_counts(connection)
        channels = {
            name: {
                "kind": channel.kind,
                "source": channel.source,
                "functions": list(channel.functions),
                "dead_letter_name": channel.dead_letter_name,
                "waiting": pending.get(name, (0, 0))[0],
                "in_flight": pending.get(name, (0, 0))[1],
                "dead_letters": dead.get(name, 0),
            }
            for name, channel in self.channels.items()
        }
        functions = self._function_figures(now, channels)
        buckets = {
            name: self._bucket_figures(name, counts) for name, counts in self._buckets.items()
        }
        return {
            "time": time.time(),
            "uptime": round(time.time() - self.started, 1),
            "functions": functions,
            "channels": channels,
            "buckets": buckets,
            "nodes": node_figures(functions, channels, buckets),
        }

    def _function_figures(
        self, now: float, channels: dict[str, dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        with self._lock:
            copied = {
                name: (c.invocations, c.events, c.failures, list(c.durations))
                for name, c in self._functions.items()
            }
        previous = self._previous
        self._previous = (now, {name: values[0] for name, values in copied.items()})
        figures = {}
        for name, (invocations, events, failures, durations) in copied.items():
            rate = 0.0
            if previous is not None and now > previous[0]:
                rate = (invocations - previous[1].get(name, 0)) / (now - previous[0])
            ordered = sorted(durations)
            own = [c for c in channels.values() if name in c["functions"]]
            figures[name] = {
                "invocations": invocations,
                "events": events,
                "failures": failures,
                "per_second": round(rate, 1),
                "p50_ms": round(_percentile(ordered, 0.5) * 1000, 2),
                "p95_ms": round(_percentile(ordered, 0.95) * 1000, 2),
                "running": sum(c["in_flight"] for c in own),
                "waiting": sum(c["waiting"] for c in own),
                # A queue's dead letters are drawn on its dead-letter queue's node.
                "dead_letters": sum(c["dead_letters"] for c in own if c["kind"] != "queue"),
            }
        return figures

    def _bucket_figures(self, name: str, counts: _BucketCounts) -> dict[str, int]:
        now = time.monotonic()
        interval = max(MIN_WALK_INTERVAL, counts.walk_seconds * WALK_SPACING)
        if now - counts.walked_at >= interval:
            counts.objects, counts.written = _count_files(
                self.layout.bucket(name), self.started - MTIME_SLACK
            )
            counts.walked_at = time.monotonic()
            counts.walk_seconds = counts.walked_at - now
        return {"objects": counts.objects, "written": counts.written}


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _count_files(root: os.PathLike[str] | str, since: float) -> tuple[int, int]:
    """Files under ``root``, and how many were written at or after ``since``."""
    total = written = 0
    folders = [root]
    while folders:
        try:
            entries = os.scandir(folders.pop())
        except OSError:
            continue  # no such bucket folder yet, or it went away while walking
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        total += 1
                        written += entry.stat(follow_symlinks=False).st_mtime >= since
                except OSError:
                    continue
    return total, written


# -- per node ---------------------------------------------------------------------------


def _badge(text: str, tone: str) -> dict[str, str]:
    return {"text": text, "tone": tone}


def _milliseconds(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 100 else f"{value:,.1f} ms"


def node_figures(
    functions: dict[str, dict[str, Any]],
    channels: dict[str, dict[str, Any]],
    buckets: dict[str, dict[str, int]],
) -> dict[str, dict[str, Any]]:
    """Badges and tooltip per graph node id (``function:transform``, ``queue:jobs``...)."""
    nodes: dict[str, dict[str, Any]] = {}
    for name, figures in functions.items():
        badges = []
        if figures["per_second"] >= 0.05:
            badges.append(_badge(f"{figures['per_second']:,.1f}/s", "ok"))
        elif figures["invocations"]:
            badges.append(_badge(f"{figures['invocations']:,} calls", "info"))
        if figures["failures"]:
            badges.append(_badge(f"{figures['failures']:,} failed", "bad"))
        if figures["running"]:
            badges.append(_badge(f"{figures['running']:,} running", "info"))
        if figures["dead_letters"]:
            badges.append(_badge(f"{figures['dead_letters']:,} dead", "bad"))
        tooltip = (
            f"{name}: {figures['invocations']:,} invocations, {figures['failures']:,} failed; "
            f"p50 {_milliseconds(figures['p50_ms'])}, p95 {_milliseconds(figures['p95_ms'])}; "
            f"{figures['running']:,} running, {figures['waiting']:,} waiting"
        )
        nodes[f"function:{name}"] = {"badges": badges, "tooltip": tooltip, "figures": figures}
    grouped: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for channel_name, channel in channels.items():
        if channel["kind"] in ("queue", "topic"):
            node = f"{channel['kind']}:{channel['source']}"
            grouped.setdefault(node, []).append((channel_name, channel))
            if channel["kind"] == "queue":
                nodes[f"dead-letter-queue:{channel['dead_letter_name']}"] = _dead_letter_node(
                    channel
                )
    for node, members in grouped.items():
        waiting = sum(c["waiting"] for _, c in members)
        in_flight = sum(c["in_flight"] for _, c in members)
        dead = sum(c["dead_letters"] for _, c in members)
        badges = []
        if waiting:
            badges.append(_badge(f"{waiting:,} waiting", "warn" if waiting >= 100 else "info"))
        if in_flight:
            badges.append(_badge(f"{in_flight:,} in flight", "ok"))
        if dead:
            badges.append(_badge(f"{dead:,} dead", "bad"))
        lines = [
            f"{name}: {c['waiting']:,} waiting, {c['in_flight']:,} in flight, "
            f"{c['dead_letters']:,} dead letters"
            for name, c in members
        ]
        nodes[node] = {
            "badges": badges,
            "tooltip": "\n".join(lines),
            "figures": {"waiting": waiting, "in_flight": in_flight, "dead_letters": dead},
            "channels": [name for name, _ in members],
        }
    for name, figures in buckets.items():
        nodes[f"bucket:{name}"] = {
            "badges": [_badge(f"{figures['written']:,} written", "info")]
            if figures["written"]
            else [],
            "tooltip": (
                f"{name}: {figures['objects']:,} objects, {figures['written']:,} written this run"
            ),
            "figures": figures,
        }
    return nodes


def _dead_letter_node(channel: dict[str, Any]) -> dict[str, Any]:
    count = channel["dead_letters"]
    return {
        "badges": [_badge(f"{count:,} dead", "bad")] if count else [],
        "tooltip": f"{channel['dead_letter_name']}: {count:,} dead letters",
        "figures": {"dead_letters": count},
    }
