"""Deploying the example pipeline on the emulators: create, no-op redeploy, change,
destroy, resume; through :class:`GcpDeployment` and through the command line.

Each test deploys into a project of its own (Pub/Sub, drongo and the bucket names are
per project), so tests share the session's emulators without seeing each other.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from portway_gcp.clients import GcpClients
from portway_gcp.deploy.deployment import GcpDeployment
from portway_gcp.deploy.kinds import SKIPS
from portway_gcp.deploy.observe import parse_marker
from portway_gcp.naming import Names
from portway_gcp.package import SourceArchive
from portway_gcp.testing.emulators import EmulatorEndpoints
from typer.testing import CliRunner

from portway import Pipeline
from portway.cli.main import app as cli
from portway.config import StageConfig, load_project
from portway.deploy import ChangeKind
from portway.errors import DeployError
from portway.loading import load_pipeline
from portway.testing.ports import free_port

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "lake-to-warehouse"
STAGE = "gcp-local"
APP = "lake-to-warehouse"
runner = CliRunner()


@pytest.fixture
def project(
    gcp_environment: EmulatorEndpoints,
    unique_name: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Path]:
    """A copy of the example whose gcp-local stage points at the session's emulators,
    in a project of its own."""
    root = tmp_path / "lake"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".portway", "__pycache__"))
    config = root / "portway.toml"
    text = (
        config.read_text()
        .replace('"portway-local"', f'"{unique_name("proj")}"')
        .replace('"127.0.0.1:8085"', f'"{gcp_environment.pubsub}"')
        .replace('"http://127.0.0.1:9023"', f'"{gcp_environment.storage}"')
        .replace('"http://127.0.0.1:8090"', f'"{gcp_environment.api}"')
        .replace('"127.0.0.1:8091"', f'"{gcp_environment.iam}"')
    )
    config.write_text(text)
    monkeypatch.chdir(root)
    yield root
    sys.modules.pop("pipeline", None)


def stage_of(root: Path) -> StageConfig:
    return load_project(root).stage(STAGE)


def deployment(root: Path) -> GcpDeployment:
    """A fresh deployment of the project, as one run of the command line makes it."""
    sys.modules.pop("pipeline", None)  # a command imports the pipeline once per process
    config = load_project(root)
    pipeline = load_pipeline(config.app, config.root)
    return GcpDeployment(pipeline.name, config.stage(STAGE), pipeline, progress=lambda _: None)


def labelled(stage: StageConfig) -> list[str]:
    """Everything in the stage's project marked ``portway-app`` (labels or description)."""
    clients = GcpClients.for_stage(stage)
    project = f"projects/{clients.project}"
    found = [
        t.name
        for t in clients.publisher.list_topics(request={"project": project})
        if "portway-app" in t.labels
    ]
    found += [
        s.name
        for s in clients.subscriber.list_subscriptions(request={"project": project})
        if "portway-app" in s.labels
    ]
    # The storage emulator keeps every project's buckets in one list: this project's end
    # with its suffix.
    suffix = "-" + Names(APP, stage.name, clients.project, clients.region).bucket_suffix
    found += [
        b.name
        for b in clients.storage.list_buckets(project=clients.project)
        if "portway-app" in (b.labels or {}) and b.name.endswith(suffix)
    ]
    found += [
        f.name
        for f in clients.functions.list_functions(request={"parent": clients.location_path})
        if "portway-app" in f.labels
    ]
    found += [
        a.email
        for a in clients.iam_admin.list_service_accounts(request={"name": project})
        if "portway-app" in parse_marker(a.description)
    ]
    found += [
        j.name
        for j in clients.scheduler.list_jobs(request={"parent": clients.location_path})
        if "portway-app" in parse_marker(j.description)
    ]
    return sorted(found)


def test_the_example_deploys_and_a_second_deploy_makes_no_mutating_call(project: Path) -> None:
    first = deployment(project)
    plan = first.plan()
    assert {c.kind for c in plan.changes} == {ChangeKind.CREATE}
    assert first.log.writes == [], "plan makes read-only calls only"
    first.apply(plan)
    clients = GcpClients.for_stage(stage_of(project))
    functions = clients.functions.list_functions(request={"parent": clients.location_path})
    assert sorted(f.name.rsplit("/", 1)[1] for f in functions) == [
        f"{APP}-{STAGE}-enqueue",
        f"{APP}-{STAGE}-pull-ftp",
        f"{APP}-{STAGE}-report",
        f"{APP}-{STAGE}-status",
        f"{APP}-{STAGE}-transform",
    ]

    second = deployment(project)
    again = second.plan()
    assert again.is_empty, again.to_json()
    assert second.deploy().is_empty
    assert second.log.writes == []
    # The record (metadata and body), then one list call per kind, whatever the count.
    assert second.log.reads.count("storage.objects.get") == 2
    assert len(second.log.reads) == 16  # two plans of 8 reads


