"""``portway run``: the runtime that delivers a local stage's events to worker processes.

One process (this module) owns the delivery bookkeeping; a pool of worker processes
(:mod:`portway.local.worker`) runs the handlers. The runtime's loop, single-threaded:

1. collect the workers' results, notice dead workers and invocations past their
   ``timeout`` (their worker is killed: the attempt fails with the reason);
2. in **one** transaction: acknowledge what succeeded, record what failed (retried after
   the visibility timeout, or dead-lettered), fire due schedule ticks, and claim the
   next batches for every free worker slot;
3. send the claimed batches to the workers.

Grouping every acknowledgement and claim of a round into one commit is what lets the
runtime keep up with a plain SQLite loop. Each worker holds at most
:data:`PREFETCH` invocations, so it never waits for the loop between two. Work from
other processes (``portway send``, a handler's ``jobs.send()``) is noticed through
SQLite's ``data_version`` within a millisecond or so, with no write.

Tracing: every delivery leaves one span (:mod:`portway.local.traces`), written in the
round's transaction with its acknowledgement or failure, so tracing adds rows, not
commits. Both sides know each delivery's span id (``Delivery.span_id``); the worker
runs the handler under it and reports when it started.

Stopping (Ctrl-C, SIGTERM, ``--for``, ``--until-idle``): no new claims; invocations not
yet started are given back untouched; running ones get ``grace`` seconds to finish;
after that their workers are stopped and their messages made visible again, the
attempt counted. A second Ctrl-C stops at once the same way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any

from portway import tracing
from portway.errors import ConfigError
from portway.events import HttpRequest, HttpResponse
from portway.local import messages, objects, traces
from portway.local.channels import Channel, channels_of
from portway.local.claims import Claims
from portway.local.database import StageLayout, connect, sync_mode, transaction
from portway.local.dataplane import LocalDataPlane
from portway.local.http_server import LocalHttpServer, json_response, routes_of
from portway.local.messages import Delivery
from portway.local.output import LiveOutput, Record
from portway.local.pool import HttpWaiter, Invocation, Worker, WorkerPool
from portway.local.scheduler import Scheduler
from portway.local.worker import WorkerSpec
from portway.model import Function, Pipeline

if TYPE_CHECKING:
    import sqlite3

    from portway.config import ProjectConfig, StageConfig
    from portway.ui.server import Dashboard

DEFAULT_PORT = 8000
DEFAULT_GRACE = 10.0
BUSY_POLL = 0.001
IDLE_POLL = 0.005
# After this long without any work, the loop polls for new work less often.
IDLE_AFTER = 2.0
IDLE_CHECK_EVERY = 0.1

_TRIGGER_LABELS = {"queue": "message", "topic": "message", "bucket": "object", "schedule": "tick"}


@dataclass(frozen=True, slots=True)
class _Failed:
    """A delivery whose attempt failed, and its span's timing (outcome not known yet)."""

    delivery: Delivery
    reason: str
    channel: Channel
    function: str
    started: float
    duration: float


@dataclass(slots=True)
class _Round:
    """What one round of the loop collected from the workers, for its transaction."""

    acks: list[Delivery] = field(default_factory=list)
    failures: list[_Failed] = field(default_factory=list)
    releases: list[Delivery] = field(default_factory=list)
    spans: list[traces.SpanRow] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.acks or self.failures or self.releases)


def _wall_clock(monotonic: float) -> float:
    """The unix time of a ``time.monotonic()`` reading."""
    return time.time() - (time.monotonic() - monotonic)


