"""The aws provider passes the conformance suite on moto: a fixture and an import.

The harness deploys the conformance pipeline on the session's moto server and plays
Lambda's event source mappings, function URLs and EventBridge Scheduler against it,
running the handler from the zip deploy uploaded (see portway_aws.testing.harness).
"""

from __future__ import annotations

import pytest
from portway_aws.testing.harness import AwsMotoHarness

from portway.testing.suite import *  # noqa: F403


@pytest.fixture(scope="session")
def portway_harness(moto_endpoint: str) -> AwsMotoHarness:
    return AwsMotoHarness(endpoint=moto_endpoint)
