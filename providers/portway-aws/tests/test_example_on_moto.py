"""The lake-to-warehouse example runs unchanged on moto, deployed and played by the harness.

The same test runs on the local provider and on the other clouds' emulators: a CSV
written into ``landing`` comes out cleaned in ``lake``, its report is logged by
``report`` (subscribed to ``loaded``), and ``GET /status`` lists it. The example's
``rate(15 minutes)`` schedule is deployed and played, but not awaited.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from portway_aws.testing.harness import AwsMotoHarness

from portway.model import Pipeline
from portway.testing.example_run import check_example_runs

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "lake-to-warehouse"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    """The example's pipeline, imported from its folder as ``pipeline:app``."""
    sys.modules.pop("pipeline", None)
    monkeypatch.syspath_prepend(str(EXAMPLE))
    import pipeline  # type: ignore[import-not-found]

    try:
        yield pipeline.app
    finally:
        sys.modules.pop("pipeline", None)


def test_the_example_runs_unchanged_on_moto(moto_endpoint: str, example: Pipeline) -> None:
    harness = AwsMotoHarness(endpoint=moto_endpoint)
    harness.start("pipeline:app", example)
    try:
        check_example_runs(harness, example)
    finally:
        harness.stop()
