"""The end-to-end run of the project's ``examples/lake-to-warehouse`` pipeline on a harness.

Each provider's tests start its conformance harness with the example and call
:func:`check_example_runs`, so "the same code runs unchanged on every provider" is one
check, written once: a CSV written into ``landing`` comes out cleaned in ``lake`` (object
trigger with a suffix filter -> ``enqueue`` -> ``transform-jobs`` -> ``transform``), its
report is printed by ``report`` (subscribed to the ``loaded`` topic) and shows in the
harness's diagnostics, and ``GET /status`` lists it. The example's ``rate(15 minutes)``
schedule is deployed and played by the harness but not awaited.
"""

from __future__ import annotations

import json
from typing import Any

from portway.model import Pipeline
from portway.testing.harness import Harness, wait_for

CLEANED_KEY = "clean/people.jsonl"


def read_if_present(harness: Harness, bucket: Any, key: str) -> bytes | None:
    """``key`` of ``bucket`` through the harness's data plane, or ``None`` while missing."""
    with harness.connect():
        return bucket.read(key) if bucket.list(key) else None


def check_example_runs(harness: Harness, example: Pipeline, *, timeout: float = 30) -> None:
    """Drive the started ``harness`` (running ``example``) from a CSV to ``GET /status``.

    Raises ``AssertionError`` (or :class:`~portway.testing.harness.WaitTimeout`) naming the
    step that did not happen.
    """
    landing, lake = example.resources["landing"], example.resources["lake"]
    with harness.connect():
        landing.write("drop/people.csv", " Name , Age \n ada , 36 \n")  # type: ignore[attr-defined]
    cleaned = wait_for(
        lambda: read_if_present(harness, lake, CLEANED_KEY),
        timeout=timeout,
        what="the cleaned file in the lake",
    )
    assert json.loads(cleaned) == {"name": "ada", "age": "36"}
    wait_for(
        lambda: f"report: {CLEANED_KEY} has 1 rows" in harness.diagnostics(),
        timeout=timeout,
        what="the report of the loaded file",
    )
    reply = harness.http("GET", "/status")
    assert reply.status == 200, reply
    assert reply.json() == {"objects": 1, "keys": [CLEANED_KEY]}
