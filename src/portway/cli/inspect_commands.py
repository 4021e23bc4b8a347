"""``portway validate``, ``portway graph`` and ``portway providers``: read-only commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from portway.capabilities import format_size
from portway.cli.errors import EXIT_INPUT, fail, reports_errors
from portway.cli.project import AppOption, JsonOption, StageOption, load
from portway.graph import FORMATS, render
from portway.providers import registry
from portway.validation import Finding, Severity, validate

stdout = Console(highlight=False, soft_wrap=True)
_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


@reports_errors
def validate_command(
    stage: StageOption = None,
    provider: Annotated[
        str | None,
        typer.Option("--provider", "-p", help="Check against this provider.", show_default=False),
    ] = None,
    all_providers: Annotated[
        bool, typer.Option("--all", help="Check against every installed provider.")
    ] = False,
    as_json: JsonOption = False,
    app: AppOption = None,
) -> None:
    """Say, per function and resource, what would not run unchanged on a provider.

    Exits 1 when any finding is an error.
    """
    if sum(bool(x) for x in (stage, provider, all_providers)) > 1:
        raise fail("choose one of --stage, --provider and --all", 2)
    project = load(app)
    plugins = registry()
    if all_providers:
        names = list(plugins.specs())
    elif provider:
        names = [plugins.spec(provider).name]
    else:
        names = [project.config.stage(stage).provider]
    findings = validate(project.pipeline, names, plugins)
    if as_json:
        print(json.dumps([f.to_json() for f in findings], indent=2))
    else:
        _print_findings(project.pipeline.name, names, findings)
    if any(f.severity is Severity.ERROR for f in findings):
        raise typer.Exit(EXIT_INPUT)


def _print_findings(pipeline: str, providers: list[str], findings: list[Finding]) -> None:
    # One line per finding (not a table): it reads in a narrow terminal and greps well.
    for f in findings:
        stdout.print(
            f"[{_STYLE[f.severity]}]{f.severity:<7}[/] {escape(f.provider)}: "
            f"{escape(f.target)}: {escape(f.message)} [dim]\\[{f.rule}][/]"
        )
    counts = {s: sum(f.severity is s for f in findings) for s in Severity}
    verdict = "[bold red]fails[/]" if counts[Severity.ERROR] else "[green]ok[/]"
    stdout.print(
        f"{escape(pipeline)} on {escape(', '.join(providers))}: {verdict} "
        f"({_count(counts[Severity.ERROR], 'error')}, "
        f"{_count(counts[Severity.WARNING], 'warning')}, {_count(counts[Severity.INFO], 'note')})"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


@reports_errors
def graph_command(
    format: Annotated[
        str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMATS)}.")
    ] = "mermaid",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to FILE instead of stdout.", show_default=False),
    ] = None,
    app: AppOption = None,
) -> None:
    """Draw the pipeline: resources and functions as nodes, triggers and uses as edges."""
    if format not in FORMATS:
        raise fail(f"unknown format {format!r}; use one of {', '.join(FORMATS)}", 2)
    project = load(app)
    text = render(project.pipeline, format)
    if output is None:
        print(text, end="")
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise fail(f"cannot write {output}: {error.strerror}") from None
    Console(stderr=True, highlight=False).print(f"wrote {format} graph to {output}")


@reports_errors
def providers_command(as_json: JsonOption = False) -> None:
    """List installed providers and what each supports."""
    specs = registry().specs()
    if as_json:
        document = [
            {
                "name": spec.name,
                "plugin": spec.plugin,
                "description": spec.description,
                "settings": [
                    {"name": s.name, "type": s.type.__name__, "required": s.required}
                    for s in spec.settings
                ],
                "capabilities": spec.capabilities.to_json(),
            }
            for spec in specs.values()
        ]
        print(json.dumps(document, indent=2))
        return
    table = Table(header_style="bold", show_lines=False)
    for column in ("provider", "message", "batch", "attempts", "timeout", "filters", "settings"):
        table.add_column(column, overflow="fold")
    for spec in specs.values():
        caps = spec.capabilities
        batch = (
            "1 at a time" if caps.batch_delivery == "one_at_a_time" else str(caps.max_batch_size)
        )
        table.add_row(
            f"[bold]{spec.name}[/]\n{spec.description}",
            format_size(caps.max_message_bytes),
            batch,
            f"{caps.max_attempts[0]}..{caps.max_attempts[1]:,}",
            f"{caps.max_timeout}s",
            "+".join(sorted(caps.native_object_filters)) or "none",
            ", ".join(s.name + ("*" if s.required else "") for s in spec.settings) or "-",
        )
    stdout.print(table)
    stdout.print("settings marked * are required in \\[stages.NAME]")
