"""Fixtures of portway-azure's tests: a real Azurite (Blob and Queue), started once per session.

Adapters are tested over the wire against Azurite from npm (``make test`` installs it in
``tools/azurite`` with its lock file), never against a hand-written fake of the Azure SDK.
With ``CI=true`` a missing Azurite fails the run instead of skipping.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from portway_azure.testing.azurite import Azurite, AzuriteUnavailable, azurite_stage

from portway import Pipeline
from portway.config import StageConfig
from portway.loading import load_pipeline

#: The ``lake-to-warehouse`` example project (:func:`example`).
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "lake-to-warehouse"


def _unavailable(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """Azurite's Blob and Queue services, running for the whole session.

    Tests share it: each one isolates itself by unique container and queue names
    (:func:`unique_name`), never by restarting Azurite.
    """
    server = Azurite()
    try:
        server.start()
    except AzuriteUnavailable as error:
        _unavailable(str(error))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def azurite_connection_string(azurite: Azurite) -> str:
    """The storage connection string of the session's Azurite."""
    return azurite.connection_string


@pytest.fixture
def azure_stage(azurite_connection_string: str) -> StageConfig:
    """A stage of provider ``azure`` whose storage is the session's Azurite."""
    return azurite_stage(azurite_connection_string)


@pytest.fixture
def unique_name() -> str:
    """A fresh lowercase name (letters and digits), valid as a container or queue name."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def example() -> Iterator[Pipeline]:
    """The example pipeline, imported as the CLI does, then forgotten."""
    path = list(sys.path)
    try:
        yield load_pipeline("pipeline:app", EXAMPLE)
    finally:
        sys.modules.pop("pipeline", None)
        sys.path[:] = path
