"""How every command turns a portway error into one line and an exit code.

Exit codes: 0 success; 1 the input is wrong (config, pipeline, findings with errors);
2 the command or option is not available (not in this version, not offered by the
provider) or its usage is wrong.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from portway.errors import NotSupported, PortwayError

EXIT_INPUT = 1
EXIT_UNAVAILABLE = 2

stderr = Console(stderr=True, highlight=False, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_INPUT) -> typer.Exit:
    """Print ``error: message`` on stderr; return the Exit to raise."""
    stderr.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    return typer.Exit(code)


def reports_errors(command: F) -> F:
    """Decorate a command so a :class:`PortwayError` becomes one line and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NotSupported as error:
            raise fail(_escape(str(error)), EXIT_UNAVAILABLE) from None
        except PortwayError as error:
            raise fail(_escape(str(error))) from None

    return wrapper  # type: ignore[return-value]


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
