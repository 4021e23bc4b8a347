"""The gcp provider passes the conformance suite on Google's emulators: a fixture and an import.

The harness deploys the conformance pipeline on the session's Pub/Sub emulator,
gcp-storage-emulator and drongo, serves each function with functions-framework from the
source zip deploy built, and plays Cloud Run's routing, Cloud Storage notifications and
Cloud Scheduler against them (see portway_gcp.testing.harness).
"""

from __future__ import annotations

import pytest
from portway_gcp.testing.emulators import DrongoServer, EmulatorEndpoints
from portway_gcp.testing.harness import GcpEmulatorHarness

from portway.testing.suite import *  # noqa: F403


@pytest.fixture(scope="session")
def portway_harness(
    pubsub_emulator: str, storage_emulator: str, drongo_server: DrongoServer
) -> GcpEmulatorHarness:
    endpoints = EmulatorEndpoints(
        pubsub_emulator, storage_emulator, drongo_server.endpoint, drongo_server.iam_endpoint
    )
    return GcpEmulatorHarness(endpoints=endpoints)
