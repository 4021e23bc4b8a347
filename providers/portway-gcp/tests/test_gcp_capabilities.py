"""The ``gcp`` provider as the registry sees it: installed, documented, lazy, and honest."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from portway_gcp.provider import GcpProvider

from portway import Pipeline
from portway.capabilities import ALL_FEATURES
from portway.config import StageConfig, load_project
from portway.errors import ConfigError, NotSupported
from portway.providers import registry, reset_registry

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


def test_gcp_is_listed_under_its_entry_point_name() -> None:
    spec = registry().specs()["gcp"]

    assert spec.plugin == "gcp"
    assert spec.factory == "portway_gcp.provider:GcpProvider"


def test_capabilities_are_the_limits_google_cloud_documents() -> None:
    capabilities = registry().spec("gcp").capabilities

    assert capabilities.max_message_bytes == 10_000_000
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


@pytest.mark.parametrize(
    ("stage_table", "missing"),
    [('region = "europe-west1"\n', "project"), ('project = "acme-data"\n', "region")],
)
def test_a_stage_without_a_required_setting_is_refused(
    tmp_path: Path, stage_table: str, missing: str
) -> None:
    root = write_config(tmp_path, stage_table)

    with pytest.raises(ConfigError, match=f"missing key '{missing}'"):
        load_project(root).stage("gcp")


def test_registry_creates_the_gcp_provider() -> None:
    provider = registry().provider("gcp")

    assert isinstance(provider, GcpProvider)
    assert provider.name == "gcp"
    assert provider.capabilities is registry().spec("gcp").capabilities


def test_loading_the_provider_imports_no_cloud_sdk() -> None:
    # A fresh interpreter: other tests in this session may import an SDK themselves.
    script = textwrap.dedent(
        """
        import sys
        from portway.providers import registry

        registry().provider("gcp")
        print(sorted(
            name for name in sys.modules
            if name.split(".")[0] in ("boto3", "botocore", "azure")
            or name.startswith("google.cloud")
        ))
        """
    )

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"


def test_plan_is_refused_with_a_message_naming_gcp() -> None:
    provider = registry().provider("gcp")

    with pytest.raises(NotSupported, match="provider 'gcp' does not offer plan/deploy"):
        provider.plan(Pipeline("orders"), STAGE)
