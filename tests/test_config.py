"""Project configuration: portway.toml or [tool.portway], stages, provider settings.

Every problem is a one-line :class:`ConfigError` naming the file, the key and the fix.
"""

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pluggy
import pytest

from portway import ConfigError, ProviderNotFound, hookspec
from portway import providers as providers_module
from portway.config import ProjectConfig, StageConfig, load_project
from portway.local import plugin as local_plugin
from portway.providers import ProviderSpec, Registry, Setting, registry, reset_registry


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder, as the current folder, with no PORTWAY_STAGE set."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PORTWAY_STAGE", raising=False)
    return tmp_path


@pytest.fixture
def local_only_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    """The process registry, built with only the builtin local provider's plugin.

    Which provider distributions are installed differs between machines (and changes
    while providers are developed in this workspace); settings checks are about the
    local provider's declared settings, so they must not depend on that.
    """

    def local_plugin_only() -> pluggy.PluginManager:
        manager = pluggy.PluginManager(hookspec.PROJECT)
        manager.add_hookspecs(hookspec)
        manager.register(local_plugin, name="local")
        return manager

    monkeypatch.setattr(providers_module, "_plugin_manager", local_plugin_only)
    reset_registry()
    yield registry()
    reset_registry()


def project_with_stage(folder: Path, stage_table: str) -> ProjectConfig:
    """Write a portway.toml whose only stage is ``[stages.dev]`` with ``stage_table``."""
    write(folder, "portway.toml", f'app = "pipeline:app"\n\n[stages.dev]\n{stage_table}\n')
    return load_project()


# -- finding the configuration -------------------------------------------------------------


def test_portway_toml_in_the_current_folder_is_read(project_dir):
    write(
        project_dir,
        "portway.toml",
        """
        app = "pipeline:app"

        [stages.dev]
        provider = "local"

        [stages.prod]
        provider = "aws"
        region = "eu-west-1"
        """,
    )

    project = load_project()

    assert project.root == project_dir.resolve()
    assert project.source == "portway.toml"
    assert project.app == "pipeline:app"
    assert project.stages == {
        "dev": StageConfig("dev", "local", {}, "portway.toml"),
        "prod": StageConfig("prod", "aws", {"region": "eu-west-1"}, "portway.toml"),
    }


def test_tool_portway_in_pyproject_is_read(project_dir):
    write(
        project_dir,
        "pyproject.toml",
        """
        [project]
        name = "lake"

        [tool.portway]
        app = "flows.pipeline:app"

        [tool.portway.stages.dev]
        provider = "local"
        port = 8080
        """,
    )

    project = load_project()

    assert project.source == "pyproject.toml [tool.portway]"
    assert project.app == "flows.pipeline:app"
    assert project.stages["dev"].settings == {"port": 8080}


def test_portway_toml_wins_over_pyproject(project_dir):
    write(project_dir, "portway.toml", 'app = "pipeline:app"\n')
    write(project_dir, "pyproject.toml", '[tool.portway]\napp = "other:app"\n')

    assert load_project().app == "pipeline:app"


def test_project_in_another_folder_is_read(tmp_path):
    write(tmp_path, "portway.toml", 'app = "pipeline:app"\n')

    assert load_project(tmp_path).root == tmp_path.resolve()


def test_config_without_stages_has_a_local_dev_stage(project_dir):
    write(project_dir, "portway.toml", 'app = "pipeline:app"\n')

    project = load_project()

    assert list(project.stages) == ["dev"]
    assert project.stages["dev"].provider == "local"


def test_missing_config_raises_config_error_suggesting_portway_init(project_dir):
    with pytest.raises(ConfigError) as caught:
        load_project()

    message = one_line(caught)
    assert f"no portway.toml (or [tool.portway] in pyproject.toml) in {project_dir.resolve()}" in (
        message
    )
    assert "run 'portway init'" in message
    assert "--app module:attr" in message


