"""Reproducible zips of a portway project: which files go in, and bytes that depend on
names and contents alone.

Every provider that uploads code (a Lambda zip, a Cloud Run functions source zip, a
Function App package) builds it from the same parts: the project folder less what is
not code or data the code reads, the ``portway`` package and the provider's own
package as imported here, and files the provider generates. Entries are collected as
archive name -> content; a name two origins both provide is an error, so a project
file never silently replaces another one. :func:`write_zip` writes them so the same
inputs give the same bytes (sorted entries, fixed timestamps and permissions, one
compression level, no extra fields): an unchanged pipeline has an unchanged digest, and
a deploy uploads nothing.

Deploy-time code: no handler shim imports it.
"""

from __future__ import annotations

import os
import stat
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from portway.errors import ConfigError, DeployError

__all__ = [
    "PORTWAY_LEFT_OUT",
    "PROJECT_LEFT_OUT",
    "Content",
    "Entries",
    "check_output",
    "check_project",
    "collect",
    "hidden_or_cache",
    "left_out_of_project",
    "package_files",
    "project_files",
    "write_zip",
]

#: A file to read, or bytes generated for the archive.
Content = Path | bytes
#: Archive name -> (content, where it comes from: named by conflict and read errors).
Entries = dict[str, tuple[Content, str]]

#: Subpackages of portway that nothing on a handler's path imports, and that import what
#: a deployed function does not install (typer, rich, pytest): the CLI, the local provider
#: and the test suite. ``__main__`` only starts the CLI.
PORTWAY_LEFT_OUT = frozenset({"cli", "local", "testing", "__main__.py"})

#: Folders of the project folder (at its top level) that hold no code the functions run.
PROJECT_LEFT_OUT = frozenset({"venv", "node_modules", "tests", "dist", "build"})

#: The zip epoch: the earliest time a zip entry can hold, so no build time leaks in.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
COMPRESSION_LEVEL = 6
#: Unix, so unzip tools honour the permission bits of ``external_attr`` on every host.
CREATE_SYSTEM_UNIX = 3


def hidden_or_cache(name: str) -> bool:
    """Hidden files and folders, bytecode and its caches: never in an archive."""
    return name.startswith(".") or name == "__pycache__" or name.endswith((".pyc", ".pyo"))


def left_out_of_project(folders: Sequence[str]) -> bool:
    """Whether a file under these folders of the project is left out of the archive."""
    return any(hidden_or_cache(name) for name in folders) or (
        bool(folders) and folders[0] in PROJECT_LEFT_OUT
    )


def collect(
    entries: Entries,
    files: Iterable[tuple[str, Content]],
    origin: str,
    *,
    fix: str = "rename or remove the project's file",
) -> None:
    """Add ``files`` to ``entries``; a name two origins both provide is a
    :class:`DeployError` that names both and ``fix``."""
    for name, content in files:
        if name in entries:
            raise DeployError(
                f"{name!r} comes from both {entries[name][1]} and {origin}: keep one ({fix})"
            )
        entries[name] = (content, origin)


def project_files(project: Path, skip: frozenset[str] = frozenset()) -> Iterable[tuple[str, Path]]:
    """The project folder's files, less hidden ones, caches, top-level build folders,
    virtualenvs and the top-level names in ``skip``, in sorted order.

    A symlink is followed when it points inside the project (its target is stored under
    the link's name); one pointing outside, or nowhere, is a :class:`DeployError`, as is a
    folder that cannot be listed.
    """

    def walk(
        folder: Path, prefix: tuple[str, ...], seen: frozenset[Path]
    ) -> Iterable[tuple[str, Path]]:
        for child in _listing(folder, project):
            parts = (*prefix, child.name)
            if hidden_or_cache(child.name):
                continue
            if not prefix and (child.name in PROJECT_LEFT_OUT or child.name in skip):
                continue
            path = _inside_project(child, "/".join(parts), project) if child.is_symlink() else child
            if path.is_dir():
                if (path / "pyvenv.cfg").exists() or path in seen:
                    continue  # a virtualenv under another name, or a symlink loop
                yield from walk(path, parts, seen | {path})
            elif path.is_file():
                yield "/".join(parts), path

    yield from walk(project, (), frozenset({project}))


