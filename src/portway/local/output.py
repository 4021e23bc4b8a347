"""What ``portway run`` prints: a line per invocation, folded into rates when busy.

The runtime's loop only appends a record to a deque (no I/O, no formatting); a printer
thread turns records into lines four times a second. When more invocations arrive than
a person can read (over :data:`LINES_PER_SECOND`), it prints one line per function per
second instead: invocations, events and failures per second. Output can never slow the
pipeline: if the terminal blocks, records pile up in memory as counts, not as lines.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

LINES_PER_SECOND = 20
FLUSH_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class Record:
    function: str
    trigger: str
    events: int
    seconds: float
    failed: int
    reason: str = ""


@dataclass
class FunctionTotals:
    invocations: int = 0
    events: int = 0
    failed: int = 0
    durations: list[float] = field(default_factory=list)

    def add(self, record: Record) -> None:
        self.invocations += 1
        self.events += record.events
        self.failed += record.failed
        if len(self.durations) < 100_000:
            self.durations.append(record.seconds)

    def percentile(self, fraction: float) -> float:
        if not self.durations:
            return 0.0
        ordered = sorted(self.durations)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class LiveOutput:
    """Collects invocation records and prints them; ``quiet`` prints nothing but notes."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.console = Console(file=stream, highlight=False, soft_wrap=True)
        self.quiet = quiet
        self.totals: dict[str, FunctionTotals] = {}
        self._records: deque[Record] = deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._print_loop, name="portway-output", daemon=True)
        self._printed: deque[float] = deque()  # when recent lines were printed
        self._folding: dict[str, FunctionTotals] = {}
        self._fold_started = 0.0
        self._lock = threading.Lock()
        self._listeners: list[Callable[[Record], None]] = []

    def add_listener(self, listener: Callable[[Record], None]) -> None:
        """Call ``listener`` with every record, on the printer thread (never the loop's).

        It must be quick (the dashboard's figures: a few counter updates); add it before
        :meth:`start`.
        """
        self._listeners.append(listener)

    def start(self) -> None:
        self._thread.start()

    def record(self, record: Record) -> None:
        """Called by the runtime's loop: O(1), never blocks."""
        self._records.append(record)

    def note(self, text: str) -> None:
        """A line about the runtime itself (start, stop, a worker restarted)."""
        self._flush(time.monotonic())  # what happened before the note is printed first
        self.console.print(f"[dim]portway:[/] {escape(text)}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._flush(time.monotonic(), final=True)

    def _print_loop(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self._flush(time.monotonic())

    def _flush(self, now: float, final: bool = False) -> None:
        with self._lock:
            self._flush_locked(now, final)

    def _flush_locked(self, now: float, final: bool) -> None:
        batch: list[Record] = []
        while self._records:
            batch.append(self._records.popleft())
        for record in batch:
            self.totals.setdefault(record.function, FunctionTotals()).add(record)
            for listener in self._listeners:
                listener(record)
        if self.quiet:
            return
        while self._printed and self._printed[0] < now - 1.0:
            self._printed.popleft()
        if self._folding or len(self._printed) + len(batch) > LINES_PER_SECOND:
            # Too fast to read: one line per function per second, until it calms down.
            if not self._folding:
                self._fold_started = now
            for record in batch:
                self._folding.setdefault(record.function, FunctionTotals()).add(record)
            if final or now - self._fold_started >= 1.0:
                self._print_rates(now - self._fold_started)
                self._folding = {}
                self._printed.extend([now] * LINES_PER_SECOND)
            return
        for record in batch:
            self._print_line(record)
            self._printed.append(now)

    def _print_line(self, record: Record) -> None:
        stamp = time.strftime("%H:%M:%S")
        events = f"{record.trigger}" + (f" x{record.events}" if record.events > 1 else "")
        duration = f"{record.seconds * 1000:,.1f} ms"
        if record.failed:
            outcome = f"[red]failed[/] {escape(record.reason)}"
            if record.events > 1:
                outcome = (
                    f"[red]{record.failed} of {record.events} failed[/] {escape(record.reason)}"
                )
        else:
            outcome = "[green]ok[/]"
        self.console.print(
            f"[dim]{stamp}[/] [bold]{escape(record.function)}[/] {escape(events)} "
            f"{duration} {outcome}"
        )

    def _print_rates(self, seconds: float) -> None:
        stamp = time.strftime("%H:%M:%S")
        span = max(seconds, FLUSH_SECONDS)
        for name, totals in self._folding.items():
            failed = f", [red]{totals.failed / span:,.0f} failed/s[/]" if totals.failed else ""
            self.console.print(
                f"[dim]{stamp}[/] [bold]{escape(name)}[/] {totals.invocations / span:,.0f} "
                f"invocations/s, {totals.events / span:,.0f} events/s{failed} "
                f"[dim](p50 {totals.percentile(0.5) * 1000:,.1f} ms)[/]"
            )

    def summary(self, elapsed: float) -> None:
        """The table printed on exit."""
        if not self.totals:
            self.note(f"stopped after {elapsed:,.1f}s; nothing was invoked")
            return
        table = Table(title=f"portway run: {elapsed:,.1f}s", title_justify="left")
        for column in ("function", "invocations", "events", "failed", "p50", "p99"):
            table.add_column(column, justify="left" if column == "function" else "right")
        for name, totals in sorted(self.totals.items()):
            table.add_row(
                name,
                f"{totals.invocations:,}",
                f"{totals.events:,}",
                f"{totals.failed:,}",
                f"{totals.percentile(0.5) * 1000:,.1f} ms",
                f"{totals.percentile(0.99) * 1000:,.1f} ms",
            )
        self.console.print(table)
