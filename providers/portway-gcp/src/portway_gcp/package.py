"""One reproducible source zip for every Cloud Run function of a pipeline.

Cloud Run functions (gen2) builds a Python function from a source zip: it installs the
``requirements.txt`` at the root of the zip and serves the entry point of ``main.py``
at the root (https://cloud.google.com/run/docs/runtimes/python). The zip holds:

- the user's project folder (the one holding ``portway.toml``), less what is not code or
  data the code reads (hidden files, caches, virtualenvs, tests, build output), less its
  ``requirements.txt``, which is merged into the generated one;
- the ``portway`` package and the ``portway_gcp`` package, copied from where this process
  imports them, less the subpackages nothing on the shim's path imports;
- ``main.py``, which exposes :func:`portway_gcp.main.handle` as ``handle`` (the entry
  point every function is deployed with);
- ``requirements.txt``: portway-gcp's runtime pinned to the versions installed here, then
  the project's own requirements (:mod:`portway_gcp.packaging.requirements`).

Each function picks its portway function from its environment, so deploy builds the zip
once per pipeline. Same inputs give the same bytes (sorted entries, fixed timestamps and
permissions, no extra fields), so an unchanged pipeline has an unchanged ``sha256`` and
deploy uploads nothing.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from portway.config import StageConfig
from portway.deploy.archive import (
    PORTWAY_LEFT_OUT,
    Entries,
    check_output,
    check_project,
    collect,
    package_files,
    project_files,
    write_zip,
)
from portway.errors import ConfigError
from portway.model import Pipeline
from portway_gcp.packaging.requirements import (
    PROJECT_REQUIREMENTS,
    read_project_requirements,
    requirements_txt,
    runtime_pins,
)

__all__ = ["MAIN", "SourceArchive", "build_source_archive"]

#: The root ``main.py``: Cloud Run functions' Python runtime loads it from the source
#: root and serves its ``handle`` (portway_gcp.deploy.desired.ENTRY_POINT).
MAIN = b'''"""Written by portway: the entry point Cloud Run functions serves for every function."""

from portway_gcp.main import handle

__all__ = ["handle"]
'''

# portway_gcp's test harness plays Google's side in tests; a function never runs it.
PORTWAY_GCP_LEFT_OUT = frozenset({"testing"})

_GENERATED = "portway (generated)"


@dataclass(frozen=True, slots=True)
class SourceArchive:
    """A built source zip: ``sha256`` of its bytes in hex, ``size`` in bytes."""

    path: Path
    sha256: str
    size: int


def build_source_archive(
    pipeline: Pipeline,
    stage: StageConfig,
    output: Path,
    *,
    progress: Callable[[str], None] | None = None,
) -> SourceArchive:
    """Build the source zip of ``pipeline`` from ``stage``'s project folder at ``output``.

    ``stage`` is the selected stage (:meth:`portway.config.ProjectConfig.stage`): its
    ``root`` is the folder packaged, its ``app`` the module the functions import.

    Raises :class:`ConfigError` when the project folder is not a portway project, or
    does not hold the app module or a handler's module; :class:`DeployError` when the
    zip cannot be built: an output inside what is packaged, a symlink out of the project,
    a file that cannot be read, a file two sources both provide (a project ``main.py``),
    a project requirement that conflicts with portway-gcp's pinned runtime.
    """
    report = progress or (lambda _message: None)
    if stage.root is None:
        raise ConfigError(
            f"stage {stage.name!r} has no project folder: select it with "
            f"ProjectConfig.stage(), which sets it"
        )
    project = check_project(stage.root)
    output = check_output(output, project)

    report(f"collecting the files of {project}")
    entries: Entries = {}
    collect(
        entries,
        project_files(project, skip=frozenset({PROJECT_REQUIREMENTS})),
        "the project folder",
    )
    _check_importable(pipeline, stage, project, entries)
    for package, left_out in _runtime_packages():
        collect(entries, package_files(package, left_out), f"the {package.name} package")
    requirements = read_project_requirements(project / PROJECT_REQUIREMENTS)
    if requirements is not None:
        for included in requirements.included:
            _check_included(included, requirements.path, entries)
    pinned = requirements_txt(requirements, runtime_pins(), _carried())
    generated = {"main.py": MAIN, PROJECT_REQUIREMENTS: pinned}
    collect(
        entries,
        generated.items(),
        _GENERATED,
        fix="rename the project's main.py: Cloud Run functions loads main.py at the source "
        "root, and portway writes it (change 'app' in the config if it names that module)",
    )

    report(f"writing {output.name} ({len(entries)} files)")
    data = write_zip(output, entries)
    return SourceArchive(path=output, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def _runtime_packages() -> list[tuple[Path, frozenset[str]]]:
    """The folders of ``portway`` and ``portway_gcp`` as imported here, each with the
    top-level names of it that stay out of the zip."""
    import portway
    import portway_gcp

    return [
        (Path(portway.__file__).parent, PORTWAY_LEFT_OUT),
        (Path(portway_gcp.__file__).parent, PORTWAY_GCP_LEFT_OUT),
    ]


def _carried() -> dict[str, str]:
    """The distributions the zip holds as source, with their versions here."""
    versions = {}
    for name in ("portway", "portway-gcp"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "(not installed)"
    return versions


def _check_importable(
    pipeline: Pipeline, stage: StageConfig, project: Path, entries: Entries
) -> None:
    """The app module, and every handler's module under the project, are in the zip."""
    module = stage.app.partition(":")[0]
    if not module:
        raise ConfigError(
            f'stage {stage.name!r} names no app: set app = "module:attr" in {stage.source}'
        )
    path = module.replace(".", "/")
    if f"{path}.py" not in entries and f"{path}/__init__.py" not in entries:
        raise ConfigError(
            f"app {stage.app!r}: no module {module!r} ({path}.py or {path}/__init__.py) in "
            f"{project}, so the functions could not import the pipeline: check 'app' in "
            f"{stage.source} (hidden folders, caches, tests/, build/, dist/, venv/ and "
            f"node_modules/ stay out of the zip)"
        )
    for function in pipeline.functions.values():
        loaded = sys.modules.get(getattr(function.handler, "__module__", ""))
        file = getattr(loaded, "__file__", None)
        if not file or not Path(file).resolve().is_relative_to(project):
            continue  # the zip's requirements (or portway) provide it
        relative = Path(file).resolve().relative_to(project).as_posix()
        if relative not in entries:
            raise ConfigError(
                f"function {function.name!r} is defined in {relative}, which stays out of "
                f"the source zip (hidden folders, caches, tests/, build/, dist/, venv/ and "
                f"node_modules/ do): move it into a module the zip holds"
            )


def _check_included(included: str, requirements: Path, entries: Entries) -> None:
    """A file the requirements include with ``-r``/``-c`` is in the zip, where pip looks."""
    name = Path(included).as_posix().removeprefix("./")
    if name not in entries:
        raise ConfigError(
            f"{requirements} includes {included}, which is not in the source zip (pip "
            f"reads it there, beside requirements.txt): move it into the project folder, "
            f"out of hidden and left-out folders, or copy its lines into {requirements.name}"
        )