def test_pyproject_without_tool_portway_is_no_config(project_dir):
    write(project_dir, "pyproject.toml", '[project]\nname = "lake"\n')

    with pytest.raises(ConfigError, match="portway init"):
        load_project()


def test_app_option_without_a_config_file_gives_a_single_local_dev_stage(project_dir):
    project = load_project(app="flows:app")

    assert project.app == "flows:app"
    assert project.source == "--app"
    assert list(project.stages) == ["dev"]
    assert project.stages["dev"].provider == "local"
    assert project.stage_name() == "dev"


def test_app_option_overrides_the_files_app(project_dir):
    write(project_dir, "portway.toml", 'app = "pipeline:app"\n')

    assert load_project(app="other:app").app == "other:app"


def test_app_option_that_is_not_module_colon_attribute_is_refused_without_a_file(project_dir):
    with pytest.raises(ConfigError, match="module:attribute"):
        load_project(app="pipeline")


def test_app_option_that_is_not_module_colon_attribute_is_refused_with_a_file(project_dir):
    write(project_dir, "portway.toml", 'app = "pipeline:app"\n')

    # The value came from --app, so the message names --app, not the file's key.
    with pytest.raises(ConfigError, match="--app must be 'module:attribute'"):
        load_project(app="pipeline")


# -- the file's content -------------------------------------------------------------------


def test_toml_syntax_error_names_the_file(project_dir):
    write(project_dir, "portway.toml", 'app = "pipeline:app\n')

    with pytest.raises(ConfigError) as caught:
        load_project()

    message = one_line(caught)
    assert message.startswith("portway.toml: invalid TOML: ")
    assert message.endswith("; fix the syntax there")


def test_toml_syntax_error_in_pyproject_names_pyproject(project_dir):
    write(project_dir, "pyproject.toml", "[tool.portway\n")

    with pytest.raises(ConfigError, match=r"^pyproject\.toml: invalid TOML: "):
        load_project()


def test_tool_portway_that_is_not_a_table_is_refused(project_dir):
    write(project_dir, "pyproject.toml", '[tool]\nportway = "pipeline:app"\n')

    with pytest.raises(ConfigError, match=r"^pyproject\.toml: \[tool\.portway\] must be a table$"):
        load_project()


def test_missing_app_is_refused_with_the_line_to_add(project_dir):
    write(project_dir, "portway.toml", '[stages.dev]\nprovider = "local"\n')

    with pytest.raises(ConfigError) as caught:
        load_project()

    assert one_line(caught) == "portway.toml: missing key 'app'; add app = \"pipeline:app\""


def test_app_that_is_not_a_string_is_refused(project_dir):
    write(project_dir, "portway.toml", "app = 42\n")

    with pytest.raises(ConfigError) as caught:
        load_project()

    message = one_line(caught)
    assert message.startswith("portway.toml: key 'app' must be a string 'module:attribute'")
    assert message.endswith("got 42")


def test_app_without_an_attribute_is_refused(project_dir):
    write(project_dir, "portway.toml", 'app = "pipeline"\n')

    with pytest.raises(
        ConfigError,
        match=r"'module:attribute', like \"pipeline:app\"; got 'pipeline'$",
    ):
        load_project()


def test_app_with_a_module_path_that_is_not_python_is_refused(project_dir):
    write(project_dir, "portway.toml", 'app = "my-flows/pipeline:app"\n')

    with pytest.raises(ConfigError, match="got 'my-flows/pipeline:app'"):
        load_project()


def test_unknown_top_level_key_is_refused_with_a_suggestion(project_dir):
    write(project_dir, "portway.toml", 'app = "pipeline:app"\n\n[stage.dev]\nprovider = "local"\n')

    with pytest.raises(ConfigError) as caught:
        load_project()

    assert one_line(caught) == (
        "portway.toml: unknown key 'stage' (did you mean 'stages'?); "
        "the top level takes 'app' and [stages.NAME] tables"
    )


