"""Finding providers and plugins: pluggy, the ``portway`` entry-point group, lazily.

Nothing here runs at ``import portway``. The first call to :func:`registry` loads the
entry points, registers each plugin module, checks that every hook implementation
names a real hook, and asks the ``portway_providers`` hook what is installed. A
provider's own code (and its cloud SDK) is imported only when :meth:`Registry.provider`
is asked for it, through the dotted ``factory`` path of its :class:`ProviderSpec`
(as fsspec's registry maps a protocol to a class path).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, cast

import pluggy

from portway import hookspec
from portway.capabilities import Capabilities
from portway.errors import ConfigError, NotSupported, ProviderNotFound

if TYPE_CHECKING:
    from pathlib import Path

    from portway.config import StageConfig
    from portway.dataplane import DataPlane
    from portway.deploy import Plan
    from portway.model import Pipeline
    from portway.testing.harness import Harness

ENTRY_POINT_GROUP = "portway"

# Where a user finds the builtin cloud providers when a stage names one not installed.
KNOWN_DISTRIBUTIONS = {"aws": "portway-aws", "gcp": "portway-gcp", "azure": "portway-azure"}


@dataclass(frozen=True, slots=True)
class Setting:
    """A stage setting a provider reads from ``[stages.NAME]`` (for config checks)."""

    name: str
    type: type = str
    required: bool = False
    help: str = ""


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """What a distribution declares about one provider, without importing it.

    ``factory``: ``"package.module:attr"``, a callable taking this spec and returning a
    :class:`Provider`. ``settings``: the stage settings it reads (others are refused).
    """

    name: str
    capabilities: Capabilities
    factory: str
    description: str = ""
    settings: tuple[Setting, ...] = ()
    plugin: str = field(default="", compare=False)


class Provider:
    """What a backend implements. Every method not overridden says it is not offered.

    A provider is created once per process by its spec's factory. ``stage`` arguments
    are the selected :class:`~portway.config.StageConfig`, with the provider settings
    already checked against the spec's ``settings``.
    """

    def __init__(self, spec: ProviderSpec) -> None:
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def capabilities(self) -> Capabilities:
        return self.spec.capabilities

    def _not_offered(self, what: str) -> NotSupported:
        return NotSupported(f"provider {self.name!r} does not offer {what} in this version")

    def connect(self, pipeline: Pipeline, stage: StageConfig) -> DataPlane:
        """Return data-plane clients for ``pipeline``'s resources on ``stage``."""
        raise self._not_offered("data-plane clients (app.connect)")

    def plan(self, pipeline: Pipeline, stage: StageConfig) -> Plan:
        """Observe with read-only calls and return what a deploy would change."""
        raise self._not_offered("plan/deploy")

    def apply(self, plan: Plan, pipeline: Pipeline, stage: StageConfig) -> None:
        """Carry out ``plan`` in dependency order, then record the deployment."""
        raise self._not_offered("deploy")

    def plan_destroy(self, app: str, stage: StageConfig) -> Plan:
        """Return the plan that removes exactly what portway created for app ``app`` on ``stage``.

        Works from what the provider recorded and tagged, not from the pipeline, so it
        removes the deployment even when the pipeline file changed or is gone.
        """
        raise self._not_offered("destroy")

    def destroy(self, plan: Plan, app: str, stage: StageConfig) -> None:
        """Carry out a plan made by :meth:`plan_destroy`, then forget the deployment."""
        raise self._not_offered("destroy")

    def status(self, pipeline: Pipeline, stage: StageConfig) -> Mapping[str, Any]:
        """Deployed versus declared: a JSON-ready drift report."""
        raise self._not_offered("status")

    def package(self, pipeline: Pipeline, stage: StageConfig, output: Path) -> list[Path]:
        """Build the deployable artifacts into ``output``; return their paths."""
        raise self._not_offered("packaging")

    def runtime_entry(self) -> str:
        """``module:attr`` of the handler shim the platform calls in a deployed function.

        The shim turns the native event into neutral events, binds the data plane and
        calls the user function. Importing it must import no cloud SDK and scan no
        entry points: every cold start pays for it.
        """
        raise self._not_offered("a deployed runtime")

    def conformance_harness(self) -> Harness:
        """A new, unstarted :class:`~portway.testing.harness.Harness` for this provider.

        ``portway conformance --provider NAME`` runs the suite through it. Creating it
        must be cheap and start nothing (no emulator, no deploy): the suite calls its
        ``start()`` when the first test needs it.
        """
        raise self._not_offered("a conformance harness")