def test_push_subscriptions_and_jobs_call_the_function_urls_with_oidc(project: Path) -> None:
    first = deployment(project)
    first.apply(first.plan())
    clients = GcpClients.for_stage(stage_of(project))
    names = first.names
    transform = clients.functions.get_function(request={"name": names.function_path("transform")})
    subscription = clients.subscriber.get_subscription(
        request={
            "subscription": names.subscription_path(names.queue_subscription("transform-jobs"))
        }
    )
    invoker = names.service_account_email(names.invoker_service_account)
    assert subscription.push_config.push_endpoint == transform.url
    assert subscription.push_config.oidc_token.service_account_email == invoker
    assert subscription.push_config.oidc_token.audience == transform.url
    assert subscription.dead_letter_policy.max_delivery_attempts == 5
    assert subscription.ack_deadline_seconds == 30
    job = clients.scheduler.get_job(request={"name": names.scheduler_job_path("pull_ftp")})
    pull_ftp = clients.functions.get_function(request={"name": names.function_path("pull_ftp")})
    assert job.http_target.uri == pull_ftp.url
    assert job.http_target.oidc_token.service_account_email == invoker
    assert job.schedule == "*/15 * * * *"


def test_the_cli_deploys_plans_nothing_then_destroys_every_labelled_resource(
    project: Path,
) -> None:
    result = runner.invoke(cli, ["deploy", "--stage", STAGE, "--yes"])
    assert result.exit_code == 0, result.output
    assert labelled(stage_of(project)), "deploy created labelled resources"
    result = runner.invoke(cli, ["plan", "--stage", STAGE])
    assert result.exit_code == 0, result.output
    assert "no changes" in result.stdout
    result = runner.invoke(cli, ["status", "--stage", STAGE, "--json"])
    assert result.exit_code == 0, result.output
    assert '"in_sync": true' in result.stdout
    result = runner.invoke(cli, ["destroy", "--stage", STAGE, "--yes"])
    assert result.exit_code == 0, result.output
    assert labelled(stage_of(project)) == []


def test_status_reports_a_missing_resource(project: Path) -> None:
    first = deployment(project)
    first.apply(first.plan())
    clients = GcpClients.for_stage(stage_of(project))
    loaded = first.names.topic_path(first.names.topic("loaded"))
    clients.publisher.delete_topic(request={"topic": loaded})
    status = deployment(project).status()
    assert status["in_sync"] is False
    # Its IAM bindings, known from the record, went with it.
    assert status["missing"] == [f"iam:bindings {loaded}", f"pubsub:topic {loaded}"]
    plan = deployment(project).plan()
    assert [(c.kind, c.resource_type, c.name) for c in plan.changes] == [
        (ChangeKind.CREATE, "pubsub:topic", loaded),
        (ChangeKind.CREATE, "iam:bindings", loaded),
    ]


def test_a_changed_timeout_updates_the_functions_and_that_triggers_subscriptions_only(
    project: Path,
) -> None:
    first = deployment(project)
    first.apply(first.plan())
    source = project / "pipeline.py"
    source.write_text(
        source.read_text().replace(
            "@app.on_message(loaded, uses=[lake.read()])",
            "@app.on_message(loaded, uses=[lake.read()], timeout=60)",
        )
    )
    changed = deployment(project)
    plan = changed.plan()
    prefix = f"{APP}-{STAGE}-"
    # One zip serves every function: pipeline.py changed, so each function's source did.
    assert {c.kind for c in plan.changes} == {ChangeKind.UPDATE}
    assert sorted((c.resource_type, c.name.rsplit("/", 1)[1]) for c in plan.changes) == [
        ("functions:function", f"{prefix}enqueue"),
        ("functions:function", f"{prefix}pull-ftp"),
        ("functions:function", f"{prefix}report"),
        ("functions:function", f"{prefix}status"),
        ("functions:function", f"{prefix}transform"),
        # The push request must not time out before the function: ack deadline 60 s.
        ("pubsub:subscription", f"{prefix}report--in"),
        ("pubsub:subscription", f"{prefix}report--in-dlq"),
    ]
    report = next(c for c in plan.changes if c.name.endswith("-report"))
    assert set(report.details) == {"source_sha256", "timeout_seconds"}
    changed.apply(plan)
    clients = GcpClients.for_stage(stage_of(project))
    names = changed.names
    function = clients.functions.get_function(request={"name": names.function_path("report")})
    assert function.service_config.timeout_seconds == 60
    subscription = clients.subscriber.get_subscription(
        request={"subscription": names.subscription_path(names.trigger_subscription("report"))}
    )
    assert subscription.ack_deadline_seconds == 60
    # The Pub/Sub emulator refuses label updates (emulator_skips: pubsub-label-update), so
    # the two subscriptions keep their old spec label there and are planned again; on
    # Pub/Sub the label is updated with them and the next plan is empty.
    again = deployment(project).plan()
    assert sorted(c.name.rsplit("/", 1)[1] for c in again.changes) == [
        f"{prefix}report--in",
        f"{prefix}report--in-dlq",
    ]


