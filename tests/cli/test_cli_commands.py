"""The other commands of the contract: providers, init, plan/deploy, and those not here yet."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from portway.capabilities import Capabilities
from portway.cli.main import app
from portway.config import StageConfig
from portway.deploy import Change, ChangeKind, Plan
from portway.hookspec import hookimpl
from portway.model import Pipeline
from portway.providers import Provider, ProviderSpec, registry

runner = CliRunner()


def test_version_prints_the_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("portway 0.")


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["validate"],
        ["graph"],
        ["plan"],
        ["deploy"],
        ["destroy"],
        ["status"],
        ["providers"],
        ["conformance"],
        ["invoke"],
        ["send"],
        ["put"],
        ["init"],
        ["dlq", "list"],
        ["dlq", "redrive"],
    ],
    ids=lambda c: " ".join(c),
)
def test_every_command_of_the_contract_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout


def test_providers_lists_local_with_its_capabilities() -> None:
    result = runner.invoke(app, ["providers", "--json"])
    assert result.exit_code == 0, result.output
    providers = {p["name"]: p for p in json.loads(result.stdout)}
    local = providers["local"]
    assert local["plugin"] == "local"
    assert local["capabilities"]["max_message_bytes"] == 256 * 1024
    assert "schedules" in local["capabilities"]["features"]


def test_providers_table_names_each_provider() -> None:
    result = runner.invoke(app, ["providers"])
    assert result.exit_code == 0, result.output
    assert "local" in result.stdout
    assert "[stages.NAME]" in result.stdout


def test_init_scaffolds_a_project_that_validates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "Sales Pipeline"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert "sales-pipeline" in result.stdout
    monkeypatch.chdir(target)
    validated = runner.invoke(app, ["validate", "--all", "--json"])
    assert validated.exit_code == 0, validated.output
    assert not [f for f in json.loads(validated.stdout) if f["severity"] == "error"]


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "pipeline.py").write_text("# mine\n", encoding="utf-8")
    result = runner.invoke(app, ["init", str(tmp_path), "--name", "mine"])
    assert result.exit_code == 1
    assert "already exists; pass --force" in result.stderr
    assert (tmp_path / "pipeline.py").read_text(encoding="utf-8") == "# mine\n"
    forced = runner.invoke(app, ["init", str(tmp_path), "--name", "mine", "--force"])
    assert forced.exit_code == 0, forced.output
    assert 'Pipeline("mine")' in (tmp_path / "pipeline.py").read_text(encoding="utf-8")


def test_init_refuses_a_name_that_is_not_portable(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", str(tmp_path), "--name", "My_Pipeline"])
    assert result.exit_code == 1
    assert "--name" in result.stderr
    assert not (tmp_path / "pipeline.py").exists()


def test_plan_on_the_local_stage_says_local_does_not_deploy(example_dir: Path) -> None:
    result = runner.invoke(app, ["plan", "--stage", "dev"])
    assert result.exit_code == 2
    assert "provider 'local' does not offer plan/deploy" in result.stderr


def test_plan_on_a_stage_whose_provider_is_missing_names_the_package(
    project: Callable[..., Path],
) -> None:
    project(
        'from portway import Pipeline\napp = Pipeline("pay")\n',
        config='app = "pipeline:app"\n[stages.edge]\nprovider = "nimbus"\n',
    )
    result = runner.invoke(app, ["plan", "--stage", "edge"])
    assert result.exit_code == 1
    assert "provider 'nimbus' is not installed" in result.stderr


class RecordingProvider(Provider):
    """A portway provider written for this test: it plans one change and records applies."""

    applied: ClassVar[list[Plan]] = []

    def plan(self, pipeline: Pipeline, stage: StageConfig) -> Plan:
        change = Change(ChangeKind.CREATE, "test:queue", f"{pipeline.name}-jobs", "jobs")
        return Plan(pipeline.name, stage.name, self.name, (change,))

    def apply(self, plan: Plan, pipeline: Pipeline, stage: StageConfig) -> None:
        RecordingProvider.applied.append(plan)

    def plan_destroy(self, app: str, stage: StageConfig) -> Plan:
        change = Change(ChangeKind.DELETE, "test:queue", f"{app}-jobs", "jobs")
        return Plan(app, stage.name, self.name, (change,))

    def destroy(self, plan: Plan, app: str, stage: StageConfig) -> None:
        RecordingProvider.applied.append(plan)


class RecordingPlugin:
    @hookimpl
    def portway_providers(self) -> list[ProviderSpec]:
        caps = Capabilities(
            max_message_bytes=1024,
            max_batch_size=10,
            max_attempts=(1, 10),
            visibility_timeout=(1, 60),
            max_timeout=60,
            max_http_timeout=60,
            memory=(128, 1024),
        )
        return [ProviderSpec("recording", caps, f"{__name__}:RecordingProvider")]

    @hookimpl
    def portway_plan_annotations(self, plan: Any) -> list[str]:
        return [f"estimated cost of {len(plan.changes)} change(s): 0.00 USD"]


@pytest.fixture
def recording_stage(project: Callable[..., Path]) -> Path:
    registry().register(RecordingPlugin(), name="recording")
    RecordingProvider.applied.clear()
    return project(
        """
        from portway import Message, Pipeline
        app = Pipeline("shop")
        jobs = app.queue("jobs")

        @app.on_message(jobs)
        def work(msg: Message) -> None: ...
        """,
        config='app = "pipeline:app"\n[stages.test]\nprovider = "recording"\n',
    )


def test_plan_shows_the_provider_plan_and_plugin_annotations(recording_stage: Path) -> None:
    result = runner.invoke(app, ["plan", "--stage", "test"])
    assert result.exit_code == 0, result.output
    assert "shop-jobs" in result.stdout
    assert "1 to create, 0 to update, 0 to delete" in result.stdout
    assert "estimated cost of 1 change(s)" in result.stdout
    assert RecordingProvider.applied == []


def test_plan_json_is_the_plan_document(recording_stage: Path) -> None:
    result = runner.invoke(app, ["plan", "--stage", "test", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["provider"] == "recording"
    assert document["changes"][0]["kind"] == "create"


def test_deploy_without_a_terminal_needs_yes(recording_stage: Path) -> None:
    result = runner.invoke(app, ["deploy", "--stage", "test"])
    assert result.exit_code == 1
    assert "pass --yes" in result.stderr
    assert RecordingProvider.applied == []


def test_deploy_with_yes_applies_the_plan(recording_stage: Path) -> None:
    result = runner.invoke(app, ["deploy", "--stage", "test", "--yes"])
    assert result.exit_code == 0, result.output
    assert [p.changes[0].name for p in RecordingProvider.applied] == ["shop-jobs"]


def test_destroy_works_from_the_app_name_of_the_pipeline(recording_stage: Path) -> None:
    result = runner.invoke(app, ["destroy", "--stage", "test", "--yes"])
    assert result.exit_code == 0, result.output
    assert [(p.app, p.changes[0].name) for p in RecordingProvider.applied] == [
        ("shop", "shop-jobs")
    ]


def test_destroy_without_the_pipeline_needs_its_app_name(recording_stage: Path) -> None:
    (recording_stage / "pipeline.py").write_text("raise RuntimeError('gone')\n")
    result = runner.invoke(app, ["destroy", "--stage", "test", "--yes"])
    assert result.exit_code == 1
    assert "pass --app-name NAME" in result.stderr
    assert RecordingProvider.applied == []
    result = runner.invoke(app, ["destroy", "--stage", "test", "--yes", "--app-name", "shop"])
    assert result.exit_code == 0, result.output
    assert [p.app for p in RecordingProvider.applied] == ["shop"]
