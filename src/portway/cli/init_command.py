"""``portway init``: scaffold a project that validates as generated."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from portway.cli.errors import fail, reports_errors
from portway.model import name_problem

PIPELINE_TEMPLATE = '''\
"""{name}: files land in a bucket, a queue hands them to a worker, results go to a topic."""

from __future__ import annotations

from portway import HttpRequest, Message, ObjectEvent, Pipeline

app = Pipeline("{name}")

incoming = app.bucket("incoming")
work = app.queue("work", max_attempts=5)
done = app.topic("done")


@app.on_object_created(incoming, suffix=".csv", uses=[work.send()])
def on_file(event: ObjectEvent) -> None:
    work.send({{"key": event.key}})


@app.on_message(work, uses=[incoming.read(), done.publish()])
def process(msg: Message) -> None:
    key = msg.json()["key"]
    lines = incoming.read(key).count(b"\\n")
    done.publish({{"key": key, "lines": lines}})


@app.on_message(done)
def announce(msg: Message) -> None:
    print("processed", msg.json())


@app.http("GET", "/health", public=True)
def health(req: HttpRequest) -> dict[str, str]:
    return {{"status": "ok"}}
'''

CONFIG_TEMPLATE = """\
app = "pipeline:app"

[stages.dev]
provider = "local"

# Deploy the same code elsewhere by adding a stage, for example:
# [stages.prod]
# provider = "aws"
# region = "eu-west-1"
"""


def default_name(directory: Path) -> str:
    """A portable pipeline name from the folder's name, or ``my-pipeline``."""
    slug = re.sub(r"[^a-z0-9]+", "-", directory.resolve().name.lower()).strip("-")
    slug = re.sub(r"^[^a-z]+", "", slug)[:56].strip("-")
    return slug if name_problem(slug) is None else "my-pipeline"


@reports_errors
def init_command(
    directory: Annotated[
        Path, typer.Argument(help="Where to create the project (default: here).")
    ] = Path("."),
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="Pipeline name (default: from the folder).", show_default=False
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Create pipeline.py and portway.toml for a new project."""
    pipeline_name = name or default_name(directory)
    problem = name_problem(pipeline_name)
    if problem is not None:
        raise fail(f"--name: {problem}")
    files = {
        directory / "pipeline.py": PIPELINE_TEMPLATE.format(name=pipeline_name),
        directory / "portway.toml": CONFIG_TEMPLATE,
    }
    existing = [str(path) for path in files if path.exists()]
    if existing and not force:
        verb = "exists" if len(existing) == 1 else "exist"
        raise fail(f"{' and '.join(existing)} already {verb}; pass --force to overwrite")
    directory.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"created {', '.join(str(p) for p in files)} for pipeline {pipeline_name!r}")
    console.print("next: portway validate --all, then portway graph")
