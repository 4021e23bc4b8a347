"""``portway graph`` through the CLI runner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from portway.cli.main import app

runner = CliRunner()


def test_graph_json_of_the_example_has_every_resource_function_and_edge(
    example_dir: Path,
) -> None:
    result = runner.invoke(app, ["graph", "--format", "json"])
    assert result.exit_code == 0, result.output
    graph = json.loads(result.stdout)
    kinds: dict[str, list[str]] = {}
    for node in graph["nodes"]:
        kinds.setdefault(node["kind"], []).append(node["name"])
    resources = kinds["bucket"] + kinds["queue"] + kinds["topic"]
    assert sorted(resources) == ["lake", "landing", "loaded", "transform-jobs"]
    assert kinds["dead-letter-queue"] == ["transform-jobs-dlq"]
    assert sorted(kinds["function"]) == ["enqueue", "pull_ftp", "report", "status", "transform"]
    triggers = [e for e in graph["edges"] if e["kind"] == "trigger"]
    uses = [e for e in graph["edges"] if e["kind"] == "use"]
    assert len(triggers) == 5
    # pull_ftp 1, enqueue 1, transform 3, report 1, status 1
    assert len(uses) == 7
    assert [e["label"] for e in graph["edges"] if e["kind"] == "dead-letter"] == [
        "after 5 attempts"
    ]


def test_graph_mermaid_is_the_default(example_dir: Path) -> None:
    result = runner.invoke(app, ["graph"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("flowchart LR\n")
    assert '"object created, suffix .csv"' in result.stdout


def test_graph_dot_is_a_digraph(example_dir: Path) -> None:
    result = runner.invoke(app, ["graph", "--format", "dot"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith('digraph "lake-to-warehouse" {')
    assert '"bucket:landing" -> "function:enqueue"' in result.stdout


def test_graph_writes_to_the_output_file(example_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "pipeline.mmd"
    result = runner.invoke(app, ["graph", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert target.read_text(encoding="utf-8").startswith("flowchart LR")


def test_graph_unknown_format_exits_2(example_dir: Path) -> None:
    result = runner.invoke(app, ["graph", "--format", "png"])
    assert result.exit_code == 2
    assert "unknown format 'png'" in result.stderr
