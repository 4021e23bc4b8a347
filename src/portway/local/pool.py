"""The runtime's worker processes and the invocations each one holds.

A :class:`Worker` is one spawned process (:mod:`portway.local.worker`) and the queue of
invocations sent to it, in order: the head is running, the others wait in its pipe.
The head's ``timeout`` starts when it becomes the head.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from portway.errors import PortwayError
from portway.events import HttpRequest, HttpResponse
from portway.local.channels import Channel
from portway.local.messages import Delivery
from portway.local.worker import WorkerSpec
from portway.local.worker import main as worker_main
from portway.model import Function

# Invocations a worker holds at once (running + queued in its pipe): 2 keeps a worker
# busy across one round of the loop; when invocations are very short, up to 8 amortise
# the loop's transaction over more results. Queued invocations are given back untouched
# on stop, and their timeout only starts when they start.
PREFETCH = 2
FAST_PREFETCH = 8
FAST_INVOCATION = 0.002
READY_TIMEOUT = 120.0


class RuntimeFailure(PortwayError):
    """The runtime cannot start or had to stop (a worker cannot import the pipeline)."""


@dataclass
class HttpWaiter:
    """Where an HTTP server thread waits for its request's response."""

    done: threading.Event = field(default_factory=threading.Event)
    response: HttpResponse | None = None

    def resolve(self, response: HttpResponse) -> None:
        self.response = response
        self.done.set()


@dataclass
class Invocation:
    """One call of a function: deliveries of a channel, or an HTTP request."""

    number: int
    function: Function
    channel: Channel | None
    deliveries: list[Delivery]
    request: HttpRequest | None = None
    waiter: HttpWaiter | None = None
    started: float = 0.0  # monotonic time it reached the head of its worker's queue
    span: str | None = None  # an HTTP request's own traceparent (deliveries carry theirs)

    def command(self) -> tuple[Any, ...]:
        """What the worker is sent (see :mod:`portway.local.worker`)."""
        if self.request is not None:
            return ("http", self.number, self.function.name, self.request, self.span)
        return ("invoke", self.number, self.function.name, self.deliveries, None)


@dataclass
class Worker:
    process: Any
    pipe: Connection
    ready: bool = False
    inflight: deque[Invocation] = field(default_factory=deque)
    killed_for: str = ""
    gone: bool = False  # died while the runtime was stopping: not replaced

    @property
    def head(self) -> Invocation | None:
        return self.inflight[0] if self.inflight else None

    def overdue(self, now: float) -> bool:
        head = self.head
        return head is not None and now > head.started + head.function.timeout

    def send(self, invocation: Invocation) -> None:
        if self.head is invocation:
            invocation.started = time.monotonic()  # its timeout starts now
        # If the worker died, the runtime's next round sees it and fails the call.
        with contextlib.suppress(OSError, ValueError):
            self.pipe.send(invocation.command())

    def finish_head(self) -> Invocation:
        """The head answered: remove it; the next one starts its timeout now."""
        invocation = self.inflight.popleft()
        if self.inflight:
            self.inflight[0].started = time.monotonic()
        return invocation

    def death_reason(self) -> str:
        code = self.process.exitcode
        if code is not None and code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
            if code == -signal.SIGKILL:
                how += ", perhaps out of memory"
        else:
            how = f"exit code {code}"
        head = self.head
        running = f" while running {head.function.name!r}" if head is not None else ""
        return f"WorkerDied: the worker process died ({how}){running}"


class WorkerPool:
    """Spawns workers (the ``spawn`` method: fresh interpreters) and hands out slots."""

    def __init__(self, spec: WorkerSpec, count: int) -> None:
        self.spec = spec
        self.count = count
        self.context = multiprocessing.get_context("spawn")
        self.stopping = self.context.Event()  # seen by workers before each invocation
        self.workers: list[Worker] = []

    def spawn(self) -> Worker:
        parent, child = self.context.Pipe(duplex=True)
        process = self.context.Process(
            target=worker_main,
            args=(self.spec, child, self.stopping),
            name="portway-worker",
            daemon=True,
        )
        process.start()
        child.close()
        return Worker(process, parent)

    def start(self) -> None:
        """Spawn every worker and wait until each has imported the pipeline."""
        self.workers = [self.spawn() for _ in range(self.count)]
        deadline = time.monotonic() + READY_TIMEOUT
        while not all(w.ready for w in self.workers):
            if time.monotonic() > deadline:
                raise RuntimeFailure(f"the workers did not start within {READY_TIMEOUT:.0f}s")
            wait([w.pipe for w in self.workers if not w.ready], timeout=0.1)
            for worker in self.workers:
                if worker.ready:
                    continue
                if worker.pipe.poll():
                    self.on_startup_message(worker, worker.pipe.recv())
                elif not worker.process.is_alive():
                    raise RuntimeFailure(
                        f"a worker exited while importing the pipeline "
                        f"(exit code {worker.process.exitcode})"
                    )

    @staticmethod
    def on_startup_message(worker: Worker, message: tuple[Any, ...]) -> bool:
        """Handle ``ready``/``fatal``; return False for any other message."""
        if message[0] == "ready":
            worker.ready = True
            return True
        if message[0] == "fatal":
            raise RuntimeFailure(f"a worker cannot load the pipeline: {message[1]}")
        return False

    def live(self) -> list[Worker]:
        return [w for w in self.workers if not w.gone]

    def free_slots(self, mean_seconds: float) -> list[Worker]:
        """One entry per invocation that can be sent now, spread over the workers."""
        depth = FAST_PREFETCH if mean_seconds < FAST_INVOCATION else PREFETCH
        live = [w for w in self.live() if w.ready and w.process.is_alive()]
        # Level by level (A, B, A, B...), so that a few messages spread over the workers
        # and a CPU-bound handler uses every core.
        return [w for level in range(depth) for w in live if len(w.inflight) <= level]

    def sources(self) -> list[Any]:
        """What the runtime's loop waits on: every pipe and every process sentinel."""
        sources: list[Any] = []
        for worker in self.live():
            sources.append(worker.pipe)
            sources.append(worker.process.sentinel)
        return sources

    def shutdown(self) -> None:
        for worker in self.workers:
            try:
                worker.pipe.send(("stop",))
            except (OSError, ValueError):
                continue
        for worker in self.workers:
            worker.process.join(timeout=2)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
