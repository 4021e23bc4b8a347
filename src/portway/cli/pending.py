"""Commands of the contract whose machinery is not in this version yet.

They exist, with their options and help, so scripts and docs can rely on the names;
each says what is missing and exits 2.
"""

from __future__ import annotations

from typing import Annotated

import typer

from portway.cli.errors import EXIT_UNAVAILABLE, fail


def conformance_command(
    provider: Annotated[str, typer.Option("--provider", "-p", help="Installed provider to test.")],
) -> None:
    """Run the conformance suite against an installed provider."""
    raise fail(
        "portway conformance: the conformance suite is not in this version of portway yet",
        EXIT_UNAVAILABLE,
    )