def test_an_unchanged_source_is_not_uploaded_again(
    gcp_stage: StageConfig, unique_name: Callable[[str], str], tmp_path: Path
) -> None:
    stage = code_stage(gcp_stage, unique_name, tmp_path)
    source = empty_source(tmp_path)
    first = GcpDeployment("small", stage, small_pipeline(256), progress=lambda _: None)
    first.source = source
    first.apply(first.plan())
    uploads = [w for w in first.log.writes if w == "cloudfunctions.functions.generateUploadUrl"]
    assert len(uploads) == 1

    # Same zip, more memory: the function's configuration changes, its source does not.
    second = GcpDeployment("small", stage, small_pipeline(512), progress=lambda _: None)
    second.source = source
    plan = second.plan()
    assert [(c.kind, c.resource_type) for c in plan.changes] == [
        (ChangeKind.UPDATE, "functions:function")
    ]
    assert dict(plan.changes[0].details) == {"memory_mib": [256, 512]}
    second.apply(plan)
    assert not [w for w in second.log.writes if "generateUploadUrl" in w]
    clients = GcpClients.for_stage(stage)
    function = clients.functions.get_function(
        request={"name": second.names.function_path("status")}
    )
    assert function.service_config.available_memory == "512Mi"
    # (drongo replaces build_config whole on update, ignoring the update mask, so the
    # kept source cannot be read back there: that no source was sent is checked above.)


def test_a_harness_can_point_push_subscriptions_at_the_functions_it_serves(
    gcp_stage: StageConfig, unique_name: Callable[[str], str], tmp_path: Path
) -> None:
    stage = code_stage(gcp_stage, unique_name, tmp_path)
    pipeline = Pipeline("served")
    jobs = pipeline.queue("jobs")

    @pipeline.on_message(jobs)
    def work(message: Any) -> None: ...

    served = "http://127.0.0.1:8765/"
    deployment_ = GcpDeployment(
        "served", stage, pipeline, progress=lambda _: None, function_urls={"work": served}
    )
    deployment_.source = empty_source(tmp_path)
    deployment_.apply(deployment_.plan())
    names = deployment_.names
    subscription = GcpClients.for_stage(stage).subscriber.get_subscription(
        request={"subscription": names.subscription_path(names.queue_subscription("jobs"))}
    )
    assert subscription.push_config.push_endpoint == served
    assert subscription.push_config.oidc_token.audience == served


def test_status_reports_changed_and_extra_resources(
    gcp_stage: StageConfig, unique_name: Callable[[str], str], tmp_path: Path
) -> None:
    stage = code_stage(gcp_stage, unique_name, tmp_path)
    source = empty_source(tmp_path)
    first = GcpDeployment("small", stage, small_pipeline(256), progress=lambda _: None)
    first.source = source
    first.apply(first.plan())
    assert first.status()["in_sync"] is True

    declared = Pipeline("small")  # status is gone; a new function is declared instead

    @declared.http("GET", "/health")
    def health(request: Any) -> dict[str, str]:
        return {}

    changed = GcpDeployment("small", stage, small_pipeline(512), source=source)
    names = changed.names
    assert changed.status()["changed"] == [f"functions:function {names.function_path('status')}"]
    other = GcpDeployment("small", stage, declared, source=source).status()
    account = names.service_account_path(names.service_account("status"))
    assert other["extra"] == [
        f"functions:function {names.function_path('status')}",
        f"iam:service-account {account}",
    ]
    assert f"functions:function {names.function_path('health')}" in other["missing"]
    assert other["in_sync"] is False


