"""One reproducible Lambda zip for every function of a pipeline.

The zip holds, all at its root (Lambda puts the root of the zip on ``sys.path``):

- the user's project folder (the one holding ``portway.toml``), less what is not code or
  data the code reads (hidden files, caches, virtualenvs, tests, build output);
- the ``portway`` package and the ``portway_aws`` package, copied from where this process
  imports them, less the subpackages nothing on the handler's path imports;
- portway's own runtime requirements, pinned to the versions installed here, and the
  user's requirements (the ``requirements`` argument and ``requirements.txt`` in the
  project folder), installed from wheels for the Lambda platform.

The handler picks the function from an environment variable, so deploy builds the zip
once per pipeline. Same inputs give the same bytes (sorted entries, fixed timestamps
and permissions, no extra fields), so an unchanged pipeline is not uploaded again: its
``code_sha256`` equals the ``CodeSha256`` Lambda reports.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
import tempfile
import tomllib
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from portway.errors import ConfigError, DeployError
from portway_aws.packaging.files import (
    Entries,
    collect,
    installed_files,
    left_out_of_project,
    package_files,
    project_files,
    runtime_packages,
)
from portway_aws.packaging.requirements import install_requirements, runtime_requirements

__all__ = ["LambdaArtifact", "build_lambda_zip", "runtime_requirements"]

Architecture = Literal["x86_64", "arm64"]

# Lambda's machine names as wheel platform tags. manylinux2014 (glibc 2.17) runs on every
# Lambda Python runtime (Amazon Linux 2 and 2023), and it is the tag AWS's own guide uses:
# https://docs.aws.amazon.com/lambda/latest/dg/python-package.html
PLATFORM_MACHINES: dict[str, str] = {"x86_64": "x86_64", "arm64": "aarch64"}

# The zip epoch: the earliest time a zip entry can hold, so no build time leaks in.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
COMPRESSION_LEVEL = 6
# Unix, so unzip tools honour the permission bits of external_attr on every build host.
CREATE_SYSTEM_UNIX = 3


@dataclass(frozen=True, slots=True)
class LambdaArtifact:
    """A built zip: ``sha256`` in hex, ``code_sha256`` as Lambda reports ``CodeSha256``
    (base64 of the raw SHA-256 digest), ``size`` in bytes."""

    path: Path
    sha256: str
    code_sha256: str
    size: int


def build_lambda_zip(
    project: Path,
    *,
    architecture: Architecture = "x86_64",
    python_version: str = "3.11",
    requirements: Sequence[str] = (),
    output: Path,
    index_options: Sequence[str] = (),
    cache: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> LambdaArtifact:
    """Build the Lambda zip of the pipeline in ``project`` at ``output``.

    ``requirements`` are pip requirement strings, installed with ``requirements.txt`` of
    the project folder (pip syntax, read when present) for ``architecture`` and
    ``python_version``. ``index_options`` go to pip as they are (``--index-url``,
    ``--find-links``, ``--no-index``...). Installed requirements are cached under
    ``cache`` (default ``<project>/.portway/build``), keyed by what was asked.

    Raises :class:`ConfigError` when ``project`` is not a portway project, and
    :class:`DeployError` when the zip cannot be built: an output inside what is packaged,
    a symlink out of the project, a requirement with no wheel for the platform, a file
    that two sources both provide.
    """
    report = progress or (lambda _message: None)
    project = _check_project(project)
    output = _check_output(output, project)
    if architecture not in PLATFORM_MACHINES:
        raise DeployError(f"architecture {architecture!r}: Lambda offers 'x86_64' or 'arm64'")
    if not re.fullmatch(r"3\.\d{1,2}", python_version):
        raise DeployError(f"python_version {python_version!r}: give 'major.minor', as '3.11'")
    platform = f"manylinux2014_{PLATFORM_MACHINES[architecture]}"

    entries: Entries = {}
    report(f"collecting the files of {project}")
    collect(entries, project_files(project), "the project folder")
    for package, left_out in runtime_packages():
        collect(entries, package_files(package, left_out), f"the {package.name} package")
    installed = install_requirements(
        project,
        requirements=requirements,
        platform=platform,
        python_version=python_version,
        index_options=index_options,
        cache=cache if cache is not None else project / ".portway" / "build",
        report=report,
    )
    collect(entries, installed_files(installed), "the installed requirements")

    report(f"writing {output.name} ({len(entries)} files)")
    _write_zip(output, {name: source for name, (source, _origin) in entries.items()})
    data = output.read_bytes()
    digest = hashlib.sha256(data)
    return LambdaArtifact(
        path=output,
        sha256=digest.hexdigest(),
        code_sha256=base64.b64encode(digest.digest()).decode("ascii"),
        size=len(data),
    )


# -- the checks at the boundary ---------------------------------------------------------


def _check_project(project: Path) -> Path:
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


def _check_output(output: Path, project: Path) -> Path:
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


def _write_zip(output: Path, files: dict[str, Path]) -> None:
    """Write ``files`` (archive name -> source) so the bytes depend on names and contents.

    Sorted entries, no directory entries, the zip epoch as every timestamp, 0o644 or
    0o755 as every mode, one compression level, no extra fields. The file appears at
    ``output`` whole (written beside it, then renamed).
    """
    descriptor, temporary = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    try:
        with (
            os.fdopen(descriptor, "wb") as stream,
            zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive,
        ):
            for name in sorted(files):
                source = files[name]
                executable = source.stat().st_mode & 0o111
                info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
                info.create_system = CREATE_SYSTEM_UNIX
                info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
                archive.writestr(
                    info,
                    source.read_bytes(),
                    compress_type=zipfile.ZIP_DEFLATED,
                    compresslevel=COMPRESSION_LEVEL,
                )
        os.chmod(temporary, 0o644)  # mkstemp made it 0o600
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
