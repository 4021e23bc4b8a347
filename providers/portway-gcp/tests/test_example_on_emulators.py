"""The lake-to-warehouse example runs unchanged on Google's emulators, played by the harness.

The same test runs on the local provider and on the other clouds' emulators: a CSV
written into ``landing`` comes out cleaned in ``lake``, its report is logged by
``report`` (subscribed to ``loaded``), and ``GET /status`` lists it. The example's
``rate(15 minutes)`` schedule is deployed and played, but not awaited. ``example`` is
the conftest's: the example pipeline, imported as the CLI does.
"""

from __future__ import annotations

import json
from typing import Any

from portway_gcp.testing.emulators import DrongoServer, EmulatorEndpoints
from portway_gcp.testing.harness import GcpEmulatorHarness

from portway.model import Pipeline
from portway.testing.harness import wait_for


def harness_read(harness: GcpEmulatorHarness, bucket: Any, key: str) -> bytes | None:
    with harness.connect():
        return bucket.read(key) if bucket.list(key) else None


def test_the_example_runs_unchanged_on_the_emulators(
    pubsub_emulator: str, storage_emulator: str, drongo_server: DrongoServer, example: Pipeline
) -> None:
    endpoints = EmulatorEndpoints(
        pubsub_emulator, storage_emulator, drongo_server.endpoint, drongo_server.iam_endpoint
    )
    harness = GcpEmulatorHarness(endpoints=endpoints)
    harness.start("pipeline:app", example)
    try:
        landing, lake = example.resources["landing"], example.resources["lake"]
        with harness.connect():
            landing.write("drop/people.csv", " Name , Age \n ada , 36 \n")  # type: ignore[attr-defined]
        # landing -> OBJECT_FINALIZE (*.csv) -> enqueue -> transform-jobs -> transform -> lake
        cleaned = wait_for(
            lambda: harness_read(harness, lake, "clean/people.jsonl"),
            timeout=30,
            what="the cleaned file in the lake",
        )
        assert json.loads(cleaned) == {"name": "ada", "age": "36"}
        # transform -> loaded (Pub/Sub push) -> report, which logs the line
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