def code_stage(
    gcp_stage: StageConfig, unique_name: Callable[[str], str], root: Path
) -> StageConfig:
    """A stage on the emulators in a project of its own, for a pipeline built in code."""
    settings = {
        **gcp_stage.settings,
        "project": unique_name("proj"),
        "project_number": "42",
        "emulator_skips": sorted(SKIPS),
    }
    return StageConfig("test", "gcp", settings, root=root, app="pipeline:app")


def small_pipeline(memory: int) -> Pipeline:
    pipeline = Pipeline("small")

    @pipeline.http("GET", "/status", memory=memory)
    def status(request: Any) -> dict[str, str]:
        return {}

    return pipeline


def empty_source(folder: Path) -> SourceArchive:
    """A source zip standing for the build (drongo stores functions, it builds nothing)."""
    zipped = folder / "source.zip"
    zipped.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    return SourceArchive(zipped, "cd" * 32, zipped.stat().st_size)


def test_destroy_refuses_before_any_change_while_a_bucket_holds_data(project: Path) -> None:
    first = deployment(project)
    first.apply(first.plan())
    stage = stage_of(project)
    lake = first.names.bucket("lake")
    storage = GcpClients.for_stage(stage).storage
    storage.bucket(lake).blob("clean/orders.jsonl").upload_from_string(b"{}\n")
    before = labelled(stage)

    result = runner.invoke(cli, ["destroy", "--stage", STAGE, "--yes"])
    assert result.exit_code == 1
    assert f"bucket(s) {lake} still hold objects" in result.stderr
    assert f"gcloud storage rm --recursive gs://{lake}/**" in result.stderr
    assert labelled(stage) == before, "nothing was deleted"

    storage.bucket(lake).blob("clean/orders.jsonl").delete()
    result = runner.invoke(cli, ["destroy", "--stage", STAGE, "--yes"])
    assert result.exit_code == 0, result.output
    assert labelled(stage) == []


def test_destroy_works_without_the_pipeline(project: Path) -> None:
    first = deployment(project)
    first.apply(first.plan())
    (project / "pipeline.py").unlink()
    gone = GcpDeployment(APP, stage_of(project), progress=lambda _: None)
    plan = gone.destroy()
    assert {c.kind for c in plan.changes} == {ChangeKind.DELETE}
    assert labelled(stage_of(project)) == []


def test_a_deploy_cut_short_converges_on_the_next_run(project: Path) -> None:
    first = deployment(project)
    plan = first.plan()
    cut = type(plan)(plan.app, plan.stage, plan.provider, plan.changes[: len(plan.changes) // 2])
    first.apply(cut)
    second = deployment(project)
    rest = second.plan()
    assert rest.changes, "the missing half is planned again"
    second.apply(rest)
    assert deployment(project).plan().is_empty


@pytest.mark.parametrize("count", [10, 100])
def test_observing_reads_grow_with_kinds_not_with_functions(
    count: int, gcp_stage: StageConfig, unique_name: Callable[[str], str], tmp_path: Path
) -> None:
    stage = code_stage(gcp_stage, unique_name, tmp_path)
    pipeline = Pipeline("many")
    jobs = pipeline.queue("jobs")
    for number in range(count):

        def handler(event: Any) -> None: ...

        handler.__name__ = f"work{number:03d}"
        pipeline.schedule("rate(1 hour)", uses=[jobs.send()])(handler)
    first = GcpDeployment("many", stage, pipeline, progress=lambda _: None)
    first.source = empty_source(tmp_path)
    first.apply(first.plan())
    again = GcpDeployment("many", stage, pipeline, progress=lambda _: None)
    again.source = first.source
    assert again.plan().is_empty
    # The record (metadata, body) and one list per kind: 8, for 10 functions or 100.
    assert len(again.log.reads) == 8
    assert again.log.writes == []


def test_an_emulator_that_is_down_is_named_at_once(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    settings = {
        "project": "proj-down",
        "region": "europe-west1",
        "pubsub_endpoint": f"127.0.0.1:{closed}",
        "storage_endpoint": f"http://127.0.0.1:{closed}",
        "api_endpoint": f"http://127.0.0.1:{closed}",
        "iam_endpoint": f"127.0.0.1:{closed}",
    }
    stage = StageConfig("test", "gcp", settings, root=tmp_path, app="pipeline:app")
    down = GcpDeployment("small", stage, small_pipeline(256), source=empty_source(tmp_path))
    with pytest.raises(
        DeployError, match=f"nothing answers at pubsub_endpoint = '127.0.0.1:{closed}'"
    ):
        down.plan()
