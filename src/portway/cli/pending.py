"""Commands of the contract whose machinery is not in this version yet.

They exist, with their options and help, so scripts and docs can rely on the names;
each says what is missing and exits 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from portway.cli.errors import EXIT_UNAVAILABLE, fail
from portway.cli.project import AppOption, StageOption

_RUNTIME = "the local runtime is not in this version of portway yet"


def _unavailable(command: str) -> typer.Exit:
    return fail(
        f"portway {command}: {_RUNTIME}; 'portway validate' and 'portway graph' work now",
        EXIT_UNAVAILABLE,
    )


def run_command(
    stage: StageOption = None,
    ui: Annotated[bool, typer.Option("--ui", help="Serve the live dashboard.")] = False,
    port: Annotated[int, typer.Option("--port", help="Port of the local HTTP server.")] = 8000,
    for_seconds: Annotated[
        float | None,
        typer.Option("--for", help="Stop after SECONDS.", show_default=False),
    ] = None,
    app: AppOption = None,
) -> None:
    """Run the pipeline on the local provider."""
    raise _unavailable("run")


def invoke_command(
    function: Annotated[str, typer.Argument(help="The function's name.")],
    event: Annotated[
        str | None, typer.Option("--event", help="The event as JSON.", show_default=False)
    ] = None,
    app: AppOption = None,
) -> None:
    """Run one function once, locally."""
    raise _unavailable("invoke")


def send_command(
    target: Annotated[str, typer.Argument(help="A queue or topic.")],
    message: Annotated[str, typer.Argument(help="The message body.")],
    stage: StageOption = None,
    app: AppOption = None,
) -> None:
    """Send a message to a queue or topic of a local run."""
    raise _unavailable("send")


def put_command(
    bucket: Annotated[str, typer.Argument(help="The bucket.")],
    key: Annotated[str, typer.Argument(help="The object key.")],
    file: Annotated[Path, typer.Argument(help="The file to upload.")],
    stage: StageOption = None,
    app: AppOption = None,
) -> None:
    """Put a file into a bucket of a local run."""
    raise _unavailable("put")


def conformance_command(
    provider: Annotated[str, typer.Option("--provider", "-p", help="Installed provider to test.")],
) -> None:
    """Run the conformance suite against an installed provider."""
    raise fail(
        "portway conformance: the conformance suite is not in this version of portway yet",
        EXIT_UNAVAILABLE,
    )


dlq = typer.Typer(
    help="Dead letters: list them, or replay them to their queue.", no_args_is_help=True
)


@dlq.command("list")
def dlq_list_command(
    queue: Annotated[str, typer.Argument(help="The queue whose dead letters to list.")],
    stage: StageOption = None,
    app: AppOption = None,
) -> None:
    """List a queue's dead letters with the reason each failed."""
    raise _unavailable("dlq list")


@dlq.command("redrive")
def dlq_redrive_command(
    queue: Annotated[str, typer.Argument(help="The queue whose dead letters to replay.")],
    stage: StageOption = None,
    app: AppOption = None,
) -> None:
    """Move a queue's dead letters back to it, attempt count reset."""
    raise _unavailable("dlq redrive")
