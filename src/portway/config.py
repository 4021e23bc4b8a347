"""Project configuration: ``portway.toml``, or ``[tool.portway]`` in ``pyproject.toml``.

::

    app = "pipeline:app"          # module:attribute of the Pipeline

    [stages.dev]
    provider = "local"

    [stages.prod]
    provider = "aws"
    region = "eu-west-1"

A stage is selected by name (``--stage``), else by ``PORTWAY_STAGE``, else the first
stage whose provider is ``local``, else ``dev``. Every problem raises
:class:`~portway.errors.ConfigError` with one line naming the file, the key and the fix.
Provider settings are checked against what the provider declares only when its stage
is selected, so a project can name a provider that is not installed on this machine.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from portway.errors import ConfigError

CONFIG_FILE = "portway.toml"
PYPROJECT = "pyproject.toml"
STAGE_ENV = "PORTWAY_STAGE"
DEFAULT_STAGE = "dev"
_TOP_LEVEL_KEYS = {"app", "stages"}
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,15}$")


@dataclass(frozen=True, slots=True)
class StageConfig:
    """One ``[stages.NAME]`` table: the provider and its settings."""

    name: str
    provider: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    source: str = CONFIG_FILE
    root: Path | None = field(default=None, compare=False)
    """The project folder (set by :meth:`ProjectConfig.stage`); relative paths start here."""
    app: str = field(default="", compare=False)
    """The pipeline's ``module:attr`` (set by :meth:`ProjectConfig.stage`): what a deployed
    function imports."""


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    """A loaded configuration. ``root`` is the folder the app module is imported from."""

    root: Path
    source: str
    app: str
    stages: Mapping[str, StageConfig]

    def stage_name(self, name: str | None = None) -> str:
        """The stage to use: ``name``, else ``$PORTWAY_STAGE``, else the local one, else dev."""
        if name:
            return name
        from_env = os.environ.get(STAGE_ENV, "").strip()
        if from_env:
            return from_env
        for stage in self.stages.values():
            if stage.provider == "local":
                return stage.name
        return DEFAULT_STAGE

    def stage(self, name: str | None = None) -> StageConfig:
        """The selected stage, with its provider installed and its settings checked."""
        chosen = self.stage_name(name)
        if chosen not in self.stages:
            known = ", ".join(self.stages) or "none"
            raise ConfigError(
                f"{self.source}: no stage {chosen!r} (stages: {known}); "
                f"add a [stages.{chosen}] table or pick one of those"
            )
        stage = replace(self.stages[chosen], root=self.root, app=self.app)
        _check_settings(stage)
        return stage


def load_project(directory: Path | None = None, *, app: str | None = None) -> ProjectConfig:
    """Read the configuration of the project in ``directory`` (default: current folder).

    ``app`` (``module:attr``, from ``--app``) overrides the file's ``app`` and makes the
    file optional: without one, the project has a single local stage ``dev``.
    """
    root = (directory or Path.cwd()).resolve()
    if app is not None and not _is_app_spec(app):
        raise ConfigError(f"--app must be 'module:attribute', like pipeline:app; got {app!r}")
    table, source = _read_table(root)
    if table is None:
        if app is None:
            raise ConfigError(
                f"no {CONFIG_FILE} (or [tool.portway] in {PYPROJECT}) in {root}: "
                f"run 'portway init' to create one, or pass --app module:attr"
            )
        stage = StageConfig(DEFAULT_STAGE, "local", {}, "--app")
        return ProjectConfig(root, "--app", app, {DEFAULT_STAGE: stage})
    unknown = sorted(set(table) - _TOP_LEVEL_KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key {unknown[0]!r}{_suggest(unknown[0], _TOP_LEVEL_KEYS)}; "
            f"the top level takes 'app' and [stages.NAME] tables"
        )
    app_spec = app if app is not None else table.get("app")
    if app_spec is None:
        raise ConfigError(f"{source}: missing key 'app'; add app = \"pipeline:app\"")
    if not isinstance(app_spec, str) or not _is_app_spec(app_spec):
        raise ConfigError(
            f"{source}: key 'app' must be a string 'module:attribute', like \"pipeline:app\"; "
            f"got {app_spec!r}"
        )
    return ProjectConfig(root, source, app_spec, _read_stages(table.get("stages"), source))


def _read_table(root: Path) -> tuple[dict[str, Any] | None, str]:
    config = root / CONFIG_FILE
    if config.is_file():
        return _parse(config), CONFIG_FILE
    pyproject = root / PYPROJECT
    if pyproject.is_file():
        tool = _parse(pyproject).get("tool", {})
        if isinstance(tool, dict) and "portway" in tool:
            section = tool["portway"]
            if not isinstance(section, dict):
                raise ConfigError(f"{PYPROJECT}: [tool.portway] must be a table")
            return section, f"{PYPROJECT} [tool.portway]"
    return None, ""


def _parse(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path.name}: invalid TOML: {error}; fix the syntax there") from None
    except OSError as error:
        raise ConfigError(f"{path.name}: cannot read it: {error.strerror}") from None


def _is_app_spec(spec: str) -> bool:
    module, sep, attribute = spec.partition(":")
    return bool(sep) and all(
        part.isidentifier() for part in [*module.split("."), *attribute.split(".")]
    )


def _read_stages(stages: object, source: str) -> dict[str, StageConfig]:
    if stages is None:
        return {DEFAULT_STAGE: StageConfig(DEFAULT_STAGE, "local", {}, source)}
    if not isinstance(stages, dict):
        raise ConfigError(f"{source}: 'stages' must be tables, like [stages.dev]")
    result: dict[str, StageConfig] = {}
    for name, table in stages.items():
        where = f"{source} [stages.{name}]"
        if not _STAGE_NAME.fullmatch(name):
            raise ConfigError(
                f"{where}: a stage name must be 1 to 16 lowercase letters, digits and "
                f"hyphens, starting with a letter (providers build resource names from it)"
            )
        if not isinstance(table, dict):
            raise ConfigError(f'{where}: must be a table with provider = "..."')
        provider = table.get("provider")
        if provider is None:
            raise ConfigError(f"{where}: missing key 'provider'; add provider = \"local\"")
        if not isinstance(provider, str) or not provider:
            raise ConfigError(f"{where}: key 'provider' must be a string, got {provider!r}")
        settings = {k: v for k, v in table.items() if k != "provider"}
        result[name] = StageConfig(name, provider, settings, source)
    return result


def _check_settings(stage: StageConfig) -> None:
    """Check a stage's settings against what its provider declares it reads."""
    from portway.errors import ProviderNotFound
    from portway.providers import registry

    where = f"{stage.source} [stages.{stage.name}]"
    try:
        spec = registry().spec(stage.provider)
    except ProviderNotFound as error:
        raise ProviderNotFound(f"{where}: {error}") from None
    declared = {setting.name: setting for setting in spec.settings}
    for key, value in stage.settings.items():
        if key not in declared:
            allowed = ", ".join(declared) or "none"
            raise ConfigError(
                f"{where}: unknown setting {key!r}{_suggest(key, declared)} for provider "
                f"{stage.provider!r} (it reads: {allowed})"
            )
        setting = declared[key]
        if not isinstance(value, setting.type) or isinstance(value, bool) != (setting.type is bool):
            raise ConfigError(
                f"{where}: key {key!r} must be {setting.type.__name__}, "
                f"got {type(value).__name__} {value!r}"
            )
    for setting in spec.settings:
        if setting.required and setting.name not in stage.settings:
            hint = f" ({setting.help})" if setting.help else ""
            raise ConfigError(
                f"{where}: missing key {setting.name!r}{hint}, required by provider "
                f"{stage.provider!r}"
            )


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
