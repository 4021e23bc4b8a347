"""One deployment of the conformance pipeline, shared by every test of a session.

Deploying is slow on a cloud and some behaviours take their time anywhere (a retry
waits for the visibility timeout, a ``rate(1 minute)`` schedule for its minute). So the
suite deploys once, and the tests that wait long *feed* their input as soon as the
deployment is up (:func:`feeds`); their waits then overlap with the other tests.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

from portway.testing.harness import Harness, wait_for

if TYPE_CHECKING:
    import pytest

    from portway.capabilities import Capabilities
    from portway.dataplane import Binding
    from portway.model import Pipeline

T = TypeVar("T")
Feeder = Callable[["ConformanceRun"], Any]
FEED_MARKER = "portway_feed"


def feeds(feeder: Feeder) -> pytest.MarkDecorator:
    """Mark a test whose input ``feeder`` sends as soon as the pipeline is deployed.

    The test reads what the feeder returned with :meth:`ConformanceRun.fed`.
    """
    import pytest

    marker: pytest.MarkDecorator = getattr(pytest.mark, FEED_MARKER)
    return marker.with_args(feeder)


class ConformanceRun:
    """The started harness, and what the tests need around it."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.started_at = 0.0  # time.time() once the deployment answered
        self._fed: dict[Feeder, tuple[Any, BaseException | None]] = {}

    @property
    def provider(self) -> str:
        return self.harness.name

    @property
    def capabilities(self) -> Capabilities:
        return self.harness.capabilities

    def start(self, app: str, pipeline: Pipeline) -> None:
        """Start the harness with ``pipeline`` (``app`` is its ``module:attr``)."""
        self.harness.start(app, pipeline)
        self.started_at = time.time()

    def new_case(self, label: str) -> str:
        """A fresh case id (``delivery-3f2a...``): what a test tags its input with."""
        return f"{label}-{uuid.uuid4().hex[:12]}"

    def connect(self) -> AbstractContextManager[Binding]:
        """Bind the data plane to the deployed pipeline (as ``app.connect``)."""
        return self.harness.connect()

    # -- observations ------------------------------------------------------------------

    def records(self, case: str) -> dict[str, Any]:
        """What the handlers recorded for ``case``: key below ``<case>/`` -> JSON document."""
        from portway.testing.conformance_pipeline import results

        with self.connect():
            return {
                key.removeprefix(f"{case}/"): json.loads(results.read(key))
                for key in results.list(f"{case}/")
            }

    def wait_for(self, probe: Callable[[], T | None], *, within: float, what: str) -> T:
        """Poll ``probe`` until it returns a true value.

        ``within``: the seconds the pipeline itself may take (a visibility timeout, a
        schedule's interval); the harness's :attr:`~Harness.latency` is added.
        """
        __tracebackhide__ = True
        # The harness's diagnostics are added to the failure report by the plugin.
        return wait_for(
            probe,
            timeout=within + self.harness.latency,
            what=f"{what} on provider {self.provider!r}",
            interval=self.harness.poll_interval,
        )

    def wait_for_records(
        self, case: str, keys: Iterable[str], *, within: float = 0.0, what: str
    ) -> dict[str, Any]:
        """Wait until ``case`` has a record at each of ``keys``; return all its records."""
        __tracebackhide__ = True
        wanted = set(keys)

        def probe() -> dict[str, Any] | None:
            found = self.records(case)
            return found if wanted <= set(found) else None

        return self.wait_for(probe, within=within, what=what)

    # -- early input -------------------------------------------------------------------

    def feed(self, feeders: Iterable[Feeder]) -> None:
        """Run each feeder once, now; an error is kept for the test that reads it."""
        for feeder in feeders:
            if feeder in self._fed:
                continue
            try:
                self._fed[feeder] = (feeder(self), None)
            except Exception as error:
                self._fed[feeder] = (None, error)

    def fed(self, feeder: Feeder) -> Any:
        """What ``feeder`` returned (running it now if it has not run); re-raises its error."""
        self.feed([feeder])
        value, error = self._fed[feeder]
        if error is not None:
            raise error
        return value
