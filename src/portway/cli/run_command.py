"""``portway run``: the pipeline on the local provider, until Ctrl-C (or --for, --until-idle)."""

from __future__ import annotations

from typing import Annotated

import typer

from portway.cli.errors import reports_errors
from portway.cli.local_stage import local_stage
from portway.cli.project import AppOption, StageOption, load


@reports_errors
def run_command(
    stage: StageOption = None,
    ui: Annotated[
        bool,
        typer.Option(
            "--ui", help="Serve the live dashboard on 127.0.0.1 (its URL is printed at start)."
        ),
    ] = False,
    port: Annotated[
        int | None,
        typer.Option(
            "--port", help="Port of the local HTTP server (default 8000).", show_default=False
        ),
    ] = None,
    for_seconds: Annotated[
        float | None,
        typer.Option("--for", help="Stop after SECONDS.", show_default=False, min=0),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Worker processes (default: one per core).", min=1),
    ] = None,
    reload: Annotated[
        bool, typer.Option("--reload", help="Restart when the pipeline's code changes.")
    ] = False,
    until_idle: Annotated[
        bool,
        typer.Option(
            "--until-idle",
            help="Stop once every message and event is handled or dead-lettered.",
        ),
    ] = False,
    grace: Annotated[
        float,
        typer.Option(
            "--grace", help="Seconds running handlers get to finish when stopping.", min=0
        ),
    ] = 10.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")] = False,
    app: AppOption = None,
) -> None:
    """Run the pipeline on the local provider."""
    loaded = load(app)
    selected, provider = local_stage(loaded, stage, "run")
    if ui:
        from portway.ui.server import check_routes

        check_routes(loaded.pipeline)
    if reload:
        from portway.cli.reload import run_with_reload

        arguments = ["run", "--stage", selected.name]
        for flag, value in (
            ("--port", port),
            ("--for", for_seconds),
            ("--workers", workers),
            ("--grace", grace),
        ):
            if value is not None:
                arguments += [flag, str(value)]
        arguments += ["--until-idle"] * until_idle + ["--quiet"] * quiet + ["--ui"] * ui
        arguments += ["--app", app] if app else []
        run_with_reload(arguments, loaded.config.root, provider.layout(selected).root)
        return
    from portway.cli.reload import die_with_watcher
    from portway.local import otel_export
    from portway.local.output import LiveOutput
    from portway.local.runtime import RunOptions, Runtime

    die_with_watcher()
    # Before the runtime: a missing portway[otel] stops the run before anything starts.
    exporting = otel_export.install(
        selected, loaded.pipeline.name, provider.layout(selected).database
    )

    options = RunOptions(
        workers=workers or 0,
        port=port,
        duration=for_seconds,
        until_idle=until_idle,
        grace=grace,
        dashboard=ui,
    )
    runtime = Runtime(
        loaded.config,
        selected,
        loaded.pipeline,
        provider.layout(selected),
        options,
        LiveOutput(quiet=quiet),
        max_message_bytes=provider.capabilities.max_message_bytes,
    )
    try:
        runtime.run()
    finally:
        if exporting is not None:
            exporting.close()
