"""The pytest plugin of the conformance suite (entry point ``pytest11``: ``portway``).

It adds ``--portway-provider NAME`` and three fixtures:

``portway_harness`` (session)
    The :class:`~portway.testing.harness.Harness` under test. By default the one the
    provider named by ``--portway-provider`` offers
    (:meth:`~portway.providers.Provider.conformance_harness`); a backend's test module
    overrides it with its own session fixture.
``portway_conformance_run`` (module)
    Starts the harness with the conformance pipeline, feeds the slow tests' input,
    and stops it once the module's tests are done. Module-scoped, so two backends'
    conformance modules in one session (a monorepo's providers) each get their own
    harness's deployment, and each is torn down before its harness fixture is.
``conformance`` (function)
    What each suite test takes: skips the test, with the reason, when the provider
    lacks a capability it needs; otherwise the started run.

Loaded in every pytest session where portway is installed, so it imports nothing
heavy at import time and adds no autouse fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from portway.testing.requirements import MARKER as REQUIRES_MARKER
from portway.testing.run import FEED_MARKER

if TYPE_CHECKING:
    from portway.testing.harness import Harness
    from portway.testing.run import ConformanceRun, Feeder


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("portway", "portway conformance suite")
    group.addoption(
        "--portway-provider",
        dest="portway_provider",
        metavar="NAME",
        default=None,
        help="run the portway conformance suite against this installed provider",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{REQUIRES_MARKER}(*requirements): the provider capabilities a conformance test "
        f"needs; the test is skipped, with the reason, on a provider that lacks one",
    )
    config.addinivalue_line(
        "markers",
        f"{FEED_MARKER}(feeder): input a conformance test sends as soon as the pipeline is "
        f"deployed, so its wait overlaps with the other tests",
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    provider = config.getoption("portway_provider", None)
    return f"portway conformance: provider {provider!r}" if provider else None


@pytest.fixture(scope="session")
def portway_harness(request: pytest.FixtureRequest) -> Harness:
    """The harness of the provider named by ``--portway-provider``; override to supply one."""
    from portway.providers import registry

    name = request.config.getoption("portway_provider", None)
    if not name:
        pytest.fail(
            "no provider to test: pass --portway-provider NAME, or define a session "
            "fixture 'portway_harness' returning your harness",
            pytrace=False,
        )
    return registry().provider(name).conformance_harness()


@pytest.fixture(scope="module")
def portway_conformance_run(
    portway_harness: Harness, request: pytest.FixtureRequest
) -> Iterator[ConformanceRun]:
    """The conformance pipeline deployed by the harness, for the tests of one module."""
    from portway.testing.conformance_pipeline import APP, app
    from portway.testing.run import ConformanceRun

    run = ConformanceRun(portway_harness)
    try:
        run.start(APP, app)
        run.feed(_selected_feeders(request, portway_harness))
        yield run
    finally:
        portway_harness.stop()


@pytest.fixture
def conformance(portway_harness: Harness, request: pytest.FixtureRequest) -> ConformanceRun:
    """The deployed conformance pipeline; skips a test the provider cannot run."""
    reasons = _unmet(request.node, portway_harness)
    if reasons:
        pytest.skip("; ".join(reasons))
    run: ConformanceRun = request.getfixturevalue("portway_conformance_run")
    return run


def _unmet(item: pytest.Item, harness: Harness) -> list[str]:
    from portway.testing.requirements import unmet

    needed = [r for marker in item.iter_markers(REQUIRES_MARKER) for r in marker.args]
    return unmet(needed, harness.name, harness.capabilities, harness.untestable)


def _selected_feeders(request: pytest.FixtureRequest, harness: Harness) -> list[Feeder]:
    """The feeders of this module's selected tests that the provider can run."""
    feeders: list[Feeder] = []
    for item in request.session.items:
        if getattr(item, "module", None) is not request.module:
            continue
        if "conformance" not in getattr(item, "fixturenames", ()) or _unmet(item, harness):
            continue
        for marker in item.iter_markers(FEED_MARKER):
            feeders.extend(f for f in marker.args if f not in feeders)
    return feeders


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Add the harness's diagnostics (the runtime's output) to a failed suite test."""
    report = yield
    if report.failed and call.when in ("setup", "call"):
        run = getattr(item, "funcargs", {}).get("conformance")
        harness = getattr(run, "harness", None)
        if harness is not None:
            text = harness.diagnostics()
            if text:
                report.sections.append((f"portway {harness.name} diagnostics", text))
    return report
