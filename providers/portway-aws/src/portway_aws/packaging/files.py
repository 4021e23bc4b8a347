"""Which files go in the Lambda zip, and under which names."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from portway.errors import DeployError

# (archive name, source file) pairs, and what they come from (for conflict errors).
Entries = dict[str, tuple[Path, str]]

# Subpackages of portway that nothing on the handler's path imports, and that import
# what the zip does not hold (typer, rich, pytest): the CLI, the local provider and the
# test suite. __main__ only starts the CLI.
PORTWAY_LEFT_OUT = frozenset({"cli", "local", "testing", "__main__.py"})

# Folders of the project folder (at its top level) that hold no code the functions run.
PROJECT_LEFT_OUT = frozenset({"venv", "node_modules", "tests", "dist", "build"})


def left_out_of_project(folders: Sequence[str]) -> bool:
    """Whether a file under these folders of the project is left out of the zip."""
    return any(hidden_or_cache(name) for name in folders) or (
        bool(folders) and folders[0] in PROJECT_LEFT_OUT
    )


def hidden_or_cache(name: str) -> bool:
    """Hidden files and folders, bytecode and its caches: never in the zip."""
    return name.startswith(".") or name == "__pycache__" or name.endswith((".pyc", ".pyo"))


def collect(entries: Entries, files: Iterable[tuple[str, Path]], origin: str) -> None:
    """Add ``files`` to ``entries``; a name two origins both provide is an error."""
    for name, source in files:
        if name in entries:
            raise DeployError(
                f"{name!r} comes from both {entries[name][1]} and {origin}: keep one "
                f"(rename the project file, or drop the requirement that installs it)"
            )
        entries[name] = (source, origin)


def project_files(project: Path) -> Iterable[tuple[str, Path]]:
    """The project folder's files, less hidden ones, caches and top-level build folders.

    A symlink is followed when it points inside the project (its target is stored under
    the link's name); one pointing outside, or nowhere, is an error.
    """

    def walk(
        folder: Path, prefix: tuple[str, ...], seen: frozenset[Path]
    ) -> Iterable[tuple[str, Path]]:
        for child in sorted(folder.iterdir()):
            parts = (*prefix, child.name)
            if hidden_or_cache(child.name) or (not prefix and child.name in PROJECT_LEFT_OUT):
                continue
            path = child
            if child.is_symlink():
                path = inside_project(child, "/".join(parts), project)
            if path.is_dir():
                if (path / "pyvenv.cfg").exists() or path in seen:
                    continue  # a virtualenv under another name, or a symlink loop
                yield from walk(path, parts, seen | {path})
            elif path.is_file():
                yield "/".join(parts), path

    yield from walk(project, (), frozenset({project}))


def inside_project(link: Path, name: str, project: Path) -> Path:
    """The target of a symlink of the project, if it lies inside the project."""
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):
        raise DeployError(
            f"{name} in {project} is a symlink to {os.readlink(link)}, which does not "
            f"exist: remove the link or restore its target"
        ) from None
    if not target.is_relative_to(project):
        raise DeployError(
            f"{name} in {project} is a symlink to {target}, outside the project folder, "
            f"which Lambda would not have: copy what it points to into the project"
        )
    return target


def runtime_packages() -> list[tuple[Path, frozenset[str]]]:
    """The folders of ``portway`` and ``portway_aws`` as imported here, each with the
    top-level names of it that stay out of the zip."""
    import portway
    import portway_aws

    return [
        (Path(portway.__file__).parent, PORTWAY_LEFT_OUT),
        (Path(portway_aws.__file__).parent, frozenset()),
    ]


def package_files(package: Path, left_out: frozenset[str]) -> Iterable[tuple[str, Path]]:
    """The files of an imported package, under its name, without caches."""
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if relative.parts[0] in left_out or any(map(hidden_or_cache, relative.parts)):
            continue
        if path.is_file():
            yield f"{package.name}/{relative.as_posix()}", path


def installed_files(folder: Path) -> Iterable[tuple[str, Path]]:
    """The files pip installed with ``--target folder``, as Lambda will import them."""
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        # pip --target puts console scripts in bin/, their shebang naming this machine's
        # interpreter; Lambda runs none of them. Hidden folders stay (auditwheel's .libs).
        if relative.parts[0] == "bin" or any(
            part == "__pycache__" or part.endswith((".pyc", ".pyo")) for part in relative.parts
        ):
            continue
        if path.is_file():
            yield relative.as_posix(), path
