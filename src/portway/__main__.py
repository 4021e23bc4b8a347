"""``python -m portway``: the same command line as ``portway``."""

from __future__ import annotations

from portway.cli.main import main

main()