def test_unknown_top_level_key_far_from_any_is_refused_without_a_suggestion(project_dir):
    write(project_dir, "portway.toml", 'app = "pipeline:app"\nregion = "eu-west-1"\n')

    with pytest.raises(ConfigError) as caught:
        load_project()

    message = one_line(caught)
    assert message.startswith("portway.toml: unknown key 'region'; ")
    assert "did you mean" not in message


def test_stage_without_a_provider_is_refused(project_dir):
    write(
        project_dir, "portway.toml", 'app = "pipeline:app"\n\n[stages.prod]\nregion = "eu-west-1"\n'
    )

    with pytest.raises(ConfigError) as caught:
        load_project()

    assert one_line(caught) == (
        "portway.toml [stages.prod]: missing key 'provider'; add provider = \"local\""
    )


def test_stage_provider_that_is_not_a_string_is_refused(project_dir):
    write(project_dir, "portway.toml", 'app = "pipeline:app"\n\n[stages.prod]\nprovider = 1\n')

    with pytest.raises(ConfigError) as caught:
        load_project()

    assert one_line(caught) == "portway.toml [stages.prod]: key 'provider' must be a string, got 1"


def test_stage_that_is_not_a_table_is_refused(project_dir):
    write(project_dir, "portway.toml", 'app = "pipeline:app"\n\n[stages]\nprod = "aws"\n')

    with pytest.raises(ConfigError, match=r"^portway\.toml \[stages\.prod\]: must be a table"):
        load_project()


# -- choosing a stage --------------------------------------------------------------------------

STAGES = """
    app = "pipeline:app"

    [stages.prod]
    provider = "aws"

    [stages.test]
    provider = "local"

    [stages.dev]
    provider = "local"
"""


def test_stage_named_explicitly_wins_over_portway_stage(project_dir, monkeypatch):
    write(project_dir, "portway.toml", STAGES)
    monkeypatch.setenv("PORTWAY_STAGE", "dev")

    assert load_project().stage_name("prod") == "prod"


def test_portway_stage_wins_over_the_local_stage(project_dir, monkeypatch):
    write(project_dir, "portway.toml", STAGES)
    monkeypatch.setenv("PORTWAY_STAGE", " prod ")

    assert load_project().stage_name() == "prod"


def test_first_local_stage_is_chosen_when_none_is_named(project_dir):
    write(project_dir, "portway.toml", STAGES)

    assert load_project().stage_name() == "test"


def test_dev_is_chosen_when_no_stage_is_local(project_dir):
    write(project_dir, "portway.toml", 'app = "pipeline:app"\n\n[stages.prod]\nprovider = "aws"\n')

    assert load_project().stage_name() == "dev"


def test_unknown_stage_names_the_known_ones(project_dir):
    write(project_dir, "portway.toml", STAGES)

    with pytest.raises(ConfigError) as caught:
        load_project().stage("qa")

    assert one_line(caught) == (
        "portway.toml: no stage 'qa' (stages: prod, test, dev); "
        "add a [stages.qa] table or pick one of those"
    )


def test_unknown_stage_from_portway_stage_names_the_known_ones(project_dir, monkeypatch):
    write(project_dir, "portway.toml", STAGES)
    monkeypatch.setenv("PORTWAY_STAGE", "staging")

    with pytest.raises(ConfigError, match="no stage 'staging' \\(stages: prod, test, dev\\)"):
        load_project().stage()


def test_selected_local_stage_is_returned_with_its_settings(project_dir, local_only_registry):
    project = project_with_stage(project_dir, 'provider = "local"\nport = 8080\nworkers = 2')

    assert project.stage() == StageConfig(
        "dev", "local", {"port": 8080, "workers": 2}, "portway.toml"
    )


# -- provider settings ------------------------------------------------------------------------


