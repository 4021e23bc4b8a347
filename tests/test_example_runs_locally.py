"""The lake-to-warehouse example runs unchanged on the local provider's harness.

The same test runs on each cloud's emulators (the aws, gcp and azure providers' tests):
a CSV written into ``landing`` comes out cleaned in ``lake``, its report is printed by
``report`` (subscribed to ``loaded``), and ``GET /status`` lists it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from portway.model import Pipeline
from portway.testing.example_run import check_example_runs
from portway.testing.local_harness import LocalHarness

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "lake-to-warehouse"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    """The example's pipeline, imported from its folder as ``pipeline:app`` (the harness
    copies the module into the project ``portway run`` runs in)."""
    sys.modules.pop("pipeline", None)
    monkeypatch.syspath_prepend(str(EXAMPLE))
    import pipeline  # type: ignore[import-not-found]

    try:
        yield pipeline.app
    finally:
        sys.modules.pop("pipeline", None)


def test_the_example_runs_unchanged_on_the_local_provider(example: Pipeline) -> None:
    harness = LocalHarness()
    harness.start("pipeline:app", example)
    try:
        check_example_runs(harness, example)
    finally:
        harness.stop()
