"""The ``portway`` command: wires every command module into one typer application."""

from __future__ import annotations

from typing import Annotated

import typer

from portway import __version__
from portway.cli import deploy_commands, inspect_commands, pending
from portway.cli.init_command import init_command

app = typer.Typer(
    name="portway",
    help="Write one event-driven pipeline; run it here, deploy it on any cloud.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"portway {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Write one event-driven pipeline; run it here, deploy it on any cloud."""


app.command("run")(pending.run_command)
app.command("validate")(inspect_commands.validate_command)
app.command("graph")(inspect_commands.graph_command)
app.command("plan")(deploy_commands.plan_command)
app.command("deploy")(deploy_commands.deploy_command)
app.command("destroy")(deploy_commands.destroy_command)
app.command("status")(deploy_commands.status_command)
app.command("providers")(inspect_commands.providers_command)
app.command("conformance")(pending.conformance_command)
app.command("invoke")(pending.invoke_command)
app.command("send")(pending.send_command)
app.command("put")(pending.put_command)
app.command("init")(init_command)
app.add_typer(pending.dlq, name="dlq")


def main() -> None:
    """Console-script entry point."""
    app()
