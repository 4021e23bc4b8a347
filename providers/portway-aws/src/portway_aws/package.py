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
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from portway.deploy.archive import (
    Entries,
    check_output,
    check_project,
    collect,
    package_files,
    project_files,
    write_zip,
)
from portway.errors import DeployError
from portway_aws.packaging.files import installed_files, runtime_packages
from portway_aws.packaging.requirements import install_requirements, runtime_requirements

__all__ = ["LambdaArtifact", "build_lambda_zip", "runtime_requirements"]

Architecture = Literal["x86_64", "arm64"]

# Lambda's machine names as wheel platform tags. manylinux2014 (glibc 2.17) runs on every
# Lambda Python runtime (Amazon Linux 2 and 2023), and it is the tag AWS's own guide uses:
# https://docs.aws.amazon.com/lambda/latest/dg/python-package.html
PLATFORM_MACHINES: dict[str, str] = {"x86_64": "x86_64", "arm64": "aarch64"}


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
    project = check_project(project)
    output = check_output(output, project)
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
    collect(
        entries,
        installed_files(installed),
        "the installed requirements",
        fix="rename the project file, or drop the requirement that installs it",
    )

    report(f"writing {output.name} ({len(entries)} files)")
    data = write_zip(output, entries)
    digest = hashlib.sha256(data)
    return LambdaArtifact(
        path=output,
        sha256=digest.hexdigest(),
        code_sha256=base64.b64encode(digest.digest()).decode("ascii"),
        size=len(data),
    )
