"""Import the user's pipeline from ``module:attr``, with errors a user can act on.

Every handler shim calls this on a cold start, so it imports neither :mod:`pathlib` nor
:mod:`traceback` until an import of the user's module fails.
"""

from __future__ import annotations

import importlib
import os
import sys

from portway.errors import ConfigError, PortwayError
from portway.model import Pipeline


def load_pipeline(spec: str, root: str | os.PathLike[str]) -> Pipeline:
    """Import ``spec`` (``"pipeline:app"``) with ``root`` first on ``sys.path``.

    Raises :class:`ConfigError` when the module or attribute is missing or is not a
    :class:`Pipeline`, or when importing the module raised (with its file and line);
    a :class:`~portway.errors.ValidationError` from a bad declaration passes through.
    """
    module_name, _, attribute = spec.partition(":")
    root_text = os.fspath(root)
    if root_text not in sys.path:
        sys.path.insert(0, root_text)
    try:
        module = importlib.import_module(module_name)
    except PortwayError:
        raise
    except ModuleNotFoundError as error:
        if error.name and (module_name == error.name or module_name.startswith(error.name + ".")):
            raise ConfigError(
                f"app {spec!r}: no module {module_name!r} in {root_text}; check 'app' in the "
                f"config or pass --app module:attr"
            ) from None
        where = _where(error, root_text)
        raise ConfigError(f"app {spec!r}: importing it failed: {where}") from None
    except Exception as error:
        where = _where(error, root_text)
        raise ConfigError(f"app {spec!r}: importing it failed: {where}") from None
    target: object = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"app {spec!r}: module {module_name!r} has no attribute {part!r}")
        target = getattr(target, part)
    if not isinstance(target, Pipeline):
        raise ConfigError(
            f"app {spec!r} is a {type(target).__name__}, not a portway Pipeline; "
            f"point 'app' at the object made by Pipeline(...)"
        )
    return target


def _where(error: BaseException, root: str) -> str:
    """``"ZeroDivisionError: division by zero (pipeline.py, line 12)"``.

    The line named is the innermost one in the project's own files (under ``root``):
    where the user can act, even when the error was raised inside a library.
    """
    import traceback
    from pathlib import Path

    root_path = Path(root)
    frames = traceback.extract_tb(error.__traceback__)
    # Only real files count: '<frozen importlib._bootstrap>' would resolve under the
    # current folder (the project's) without being in it.
    own = [
        (resolved, f.lineno)
        for f in frames
        if Path(f.filename).is_absolute()
        and (resolved := Path(f.filename).resolve()).is_relative_to(root_path.resolve())
    ]
    location = ""
    if own:
        path, line = own[-1]
        location = f" ({path.relative_to(root_path.resolve())}, line {line})"
    return f"{type(error).__name__}: {error}{location}"
