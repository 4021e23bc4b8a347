"""``portway dlq list|redrive``: a local stage's dead letters, and replaying them.

A queue is named as declared (``transform-jobs``, or ``transform-jobs-dlq``); a topic
subscription, object trigger or schedule by its consuming function (``report``).
"""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from portway.cli.errors import reports_errors
from portway.cli.local_stage import local_stage
from portway.cli.project import AppOption, JsonOption, StageOption, load
from portway.errors import ConfigError
from portway.local import messages
from portway.local.channels import Channel, channels_of, find_channel
from portway.local.database import connect, sync_mode, transaction

dlq = typer.Typer(
    help="Dead letters: list them, or replay them to their queue.", no_args_is_help=True
)

QueueArgument = Annotated[
    str | None,
    typer.Argument(
        help="A queue, or the function consuming a topic, bucket or schedule (default: all).",
        show_default=False,
    ),
]


def _open(app: str | None, stage: str | None, queue: str | None, command: str) -> tuple:  # type: ignore[type-arg]
    loaded = load(app)
    selected, provider = local_stage(loaded, stage, command)
    channels: list[Channel]
    if queue is None:
        channels = list(channels_of(loaded.pipeline).values())
    else:
        try:
            channels = [find_channel(loaded.pipeline, queue)]
        except KeyError as error:
            raise ConfigError(str(error.args[0])) from None
    layout = provider.layout(selected)
    return connect(layout, sync_mode(dict(selected.settings))), channels


@dlq.command("list")
@reports_errors
def dlq_list_command(
    queue: QueueArgument = None,
    limit: Annotated[
        int, typer.Option("--limit", help="At most this many per queue.", min=1)
    ] = 100,
    stage: StageOption = None,
    as_json: JsonOption = False,
    app: AppOption = None,
) -> None:
    """List dead letters with the reason each failed."""
    connection, channels = _open(app, stage, queue, "dlq list")
    letters = []
    for channel in channels:
        for letter in messages.dead_letters(connection, channel.name, limit):
            letters.append((channel, letter))
    connection.close()
    if as_json:
        document = [
            {"queue": channel.dead_letter_name, **letter.to_json()} for channel, letter in letters
        ]
        print(json.dumps(document, indent=2))
        return
    console = Console(highlight=False, soft_wrap=True)
    if not letters:
        where = channels[0].dead_letter_name if queue else "any queue"
        console.print(f"no dead letters in {escape(where)}")
        return
    table = Table(title=f"{len(letters)} dead letter(s)", title_justify="left")
    for column in ("queue", "id", "attempts", "failed at", "reason", "body"):
        table.add_column(column, overflow="fold")
    for channel, letter in letters:
        body = letter.to_json()["body"]
        shown = body if body is not None else f"<{len(letter.body):,} bytes>"
        table.add_row(
            channel.dead_letter_name,
            letter.id,
            str(letter.attempts),
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(letter.failed_at)),
            letter.reason,
            shown if len(shown) <= 80 else shown[:77] + "...",
        )
    console.print(table)


@dlq.command("redrive")
@reports_errors
def dlq_redrive_command(
    queue: Annotated[str, typer.Argument(help="The queue (or consuming function) to replay.")],
    stage: StageOption = None,
    app: AppOption = None,
) -> None:
    """Move dead letters back to their queue, attempt count reset."""
    connection, channels = _open(app, stage, queue, "dlq redrive")
    channel = channels[0]
    with transaction(connection):
        moved = messages.redrive(connection, channel.name, time.time())
    connection.close()
    noun = "message" if moved == 1 else "messages"
    target = channel.source if channel.kind == "queue" else channel.functions[0]
    print(f"moved {moved} {noun} from {channel.dead_letter_name} back to {target}")