class Registry:
    """The loaded plugins and the providers they declare."""

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self.manager = manager
        self._providers: dict[str, Provider] = {}
        self._spec_cache: dict[str, ProviderSpec] | None = None

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin object at run time (tests, embedding applications)."""
        try:
            self.manager.register(plugin, name=name)
        except ValueError as error:
            raise ConfigError(f"plugin {name!r} cannot be registered: {error}") from None
        try:
            self.manager.check_pending()
        except pluggy.PluginValidationError as error:
            self.manager.unregister(plugin)
            raise ConfigError(f"a portway plugin implements an unknown hook: {error}") from None
        self._spec_cache = None
        self._providers.clear()

    def _specs(self) -> dict[str, ProviderSpec]:
        if self._spec_cache is None:
            self._spec_cache = self._collect_specs()
        return self._spec_cache

    def _collect_specs(self) -> dict[str, ProviderSpec]:
        specs: dict[str, ProviderSpec] = {}
        # Called per implementation (not through the hook caller) to know which plugin
        # declared which provider, for the error that names both of a clashing pair.
        for impl in self.manager.hook.portway_providers.get_hookimpls():
            plugin_name = self.manager.get_name(impl.plugin) or repr(impl.plugin)
            declared = cast("Iterable[object]", impl.function() or ())
            for spec in declared:
                if not isinstance(spec, ProviderSpec):
                    raise ConfigError(
                        f"plugin {plugin_name!r}: portway_providers returned {spec!r}, "
                        f"not a ProviderSpec"
                    )
                if spec.name in specs:
                    raise ConfigError(
                        f"provider {spec.name!r} is declared by both "
                        f"{specs[spec.name].plugin!r} and {plugin_name!r}: uninstall one"
                    )
                specs[spec.name] = ProviderSpec(
                    spec.name,
                    spec.capabilities,
                    spec.factory,
                    spec.description,
                    spec.settings,
                    plugin_name,
                )
        return dict(sorted(specs.items()))

    def specs(self) -> dict[str, ProviderSpec]:
        """Every installed provider's spec, by name, sorted."""
        return dict(self._specs())

    def spec(self, name: str) -> ProviderSpec:
        """The spec of provider ``name``; :class:`ProviderNotFound` says how to install it."""
        specs = self._specs()
        if name in specs:
            return specs[name]
        installed = ", ".join(specs) or "none"
        hint = (
            f"install it with 'pip install {KNOWN_DISTRIBUTIONS[name]}'"
            if name in KNOWN_DISTRIBUTIONS
            else "install the distribution that provides it"
        )
        raise ProviderNotFound(
            f"provider {name!r} is not installed ({hint}); installed: {installed}"
        )

    def provider(self, name: str) -> Provider:
        """The provider ``name``, created on first use through its factory."""
        if name not in self._providers:
            spec = self.spec(name)
            self._providers[name] = _load_factory(spec)(spec)
        return self._providers[name]


def _load_factory(spec: ProviderSpec) -> Any:
    module_name, _, attribute = spec.factory.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute) if attribute else module
    except (ImportError, AttributeError) as error:
        raise ConfigError(
            f"provider {spec.name!r}: cannot load its factory {spec.factory!r} ({error}); "
            f"reinstall plugin {spec.plugin!r}"
        ) from None


def _plugin_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspec.PROJECT)
    manager.add_hookspecs(hookspec)
    from portway.validation import rules

    manager.register(rules, name="portway.validation.rules")
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if manager.has_plugin(entry_point.name):
            continue
        try:
            plugin = entry_point.load()
        except Exception as error:
            raise ConfigError(
                f"plugin {entry_point.name!r} ({entry_point.value}) failed to load: "
                f"{type(error).__name__}: {error}; reinstall or uninstall it"
            ) from None
        manager.register(plugin, name=entry_point.name)
    # A misspelled hook name in a plugin fails here, loudly, rather than never running.
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        raise ConfigError(f"a portway plugin implements an unknown hook: {error}") from None
    return manager


@functools.cache
def registry() -> Registry:
    """The process-wide registry, built on first call."""
    return Registry(_plugin_manager())


def reset_registry() -> None:
    """Forget the registry (tests that install plugins at run time)."""
    registry.cache_clear()
