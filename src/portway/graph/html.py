"""Render a graph as one self-contained HTML page: the graph view, offline, for docs and review.

The page inlines the bundled graph view (``portway/ui/static``, built from ``web/`` by
``make ui``), its CSS and the graph JSON, so it opens from a file with no network at all.
A Content-Security-Policy allows exactly the inline script and style blocks of the page
(by hash) and no connection, so even a name that somehow got past the escaping below
could not run, and nothing the page does can reach out.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from typing import Any

from portway.ui import static_asset

# JSON inside <script type="application/json">: the HTML parser ends the element at the
# first "</script", whatever the JSON means, so "<" (and ">", "&", for good measure)
# become JSON escapes, which JSON.parse reads back as the same characters.
_JSON_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})

# Reads the embedded document and draws it; the details panel shows a clicked node.
_BOOT = """\
(function () {
  var data = JSON.parse(document.getElementById("portway-graph").textContent);
  var counts = document.getElementById("portway-counts");
  counts.textContent = data.nodes.length + " nodes, " + data.edges.length + " edges";
  window.portwayView = PortwayGraph.render(
    document.getElementById("portway-view"), data, {details: true}
  );
})();
"""

_PAGE_STYLE = """\
html, body { height: 100%; margin: 0; }
body { display: flex; flex-direction: column; font: 14px/1.4 system-ui, sans-serif; }
header { display: flex; align-items: baseline; gap: 12px; padding: 8px 14px;
  border-bottom: 1px solid #d0d5dd; }
header h1 { margin: 0; font-size: 16px; }
header span { color: #667085; font-size: 12.5px; }
#portway-view { flex: 1; }
@media (prefers-color-scheme: dark) {
  body { background: #14171f; color: #e4e7ec; }
  header { border-color: #344054; }
}
"""


def _hash_source(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _inline(text: str, tag: str) -> str:
    # A raw-text element ends at "</tag", so an asset holding one cannot be inlined as is.
    if f"</{tag}" in text.lower():
        raise ValueError(f"an inlined asset contains '</{tag}'; it would end the element early")
    return text


def embed_json(document: dict[str, Any]) -> str:
    """``document`` as JSON that is safe inside ``<script type="application/json">``."""
    # ASCII only (json's default): with the ASCII bundle and title, the whole page is
    # ASCII, so `portway graph --format html` survives any console encoding on stdout.
    return json.dumps(document, indent=1).translate(_JSON_ESCAPES)


def render_html(graph_json: dict[str, Any], *, title: str) -> str:
    """One self-contained HTML page drawing ``graph_json`` (schema ``portway.graph/1``).

    ``title`` is the page's title; it is escaped. The page needs no network to open.
    """
    script = _inline(static_asset("portway-graph.js"), "script")
    style = _inline(static_asset("portway-graph.css") + "\n" + _PAGE_STYLE, "style")
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_hash_source(script)} {_hash_source(_BOOT)}",
            f"style-src {_hash_source(style)}",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    heading = html.escape(title).encode("ascii", "xmlcharrefreplace").decode("ascii")
    return (
        "<!doctype html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="portway graph --format html">\n'
        f"<title>{heading}</title>\n"
        f"<style>{style}</style>\n"
        "</head>\n"
        "<body>\n"
        f'<header><h1>{heading}</h1><span id="portway-counts"></span>'
        "<span>drag to pan, wheel to zoom, click a node for its details</span></header>\n"
        '<main id="portway-view"></main>\n'
        f'<script type="application/json" id="portway-graph">{embed_json(graph_json)}</script>\n'
        f"<script>{script}</script>\n"
        f"<script>{_BOOT}</script>\n"
        "</body>\n"
        "</html>\n"
    )
