"""The lake-to-warehouse example runs unchanged on Google's emulators, played by the harness.

The same test runs on the local provider and on the other clouds' emulators: a CSV
written into ``landing`` comes out cleaned in ``lake``, its report is logged by
``report`` (subscribed to ``loaded``), and ``GET /status`` lists it. The example's
``rate(15 minutes)`` schedule is deployed and played, but not awaited. ``example`` is
the conftest's: the example pipeline, imported as the CLI does.
"""

from __future__ import annotations

from portway_gcp.testing.emulators import DrongoServer, EmulatorEndpoints
from portway_gcp.testing.harness import GcpEmulatorHarness

from portway.model import Pipeline
from portway.testing.example_run import check_example_runs


def test_the_example_runs_unchanged_on_the_emulators(
    pubsub_emulator: str, storage_emulator: str, drongo_server: DrongoServer, example: Pipeline
) -> None:
    endpoints = EmulatorEndpoints(
        pubsub_emulator, storage_emulator, drongo_server.endpoint, drongo_server.iam_endpoint
    )
    harness = GcpEmulatorHarness(endpoints=endpoints)
    harness.start("pipeline:app", example)
    try:
        check_example_runs(harness, example)
    finally:
        harness.stop()
