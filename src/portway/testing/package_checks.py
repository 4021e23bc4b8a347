"""Checks that hold for every installed provider distribution, whatever its backend.

They test what a provider declares (its spec, capabilities and settings) and the
promises on its packaging: it is found through the ``portway`` entry-point group, it is
created by its factory, and loading it imports no cloud SDK.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from portway.capabilities import ALL_FEATURES
from portway.config import load_project
from portway.errors import ConfigError
from portway.providers import Provider, ProviderSpec, registry, reset_registry
from portway.testing.imports import cloud_sdk_modules, modules_imported_by

CLOUD_SDKS = ("boto3", "botocore", "azure", "google.cloud")


class ProviderPackageChecks:
    """Subclass as ``TestXxx`` and set ``provider`` (and ``factory``, to pin it)."""

    provider: ClassVar[str] = ""
    factory: ClassVar[str] = ""

    @pytest.fixture(autouse=True)
    def _fresh_registry(self) -> object:
        """Each check builds the registry from the installed entry points, as a command does."""
        reset_registry()
        yield
        reset_registry()

    def spec(self) -> ProviderSpec:
        return registry().spec(self.provider)

    def test_provider_is_listed_under_its_entry_point_name(self) -> None:
        spec = registry().specs()[self.provider]
        assert spec.plugin == self.provider
        if self.factory:
            assert spec.factory == self.factory

    def test_registry_creates_the_provider_through_its_factory(self) -> None:
        provider = registry().provider(self.provider)
        assert isinstance(provider, Provider)
        assert provider.name == self.provider
        assert provider.capabilities is self.spec().capabilities

    def test_capabilities_are_coherent(self) -> None:
        caps = self.spec().capabilities
        for name in ("max_attempts", "visibility_timeout", "memory"):
            low, high = getattr(caps, name)
            assert 0 <= low <= high, f"{name} range {low}..{high}"
        assert caps.max_message_bytes > 0
        assert caps.max_batch_size >= 1
        if caps.batch_delivery == "one_at_a_time":
            assert caps.max_batch_size == 1
        assert caps.native_object_filters <= {"prefix", "suffix"}
        assert caps.features <= ALL_FEATURES

    def test_every_required_setting_is_enforced(self, tmp_path: Path) -> None:
        required = [s for s in self.spec().settings if s.required]
        for missing in required:
            table = "".join(
                f'{s.name} = "value"\n' for s in required if s is not missing and s.type is str
            )
            (tmp_path / "portway.toml").write_text(
                f'app = "pipeline:app"\n[stages.check]\nprovider = "{self.provider}"\n{table}',
                encoding="utf-8",
            )
            with pytest.raises(ConfigError, match=f"missing key '{missing.name}'"):
                load_project(tmp_path).stage("check")

    def test_loading_the_provider_imports_no_cloud_sdk(self) -> None:
        # A fresh interpreter: other tests of the session may have imported an SDK.
        imported = modules_imported_by(
            f"from portway.providers import registry\nregistry().provider({self.provider!r})"
        )
        assert cloud_sdk_modules(imported, CLOUD_SDKS) == []
