"""Deploying the example pipeline on moto: create, no-op redeploy, change, destroy, resume."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from portway_aws.deploy.deployment import Deployment
from portway_aws.naming import APP_TAG
from portway_aws.session import AwsClients
from typer.testing import CliRunner

from portway.cli.main import app as cli
from portway.config import load_project
from portway.deploy import ChangeKind
from portway.loading import load_pipeline

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "lake-to-warehouse"
runner = CliRunner()


@pytest.fixture
def project(moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the example whose aws-local stage points at this test's moto server."""
    root = tmp_path / "lake"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".portway", "__pycache__"))
    config = root / "portway.toml"
    text = config.read_text().replace("http://127.0.0.1:5000", moto)
    config.write_text(text)
    monkeypatch.chdir(root)
    yield root
    sys.modules.pop("pipeline", None)


def deployment(root: Path) -> Deployment:
    """A fresh deployment of the project, as one run of the command line makes it."""
    sys.modules.pop("pipeline", None)  # a command imports the pipeline once per process
    config = load_project(root)
    stage = config.stage("aws-local")
    pipeline = load_pipeline(config.app, config.root)
    return Deployment(pipeline.name, stage, pipeline, AwsClients.for_stage(stage), lambda _: None)


def tagged_arns() -> list[str]:
    tagging = boto3.client("resourcegroupstaggingapi")
    found = tagging.get_resources(TagFilters=[{"Key": APP_TAG, "Values": ["lake-to-warehouse"]}])
    return sorted(m["ResourceARN"] for m in found["ResourceTagMappingList"])


def test_the_example_deploys_and_a_second_deploy_changes_nothing(project: Path) -> None:
    first = deployment(project)
    plan = first.plan()
    assert {c.kind for c in plan.changes} == {ChangeKind.CREATE}
    first.apply(plan)
    functions = boto3.client("lambda").list_functions()["Functions"]
    assert sorted(f["FunctionName"] for f in functions) == [
        "lake-to-warehouse-aws-local-enqueue",
        "lake-to-warehouse-aws-local-pull-ftp",
        "lake-to-warehouse-aws-local-report",
        "lake-to-warehouse-aws-local-status",
        "lake-to-warehouse-aws-local-transform",
    ]

    second = deployment(project)
    again = second.plan()
    assert again.is_empty, again.to_json()
    assert second.aws.log.writes == []
    assert second.aws.log.reads, "the plan read what is deployed"


def test_the_cli_deploys_plans_nothing_then_destroys_every_tagged_resource(project: Path) -> None:
    result = runner.invoke(cli, ["deploy", "--stage", "aws-local", "--yes"])
    assert result.exit_code == 0, result.output
    assert tagged_arns(), "deploy created tagged resources"
    result = runner.invoke(cli, ["plan", "--stage", "aws-local"])
    assert result.exit_code == 0, result.output
    assert "no changes" in result.stdout
    result = runner.invoke(cli, ["status", "--stage", "aws-local", "--json"])
    assert result.exit_code == 0, result.output
    assert '"in_sync": true' in result.stdout
    result = runner.invoke(cli, ["destroy", "--stage", "aws-local", "--yes"])
    assert result.exit_code == 0, result.output
    assert tagged_arns() == []
    roles = boto3.client("iam").list_roles(PathPrefix="/portway/")["Roles"]
    assert roles == []


def test_a_changed_timeout_updates_the_functions_and_that_trigger_queue_only(
    project: Path,
) -> None:
    first = deployment(project)
    first.apply(first.plan())
    source = project / "pipeline.py"
    source.write_text(
        source.read_text().replace(
            "@app.on_message(loaded, uses=[lake.read()])",
            "@app.on_message(loaded, uses=[lake.read()], timeout=20)",
        )
    )
    plan = deployment(project).plan()
    # One zip serves every function: pipeline.py changed, so each function's code did.
    assert {c.kind for c in plan.changes} == {ChangeKind.UPDATE}
    assert sorted((c.resource_type, c.name) for c in plan.changes) == [
        ("lambda:function", "lake-to-warehouse-aws-local-enqueue"),
        ("lambda:function", "lake-to-warehouse-aws-local-pull-ftp"),
        ("lambda:function", "lake-to-warehouse-aws-local-report"),
        ("lambda:function", "lake-to-warehouse-aws-local-status"),
        ("lambda:function", "lake-to-warehouse-aws-local-transform"),
        ("sqs:queue", "lake-to-warehouse-aws-local-report--in"),
        # Its dead-letter queue keeps the same visibility timeout.
        ("sqs:queue", "lake-to-warehouse-aws-local-report--in-dlq"),
    ]
    report = next(c for c in plan.changes if c.name.endswith("-report"))
    assert set(report.details) == {"code_sha256", "timeout"}


def test_a_deploy_cut_short_converges_on_the_next_run(project: Path) -> None:
    first = deployment(project)
    plan = first.plan()
    cut = type(plan)(plan.app, plan.stage, plan.provider, plan.changes[: len(plan.changes) // 2])
    first.apply(cut)
    # The record now lists everything, although half was never made: the next plan
    # must still find and create the rest, then settle.
    second = deployment(project)
    rest = second.plan()
    assert rest.changes, "the missing half is planned again"
    second.apply(rest)
    assert deployment(project).plan().is_empty


def test_destroy_refuses_before_any_change_while_a_bucket_holds_data(project: Path) -> None:
    first = deployment(project)
    first.apply(first.plan())
    lake = first.names.bucket("lake")
    boto3.client("s3").put_object(Bucket=lake, Key="clean/orders.jsonl", Body=b"{}\n")
    before = tagged_arns()

    result = runner.invoke(cli, ["destroy", "--stage", "aws-local", "--yes"])
    assert result.exit_code == 1
    assert f"bucket(s) {lake} still hold objects" in result.stderr
    assert f"aws s3 rm s3://{lake} --recursive" in result.stderr
    assert tagged_arns() == before, "nothing was deleted"

    boto3.client("s3").delete_object(Bucket=lake, Key="clean/orders.jsonl")
    result = runner.invoke(cli, ["destroy", "--stage", "aws-local", "--yes"])
    assert result.exit_code == 0, result.output
    assert tagged_arns() == []
