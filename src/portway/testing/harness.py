"""The harness contract: what a provider implements so the conformance suite can run on it.

The suite (:mod:`portway.testing.suite`) states the neutral semantics once. It reaches a
provider only through a :class:`Harness`, which deploys (or starts) the conformance
pipeline, binds the data plane to it, sends HTTP requests to it, reads its dead letters
and tears it down. Everything else the tests do goes through the ordinary data plane
(``jobs.send(...)``, ``results.list(...)``), exactly as user code does, so the suite
tests the provider's real clients and its deployed functions together.

A harness is created unstarted (cheap, no I/O). For each test module that imports the
suite, the plugin calls :meth:`Harness.start`, runs the module's tests against that one
deployment, and calls :meth:`Harness.stop` (a harness shared by two modules is started
again after it was stopped).
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from portway.capabilities import Capabilities, Feature
    from portway.dataplane import Binding
    from portway.model import Pipeline

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message the provider gave up on, as the suite reads it.

    ``attempts``: deliveries made before it was dead-lettered. ``reason``: the last
    failure, as portway recorded it (``"RuntimeError: ..."``).
    """

    id: str
    body: bytes
    attributes: Mapping[str, str]
    attempts: int
    reason: str


@dataclass(frozen=True, slots=True)
class HttpReply:
    """What an HTTP route of the deployed pipeline answered. Header names are lower case."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


class Harness(ABC):
    """A provider's way to run the conformance pipeline. Subclass it for a backend.

    Implement :attr:`name`, :attr:`capabilities`, :meth:`start`, :meth:`connect`,
    :meth:`dead_letters`, :meth:`http` and :meth:`stop`. Every method may raise; an
    error in :meth:`start` fails every test with its message, so say what went wrong
    (and include the platform's logs, as :meth:`diagnostics` does).
    """

    #: Seconds an event may take, on top of the pipeline's own waits (visibility
    #: timeouts, schedule intervals), from being sent to being recorded by a handler.
    #: Deadlines only matter when a test fails: a generous value costs nothing.
    latency: float = 30.0
    #: Seconds between two polls of a condition the suite waits for.
    poll_interval: float = 0.1
    #: Features the provider declares but this harness cannot exercise (an emulator
    #: that never fires schedules), each with the reason the skip reports.
    untestable: Mapping[Feature, str] = MappingProxyType({})

    @property
    @abstractmethod
    def name(self) -> str:
        """The provider's name, as skip reasons and failures name it (``"local"``)."""

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities:
        """The provider's declared capabilities; tests needing a feature it lacks skip."""

    @abstractmethod
    def start(self, app: str, pipeline: Pipeline) -> None:
        """Deploy ``pipeline`` and start delivering its events; return once it is ready.

        ``app`` is the pipeline's ``module:attr``, importable in this interpreter (what
        ``portway.toml`` names as ``app``; package it from there). Ready means: every
        resource exists, every function is deployed and receives its events, every
        HTTP route answers, and the schedules are counting from now. Called once
        per test module importing the suite, each time after :meth:`stop`.
        """

    @abstractmethod
    def connect(self) -> AbstractContextManager[Binding]:
        """Bind data-plane calls in the block to the deployed pipeline's resources.

        The same as ``app.connect(stage)`` for the deployed stage: every use is
        allowed (no function is running). May be called many times, also from
        polling loops, so it should be cheap.
        """

    @abstractmethod
    def dead_letters(self, source: str) -> list[DeadLetter]:
        """The dead letters of ``source``, oldest first.

        ``source`` is a queue's name (its dead-letter queue is read) or the name of a
        function consuming a topic or an object trigger (that subscription's). Reading
        does not remove them.
        """

    @abstractmethod
    def http(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> HttpReply:
        """Send one request to the deployed route serving ``method path``.

        ``path`` may carry a query string. The harness adds whatever authentication
        the provider needs for a private route; an error status is returned, not raised.
        """

    @abstractmethod
    def stop(self) -> None:
        """Tear down what :meth:`start` created. Called after every start, even a failed one."""

    def diagnostics(self) -> str:
        """Text to show under a failed test: the runtime's or platform's recent logs."""
        return ""


class WaitTimeout(AssertionError):
    """A condition the suite waited for did not hold before its deadline."""


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    details: Callable[[], str] | None = None,
) -> T:
    """Call ``probe`` until it returns a true value, and return that value.

    Polls every ``interval`` seconds for at most ``timeout`` seconds, then raises
    :class:`WaitTimeout` saying what was awaited, for how long, what ``probe`` last
    returned, and ``details()`` (logs) when given. No test asserts on a sleep: each
    waits for the observable result, with a deadline.
    """
    __tracebackhide__ = True  # pytest shows the test's line, not this loop
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    message = f"waited {timeout:g}s for {what}; last seen: {last!r}"
    extra = details() if details is not None else ""
    if extra:
        message += f"\n{extra}"
    raise WaitTimeout(message)


def tail(text: str, limit: int = 60) -> str:
    """The last ``limit`` lines of ``text`` (for diagnostics)."""
    return "\n".join(text.splitlines()[-limit:])
