"""Installing requirements from wheels for the Lambda platform, cached."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from portway.errors import DeployError

# portway's distributions whose imports the handler's path needs beyond the stdlib:
# croniter parses cron schedules when the user's module declares them (its own
# dependencies follow). pluggy, typer, rich and watchfiles serve the CLI, the provider
# registry and the local provider, which a deployed function never imports. boto3 is not
# bundled either: every Lambda Python runtime provides it
# (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html); list it in the
# requirements to pin your own version.
RUNTIME_DISTRIBUTIONS = ("croniter",)

PROJECT_REQUIREMENTS = "requirements.txt"


def runtime_requirements(leave_out: Sequence[str] = ()) -> list[str]:
    """portway's runtime requirements, pinned to the versions installed in this process.

    The pins follow :data:`RUNTIME_DISTRIBUTIONS` and their dependencies as installed
    here, so the function runs the versions it was tested with locally. A name in
    ``leave_out`` (the user's own requirement for it) is not pinned.
    """
    skip = {_normalize(name) for name in leave_out}
    pins: dict[str, str] = {}
    pending = [(name, True) for name in RUNTIME_DISTRIBUTIONS]
    while pending:
        name, is_root = pending.pop()
        key = _normalize(name)
        if key in pins or key in skip:
            continue
        try:
            distribution = importlib.metadata.distribution(key)
        except importlib.metadata.PackageNotFoundError:
            # A dependency absent here was left out by its marker; pip decides for Lambda.
            if is_root:
                pins[key] = key
            continue
        pins[key] = f"{key}=={distribution.version}"
        for requirement in distribution.requires or ():
            if "extra" not in requirement.partition(";")[2]:
                pending.append((_requirement_name(requirement), False))
    return sorted(pins.values())


def install_requirements(
    project: Path,
    *,
    requirements: Sequence[str],
    platform: str,
    python_version: str,
    index_options: Sequence[str],
    cache: Path,
    report: Callable[[str], None],
) -> Path:
    """The folder holding the requirements installed for Lambda, from the cache if there.

    The cache key is everything pip is given (requirement strings, requirements files'
    contents, platform, Python version, index options, pip's version), not what the
    index serves: an unpinned requirement keeps its cached version, and so the same
    bytes, until the cache folder is deleted.
    """
    requirements_file = project / PROJECT_REQUIREMENTS
    in_file = _names_in(requirements_file)
    listed = [_requirement_name(r) for r in [*requirements, *in_file]]
    asked = runtime_requirements(leave_out=listed)
    asked += [r for r in requirements if r not in asked]
    pip = _pip_command()
    key = hashlib.sha256(
        json.dumps(
            {
                "requirements": asked,
                "requirements.txt": _file_digests(requirements_file),
                "platform": platform,
                "python": python_version,
                "index": list(index_options),
                "pip": Path(pip[-1]).name if pip[-1].endswith(".whl") else _pip_version(),
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()[:24]
    folder = cache.resolve() / f"lambda-requirements-{key}"
    if folder.is_dir():
        report(f"using cached requirements for {platform} ({folder.name})")
        return folder

    count = len(asked) + len(in_file)
    report(f"installing {count} requirements for {platform} (Python {python_version})")
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".installing-", dir=cache))
    command = [
        *pip,
        "install",
        "--target",
        str(staging),
        "--platform",
        platform,
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        # Only wheels built for Lambda's platform: an sdist built here would hold this
        # machine's binaries.
        "--only-binary=:all:",
        "--no-compile",
        # pip would compare the target with this process's packages, not with Lambda's.
        "--no-warn-conflicts",
        "--disable-pip-version-check",
        "--no-input",
        *index_options,
        *(["--requirement", str(requirements_file)] if requirements_file.is_file() else []),
        *asked,
    ]
    try:
        finished = subprocess.run(command, capture_output=True, text=True, check=False)
        if finished.returncode != 0:
            raise _install_error(finished.stderr, platform, python_version)
        try:
            staging.rename(folder)
        except OSError:  # another build installed the same set meanwhile
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _pip_command() -> list[str]:
    """How to run pip: this interpreter's, else the wheel ensurepip ships with it.

    pip rather than ``uv pip``: uv writes a ``uv_cache.json`` with the install time into
    each ``.dist-info`` (and lists it in ``RECORD``), so two installs of the same wheels
    would not give the same bytes; pip's output is a function of the wheels. pip also
    works offline against ``--find-links`` and online against PyPI with the same flags
    AWS documents. A uv-made virtualenv has no pip, but its interpreter still carries
    the pip wheel of ensurepip, which runs from the wheel as ensurepip itself does.
    """
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    spec = importlib.util.find_spec("ensurepip")
    folders = [Path("/usr/share/python-wheels")]  # Debian's python3-pip-whl
    if spec is not None and spec.origin:
        folders.insert(0, Path(spec.origin).parent / "_bundled")
    for folder in folders:
        wheels = sorted(folder.glob("pip-*.whl"))
        if wheels:
            run_from_wheel = (
                "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
                "runpy.run_module('pip', run_name='__main__', alter_sys=True)"
            )
            return [sys.executable, "-c", run_from_wheel, str(wheels[-1])]
    raise DeployError(
        f"installing requirements for Lambda needs pip, and {sys.executable} has none: "
        f"run '{sys.executable} -m ensurepip' (or 'uv pip install pip')"
    )


def _pip_version() -> str:
    try:
        return importlib.metadata.version("pip")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


_NO_VERSION = re.compile(
    r"Could not find a version that satisfies the requirement (?P<requirement>\S+)"
    r"(?: \(from (?!versions:)(?P<parent>[^)]*)\))?(?: \(from versions: (?P<versions>[^)]*)\))?"
)


def _install_error(stderr: str, platform: str, python_version: str) -> DeployError:
    found = _NO_VERSION.search(stderr)
    if found is None:
        lines = [line for line in stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR")] or lines[-3:]
        return DeployError(
            f"installing the requirements for {platform} failed: {' / '.join(errors)}"
        )
    requirement = found["requirement"]
    if "Retrying (" in stderr or "NewConnectionError" in stderr:
        return DeployError(
            f"could not reach the package index to install {requirement!r}: check the "
            f"network, or pass --find-links to a folder of wheels"
        )
    needed_by = f" (needed by {found['parent']})" if found["parent"] else ""
    versions = [v for v in (found["versions"] or "").split(", ") if v and v != "none"]
    shown = ("..., " if len(versions) > 5 else "") + ", ".join(versions[-5:])
    other = f"; versions with one: {shown}" if versions else ""
    return DeployError(
        f"no {platform} wheel for {requirement!r}{needed_by} on CPython {python_version}"
        f"{other}: pick a version with a wheel for this platform, or build one"
    )


def _names_in(requirements_file: Path) -> list[str]:
    """The project names listed in a requirements file (its options are pip's business)."""
    if not requirements_file.is_file():
        return []
    names = []
    for line in requirements_file.read_text(encoding="utf-8").splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith(("-", "#")):
            names.append(_requirement_name(line))
    return names


def _file_digests(requirements_file: Path) -> dict[str, str]:
    """SHA-256 of a requirements file and of the files its -r/-c lines name."""
    digests: dict[str, str] = {}
    pending = [requirements_file]
    while pending:
        path = pending.pop()
        if str(path) in digests or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        digests[str(path)] = hashlib.sha256(text.encode()).hexdigest()
        for included in re.findall(
            r"^\s*(?:-r|-c|--requirement|--constraint)[\s=]+(\S+)", text, re.MULTILINE
        ):
            pending.append(path.parent / included)
    return digests


def _requirement_name(requirement: str) -> str:
    found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return _normalize(found[1]) if found else requirement.strip()


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
