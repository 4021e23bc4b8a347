"""The ``aws`` provider as the registry sees it: installed, documented, lazy, and honest."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from portway import Pipeline
from portway.capabilities import ALL_FEATURES
from portway.config import StageConfig, load_project
from portway.errors import DeployError
from portway.providers import registry, reset_registry
from portway.testing import ProviderPackageChecks

STAGE = StageConfig("prod", "aws", {"region": "eu-west-1"})


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    """Each test builds the registry from the installed entry points, as a command does."""
    reset_registry()
    yield
    reset_registry()


def write_config(root: Path, stage_table: str) -> Path:
    (root / "portway.toml").write_text(
        f'app = "pipeline:app"\n\n[stages.prod]\nprovider = "aws"\n{stage_table}',
        encoding="utf-8",
    )
    return root


def test_capabilities_are_the_limits_aws_documents() -> None:
    capabilities = registry().spec("aws").capabilities

    # 256 KiB, less what portway adds to every message (its content-type attribute and
    # the "String" type of each user attribute).
    assert capabilities.max_message_bytes == 262_144 - 64 - 9 * 6
    assert capabilities.max_batch_size == 10
    assert capabilities.batch_delivery == "native"
    assert capabilities.max_attempts == (1, 1000)
    assert capabilities.visibility_timeout == (0, 43_200)
    assert capabilities.max_timeout == 900
    assert capabilities.max_http_timeout == 900
    assert capabilities.memory == (128, 10_240)
    assert capabilities.native_object_filters == {"prefix", "suffix"}
    assert capabilities.rate_schedules == "native"
    assert capabilities.visibility_must_cover_timeout is True


def test_every_feature_is_declared() -> None:
    assert registry().spec("aws").capabilities.features == ALL_FEATURES


def test_a_stage_with_the_aws_settings_passes_the_config_check(tmp_path: Path) -> None:
    root = write_config(
        tmp_path,
        'region = "eu-west-1"\nprofile = "data"\nendpoint_url = "http://127.0.0.1:5000"\n',
    )

    stage = load_project(root).stage("prod")

    assert dict(stage.settings) == {
        "region": "eu-west-1",
        "profile": "data",
        "endpoint_url": "http://127.0.0.1:5000",
    }


def test_plan_against_an_unreachable_endpoint_says_what_to_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    stage = StageConfig(
        "prod", "aws", {"region": "eu-west-1", "endpoint_url": f"http://127.0.0.1:{port}"}
    )
    provider = registry().provider("aws")
    with pytest.raises(DeployError, match="cannot reach AWS in eu-west-1"):
        provider.plan(Pipeline("orders"), stage)


class TestAwsPackage(ProviderPackageChecks):
    """The checks every provider distribution passes (entry point, factory, laziness)."""

    provider = "aws"
    factory = "portway_aws.provider:AwsProvider"
