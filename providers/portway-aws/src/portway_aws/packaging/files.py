"""The files only the Lambda zip holds: the portway packages as Lambda imports them, and
the requirements pip installed for the Lambda platform. What every provider's archive
shares (the project's files, the reproducible writer) is :mod:`portway.deploy.archive`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from portway.deploy.archive import PORTWAY_LEFT_OUT


def runtime_packages() -> list[tuple[Path, frozenset[str]]]:
    """The folders of ``portway`` and ``portway_aws`` as imported here, each with the
    top-level names of it that stay out of the zip."""
    import portway
    import portway_aws

    return [
        (Path(portway.__file__).parent, PORTWAY_LEFT_OUT),
        (Path(portway_aws.__file__).parent, frozenset()),
    ]


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
