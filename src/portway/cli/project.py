"""Options every command shares, and loading the project and its pipeline from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from portway.config import ProjectConfig, load_project
from portway.loading import load_pipeline
from portway.model import Pipeline

AppOption = Annotated[
    str | None,
    typer.Option(
        "--app",
        help="The pipeline as module:attribute (default: 'app' in portway.toml).",
        show_default=False,
    ),
]
StageOption = Annotated[
    str | None,
    typer.Option(
        "--stage",
        "-s",
        help="Stage from portway.toml (default: $PORTWAY_STAGE, else the local stage).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@dataclass(frozen=True, slots=True)
class LoadedProject:
    config: ProjectConfig
    pipeline: Pipeline


def load(app: str | None, directory: Path | None = None) -> LoadedProject:
    """Read the config of the current folder and import its pipeline."""
    config = load_project(directory, app=app)
    return LoadedProject(config, load_pipeline(config.app, config.root))
