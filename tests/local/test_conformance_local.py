"""The builtin local provider passes the conformance suite: a fixture and an import.

This is all a backend needs; ``docs/conformance.md`` explains it.
"""

from __future__ import annotations

import pytest

from portway.testing import LocalHarness
from portway.testing.suite import *  # noqa: F403


@pytest.fixture(scope="session")
def portway_harness() -> LocalHarness:
    return LocalHarness()