def _subject(delivery: Delivery, channel: Channel) -> str:
    if channel.kind == "bucket":
        return traces.object_subject(delivery)
    if channel.kind == "schedule":
        return channel.source
    return delivery.id


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How ``portway run`` was asked to run."""

    workers: int = 0  # 0: one per core
    port: int | None = None  # None: the stage's setting, else 8000
    duration: float | None = None
    until_idle: bool = False
    grace: float = DEFAULT_GRACE
    limit_memory: bool = True
    dashboard: bool = False  # serve the live dashboard under /_portway/ (run --ui)


@dataclass
class RunSummary:
    elapsed: float
    invocations: int
    failed: int
    recovered_writes: int
    released_messages: int
    port: int | None


class Runtime:
    """Runs ``pipeline`` on a local ``stage`` until asked to stop."""

    def __init__(
        self,
        project: ProjectConfig,
        stage: StageConfig,
        pipeline: Pipeline,
        layout: StageLayout,
        options: RunOptions,
        output: LiveOutput,
        *,
        max_message_bytes: int,
    ) -> None:
        self.project = project
        self.stage = stage
        self.pipeline = pipeline
        self.layout = layout
        self.options = options
        self.output = output
        self.sync = sync_mode(dict(stage.settings))
        self.channels = channels_of(pipeline)
        self.functions = dict(pipeline.functions)
        self.scheduler = Scheduler.of(list(self.functions.values()))
        self.routes = routes_of(list(self.functions.values()))
        self.dataplane = LocalDataPlane(
            pipeline, layout, max_message_bytes=max_message_bytes, sync=self.sync
        )
        spec = WorkerSpec(
            root=str(project.root),
            app=project.app,
            stage=stage.name,
            settings=dict(stage.settings),
            max_message_bytes=max_message_bytes,
            limit_memory=options.limit_memory,
        )
        self.pool = WorkerPool(spec, self._worker_count())
        self.claims = Claims(self.channels, self.functions)
        self.spans = traces.SpanRecorder()
        self._http: deque[tuple[Function, HttpRequest, HttpWaiter]] = deque()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._stop_requested = 0
        self._stopping_since: float | None = None
        self._last_work = time.monotonic()
        self._invocations = 0
        self._failed = 0
        self._mean_seconds = 1.0  # moving average of invocation durations
        self._server: LocalHttpServer | None = None
        self._dashboard: Dashboard | None = None
        self._lock_file: Any = None

    # -- public --------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the loop to stop (thread- and signal-safe). A second call forces it."""
        self._stop_requested += 1
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_write, b"x")

    def run(self) -> RunSummary:
        """Run until stopped; return what happened. Raises :class:`PortwayError`."""
        started = time.monotonic()
        self._take_lock()
        try:
            connection = connect(self.layout, self.sync)
            released, finished = self._recover(connection)
            with transaction(connection):
                fired = self.scheduler.start(connection, time.time())
            for name in fired:
                self.output.note(f"{name}: a schedule tick was missed while stopped; fired once")
            self.pool.start()
            port = self._start_http()
            self._write_info(port)
            self.output.start()
            self._announce(port)
            with self._signals():
                self._loop(connection)
            with transaction(connection):
                self.spans.flush(connection)
            connection.close()
        finally:
            self._shutdown()
        elapsed = time.monotonic() - started
        self.output.stop()
        self.output.summary(elapsed)
        return RunSummary(
            elapsed, self._invocations, self._failed, finished, released, self._port()
        )

    # -- start and stop ----------------------------------------------------------------

    def _take_lock(self) -> None:
        import fcntl

        self.layout.create()
        handle = open(self.layout.lock, "a+")  # noqa: SIM115 (held for the whole run)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigError(
                f"stage {self.stage.name!r} is already running (pid {holder}) in "
                f"{self.layout.root}; stop it first, or run another stage"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle

    def _recover(self, connection: sqlite3.Connection) -> tuple[int, int]:
        """Give back messages a previous run held; finish object writes cut short."""
        with transaction(connection):
            released = messages.release_orphans(connection, time.time())
        finished, undone = objects.recover(connection, self.layout, self.dataplane._object_channels)
        if released:
            self.output.note(
                f"{released} message(s) in flight when the last run stopped are delivered again"
            )
        if finished or undone:
            self.output.note(
                f"finished {finished} object write(s) cut short by a crash; "
                f"discarded {undone} incomplete one(s)"
            )
        return released, finished

    def _worker_count(self) -> int:
        configured = self.options.workers or self.stage.settings.get("workers") or 0
        return int(configured) if configured else max(1, os.cpu_count() or 1)

    def _start_http(self) -> int | None:
        if not self.routes and not self.options.dashboard:
            return None
        port = self.options.port
        if port is None:
            port = self.stage.settings.get("port")
        if port is not None:
            self._server = LocalHttpServer(self.routes, self._submit_http, int(port))
        else:
            # No port asked for: the default, or any free one if something else has it.
            try:
                self._server = LocalHttpServer(self.routes, self._submit_http, DEFAULT_PORT)
            except ConfigError:
                self._server = LocalHttpServer(self.routes, self._submit_http, 0)
                self.output.note(
                    f"port {DEFAULT_PORT} is taken; serving HTTP on port {self._server.port} "
                    f"(pass --port N to choose)"
                )
        if self.options.dashboard:
            from portway.ui.server import mount_dashboard

            self._dashboard = mount_dashboard(self._server, self.pipeline, self.layout, self.output)
        self._server.start()
        return self._server.port

    def _port(self) -> int | None:
        return self._server.port if self._server else None

    def _write_info(self, port: int | None) -> None:
        info = {"pid": os.getpid(), "port": port, "stage": self.stage.name}
        temporary = self.layout.runtime_info.with_suffix(".tmp")
        temporary.write_text(json.dumps(info), encoding="utf-8")
        os.replace(temporary, self.layout.runtime_info)

    def _announce(self, port: int | None) -> None:
        count = len(self.pool.workers)
        parts = [f"running {self.pipeline.name!r} on stage {self.stage.name!r}", f"{count} workers"]
        if port is not None:
            parts.append(f"http://127.0.0.1:{port}")
        parts.append(f"state in {self.layout.root}")
        self.output.note("; ".join(parts))
        if self._dashboard is not None:
            self.output.note(f"dashboard: {self._dashboard.url}")

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: object) -> None:
            self.request_stop()

        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for number, old in previous.items():
                signal.signal(number, old)

    def _shutdown(self) -> None:
        if self._dashboard is not None:
            self._dashboard.stop()
        if self._server is not None:
            self._server.stop()
        self.pool.shutdown()
        for waiter in self._http:
            waiter[2].resolve(json_response(503, {"error": "the runtime is stopping"}))
        self.dataplane.close()
        with contextlib.suppress(FileNotFoundError):
            self.layout.runtime_info.unlink()
        if self._lock_file is not None:
            self._lock_file.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    # -- the loop ----------------------------------------------------------------------

    def _loop(self, connection: sqlite3.Connection) -> None:
        end = (time.monotonic() + self.options.duration) if self.options.duration else math.inf
        next_idle_check = time.monotonic() + IDLE_CHECK_EVERY
        while True:
            now_mono = time.monotonic()
            if now_mono >= end and not self._stop_requested:
                self.request_stop()
            if self._stop_requested and self._stopping_since is None:
                self._begin_stop()
            if self._stopping_since is not None:
                busy = any(w.inflight for w in self.pool.workers)
                if not busy:
                    return
                if self._stop_requested > 1 or now_mono > self._stopping_since + self.options.grace:
                    self._interrupt_all(connection)
                    return
            if self.options.until_idle and now_mono >= next_idle_check:
                next_idle_check = now_mono + IDLE_CHECK_EVERY
                if self._idle(connection):
                    self.output.note("nothing left to deliver: stopping (--until-idle)")
                    self.request_stop()
                    continue
            self._step(connection, self._wait(end))

    def _wait(self, end: float) -> list[Any]:
        now = time.monotonic()
        poll = BUSY_POLL if now - self._last_work < IDLE_AFTER else IDLE_POLL
        timeout = min(poll, max(0.0, end - now))
        deadlines = [
            w.inflight[0].started + w.inflight[0].function.timeout - now
            for w in self.pool.live()
            if w.inflight
        ]
        if deadlines:
            timeout = max(0.0, min(timeout, *deadlines))
        ready = wait([self._wake_read, *self.pool.sources()], timeout=timeout)
        if self._wake_read in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_read, 512)
        return ready

    def _step(self, connection: sqlite3.Connection, ready: list[Any]) -> None:
        results = _Round()
        signalled = set(map(id, ready))
        for worker in self.pool.workers:
            if worker.gone or id(worker.pipe) not in signalled:
                continue
            # Drain every answer already in the pipe: each poll() is a system call,
            # so only pipes that wait() reported are asked.
            with contextlib.suppress(EOFError, OSError):
                self._on_message(worker, worker.pipe.recv(), results)
                while worker.pipe.poll():
                    self._on_message(worker, worker.pipe.recv(), results)
        replaced = self._replace_dead_workers(results)
        claims = self._claims_wanted(connection)
        schedules_due = (self.scheduler.next_due() or math.inf) <= time.time()
        self.spans.add(results.spans)
        if not (results or replaced or claims or schedules_due or self.spans.due()):
            self._assign_http()
            return
        now = time.time()
        sent: list[tuple[Worker, Invocation]] = []
        with transaction(connection):
            if results.acks:
                messages.acknowledge(connection, results.acks)
            for failed in results.failures:
                channel = failed.channel
                dead = messages.fail(
                    connection,
                    failed.delivery,
                    failed.reason,
                    max_attempts=channel.max_attempts,
                    now=now,
                )
                self.spans.add(
                    [
                        traces.delivery_span(
                            failed.delivery,
                            failed.function,
                            channel.kind,
                            _subject(failed.delivery, channel),
                            failed.started,
                            failed.duration,
                            "dead-lettered" if dead else "failed",
                            failed.reason,
                        )
                    ]
                )
            if results.releases:
                messages.release(connection, results.releases, now)
            if self.spans.due():
                self.spans.flush(connection)
            if schedules_due:
                self.scheduler.fire_due(connection, now)
                self.claims.wake_all()
            self._assign_http()
            if self._stopping_since is None and claims:
                slots = self.pool.free_slots(self._mean_seconds)
                sent = self.claims.claim(connection, now, slots)
        if replaced:
            objects.recover(connection, self.layout, self.dataplane._object_channels)
        for worker, invocation in sent:
            worker.send(invocation)
        if results.acks or results.failures or sent:
            self._last_work = time.monotonic()

    def _claims_wanted(self, connection: sqlite3.Connection) -> bool:
        if self._stopping_since is not None:
            return False
        if not self.claims.wanted(connection, time.time()):
            return False
        return bool(self.pool.free_slots(self._mean_seconds))

    def _replace_dead_workers(self, results: _Round) -> bool:
        """Stop workers past their timeout; fail what dead ones held; start new ones."""
        now_mono = time.monotonic()
        replaced = False
        for index, worker in enumerate(self.pool.workers):
            if worker.gone:
                continue
            head = worker.head
            if head is not None and worker.overdue(now_mono) and worker.process.is_alive():
                worker.killed_for = (
                    f"TimeoutError: function {head.function.name!r} ran longer than its "
                    f"timeout of {head.function.timeout}s; its worker was stopped"
                )
                worker.process.kill()
            if worker.process.is_alive():
                continue
            worker.process.join()
            reason = worker.killed_for or worker.death_reason()
            self._fail_inflight(worker, reason, results)
            self.output.note(f"worker {worker.process.pid}: {reason}; starting a new one")
            if self._stopping_since is None:
                self.pool.workers[index] = self.pool.spawn()
            else:
                worker.gone = True
            replaced = True
        return replaced

    # -- results -----------------------------------------------------------------------

    def _on_message(
        self,
        worker: Worker,
        message: tuple[Any, ...],
        results: _Round | None = None,
    ) -> None:
        if self.pool.on_startup_message(worker, message):
            return
        kind = message[0]
        assert results is not None
        invocation = worker.finish_head()
        if kind == "skipped":
            results.releases.extend(invocation.deliveries)
            if invocation.waiter is not None:
                invocation.waiter.resolve(json_response(503, {"error": "the runtime is stopping"}))
            return
        _, number, seconds, result, began = message
        assert number == invocation.number, "a worker answered out of order"
        self._invocations += 1
        self._mean_seconds += (seconds - self._mean_seconds) * 0.05
        if invocation.waiter is not None:
            response: HttpResponse = result
            invocation.waiter.resolve(response)
            failed = 1 if response.status >= 500 else 0
            self._failed += failed
            outcome = "failed" if failed else "ok"
            results.spans.append(self._http_span(invocation, began, seconds, outcome))
            label = (
                f"{invocation.request.method if invocation.request else ''} -> {response.status}"
            )
            self.output.record(Record(invocation.function.name, label, 1, seconds, failed))
            return
        channel = invocation.channel
        assert channel is not None
        name = invocation.function.name
        kind = channel.kind
        if not result:
            # The common case, kept lean: every delivery succeeded (one span each).
            # Delivery's trace_id/span_id/parent_span_id, inlined: this runs per message.
            deliveries = invocation.deliveries
            results.acks.extend(deliveries)
            by_id = kind == "queue" or kind == "topic"
            spans = results.spans
            for d in deliveries:
                sent = d.traceparent
                spans.append(
                    (
                        sent[3:35] if sent else messages.untraced_trace_id(d.id),
                        f"{d.lease[:8]}{d.seq & 0xFFFFFFFF:08x}",
                        sent[36:52] if sent else None,
                        name,
                        kind,
                        d.id if by_id else _subject(d, channel),
                        began,
                        seconds,
                        "ok",
                        None,
                    )
                )
        reasons = dict(result)
        for delivery in invocation.deliveries if reasons else ():
            if delivery.seq in reasons:
                results.failures.append(
                    _Failed(delivery, reasons[delivery.seq], channel, name, began, seconds)
                )
            else:
                results.acks.append(delivery)
                subject = _subject(delivery, channel)
                results.spans.append(
                    traces.delivery_span(delivery, name, kind, subject, began, seconds, "ok")
                )
        self._failed += 1 if reasons else 0
        first_reason = next(iter(reasons.values()), "")
        self.output.record(
            Record(
                invocation.function.name,
                _TRIGGER_LABELS[channel.kind],
                len(invocation.deliveries),
                seconds,
                len(reasons),
                first_reason,
            )
        )

    def _fail_inflight(
        self,
        worker: Worker,
        reason: str,
        results: _Round,
    ) -> None:
        """The worker is gone: its running invocation failed, the queued ones never ran."""
        for position, invocation in enumerate(worker.inflight):
            if position == 0:
                self._invocations += 1
                self._failed += 1
                self.output.record(Record(invocation.function.name, "worker", 1, 0.0, 1, reason))
                began = _wall_clock(invocation.started)
                seconds = max(0.0, time.monotonic() - invocation.started)
                channel = invocation.channel
                if channel is not None:
                    name = invocation.function.name
                    results.failures.extend(
                        _Failed(d, reason, channel, name, began, seconds)
                        for d in invocation.deliveries
                    )
                if invocation.waiter is not None:
                    status = 504 if reason.startswith("TimeoutError") else 502
                    invocation.waiter.resolve(json_response(status, {"error": reason}))
                    results.spans.append(
                        self._http_span(invocation, began, seconds, "failed", reason)
                    )
            else:
                results.releases.extend(invocation.deliveries)
                if invocation.waiter is not None:
                    self._http.appendleft(
                        (invocation.function, invocation.request, invocation.waiter)  # type: ignore[arg-type]
                    )
        worker.inflight.clear()

    def _interrupt_all(self, connection: sqlite3.Connection) -> None:
        """The grace period is over: stop the workers still running handlers."""
        now = time.time()
        with transaction(connection):
            for worker in self.pool.workers:
                if not worker.inflight:
                    continue
                worker.process.kill()
                head, *queued = worker.inflight
                reason = (
                    f"Interrupted: the runtime stopped while {head.function.name!r} was "
                    f"running (after a {self.options.grace:g}s grace period)"
                )
                messages.interrupt(connection, head.deliveries, reason, now)
                began = _wall_clock(head.started)
                seconds = max(0.0, time.monotonic() - head.started)
                if head.channel is not None:
                    kind = head.channel.kind
                    self.spans.record(
                        connection,
                        [
                            traces.delivery_span(
                                d,
                                head.function.name,
                                kind,
                                _subject(d, head.channel),
                                began,
                                seconds,
                                "interrupted",
                                reason,
                            )
                            for d in head.deliveries
                        ],
                    )
                if head.waiter is not None:
                    self.spans.record(
                        connection,
                        [self._http_span(head, began, seconds, "interrupted", reason)],
                    )
                for invocation in queued:
                    messages.release(connection, invocation.deliveries, now)
                if head.waiter is not None:
                    head.waiter.resolve(json_response(503, {"error": reason}))
                self.output.note(reason)
                worker.inflight.clear()

    # -- claims ------------------------------------------------------------------------

    def _begin_stop(self) -> None:
        self._stopping_since = time.monotonic()
        self.pool.stopping.set()
        running = sum(1 for w in self.pool.workers if w.inflight)
        if running:
            self.output.note(
                f"stopping: waiting up to {self.options.grace:g}s for {running} running "
                f"invocation(s) (Ctrl-C again to stop at once)"
            )
        else:
            self.output.note("stopping")

    # -- http --------------------------------------------------------------------------

    def _submit_http(self, function: Function, request: HttpRequest) -> HttpResponse:
        """Called from the HTTP server's threads: queue the request, wait for the answer."""
        if self._stopping_since is not None:
            return json_response(503, {"error": "the runtime is stopping"})
        waiter = HttpWaiter()
        self._http.append((function, request, waiter))
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_write, b"h")
        if not waiter.done.wait(timeout=function.timeout + 5.0):
            return json_response(504, {"error": f"{function.name} did not answer in time"})
        assert waiter.response is not None
        return waiter.response

    def _assign_http(self) -> None:
        while self._http and self._stopping_since is None:
            slots = self.pool.free_slots(self._mean_seconds)
            if not slots:
                return
            function, request, waiter = self._http.popleft()
            worker = slots[0]
            # A caller's traceparent header makes the request a hop of the caller's trace.
            sent_with = tracing.valid_traceparent(request.headers.get("traceparent"))
            if sent_with is not None:
                request = dataclasses.replace(request, traceparent=sent_with)
            invocation = Invocation(
                self.claims.next_number(),
                function,
                None,
                [],
                request=request,
                waiter=waiter,
                span=tracing.child_traceparent(sent_with),
            )
            worker.inflight.append(invocation)
            worker.send(invocation)
            self._last_work = time.monotonic()

    @staticmethod
    def _http_span(
        invocation: Invocation,
        began: float,
        seconds: float,
        outcome: str,
        reason: str | None = None,
    ) -> traces.SpanRow:
        span = invocation.span or tracing.child_traceparent(None)
        request = invocation.request
        parent = request.traceparent if request is not None else None
        subject = f"{request.method} {request.path}" if request is not None else ""
        return (
            span[3:35],
            span[36:52],
            parent[36:52] if parent else None,
            invocation.function.name,
            "http",
            subject,
            began,
            seconds,
            outcome,
            reason,
        )

    # -- idle --------------------------------------------------------------------------

    def _idle(self, connection: sqlite3.Connection) -> bool:
        if any(w.inflight for w in self.pool.workers) or self._http:
            return False
        names = list(self.channels)
        if names:
            marks = ",".join("?" * len(names))
            row = connection.execute(
                f"SELECT count(*) FROM messages WHERE channel IN ({marks})", names
            ).fetchone()
            if row[0]:
                return False
        pending = connection.execute("SELECT count(*) FROM pending_writes").fetchone()[0]
        return not pending
