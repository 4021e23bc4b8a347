"""W3C trace context: which invocation caused which, across queues, topics and buckets.

Every event portway delivers carries a ``traceparent`` (the W3C Trace Context header,
version ``00``: ``00-<trace id, 32 hex>-<parent id, 16 hex>-<flags, 2 hex>``), which is
also the CloudEvents distributed-tracing extension attribute of the same name.

The rules, the same as a messaging system instrumented with OpenTelemetry:

* each invocation of a function runs under its own *span*: a child of the context the
  event carried (same trace id, a new span id), or a new root when it carried none;
* what a handler sends, publishes or writes carries the invocation's context (its
  trace id, and its span id as the parent id), so the invocation that consumes it is
  the next hop of the same trace;
* outside any invocation (``portway send``/``put``, a script under ``app.connect``),
  each message or object write starts a new trace.

:func:`current` is the context of the running invocation (``None`` outside one); a
runtime sets it with :func:`activate`. This module does no I/O and imports nothing
beyond the standard library: handler shims import it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["TraceContext", "activate", "current", "new_span_id", "parse_traceparent"]

_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_SAMPLED = 0x01

# Trace and span ids need to be unique, not secret: a generator seeded from os.urandom
# (as Random() is) and getrandbits are several times faster than os.urandom + hex per id.
# Worker processes are spawned, not forked, so each seeds its own.
_random = random.Random()


def new_trace_id() -> str:
    while True:
        value = _random.getrandbits(128)
        if value:
            return f"{value:032x}"


def new_span_id() -> str:
    while True:
        value = _random.getrandbits(64)
        if value:
            return f"{value:016x}"


@dataclass(frozen=True, slots=True)
class TraceContext:
    """One span's place in a trace: its trace id, its own span id, the sampled flag."""

    trace_id: str
    span_id: str
    sampled: bool = True

    @property
    def traceparent(self) -> str:
        """This context as a ``traceparent`` value (what a message it sends carries)."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    @classmethod
    def new_root(cls) -> TraceContext:
        """The first span of a new trace."""
        return cls(new_trace_id(), new_span_id())

    def child(self) -> TraceContext:
        """A new span of the same trace (its parent is this one)."""
        return TraceContext(self.trace_id, new_span_id(), self.sampled)


def parse_traceparent(text: object) -> TraceContext | None:
    """Read a W3C ``traceparent`` (version 00); ``None`` if it is not a valid one.

    All-zero trace or parent ids are invalid, as the W3C specification says. Upper-case
    hex is refused (the specification requires lower case).
    """
    if not isinstance(text, str):
        return None
    match = _TRACEPARENT.fullmatch(text.strip())
    if match is None:
        return None
    trace_id, span_id, flags = match.groups()
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return TraceContext(trace_id, span_id, bool(int(flags, 16) & _SAMPLED))


def valid_traceparent(text: object) -> str | None:
    """``text`` normalised if it is a valid ``traceparent``, else ``None``."""
    context = parse_traceparent(text)
    return None if context is None else context.traceparent


def root_traceparent() -> str:
    """The ``traceparent`` of the first span of a new trace (what a script's send carries)."""
    return f"00-{new_trace_id()}-{new_span_id()}-01"


def child_traceparent(parent: str | None) -> str:
    """The ``traceparent`` of a new span under ``parent`` (a valid value), or a new root.

    ``parent`` must come from :func:`valid_traceparent` or :attr:`TraceContext.traceparent`
    (the store only keeps such values): it is sliced, not parsed, because the runtime
    does this for every delivery.
    """
    if parent is None:
        return root_traceparent()
    return f"{parent[:36]}{new_span_id()}{parent[52:]}"


_current: ContextVar[TraceContext | None] = ContextVar("portway_trace", default=None)


def current() -> TraceContext | None:
    """The context of the running invocation; ``None`` outside one."""
    return _current.get()


@contextmanager
def activate(context: TraceContext | None) -> Iterator[TraceContext | None]:
    """Run the block under ``context`` (what it sends, publishes or writes carries it)."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
