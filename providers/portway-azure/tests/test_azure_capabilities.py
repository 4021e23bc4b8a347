"""The ``azure`` provider as the registry sees it: installed, documented, lazy, and honest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portway import Message, Pipeline
from portway.capabilities import ALL_FEATURES
from portway.config import StageConfig, load_project
from portway.errors import ConfigError
from portway.providers import registry, reset_registry
from portway.testing import ProviderPackageChecks
from portway.validation import Severity, validate

REQUIRED = {"subscription": "sub-id", "resource_group": "data-rg", "location": "westeurope"}
STAGE = StageConfig("azure", "azure", REQUIRED)


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    """Each test builds the registry from the installed entry points, as a command does."""
    reset_registry()
    yield
    reset_registry()


def write_config(root: Path, settings: dict[str, str]) -> Path:
    lines = "".join(f'{key} = "{value}"\n' for key, value in settings.items())
    (root / "portway.toml").write_text(
        f'app = "pipeline:app"\n\n[stages.azure]\nprovider = "azure"\n{lines}',
        encoding="utf-8",
    )
    return root


def test_capabilities_are_the_limits_azure_documents() -> None:
    capabilities = registry().spec("azure").capabilities

    assert capabilities.max_message_bytes == 48_128
    assert capabilities.max_batch_size == 1
    assert capabilities.batch_delivery == "one_at_a_time"
    assert capabilities.max_attempts == (1, 2_147_483_647)
    assert capabilities.visibility_timeout == (0, 604_800)
    assert capabilities.max_timeout == 3600
    assert capabilities.max_http_timeout == 230
    assert capabilities.memory == (512, 4096)
    assert capabilities.native_object_filters == {"prefix", "suffix"}
    assert capabilities.rate_schedules == "cron_exact"
    assert capabilities.visibility_must_cover_timeout is False


def test_every_feature_is_declared() -> None:
    assert registry().spec("azure").capabilities.features == ALL_FEATURES


@pytest.mark.parametrize(("memory", "accepted"), [(128, True), (4096, True), (4097, False)])
def test_memory_up_to_the_largest_instance_size_is_accepted(memory: int, accepted: bool) -> None:
    # Declared memory is rounded up to a Flex Consumption instance size (512, 2048 or
    # 4096 MB), so only more than the largest one cannot run.
    app = Pipeline("orders")
    jobs = app.queue("jobs")

    @app.on_message(jobs, memory=memory)
    def handle(message: Message) -> None: ...

    errors = [
        finding
        for finding in validate(app, ["azure"], registry())
        if finding.severity is Severity.ERROR and finding.rule == "memory"
    ]

    assert (errors == []) is accepted


def test_a_stage_with_the_azure_settings_passes_the_config_check(tmp_path: Path) -> None:
    settings = {**REQUIRED, "connection_string": "UseDevelopmentStorage=true"}
    root = write_config(tmp_path, settings)

    stage = load_project(root).stage("azure")

    assert dict(stage.settings) == settings


def test_plan_without_a_subscription_is_refused_naming_the_setting() -> None:
    provider = registry().provider("azure")
    stage = StageConfig(
        "azure", "azure", {k: v for k, v in REQUIRED.items() if k != "subscription"}
    )

    with pytest.raises(ConfigError, match="needs 'subscription'"):
        provider.plan(Pipeline("orders"), stage)


class TestAzurePackage(ProviderPackageChecks):
    """The checks every provider distribution passes (entry point, factory, laziness)."""

    provider = "azure"
    factory = "portway_azure.provider:AzureProvider"
