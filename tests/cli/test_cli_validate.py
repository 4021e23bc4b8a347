"""``portway validate`` through the CLI runner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from portway.cli.main import app

runner = CliRunner()


def test_validate_all_on_the_example_exits_zero(example_dir: Path) -> None:
    result = runner.invoke(app, ["validate", "--all"])
    assert result.exit_code == 0, result.output
    assert "lake-to-warehouse on" in result.stdout
    assert "0 errors" in result.stdout


def test_validate_json_gives_findings_with_the_documented_keys(example_dir: Path) -> None:
    result = runner.invoke(app, ["validate", "--all", "--json"])
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)
    assert findings, "the example has at least the message-size notes"
    for finding in findings:
        assert set(finding) == {"provider", "target", "rule", "severity", "message"}
        assert finding["severity"] in {"error", "warning", "info"}


def test_validate_defaults_to_the_stage_provider(example_dir: Path) -> None:
    result = runner.invoke(app, ["validate", "--json"])
    assert result.exit_code == 0, result.output
    assert {f["provider"] for f in json.loads(result.stdout)} <= {"local", "*"}


@pytest.mark.parametrize(
    ("source", "culprit"),
    [
        ('app = Pipeline("' + "a" * 200 + '")\n', "200 characters"),
        ('app = Pipeline("dup")\napp.bucket("data")\napp.queue("data")\n', "queue 'data'"),
        (
            'app = Pipeline("mine")\nother = Pipeline("theirs")\nb = other.bucket("drop")\n'
            "@app.on_object_created(b)\ndef f(event): ...\n",
            "bucket 'drop' of pipeline 'theirs'",
        ),
    ],
    ids=["200-char-name", "duplicate-resource", "undeclared-trigger-resource"],
)
def test_a_bad_pipeline_exits_1_with_one_line_naming_the_culprit(
    project: Callable[..., Path], source: str, culprit: str
) -> None:
    project("from portway import Pipeline\n" + source)
    result = runner.invoke(app, ["validate", "--all"])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert culprit in lines[0]


def test_an_error_finding_makes_validate_exit_1(project: Callable[..., Path]) -> None:
    project(
        """
        from portway import Message, Pipeline
        app = Pipeline("slow")
        jobs = app.queue("jobs", visibility_timeout=30)

        @app.on_message(jobs, timeout=3000)
        def work(msg: Message) -> None: ...
        """
    )
    result = runner.invoke(app, ["validate", "--provider", "local", "--json"])
    assert result.exit_code == 0, "3000s is within local's limit; only a warning"
    findings = json.loads(result.stdout)
    assert [f["rule"] for f in findings if f["severity"] == "warning"] == [
        "visibility-covers-timeout"
    ]


def test_validate_refuses_two_selectors_at_once(example_dir: Path) -> None:
    result = runner.invoke(app, ["validate", "--all", "--provider", "local"])
    assert result.exit_code == 2
    assert "choose one of" in result.stderr


def test_validate_against_a_provider_not_installed_says_how_to_get_it(example_dir: Path) -> None:
    result = runner.invoke(app, ["validate", "--provider", "nimbus"])
    assert result.exit_code == 1
    assert "provider 'nimbus' is not installed" in result.stderr


def test_validate_without_a_config_says_to_run_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1
    assert "portway init" in result.stderr
    assert "Traceback" not in result.output


def test_validate_accepts_app_without_a_config(
    project: Callable[..., Path], tmp_path: Path
) -> None:
    project('from portway import Pipeline\nmy_app = Pipeline("solo")\n')
    (tmp_path / "portway.toml").unlink()
    result = runner.invoke(app, ["validate", "--app", "pipeline:my_app"])
    assert result.exit_code == 0, result.output
    assert "solo on local: ok" in result.stdout


def test_a_broken_config_is_one_line_and_exit_1(project: Callable[..., Path]) -> None:
    project('from portway import Pipeline\napp = Pipeline("x")\n', config='app = "pipeline:app\n')
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "portway.toml: invalid TOML" in result.stderr
