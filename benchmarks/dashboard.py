"""The dashboard's cost to the runtime: throughput with ``--ui`` and a page connected.

Two ``portway run`` of the benchmark pipeline (``benchmarks/local_runtime.py``) run side
by side in one benchmark run: one plain, one with ``--ui`` and a client reading its
event stream (as an open page does: one snapshot a second, with the database counts
and the invocation figures that feed it). Each is measured in turn, four times (which
goes first alternates), so load on the machine hits both alike; the figure is the
ratio of the medians (target >= 0.9).
"""

from __future__ import annotations

import http.client
import re
import statistics
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from local_runtime import RunningPipeline


class StreamClient:
    """Reads a dashboard's event stream in a thread, as a connected page does."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.target = f"/_portway/api/stream?{parts.query}"
        self.snapshots = 0
        self._connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        self._thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> StreamClient:
        self._connection.request("GET", self.target)
        response = self._connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"the dashboard's stream answered {response.status}")
        self._response = response
        self._thread.start()
        return self

    def _read(self) -> None:
        try:
            for line in self._response.fp:
                if line.startswith(b"event: figures"):
                    self.snapshots += 1
        except (OSError, ValueError):
            return  # closed by __exit__

    def __exit__(self, *exc: object) -> None:
        self._connection.close()


def _dashboard_url(running: RunningPipeline) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        log = (running.root / "run.log").read_text(encoding="utf-8", errors="replace")
        match = re.search(r"dashboard: (http://\S+)", log)
        if match:
            return match.group(1)
        time.sleep(0.05)
    raise RuntimeError("portway run --ui printed no dashboard URL")


def dashboard_cost(messages: int, rounds: int = 4) -> dict[str, Any]:
    with (
        RunningPipeline() as plain,
        RunningPipeline(("--ui", "--port", "0")) as with_ui,
        StreamClient(_dashboard_url(with_ui)) as client,
    ):
        for running in (plain, with_ui):  # warm the workers up
            running.throughput("one-at-a-time", min(messages, 1000))
        without, served = [], []
        for round_ in range(rounds):
            # Alternate which goes first: the second of a pair meets a warmer machine.
            pair = [(plain, without), (with_ui, served)]
            for running, figures in pair if round_ % 2 == 0 else reversed(pair):
                figures.append(running.throughput("one-at-a-time", messages))
        snapshots = client.snapshots
    without_ui = statistics.median(without)
    with_page = statistics.median(served)
    return {
        "messages": messages,
        "without_ui_batch1_per_s": round(without_ui),
        "with_ui_and_page_batch1_per_s": round(with_page),
        "ratio_with_ui_to_without": round(with_page / without_ui, 2),
        "snapshots_received": snapshots,
    }
