"""The ``portway`` command: wires every command module into one typer application."""

from __future__ import annotations

from typing import Annotated

import typer

# typer vendors click; the usage errors its parser raises are the vendored ones.
from typer._click import exceptions as click_errors

from portway import __version__
from portway.cli import deploy_commands, feed_commands, inspect_commands
from portway.cli.conformance_command import conformance_command
from portway.cli.dlq_commands import dlq
from portway.cli.errors import EXIT_UNAVAILABLE, fail
from portway.cli.init_command import init_command
from portway.cli.run_command import run_command

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


app.command("run")(run_command)
app.command("validate")(inspect_commands.validate_command)
app.command("graph")(inspect_commands.graph_command)
app.command("plan")(deploy_commands.plan_command)
app.command("deploy")(deploy_commands.deploy_command)
app.command("destroy")(deploy_commands.destroy_command)
app.command("status")(deploy_commands.status_command)
app.command("providers")(inspect_commands.providers_command)
app.command("conformance")(conformance_command)
app.command("invoke")(feed_commands.invoke_command)
app.command("send")(feed_commands.send_command)
app.command("put")(feed_commands.put_command)
app.command("init")(init_command)
app.add_typer(dlq, name="dlq")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point.

    Usage errors (an unknown option, a missing argument) are one line on stderr with
    the help command to run, and exit 2, like every other error of the command line.
    """
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="portway", standalone_mode=False)
    except click_errors.NoArgsIsHelpError as error:
        error.show()  # `portway` alone, or a group alone: its help, as the user expects
        raise SystemExit(EXIT_UNAVAILABLE) from None
    except click_errors.UsageError as error:
        where = error.ctx.command_path if error.ctx is not None else "portway"
        message = f"{error.format_message()} (see '{where} --help')"
        raise SystemExit(fail(message, EXIT_UNAVAILABLE).exit_code) from None
    except click_errors.ClickException as error:
        raise SystemExit(fail(error.format_message(), error.exit_code).exit_code) from None
    except typer.Abort:
        raise SystemExit(1) from None
    raise SystemExit(code if isinstance(code, int) else 0)
