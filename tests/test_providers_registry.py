"""Provider discovery: the entry-point group, the hooks, and laziness."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from portway.capabilities import Capabilities
from portway.errors import ConfigError, NotSupported, ProviderNotFound
from portway.hookspec import hookimpl
from portway.providers import Provider, ProviderSpec, registry, reset_registry

CAPS = Capabilities(
    max_message_bytes=1024,
    max_batch_size=1,
    max_attempts=(1, 5),
    visibility_timeout=(1, 60),
    max_timeout=60,
    max_http_timeout=60,
    memory=(128, 512),
)


def install_distribution(root: Path, name: str, module_source: str) -> None:
    """Install a tiny distribution on sys.path: a module plus its entry-point metadata."""
    module = name.replace("-", "_")
    (root / f"{module}.py").write_text(textwrap.dedent(module_source), encoding="utf-8")
    info = root / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[portway]\n{name} = {module}\n")
    sys.path.insert(0, str(root))
    reset_registry()


def test_the_builtin_local_provider_registers_through_the_entry_point() -> None:
    spec = registry().spec("local")
    assert spec.plugin == "local"
    assert spec.factory == "portway.local.provider:LocalProvider"


def test_a_third_party_distribution_is_found_through_the_entry_point_group(
    tmp_path: Path,
) -> None:
    install_distribution(
        tmp_path,
        "nimbus",
        """
        from portway.capabilities import Capabilities
        from portway.hookspec import hookimpl
        from portway.providers import ProviderSpec

        CAPS = Capabilities(
            max_message_bytes=2048, max_batch_size=5, max_attempts=(1, 9),
            visibility_timeout=(1, 99), max_timeout=99, max_http_timeout=99, memory=(128, 256),
        )

        @hookimpl
        def portway_providers():
            return [ProviderSpec("nimbus", CAPS, "nimbus_backend:NimbusProvider")]
        """,
    )
    spec = registry().spec("nimbus")
    assert spec.plugin == "nimbus"
    assert spec.capabilities.max_batch_size == 5
    assert "nimbus_backend" not in sys.modules, "the factory is imported only when used"


def test_the_factory_module_is_imported_on_first_use(tmp_path: Path) -> None:
    (tmp_path / "lazy_backend.py").write_text(
        "from portway.providers import Provider\nclass LazyProvider(Provider):\n    pass\n",
        encoding="utf-8",
    )
    sys.path.insert(0, str(tmp_path))

    class Plugin:
        @hookimpl
        def portway_providers(self) -> list[ProviderSpec]:
            return [ProviderSpec("lazy", CAPS, "lazy_backend:LazyProvider")]

    registry().register(Plugin(), name="lazy")
    assert "lazy_backend" not in sys.modules
    provider = registry().provider("lazy")
    assert "lazy_backend" in sys.modules
    assert provider.name == "lazy"
    assert registry().provider("lazy") is provider


def test_a_provider_refuses_what_it_does_not_implement_by_name() -> None:
    provider = Provider(ProviderSpec("bare", CAPS, "x:y"))
    with pytest.raises(NotSupported, match="provider 'bare' does not offer status"):
        provider.status(None, None)  # type: ignore[arg-type]


def test_a_factory_that_cannot_be_imported_is_a_config_error() -> None:
    class Plugin:
        @hookimpl
        def portway_providers(self) -> list[ProviderSpec]:
            return [ProviderSpec("ghost", CAPS, "no_such_module_anywhere:Ghost")]

    registry().register(Plugin(), name="ghost")
    with pytest.raises(ConfigError, match="provider 'ghost': cannot load its factory"):
        registry().provider("ghost")


def test_two_plugins_declaring_one_provider_name_is_an_error_naming_both() -> None:
    class First:
        @hookimpl
        def portway_providers(self) -> list[ProviderSpec]:
            return [ProviderSpec("twin", CAPS, "a:b")]

    class Second:
        @hookimpl
        def portway_providers(self) -> list[ProviderSpec]:
            return [ProviderSpec("twin", CAPS, "c:d")]

    registry().register(First(), name="first")
    registry().register(Second(), name="second")
    with pytest.raises(ConfigError, match="'twin' is declared by both") as caught:
        registry().specs()
    assert "'first'" in str(caught.value)
    assert "'second'" in str(caught.value)


def test_a_misspelled_hook_fails_loudly() -> None:
    class Typo:
        @hookimpl
        def portway_provider(self) -> list[ProviderSpec]:
            return []

    with pytest.raises(ConfigError, match="unknown hook"):
        registry().register(Typo(), name="typo")


def test_a_plugin_that_fails_to_import_is_a_config_error_naming_it(tmp_path: Path) -> None:
    install_distribution(tmp_path, "broken-plugin", "raise RuntimeError('boom')\n")
    with pytest.raises(
        ConfigError, match=r"plugin 'broken-plugin' .* failed to load: RuntimeError: boom"
    ):
        registry()


def test_an_unknown_provider_lists_the_installed_ones() -> None:
    with pytest.raises(ProviderNotFound) as caught:
        registry().spec("nimbus")
    assert "installed: " in str(caught.value)
    assert "local" in str(caught.value)


def test_a_known_cloud_provider_that_is_missing_names_its_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        __import__("portway.providers").providers.KNOWN_DISTRIBUTIONS, "nimbus", "portway-nimbus"
    )
    with pytest.raises(ProviderNotFound, match="pip install portway-nimbus"):
        registry().spec("nimbus")
