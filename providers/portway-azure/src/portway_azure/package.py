"""One reproducible zip per Function App group of a pipeline.

Each zip holds, all at its root (the Functions host runs the app from there):

- ``function_app.py`` (Python v2 programming model), registering one Azure function per
  portway function of the group, and the group's ``host.json``
  (:mod:`portway_azure.packaging.app_files`);
- ``requirements.txt``: portway-azure's runtime pinned to the versions installed here,
  merged with the project's own ``requirements.txt``
  (:mod:`portway_azure.packaging.requirements`); Azure installs it at deploy time;
- the user's project folder (the one holding ``portway.toml``), less what is not code or
  data the code reads (hidden files, caches, virtualenvs, tests, build output);
- the ``portway`` package (less the CLI, the local provider and the test suite) and the
  ``portway_azure`` package, copied from where this process imports them.

Same inputs give the same bytes (sorted entries, fixed timestamps and permissions, no
extra fields), so an unchanged app is not uploaded again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from portway.deploy.archive import (
    PORTWAY_LEFT_OUT,
    Entries,
    check_project,
    collect,
    left_out_of_project,
    package_files,
    project_files,
    write_zip,
)
from portway.errors import ConfigError, DeployError
from portway_azure.grouping import AppGroup, group_functions
from portway_azure.naming import Names, names_for_stage
from portway_azure.packaging.app_files import function_app_py, host_json
from portway_azure.packaging.requirements import PROJECT_REQUIREMENTS, requirements_txt

if TYPE_CHECKING:
    from portway.config import StageConfig
    from portway.model import Pipeline

__all__ = ["AppArchive", "build_app_archives"]

FUNCTION_APP = "function_app.py"
HOST_JSON = "host.json"
#: portway_azure's own test harness plays the Functions host; an app never runs it.
PORTWAY_AZURE_LEFT_OUT = frozenset({"testing"})


@dataclass(frozen=True, slots=True)
class AppArchive:
    """A built zip of app group ``group``: ``sha256`` in hex, ``size`` in bytes."""

    group: str
    path: Path
    sha256: str
    size: int


def build_app_archives(pipeline: Pipeline, stage: StageConfig, output: Path) -> list[AppArchive]:
    """Build ``<output>/<group>.zip`` for every app group of ``pipeline`` on ``stage``.

    ``stage`` comes from :meth:`portway.config.ProjectConfig.stage`, which sets the
    project folder (``stage.root``) and the pipeline's ``module:attr`` (``stage.app``)
    that ``function_app.py`` imports. ``output`` is a folder (created if missing)
    outside the project, or under its ``.portway/``. Archives are in group name order.

    Raises :class:`ConfigError` when the stage names no portway project or lacks a
    setting the names need (``subscription``, ``resource_group``, ``location``), and
    :class:`DeployError` when an archive cannot be built: an output inside what is
    packaged, a symlink out of the project, a project file named like a generated one,
    a project requirement that conflicts with the runtime's pins.
    """
    project = _check_project(stage)
    output = _check_output(output, project)
    names = names_for_stage(pipeline.name, stage)
    shared: Entries = {}
    collect(
        shared,
        project_files(project, skip=frozenset({PROJECT_REQUIREMENTS})),
        "the project folder",
    )
    for package, left_out in runtime_packages():
        collect(shared, package_files(package, left_out), f"the {package.name} package")
    requirements = requirements_txt(project)
    archives = []
    for group in group_functions(pipeline):
        entries = dict(shared)
        collect(
            entries,
            _generated(pipeline, group, names, stage.app, requirements),
            "portway",
            fix="rename or remove the project's file: portway generates it for every app",
        )
        path = output / f"{group.name}.zip"
        data = write_zip(path, entries)
        archives.append(AppArchive(group.name, path, hashlib.sha256(data).hexdigest(), len(data)))
    return archives


def runtime_packages() -> list[tuple[Path, frozenset[str]]]:
    """The folders of ``portway`` and ``portway_azure`` as imported here, each with the
    top-level names of it that stay out of the zip."""
    import portway
    import portway_azure

    return [
        (Path(portway.__file__).parent, PORTWAY_LEFT_OUT),
        (Path(portway_azure.__file__).parent, PORTWAY_AZURE_LEFT_OUT),
    ]


def _generated(
    pipeline: Pipeline, group: AppGroup, names: Names, pipeline_app: str, requirements: bytes
) -> list[tuple[str, bytes]]:
    host = json.dumps(host_json(group), indent=2, sort_keys=True) + "\n"
    return [
        (FUNCTION_APP, function_app_py(pipeline, group, names, pipeline_app).encode("utf-8")),
        (HOST_JSON, host.encode("utf-8")),
        (PROJECT_REQUIREMENTS, requirements),
    ]


# -- the checks at the boundary ---------------------------------------------------------


def _check_project(stage: StageConfig) -> Path:
    if stage.root is None or not stage.app:
        raise ConfigError(
            f"stage {stage.name!r}: the project folder is unknown; load the stage with "
            f"portway.config.load_project(folder).stage(name)"
        )
    return check_project(stage.root)


def _check_output(output: Path, project: Path) -> Path:
    target = output.resolve()
    if target.is_relative_to(project):
        relative = target.relative_to(project)
        if not relative.parts or not left_out_of_project(relative.parts):
            raise DeployError(
                f"output {output} is inside the project folder {project}, so the next "
                f"build would package the archives: write them outside, or under "
                f".portway/build/"
            )
    if target.exists() and not target.is_dir():
        raise DeployError(f"output {output} exists and is not a folder: name a folder")
    target.mkdir(parents=True, exist_ok=True)
    return target
