"""``portway plan``, ``deploy``, ``destroy`` and ``status``: through the stage's provider.

Each command resolves the stage, asks its provider, and shows the result; a provider
that does not offer the operation says so (exit 2).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from portway.cli.errors import fail, reports_errors
from portway.cli.project import AppOption, JsonOption, load
from portway.config import ProjectConfig, load_project
from portway.deploy import ChangeKind, Plan
from portway.errors import PortwayError
from portway.loading import load_pipeline
from portway.providers import registry

stdout = Console(highlight=False, soft_wrap=True)
StageRequired = Annotated[str, typer.Option("--stage", "-s", help="Stage from portway.toml.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
_MARK = {
    ChangeKind.CREATE: "[green]+[/]",
    ChangeKind.UPDATE: "[yellow]~[/]",
    ChangeKind.DELETE: "[red]-[/]",
}


def _show(plan: Plan, as_json: bool) -> None:
    if as_json:
        print(json.dumps(plan.to_json(), indent=2))
        return
    header = f"{plan.app} on stage {plan.stage} ({plan.provider})"
    if plan.is_empty:
        stdout.print(f"{header}: no changes")
        return
    table = Table(show_edge=False, box=None, header_style="bold")
    for column in ("", "type", "name", "for", "details"):
        table.add_column(column, overflow="fold")
    for change in plan.changes:
        details = ", ".join(f"{k}: {v}" for k, v in change.details.items())
        table.add_row(
            _MARK[change.kind], change.resource_type, change.name, change.neutral, details
        )
    stdout.print(header)
    stdout.print(table)
    counts = {kind: sum(c.kind is kind for c in plan.changes) for kind in ChangeKind}
    stdout.print(
        f"{counts[ChangeKind.CREATE]} to create, {counts[ChangeKind.UPDATE]} to update, "
        f"{counts[ChangeKind.DELETE]} to delete"
    )


def _annotations(plan: Plan, project_pipeline: object, stage: str) -> None:
    results = registry().manager.hook.portway_plan_annotations(
        plan=plan, pipeline=project_pipeline, stage=stage
    )
    # pluggy calls the last registered plugin first; show them in registration order.
    for lines in reversed(results):
        for line in lines or ():
            stdout.print(f"  {line}")


@reports_errors
def plan_command(stage: StageRequired, as_json: JsonOption = False, app: AppOption = None) -> None:
    """Show what deploy would change. Makes no mutating call."""
    project = load(app)
    selected = project.config.stage(stage)
    plan = registry().provider(selected.provider).plan(project.pipeline, selected)
    _show(plan, as_json)
    if not as_json:
        _annotations(plan, project.pipeline, selected.name)


@reports_errors
def deploy_command(stage: StageRequired, yes: YesOption = False, app: AppOption = None) -> None:
    """Plan and apply the pipeline on a stage; the provider packages and records it."""
    project = load(app)
    selected = project.config.stage(stage)
    provider = registry().provider(selected.provider)
    plan = provider.plan(project.pipeline, selected)
    _show(plan, False)
    if plan.is_empty:
        return
    _annotations(plan, project.pipeline, selected.name)
    _confirm(yes, f"deploy these changes to stage {selected.name}?")
    provider.apply(plan, project.pipeline, selected)
    stdout.print(f"[green]deployed[/] {project.pipeline.name} to stage {selected.name}")


AppNameOption = Annotated[
    str | None,
    typer.Option(
        "--app-name",
        help="Destroy the deployment of this app name without importing the pipeline.",
        show_default=False,
    ),
]


@reports_errors
def destroy_command(
    stage: StageRequired,
    yes: YesOption = False,
    app: AppOption = None,
    app_name: AppNameOption = None,
) -> None:
    """Remove exactly what portway created on a stage, and nothing else."""
    config = load_project(app=app)
    selected = config.stage(stage)
    name = app_name or _deployed_app_name(config)
    provider = registry().provider(selected.provider)
    plan = provider.plan_destroy(name, selected)
    _show(plan, False)
    if plan.is_empty:
        return
    _confirm(yes, f"destroy these resources of stage {selected.name}?")
    provider.destroy(plan, name, selected)
    stdout.print(f"[green]destroyed[/] {name} on stage {selected.name}")


def _deployed_app_name(config: ProjectConfig) -> str:
    """The pipeline's name, which every deployed resource is named and tagged after."""
    try:
        return load_pipeline(config.app, config.root).name
    except PortwayError as error:
        raise fail(
            f"cannot import the pipeline to learn its name ({error}); pass --app-name NAME "
            f"to destroy what was deployed under that name",
            1,
        ) from None


@reports_errors
def status_command(
    stage: StageRequired, as_json: JsonOption = False, app: AppOption = None
) -> None:
    """Compare what is deployed on a stage with what the pipeline declares (drift)."""
    project = load(app)
    selected = project.config.stage(stage)
    report = registry().provider(selected.provider).status(project.pipeline, selected)
    if as_json:
        print(json.dumps(dict(report), indent=2, default=str))
        return
    for key, value in report.items():
        stdout.print(f"[bold]{escape(str(key))}[/]: {escape(str(value))}")


def _confirm(yes: bool, question: str) -> None:
    if yes:
        return
    import sys

    if not sys.stdin.isatty():
        raise fail(f"{question} No terminal to ask on: pass --yes to confirm", 1)
    if not typer.confirm(question):
        raise typer.Exit(1)
