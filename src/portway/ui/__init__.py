"""The browser side of portway: the pipeline graph view, built ahead of time.

``static/portway-graph.js`` and ``static/portway-graph.css`` are bundled from ``web/``
by ``make ui`` and committed, so the wheel ships them and nothing is fetched at run time.
The self-contained page of ``portway graph --format html`` inlines them; the local
dashboard serves them.
"""

from __future__ import annotations

from importlib import resources

__all__ = ["static_asset"]


def static_asset(name: str) -> str:
    """The text of the shipped asset ``name`` (``portway-graph.js`` or ``portway-graph.css``).

    Raises ``FileNotFoundError`` for an asset that is not shipped.
    """
    return resources.files(__name__).joinpath("static", name).read_text(encoding="utf-8")