def _listing(folder: Path, project: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError as error:
        raise DeployError(
            f"cannot list {folder} in the project folder {project}: {error.strerror}; make "
            f"it readable, or move it out of the project (or into a hidden folder)"
        ) from None


def _inside_project(link: Path, name: str, project: Path) -> Path:
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
            f"which the deployed function would not have: copy what it points to into "
            f"the project"
        )
    return target


def package_files(package: Path, left_out: frozenset[str]) -> Iterable[tuple[str, Path]]:
    """The files of an imported package folder, under its name, without caches and
    without the top-level names in ``left_out``."""
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if relative.parts[0] in left_out or any(map(hidden_or_cache, relative.parts)):
            continue
        if path.is_file():
            yield f"{package.name}/{relative.as_posix()}", path


# -- the checks at the boundary ---------------------------------------------------------


def check_project(project: Path) -> Path:
    """``project`` resolved, if it is a portway project folder (``portway.toml``, or
    ``[tool.portway]`` in ``pyproject.toml``); a :class:`ConfigError` otherwise."""
    root = project.resolve()
    if not root.is_dir():
        raise ConfigError(f"project folder {project} does not exist or is not a folder")
    if (root / "portway.toml").is_file():
        return root
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            tool = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"{pyproject}: cannot read it: {error}") from None
        if isinstance(tool, dict) and "portway" in tool:
            return root
    raise ConfigError(
        f"{project} is not a portway project: it has no portway.toml (nor [tool.portway] "
        f"in pyproject.toml); package the folder that holds the pipeline's configuration"
    )


def check_output(output: Path, project: Path) -> Path:
    """Where to write the archive: ``output`` made absolute, its folder created.

    A :class:`DeployError` when ``output`` lies inside what is packaged (the next build
    would hold it) or names something other than a file.
    """
    target = output.parent.resolve() / output.name
    if target.is_relative_to(project):
        relative = target.relative_to(project)
        if not relative.parts or not left_out_of_project(relative.parts[:-1]):
            raise DeployError(
                f"output {output} is inside the project folder {project}, so the next "
                f"build would package it: write it outside, or under .portway/build/"
            )
    if target.exists() and not target.is_file():
        raise DeployError(f"output {output} exists and is not a file: name a zip file")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


# -- writing ----------------------------------------------------------------------------


def write_zip(output: Path, entries: Entries) -> bytes:
    """Write ``entries`` to ``output`` so the bytes depend on names and contents only;
    return the zip's bytes.

    Sorted entries, no directory entries, the zip epoch as every timestamp, 0o755 for a
    file executable here and 0o644 for every other entry, one compression level, no
    extra fields. The file appears at ``output`` whole (written beside it, then renamed).
    A file that cannot be read is a :class:`DeployError` naming it and where it comes from.
    """
    descriptor, temporary = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    try:
        with (
            os.fdopen(descriptor, "wb") as stream,
            zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive,
        ):
            for name in sorted(entries):
                content, origin = entries[name]
                data, executable = (
                    _read(content, origin)
                    if isinstance(content, Path)
                    else (
                        content,
                        False,
                    )
                )
                info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
                info.create_system = CREATE_SYSTEM_UNIX
                info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
                archive.writestr(
                    info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=COMPRESSION_LEVEL
                )
        os.chmod(temporary, 0o644)  # mkstemp made it 0o600
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return output.read_bytes()


def _read(source: Path, origin: str) -> tuple[bytes, bool]:
    try:
        return source.read_bytes(), bool(source.stat().st_mode & 0o111)
    except OSError as error:
        raise DeployError(
            f"cannot read {source} (from {origin}): {error.strerror}; make it readable, "
            f"or move it out of the project (or into a hidden folder)"
        ) from None
