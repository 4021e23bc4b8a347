"""``portway graph --format html``: one self-contained page with the graph view."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from portway.cli.main import app
from portway.graph import render_html
from portway.graph.html import embed_json
from portway.ui import static_asset

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
runner = CliRunner()

HOSTILE = "</script><script>alert(1)</script>"


def _example_page(example_dir: Path, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    document = json.loads(runner.invoke(app, ["graph", "--format", "json"]).stdout)
    target = tmp_path / "pipeline.html"
    result = runner.invoke(app, ["graph", "--format", "html", "-o", str(target)])
    assert result.exit_code == 0, result.output
    return target, document


def _embedded(page: str) -> Any:
    match = re.search(
        r'<script type="application/json" id="portway-graph">(.*?)</script>', page, re.DOTALL
    )
    assert match is not None
    return json.loads(match.group(1))


def _hostile_graph() -> dict[str, Any]:
    return {
        "schema": "portway.graph/1",
        "pipeline": HOSTILE,
        "nodes": [
            {
                "id": f"bucket:{HOSTILE}",
                "kind": "bucket",
                "name": HOSTILE,
                "label": HOSTILE,
                "attributes": {"note": "<img src=x onerror=alert(2)> & more"},
            },
            {"id": "function:f", "kind": "function", "name": "f", "label": "f", "attributes": {}},
        ],
        "edges": [
            {
                "id": "use:f",
                "source": f"bucket:{HOSTILE}",
                "target": "function:f",
                "kind": "use",
                "label": HOSTILE,
                "attributes": {},
            },
        ],
    }


def test_graph_html_writes_one_page_to_the_output_file(example_dir: Path, tmp_path: Path) -> None:
    target, _ = _example_page(example_dir, tmp_path)
    assert target.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_graph_html_goes_to_stdout_without_an_output_file(example_dir: Path) -> None:
    result = runner.invoke(app, ["graph", "--format", "html"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<!doctype html>")
    assert result.stdout.rstrip().endswith("</html>")


def test_page_needs_no_network(example_dir: Path, tmp_path: Path) -> None:
    page = _example_page(example_dir, tmp_path)[0].read_text(encoding="utf-8")
    for reference in ('src="http', "src='http", 'href="http', "href='http", "@import", "url(http"):
        assert reference not in page
    assert "fetch(" not in page
    assert "XMLHttpRequest" not in page
    assert "default-src 'none'" in page


def test_page_embeds_the_graph_json_that_format_json_prints(
    example_dir: Path, tmp_path: Path
) -> None:
    target, document = _example_page(example_dir, tmp_path)
    assert _embedded(target.read_text(encoding="utf-8")) == document


def test_a_hostile_name_cannot_end_the_script_element() -> None:
    page = render_html(_hostile_graph(), title=HOSTILE)
    assert "alert(1)" in page  # the name is there, but only as escaped data
    assert page.count("<script") == 3  # the graph JSON, the bundle, the boot script
    assert "<img" not in page
    assert _embedded(page) == _hostile_graph()


def test_the_page_is_ascii_whatever_the_names() -> None:
    graph = _hostile_graph()
    graph["nodes"][1]["label"] = "f\u00e9\u2028\u2192"
    page = render_html(graph, title="caf\u00e9")
    assert page.isascii()
    assert "<title>caf&#233;</title>" in page
    assert _embedded(page) == graph


def test_the_title_is_escaped() -> None:
    page = render_html(_hostile_graph(), title=HOSTILE)
    assert "<title>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>" in page


def test_the_graph_view_sets_text_never_markup() -> None:
    bundle = (REPO / "src/portway/ui/static/portway-graph.js").read_text(encoding="utf-8")
    source = (WEB / "src/graph-view.js").read_text(encoding="utf-8")
    for text in (bundle, source):
        assert "innerHTML" not in text
        assert "insertAdjacentHTML" not in text
        assert "document.write" not in text


def _build_inputs() -> list[str]:
    # Keep in step with inputs() in web/scripts/build.mjs.
    sources = sorted(path.name for path in (WEB / "src").iterdir())
    return ["package.json", "package-lock.json", "scripts/build.mjs"] + [
        f"src/{name}" for name in sources
    ]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_committed_bundle_is_built_from_the_current_sources() -> None:
    stamp = json.loads((WEB / "build-stamp.json").read_text(encoding="utf-8"))
    current = {name: _sha256(WEB / name) for name in _build_inputs()}
    stale = sorted(
        name
        for name in current.keys() | stamp["inputs"].keys()
        if current.get(name) != stamp["inputs"].get(name)
    )
    assert not stale, f"web/{', web/'.join(stale)} changed since the last build: run make ui"
    for output, digest in stamp["outputs"].items():
        assert _sha256(REPO / output) == digest, f"{output} was edited by hand: run make ui"


# A real browser: Debian's chromium, headless, with no network use, opens the file.

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]


@pytest.fixture
def chromium(tmp_path: Path) -> list[str]:
    """The chromium command line; skipped without chromium, except under ``CI=true``."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        message = "chromium is not installed (Debian: apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return [executable, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]


def _dump_dom(chromium: list[str], page: Path) -> str:
    result = subprocess.run(
        [*chromium, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def test_a_browser_draws_one_box_per_node(
    example_dir: Path, tmp_path: Path, chromium: list[str]
) -> None:
    target, document = _example_page(example_dir, tmp_path)
    dom = _dump_dom(chromium, target)
    drawn = re.findall(r'<g class="pw-node [^"]*"[^>]*data-node-id="([^"]+)"', dom)
    assert sorted(drawn) == sorted(node["id"] for node in document["nodes"])
    assert len(re.findall(r'<g class="pw-edge pw-edge-', dom)) == len(document["edges"])


def test_a_browser_shows_a_hostile_name_as_text(tmp_path: Path, chromium: list[str]) -> None:
    target = tmp_path / "hostile.html"
    target.write_text(render_html(_hostile_graph(), title="hostile"), encoding="utf-8")
    dom = _dump_dom(chromium, target)
    assert dom.count("<script") == 3  # nothing added by the names
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;</text>" in dom
    assert len(re.findall(r'class="pw-node ', dom)) == 2


def _page_driving_the_view(graph: dict[str, Any], script: str) -> str:
    """A bare page (no CSP) that draws ``graph`` and then runs ``script`` with ``view``."""
    bundle = static_asset("portway-graph.js")
    data = embed_json(graph)
    return (
        f"<!doctype html><html><head><style>{static_asset('portway-graph.css')}</style></head>"
        f'<body><div id="view" style="width:900px;height:600px"></div>'
        f'<script type="application/json" id="data">{data}</script><script>{bundle}</script>'
        "<script>const view = PortwayGraph.render(document.getElementById('view'), "
        f"JSON.parse(document.getElementById('data').textContent));\n{script}</script>"
        "</body></html>"
    )


def test_figures_become_badges_under_their_nodes(tmp_path: Path, chromium: list[str]) -> None:
    target = tmp_path / "figures.html"
    # In JS source inside <script>, the name must be escaped too (an alert would hang chromium).
    hostile = json.dumps(HOSTILE).replace("<", "\\u003c")
    script = f"""
        view.setFigures({{"function:f": {{badges: [{{text: "1/s", tone: "ok"}}]}}}});
        view.setFigures({{
          "function:f": {{badges: [{{text: "12/s", tone: "ok"}}, {{text: "2 failed", tone: "bad"}}],
                         tooltip: "last error: boom"}},
          ["bucket:" + {hostile}]: {{badges: [{{text: {hostile}, tone: "nonsense"}}]}},
          "function:missing": {{badges: [{{text: "ignored", tone: "ok"}}]}},
        }});
        view.onSelect((id) => {{ document.body.dataset.selected = id; }});
        view.select("function:f");
    """
    target.write_text(_page_driving_the_view(_hostile_graph(), script), encoding="utf-8")
    dom = _dump_dom(chromium, target)
    badges = re.findall(r'<g class="pw-badge pw-tone-(\w+)"[^>]*>.*?<text[^>]*>(.*?)</text>', dom)
    assert badges == [
        ("info", "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("ok", "12/s"),
        ("bad", "2 failed"),
    ]
    assert "ignored" not in dom.split("<script")[0]
    assert re.search(
        r'class="pw-node pw-kind-function pw-alert pw-selected"[^>]*data-node-id="function:f"', dom
    )
    assert "last error: boom" in dom
    assert 'data-selected="function:f"' in dom


def test_an_empty_pipeline_draws_an_empty_view(tmp_path: Path, chromium: list[str]) -> None:
    target = tmp_path / "empty.html"
    empty = {"schema": "portway.graph/1", "pipeline": "empty", "nodes": [], "edges": []}
    target.write_text(render_html(empty, title="empty"), encoding="utf-8")
    dom = _dump_dom(chromium, target)
    assert '<svg class="pw-graph"' in dom
    assert "data-node-id" not in dom.split("<script")[0]
