"""The ``gcp`` provider as the registry sees it: installed, documented, lazy, and honest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portway import Pipeline
from portway.capabilities import ALL_FEATURES
from portway.config import StageConfig, load_project
from portway.errors import ConfigError
from portway.providers import registry, reset_registry
from portway.testing import ProviderPackageChecks

STAGE = StageConfig("gcp", "gcp", {"project": "acme-data", "region": "europe-west1"})


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    """Each test builds the registry from the installed entry points, as a command does."""
    reset_registry()
    yield
    reset_registry()


def write_config(root: Path, stage_table: str) -> Path:
    (root / "portway.toml").write_text(
        f'app = "pipeline:app"\n\n[stages.gcp]\nprovider = "gcp"\n{stage_table}',
        encoding="utf-8",
    )
    return root


def test_capabilities_are_the_limits_google_cloud_documents() -> None:
    capabilities = registry().spec("gcp").capabilities

    assert capabilities.max_message_bytes == 10_000_000 - 1_000
    assert capabilities.max_batch_size == 1
    assert capabilities.batch_delivery == "one_at_a_time"
    assert capabilities.max_attempts == (5, 100)
    assert capabilities.visibility_timeout == (10, 600)
    assert capabilities.max_timeout == 540
    assert capabilities.max_http_timeout == 3600
    assert capabilities.memory == (128, 32_768)
    assert capabilities.native_object_filters == {"prefix"}
    assert capabilities.rate_schedules == "cron_exact"
    assert capabilities.visibility_must_cover_timeout is False


def test_every_feature_is_declared() -> None:
    assert registry().spec("gcp").capabilities.features == ALL_FEATURES


def test_a_stage_with_the_gcp_settings_passes_the_config_check(tmp_path: Path) -> None:
    root = write_config(
        tmp_path,
        'project = "acme-data"\nregion = "europe-west1"\n'
        'pubsub_endpoint = "127.0.0.1:8085"\nstorage_endpoint = "http://127.0.0.1:9023"\n'
        'api_endpoint = "http://127.0.0.1:8090"\n',
    )

    stage = load_project(root).stage("gcp")

    assert dict(stage.settings) == {
        "project": "acme-data",
        "region": "europe-west1",
        "pubsub_endpoint": "127.0.0.1:8085",
        "storage_endpoint": "http://127.0.0.1:9023",
        "api_endpoint": "http://127.0.0.1:8090",
    }


def test_emulator_skips_are_refused_on_a_stage_that_reaches_google() -> None:
    provider = registry().provider("gcp")
    stage = StageConfig("gcp", "gcp", {**STAGE.settings, "emulator_skips": ["pubsub-iam"]})

    with pytest.raises(ConfigError, match="emulator_skips is for stages whose endpoints"):
        provider.plan(Pipeline("orders"), stage)


class TestGcpPackage(ProviderPackageChecks):
    """The checks every provider distribution passes (entry point, factory, laziness)."""

    provider = "gcp"
    factory = "portway_gcp.provider:GcpProvider"
