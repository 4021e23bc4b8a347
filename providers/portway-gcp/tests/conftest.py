"""Fixtures of portway-gcp's tests: Google's emulators, started once per session.

Adapters are tested over the wire against real emulators, never against a hand-written
fake of Google's SDK. Each starts on a free port; with ``CI=true`` a missing emulator
fails the test instead of skipping it.

Session fixtures (one emulator process each, shared by every test; tests isolate by
unique names):

``pubsub_emulator``
    ``host:port`` of Google's Pub/Sub emulator (the ``PUBSUB_EMULATOR_HOST`` value).
``storage_emulator``
    ``http://host:port`` of gcp-storage-emulator (the ``STORAGE_EMULATOR_HOST`` value).
``drongo_server``
    The running :class:`~portway_gcp.testing.emulators.DrongoServer`: ``.endpoint`` is
    ``http://host:port`` (Cloud Functions v2 and Cloud Scheduler over REST),
    ``.iam_endpoint`` the IAM Admin emulator's ``host:port`` (gRPC).

Function fixtures:

``gcp_environment``
    Points Google's libraries at the emulators (``PUBSUB_EMULATOR_HOST``,
    ``STORAGE_EMULATOR_HOST``) and keeps them off the user's real credentials and
    project (no ``GOOGLE_APPLICATION_CREDENTIALS``, a fixed ``GOOGLE_CLOUD_PROJECT``, no
    metadata server lookups). Returns the
    :class:`~portway_gcp.testing.emulators.EmulatorEndpoints`.
``gcp_stage``
    A ``portway.config.StageConfig`` named ``test`` for provider ``gcp``: project
    :data:`PROJECT`, region :data:`REGION` and the endpoint settings of all three
    emulators (``pubsub_endpoint``, ``storage_endpoint``, ``api_endpoint``,
    ``iam_endpoint``). Build others with ``StageConfig(name, "gcp",
    gcp_environment.stage_settings(project, region))``.
``gcp_clients``
    :class:`~portway_gcp.clients.GcpClients` for ``gcp_stage``.
``unique_name``
    ``unique_name("lake")`` -> ``lake-1a2b3c4d``: emulators are shared by the session,
    so each test names what it creates uniquely.

Module fixture:

``example``
    The ``lake-to-warehouse`` example pipeline (:data:`EXAMPLE`), imported as the CLI
    does, then forgotten (its module and ``sys.path`` entry removed).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from portway_gcp.clients import GcpClients
from portway_gcp.testing.emulators import (
    DrongoServer,
    EmulatorEndpoints,
    EmulatorUnavailable,
    PubSubEmulator,
    StorageEmulator,
)

from portway import Pipeline
from portway.config import StageConfig
from portway.loading import load_pipeline

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "lake-to-warehouse"
PROJECT = "portway-test"
REGION = "europe-west1"
STAGE = "test"

_Emulator = TypeVar("_Emulator", PubSubEmulator, StorageEmulator, DrongoServer)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """``unique_name("lake")`` -> ``lake-1a2b3c4d``: a name no other test uses."""
    return _unique


def _started(emulator: _Emulator) -> Iterator[_Emulator]:
    """Start ``emulator`` for the session; skip, or fail with ``CI=true``, when missing."""
    if not emulator.installed():
        message = f"{emulator.title} is not installed: {emulator.install_hint}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        emulator.start()
    except EmulatorUnavailable as error:
        pytest.fail(str(error))
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of Google's Pub/Sub emulator, running for the whole session."""
    log = tmp_path_factory.mktemp("pubsub") / "pubsub-emulator.log"
    for emulator in _started(PubSubEmulator(log)):
        yield emulator.endpoint


@pytest.fixture(scope="session")
def storage_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://host:port`` of gcp-storage-emulator, running for the whole session."""
    log = tmp_path_factory.mktemp("storage") / "gcp-storage-emulator.log"
    for emulator in _started(StorageEmulator(log)):
        yield emulator.endpoint


@pytest.fixture(scope="session")
def drongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DrongoServer]:
    """drongo's server (``.endpoint``) and IAM Admin emulator (``.iam_endpoint``)."""
    log = tmp_path_factory.mktemp("drongo") / "drongo.log"
    yield from _started(DrongoServer(log))


@pytest.fixture
def gcp_environment(
    pubsub_emulator: str,
    storage_emulator: str,
    drongo_server: DrongoServer,
    monkeypatch: pytest.MonkeyPatch,
) -> EmulatorEndpoints:
    """Google's libraries pointed at the emulators, and kept off real credentials."""
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", storage_emulator)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    # google.auth.default() must find nothing: no key file, no gcloud configuration,
    # and no metadata server (it would wait for a timeout probing for one).
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", os.devnull)
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    return EmulatorEndpoints(
        pubsub_emulator, storage_emulator, drongo_server.endpoint, drongo_server.iam_endpoint
    )


@pytest.fixture
def gcp_stage(gcp_environment: EmulatorEndpoints) -> StageConfig:
    """A ``gcp`` stage on the emulators (project ``portway-test``, ``europe-west1``)."""
    return StageConfig(STAGE, "gcp", gcp_environment.stage_settings(PROJECT, REGION))


@pytest.fixture
def gcp_clients(gcp_stage: StageConfig) -> GcpClients:
    """Clients of :func:`gcp_stage` (created on first use, fresh for each test)."""
    return GcpClients.for_stage(gcp_stage)


@pytest.fixture(scope="module")
def example() -> Iterator[Pipeline]:
    """The example pipeline, imported as the CLI does, then forgotten."""
    path = list(sys.path)
    try:
        yield load_pipeline("pipeline:app", EXAMPLE)
    finally:
        sys.modules.pop("pipeline", None)
        sys.path[:] = path
