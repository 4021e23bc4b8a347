"""A worker process of ``portway run``: imports the pipeline, runs invocations it is sent.

Started by the runtime with the ``spawn`` method (a fresh interpreter, as a cloud
function instance is), it talks to the runtime over one pipe:

runtime -> worker
    ``("invoke", number, function, deliveries, None)`` or ``("http", number, function,
    request, span)`` (``span``: the request's own ``traceparent``; a delivery carries
    its own); ``("stop",)``.
worker -> runtime
    ``("ready", pid)`` once the pipeline is imported, or ``("fatal", reason)``;
    ``("done", number, seconds, result, started)`` after each invocation (``result``:
    the failures, or the HTTP response; ``started``: when it began, unix seconds);
    ``("skipped", number)`` for an invocation not started because the runtime is
    stopping.

The runtime alone touches the delivery bookkeeping (claims, acknowledgements); a worker
only runs handlers, whose data-plane calls go straight to the stage's state. A worker
dies with its runtime (``PR_SET_PDEATHSIG`` on Linux, and the pipe's end otherwise).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as StopFlag
from pathlib import Path
from typing import Any

MEBIBYTE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What a worker needs to rebuild the runtime's view (picklable)."""

    root: str
    app: str
    stage: str
    settings: dict[str, Any]
    max_message_bytes: int
    limit_memory: bool = True


def main(spec: WorkerSpec, pipe: Connection, stopping: StopFlag) -> None:
    """Entry point of a worker process."""
    die_with_parent()
    # Ctrl-C reaches the whole process group; the runtime decides what stops when.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    try:
        functions, dataplane, wrapper = _load(spec)
    except BaseException as error:  # report anything, even SystemExit from user code
        from portway.invocation import describe

        pipe.send(("fatal", describe(error)))
        return
    pipe.send(("ready", os.getpid()))
    memory = _MemoryLimit() if spec.limit_memory else None
    from portway.local.invoke import run_deliveries, run_request

    while True:
        try:
            command = pipe.recv()
        except (EOFError, OSError):
            return  # the runtime is gone
        if command[0] == "stop":
            return
        kind, number, name, payload, span = command
        if stopping.is_set():
            pipe.send(("skipped", number))
            continue
        function = functions[name]
        began = time.time()
        started = time.perf_counter()
        if memory is not None:
            memory.limit(function.memory)
        try:
            with _environment(function.environment):
                if kind == "http":
                    result: Any = run_request(function, payload, dataplane, wrapper, span)
                else:
                    result = run_deliveries(function, payload, dataplane, wrapper)
        finally:
            if memory is not None:
                memory.lift()
        elapsed = time.perf_counter() - started
        pipe.send(("done", number, elapsed, result, began))


def _load(spec: WorkerSpec) -> tuple[dict[str, Any], Any, Any]:
    from portway.config import StageConfig
    from portway.loading import load_pipeline
    from portway.local.invoke import plugin_wrapper
    from portway.local.provider import LocalProvider
    from portway.providers import registry

    root = Path(spec.root)
    os.chdir(root)
    pipeline = load_pipeline(spec.app, root)
    stage = StageConfig(spec.stage, "local", spec.settings, root=root)
    provider = registry().provider("local")
    assert isinstance(provider, LocalProvider)
    dataplane = provider.connect(pipeline, stage)
    return dict(pipeline.functions), dataplane, plugin_wrapper()


@contextlib.contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    """The function's declared ``environment``, set for the invocation only.

    A worker runs every function of the pipeline, so each invocation sees its own
    variables, as a cloud function instance would, and none of another function's.
    """
    if not variables:
        yield
        return
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the runtime dies, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the runtime died before prctl took effect
        os._exit(1)


class _MemoryLimit:
    """Caps how much the address space may grow during one invocation (``memory``).

    A handler that allocates past its declared ``memory`` gets ``MemoryError`` (a
    failed attempt), instead of the machine swapping or the kernel killing the
    process. The cap is relative to the worker's size when the invocation starts, so
    memory the worker already holds does not count against the function.
    """

    def __init__(self) -> None:
        try:
            import resource

            self._resource: Any = resource
            self._soft, self._hard = resource.getrlimit(resource.RLIMIT_AS)
            self._page = os.sysconf("SC_PAGE_SIZE")
            self._statm: int | None = os.open("/proc/self/statm", os.O_RDONLY)
        except (ImportError, OSError, ValueError, AttributeError):
            self._resource = None
            self._statm = None

    def _address_space(self) -> int:
        assert self._statm is not None
        text = os.pread(self._statm, 64, 0)
        return int(text.split()[0]) * self._page

    def limit(self, mebibytes: int) -> None:
        if self._resource is None or self._statm is None:
            return
        cap = self._address_space() + mebibytes * MEBIBYTE
        if self._hard != self._resource.RLIM_INFINITY:
            cap = min(cap, self._hard)
        with contextlib.suppress(ValueError, OSError):
            self._resource.setrlimit(self._resource.RLIMIT_AS, (cap, self._hard))

    def lift(self) -> None:
        if self._resource is None:
            return
        with contextlib.suppress(ValueError, OSError):
            self._resource.setrlimit(self._resource.RLIMIT_AS, (self._soft, self._hard))