def test_stage_whose_provider_is_not_installed_raises_provider_not_found(
    project_dir, local_only_registry
):
    project = project_with_stage(project_dir, 'provider = "nimbus"')

    with pytest.raises(ProviderNotFound) as caught:
        project.stage()

    # Like every other config error, it starts with the file and the stage.
    assert one_line(caught) == (
        "portway.toml [stages.dev]: provider 'nimbus' is not installed "
        "(install the distribution that provides it); installed: local"
    )


def test_provider_not_found_is_a_config_error():
    assert issubclass(ProviderNotFound, ConfigError)


def test_stage_on_aws_without_portway_aws_says_what_to_install(project_dir, local_only_registry):
    project = project_with_stage(project_dir, 'provider = "aws"\nregion = "eu-west-1"')

    with pytest.raises(ProviderNotFound, match=r"install it with 'pip install portway-aws'"):
        project.stage()


def test_known_distribution_of_a_missing_provider_is_named(local_only_registry, monkeypatch):
    monkeypatch.setitem(providers_module.KNOWN_DISTRIBUTIONS, "nimbus", "portway-nimbus")

    with pytest.raises(
        ProviderNotFound,
        match=r"^provider 'nimbus' is not installed \(install it with 'pip install portway-nimbus'",
    ):
        local_only_registry.spec("nimbus")


class NimbusPlugin:
    """A third-party provider whose stages must name a region."""

    @hookspec.hookimpl
    def portway_providers(self) -> list[ProviderSpec]:
        return [
            ProviderSpec(
                name="nimbus",
                capabilities=local_plugin.CAPABILITIES,
                factory="nimbus_portway:NimbusProvider",
                settings=(Setting("region", str, required=True, help="like 'north-1'"),),
            )
        ]


def test_stage_missing_a_required_setting_is_refused_with_its_help(
    project_dir, local_only_registry
):
    local_only_registry.register(NimbusPlugin(), name="nimbus")
    project = project_with_stage(project_dir, 'provider = "nimbus"')

    with pytest.raises(ConfigError) as caught:
        project.stage()

    assert one_line(caught) == (
        "portway.toml [stages.dev]: missing key 'region' (like 'north-1'), required by "
        "provider 'nimbus'"
    )


def test_unknown_local_setting_is_refused_with_a_suggestion(project_dir, local_only_registry):
    project = project_with_stage(project_dir, 'provider = "local"\nprot = 8080')

    with pytest.raises(ConfigError) as caught:
        project.stage()

    assert one_line(caught) == (
        "portway.toml [stages.dev]: unknown setting 'prot' (did you mean 'port'?) for "
        "provider 'local' (it reads: path, port, workers, sync, otel)"
    )


def test_setting_of_the_wrong_type_is_refused(project_dir, local_only_registry):
    project = project_with_stage(project_dir, 'provider = "local"\nport = "80"')

    with pytest.raises(ConfigError) as caught:
        project.stage()

    assert one_line(caught) == "portway.toml [stages.dev]: key 'port' must be int, got str '80'"


def test_bool_where_an_int_is_expected_is_refused(project_dir, local_only_registry):
    project = project_with_stage(project_dir, 'provider = "local"\nworkers = true')

    with pytest.raises(ConfigError, match=r"key 'workers' must be int, got bool True"):
        project.stage()


def test_int_where_a_str_is_expected_is_refused(project_dir, local_only_registry):
    project = project_with_stage(project_dir, 'provider = "local"\npath = 7')

    with pytest.raises(ConfigError, match=r"key 'path' must be str, got int 7"):
        project.stage()


def test_settings_of_a_stage_not_selected_are_not_checked(project_dir, local_only_registry):
    write(
        project_dir,
        "portway.toml",
        """
        app = "pipeline:app"

        [stages.dev]
        provider = "local"

        [stages.prod]
        provider = "nimbus"
        colour = "blue"
        """,
    )

    assert load_project().stage().name == "dev"
