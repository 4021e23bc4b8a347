"""The lake-to-warehouse example runs unchanged on the local provider's harness.

The same test runs on each cloud's emulators (the aws, gcp and azure providers' tests):
a CSV written into ``landing`` comes out cleaned in ``lake``, its report is printed by
``report`` (subscribed to ``loaded``), and ``GET /status`` lists it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portway.model import Pipeline
from portway.testing.harness import wait_for
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


def harness_read(harness: LocalHarness, bucket: Any, key: str) -> bytes | None:
    with harness.connect():
        return bucket.read(key) if bucket.list(key) else None


def test_the_example_runs_unchanged_on_the_local_provider(example: Pipeline) -> None:
    harness = LocalHarness()
    harness.start("pipeline:app", example)
    try:
        landing, lake = example.resources["landing"], example.resources["lake"]
        with harness.connect():
            landing.write("drop/people.csv", " Name , Age \n ada , 36 \n")  # type: ignore[attr-defined]
        # landing -> object created (*.csv) -> enqueue -> transform-jobs -> transform -> lake
        cleaned = wait_for(
            lambda: harness_read(harness, lake, "clean/people.jsonl"),
            timeout=30,
            what="the cleaned file in the lake",
        )
        assert json.loads(cleaned) == {"name": "ada", "age": "36"}
        # transform -> loaded -> report, which prints to the runtime's output
        wait_for(
            lambda: "report: clean/people.jsonl has 1 rows" in harness.diagnostics(),
            timeout=30,
            what="the report of the loaded file",
        )
        reply = harness.http("GET", "/status")
        assert reply.status == 200, reply
        assert reply.json() == {"objects": 1, "keys": ["clean/people.jsonl"]}
    finally:
        harness.stop()
