"""``portway send``, ``portway put`` and ``portway invoke``: feed a stage by hand.

``send`` and ``put`` go through the stage's data plane, exactly as a handler's
``jobs.send()`` or ``lake.write()`` would, so the running pipeline sees the same
events. ``invoke`` runs one function once, in this process, with a neutral event.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from portway.cli.errors import fail, reports_errors
from portway.cli.project import AppOption, LoadedProject, StageOption, load
from portway.errors import ConfigError, MessageTooLarge, PortwayError
from portway.model import Bucket, Pipeline, Queue, Topic
from portway.payload import OutgoingMessage, check_sizes, outgoing
from portway.providers import registry

# Lines of a JSON-lines file sent per transaction: big enough to be fast, small enough
# that a failure names a short range.
SEND_CHUNK = 500


@reports_errors
def send_command(
    target: Annotated[str, typer.Argument(help="A queue or topic.")],
    message: Annotated[
        str | None,
        typer.Argument(help="The message body (JSON, else text).", show_default=False),
    ] = None,
    file: Annotated[
        str | None,
        typer.Option(
            "--file",
            "-f",
            help="Send one message per line of this JSON-lines file ('-': stdin).",
            show_default=False,
        ),
    ] = None,
    attribute: Annotated[
        list[str] | None,
        typer.Option("--attribute", "-a", help="NAME=VALUE, repeatable.", show_default=False),
    ] = None,
    stage: StageOption = None,
    app: AppOption = None,
) -> None:
    """Send a message (or a JSON-lines file of them) to a queue or topic."""
    if (message is None) == (file is None):
        raise fail("portway send: give a MESSAGE or --file FILE (one of them)")
    attributes = _attributes(attribute or [])
    loaded = load(app)
    resource = _resource(loaded.pipeline, target, (Queue, Topic), "queue or topic")
    if message is not None:
        bodies: list[tuple[int, Any]] = [(0, _body(message))]
    else:
        assert file is not None
        bodies = _read_lines(file)
    encoded = [(line, outgoing(body, attributes)) for line, body in bodies]
    if file is not None:
        _check_lines(loaded, stage, resource, file, encoded)
    sent = 0
    with loaded.pipeline.connect(stage, config=loaded.config) as binding:
        clients = binding.clients
        for start in range(0, len(encoded), SEND_CHUNK):
            chunk = encoded[start : start + SEND_CHUNK]
            try:
                _deliver(clients, resource, [m for _, m in chunk])
            except PortwayError as error:
                first, last = chunk[0][0], chunk[-1][0]
                where = f" (lines {first}-{last} not sent; {sent} sent before)" if first else ""
                raise type(error)(f"{error}{where}") from None
            sent += len(chunk)
    noun = "message" if sent == 1 else "messages"
    print(f"sent {sent} {noun} to {resource.kind} {resource.name}")


def _check_lines(
    loaded: LoadedProject,
    stage: str | None,
    resource: Queue | Topic,
    file: str,
    encoded: list[tuple[int, OutgoingMessage]],
) -> None:
    """Refuse the whole file, naming the line, if one message is over the stage's limit.

    The data plane checks each chunk as it is sent; checked here first, a message that is
    too large at line 600 does not leave lines 1-500 sent.
    """
    limit = registry().spec(loaded.config.stage(stage).provider).capabilities.max_message_bytes
    call = f"{resource.name}.{'send' if isinstance(resource, Queue) else 'publish'}()"
    for line, message in encoded:
        try:
            check_sizes([message], limit, target=f"{file}, line {line}: {call}")
        except MessageTooLarge as error:
            raise MessageTooLarge(f"{error}; nothing was sent") from None


def _deliver(clients: Any, resource: Queue | Topic, batch: list[OutgoingMessage]) -> None:
    if isinstance(resource, Queue):
        clients.send_messages(resource, batch)
    else:
        clients.publish_messages(resource, batch)


@reports_errors
def put_command(
    bucket: Annotated[str, typer.Argument(help="The bucket.")],
    key: Annotated[str, typer.Argument(help="The object key.")],
    file: Annotated[str, typer.Argument(help="The file to upload ('-': stdin).")],
    stage: StageOption = None,
    app: AppOption = None,
) -> None:
    """Put a file into a bucket (its object-created triggers fire)."""
    loaded = load(app)
    resource = _resource(loaded.pipeline, bucket, (Bucket,), "bucket")
    assert isinstance(resource, Bucket)
    data = _read_input(file)
    with loaded.pipeline.connect(stage, config=loaded.config) as binding:
        binding.clients.write_object(resource, key, data, "application/octet-stream")
    print(f"put {len(data):,} bytes at {resource.name}/{key}")


@reports_errors
def invoke_command(
    function: Annotated[str, typer.Argument(help="The function's name.")],
    event: Annotated[
        str | None,
        typer.Option(
            "--event",
            help='The event: JSON data for the trigger (a message body, {"key": ...} for an '
            'object, {"path": ..., "body": ...} for HTTP) or a CloudEvent from to_json().',
            show_default=False,
        ),
    ] = None,
    stage: StageOption = None,
    app: AppOption = None,
) -> None:
    """Run one function once, in this process, on the stage's resources."""
    from portway.local.one_shot import invoke_once

    loaded = load(app)
    try:
        target = loaded.pipeline.function(function)
    except KeyError as error:
        raise ConfigError(str(error.args[0])) from None
    with loaded.pipeline.connect(stage, config=loaded.config) as binding:
        outcome = invoke_once(target, event, binding.clients)
    if outcome.output is not None:
        print(outcome.output)
    if outcome.error:
        raise fail(f"{target.name} failed: {outcome.error}")


def _resource(pipeline: Pipeline, name: str, kinds: tuple[type, ...], what: str) -> Any:
    try:
        resource = pipeline.resource(name)
    except KeyError:
        resource = None
    if not isinstance(resource, kinds):
        known = ", ".join(r.name for r in pipeline.resources.values() if isinstance(r, kinds))
        raise ConfigError(
            f"pipeline {pipeline.name!r} has no {what} {name!r} (it has: {known or 'none'})"
        )
    return resource


def _attributes(pairs: list[str]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise fail(f"--attribute {pair!r}: write NAME=VALUE")
        result[name] = value
    return result


def _body(text: str) -> Any:
    """A command-line body: JSON if it parses, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _read_input(file: str) -> bytes:
    if file == "-":
        return sys.stdin.buffer.read()
    path = Path(file)
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {file}: {error.strerror}") from None


def _read_lines(file: str) -> list[tuple[int, Any]]:
    """Every non-blank line as JSON; any bad line refuses the whole file (nothing sent)."""
    data = _read_input(file)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{file}: not UTF-8 (byte {error.start}); nothing was sent") from None
    bodies = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            bodies.append((number, json.loads(line)))
        except ValueError as error:
            raise ConfigError(
                f"{file}, line {number}: not JSON ({error}); nothing was sent"
            ) from None
    if not bodies:
        raise ConfigError(f"{file}: no message in it; nothing was sent")
    return bodies
