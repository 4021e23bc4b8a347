"""The azure provider passes the conformance suite on Azurite: a fixture and an import.

The harness builds every app group's zip as deploy does, runs each in a worker process
against the session's Azurite, and plays the Functions host (queue listeners, timers,
HTTP with function keys) and Event Grid (topics, BlobCreated) around it
(see portway_azure.testing.harness).
"""

from __future__ import annotations

import pytest
from portway_azure.testing.azurite import Azurite
from portway_azure.testing.harness import AzuriteHarness

from portway.testing.suite import *  # noqa: F403


@pytest.fixture(scope="session")
def portway_harness(azurite: Azurite) -> AzuriteHarness:
    return AzuriteHarness(connection_string=azurite.connection_string)
