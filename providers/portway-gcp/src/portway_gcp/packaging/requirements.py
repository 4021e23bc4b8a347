"""The ``requirements.txt`` of the source zip: portway's runtime pinned, the project's merged.

Cloud Run functions builds the function from the source zip and installs the
``requirements.txt`` at its root with pip
(https://cloud.google.com/run/docs/runtimes/python-dependencies), so portway writes one
file: first the distributions the runtime shim and the data plane import, with everything
they depend on, pinned to the versions installed here (the ones portway was packaged and
tested with); then the lines of the project's own ``requirements.txt``, as written.

A project line that names a pinned distribution must allow the pinned version: it is then
folded into the pin (its extras kept) and shown as a comment; otherwise the build stops
here with a :class:`~portway.errors.DeployError` naming the file, the line and the fix,
rather than minutes later in Google's build. What the lines of files included with ``-r``
or ``-c`` ask is left to pip (the included files must be in the zip, which is checked).
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from portway.errors import DeployError

if TYPE_CHECKING:
    from packaging.requirements import Requirement

__all__ = [
    "PROJECT_REQUIREMENTS",
    "Pin",
    "ProjectRequirements",
    "read_project_requirements",
    "requirements_txt",
    "runtime_pins",
]

PROJECT_REQUIREMENTS = "requirements.txt"

# What a deployed function imports beyond the stdlib and the zip's own packages: croniter
# (portway reads cron schedules when the pipeline module declares them) and the clients
# of the data plane. pluggy, typer, rich and watchfiles serve the CLI, the provider
# registry and the local provider, which a deployed function never imports; the admin
# clients (functions, scheduler, iam) serve deploy only.
RUNTIME_DISTRIBUTIONS = ("croniter", "google-cloud-pubsub", "google-cloud-storage")
# The framework that serves ``main.handle``. Cloud Run functions installs it when the
# requirements leave it out, so it is pinned only when installed here (as in every
# environment that runs portway-gcp's tests).
# https://cloud.google.com/run/docs/runtimes/python-dependencies#functions-framework
SERVING_DISTRIBUTIONS = ("functions-framework",)
# The source zip carries these as source, copied from this environment.
CARRIED = frozenset({"portway", "portway-gcp"})

# Markers are evaluated for the machine the function runs on: Linux on x86-64, with the
# Python of this interpreter (the deploy's runtime, python311, is what the tests run).
TARGET_ENVIRONMENT = {
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
}


@dataclass(frozen=True, slots=True)
class Pin:
    """One pinned distribution: its normalized name, the version installed here, and the
    distribution that first asked for it (``None`` for portway-gcp's own needs)."""

    name: str
    version: str
    needed_by: str | None


@dataclass(frozen=True, slots=True)
class ProjectRequirements:
    """The project's ``requirements.txt``, read: its logical lines (continuations
    joined, comments dropped) with their line numbers, and the files it includes."""

    path: Path
    lines: tuple[tuple[int, str], ...]
    included: tuple[str, ...]


def runtime_pins() -> dict[str, Pin]:
    """portway-gcp's runtime distributions and their dependencies as installed here.

    Raises :class:`DeployError` when a runtime distribution is not installed (a broken
    portway-gcp install).
    """
    from packaging.requirements import Requirement

    pins: dict[str, Pin] = {}
    pending: list[tuple[str, frozenset[str], str | None]] = [
        (name, frozenset(), None) for name in (*SERVING_DISTRIBUTIONS, *RUNTIME_DISTRIBUTIONS)
    ]
    while pending:
        name, extras, needed_by = pending.pop(0)
        key = normalize(name)
        try:
            distribution = importlib.metadata.distribution(key)
        except importlib.metadata.PackageNotFoundError:
            if needed_by is None and name in RUNTIME_DISTRIBUTIONS:
                raise DeployError(
                    f"portway-gcp's runtime needs {name}, which is not installed in this "
                    f"environment: reinstall portway-gcp (pip install portway-gcp)"
                ) from None
            # Cloud Run functions adds functions-framework itself; a dependency missing
            # here has its parent's requirement in Google's build, unpinned.
            continue
        if key not in pins:
            pins[key] = Pin(key, distribution.version, needed_by)
        for text in distribution.requires or ():
            requirement = Requirement(text)
            if applies(requirement, extras):
                pending.append((requirement.name, frozenset(requirement.extras), key))
    return dict(sorted(pins.items()))


def applies(requirement: Requirement, extras: Iterable[str] = ()) -> bool:
    """Whether ``requirement``'s marker holds on Cloud Run for one of ``extras`` (or none)."""
    if requirement.marker is None:
        return True
    return any(
        requirement.marker.evaluate({**TARGET_ENVIRONMENT, "extra": extra})
        for extra in ("", *extras)
    )


def read_project_requirements(path: Path) -> ProjectRequirements | None:
    """The project's requirements file, or ``None`` when there is none.

    Raises :class:`DeployError` naming the file when it cannot be read or is not UTF-8.
    """
    if not path.exists() and not path.is_symlink():
        return None
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise DeployError(
            f"cannot read {path}: {error.strerror}; make it a readable file (or remove it)"
        ) from None
    except UnicodeDecodeError as error:
        raise DeployError(
            f"{path} is not UTF-8 text (byte {error.start}): save it as UTF-8"
        ) from None
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    first = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        first = first or number
        # pip: a line ending in a backslash continues on the next one.
        if raw.endswith("\\"):
            pending.append(raw[:-1])
            continue
        logical = re.sub(r"(^|\s)#.*$", "", "".join([*pending, raw])).strip()
        pending.clear()
        if logical:
            lines.append((first, logical))
        first = 0
    included = [
        found[1]
        for _number, line in lines
        if (found := re.match(r"(?:-r|-c|--requirement|--constraint)[\s=]+(\S+)$", line))
    ]
    return ProjectRequirements(path, tuple(lines), tuple(included))


def requirements_txt(
    project: ProjectRequirements | None, pins: dict[str, Pin], carried: dict[str, str]
) -> bytes:
    """The ``requirements.txt`` of the source zip, as bytes (same inputs, same bytes).

    ``carried``: the distributions the zip holds as source, with their versions here.
    Raises :class:`DeployError` for a project line pip could not read, that asks for a
    distribution the zip carries, that needs hash checking, or whose version range leaves
    out the pinned version: each names the file, the line and the fix.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    extras: dict[str, set[str]] = {name: set() for name in pins}
    project_lines: list[str] = []
    source, lines = (project.path, project.lines) if project else (Path(), ())
    for number, line in lines:
        where = f"{source}, line {number}"
        if re.search(r"--hash\b|--require-hashes\b", line):
            raise DeployError(
                f"{where}: {line!r} turns on pip's hash checking, which would refuse "
                f"portway's pinned requirements (they carry no hashes): remove the hashes"
            )
        if line.startswith("-") or _path_or_url(line):
            project_lines.append(line)  # pip's options, files and URLs: pip's business
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            raise DeployError(
                f"{where}: {line!r} is not a requirement pip can read ({error}): write it "
                f"as name[extras] version-specifier ; marker, like pandas>=2.2"
            ) from None
        name = normalize(requirement.name)
        if name in carried:
            raise DeployError(
                f"{where}: {line!r}: the source zip already holds portway "
                f"{carried.get('portway', '')} and portway-gcp {carried.get('portway-gcp', '')} "
                f"from this environment, as source: remove the line"
            )
        pin = pins.get(name)
        if pin is None or not applies(requirement):
            project_lines.append(line)
            continue
        if requirement.url or not requirement.specifier.contains(pin.version, prereleases=True):
            needed = f"needed by {pin.needed_by}" if pin.needed_by else "what it imports"
            raise DeployError(
                f"{where}: {line!r} conflicts with {pin.name}=={pin.version}, which "
                f"portway-gcp's runtime runs with ({needed}; the version installed here): "
                f"allow {pin.version} in that line, or install the version you need in "
                f"this environment first (pip install {line!r}) so portway is packaged "
                f"and tested with it"
            )
        extras[name].update(requirement.extras)
        project_lines.append(f"# {line}  (line {number}: {pin.name}=={pin.version} satisfies it)")
    written = [
        "# Written by portway: what Cloud Run functions installs for this pipeline.",
        "# portway-gcp's runtime, pinned to the versions packaged and tested here:",
        *(_pin_line(pin, extras[name]) for name, pin in pins.items()),
    ]
    if project_lines:
        written += [f"# From the project's {PROJECT_REQUIREMENTS}:", *project_lines]
    return ("\n".join(written) + "\n").encode("utf-8")


def _pin_line(pin: Pin, extras: set[str]) -> str:
    wanted = f"[{','.join(sorted(extras))}]" if extras else ""
    return f"{pin.name}{wanted}=={pin.version}"


def _path_or_url(line: str) -> bool:
    """A local path or URL requirement (``./libs/x``, ``https://...whl``): not PEP 508."""
    return line.startswith((".", "/", "~")) or bool(re.match(r"[a-z][a-z0-9+.-]*://", line))


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares names."""
    return re.sub(r"[-_.]+", "-", name).lower()
