"""Azure's remote build, played: an app's ``requirements.txt`` installed from this machine.

On Azure the deployment's remote build runs ``pip install -r requirements.txt`` into
the app's ``.python_packages``. Here, offline, :func:`install_pinned` builds the same
folder from the distributions installed in this interpreter: every pinned distribution
is linked into the folder file by file (so namespace packages such as ``azure`` merge
as pip would merge them), and nothing else is. A worker that puts only the unpacked
zip and this folder on ``sys.path`` then fails, as the app would on Azure, if the
zip's ``requirements.txt`` misses something the code imports.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from portway.errors import PortwayError

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)$")


class PackagesError(PortwayError):
    """A requirement of the app cannot be installed from this interpreter's packages."""


def install_pinned(requirements: Path, target: Path) -> Path:
    """Link every distribution ``requirements`` pins into ``target``; return ``target``.

    Each line must be ``name==version`` (comments, ``--`` options and blank lines aside) and the
    installed version must be the pinned one; otherwise :class:`PackagesError` says
    which line cannot be honoured. Console scripts and bytecode caches are left out.
    """
    target.mkdir(parents=True, exist_ok=True)
    for number, line in enumerate(requirements.read_text(encoding="utf-8").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("--"):
            continue  # index options (--index-url) say where pip looks: here, this machine
        found = _PIN.match(text)
        if found is None:
            raise PackagesError(
                f"{requirements.name}, line {number}: {text!r} is not 'name==version'; "
                f"only pinned requirements can be installed from this machine's packages"
            )
        _link(found[1], found[2], target, f"{requirements.name}, line {number}")
    return target


def _link(name: str, version: str, target: Path, where: str) -> None:
    try:
        distribution = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        raise PackagesError(f"{where}: {name} is not installed here") from None
    if distribution.version != version:
        raise PackagesError(
            f"{where}: pins {name}=={version}, but {distribution.version} is installed here"
        )
    for file in distribution.files or ():
        parts = file.parts
        if not parts or parts[0] == ".." or "__pycache__" in parts:
            continue  # console scripts (../../bin) and caches
        source = Path(str(distribution.locate_file(file)))
        link = target.joinpath(*parts)
        if link.exists() or not source.is_file():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(source)
