"""The big picture: a pipeline as a graph, rendered as JSON, Mermaid, DOT or an HTML page."""

from __future__ import annotations

import json

from portway.errors import NotSupported
from portway.graph.build import SCHEMA, Edge, Graph, Node, build_graph
from portway.graph.dot import render_dot
from portway.graph.html import render_html
from portway.graph.mermaid import render_mermaid
from portway.model import Pipeline

FORMATS = ("mermaid", "dot", "json", "html")

__all__ = ["FORMATS", "SCHEMA", "Edge", "Graph", "Node", "build_graph", "render", "render_html"]


def render(pipeline: Pipeline, format: str) -> str:
    """``pipeline``'s graph as text in ``format`` (one of :data:`FORMATS`)."""
    graph = build_graph(pipeline)
    if format == "json":
        return json.dumps(graph.to_json(), indent=2) + "\n"
    if format == "mermaid":
        return render_mermaid(graph)
    if format == "dot":
        return render_dot(graph)
    if format == "html":
        return render_html(graph.to_json(), title=f"{graph.pipeline}: pipeline graph")
    raise NotSupported(f"unknown graph format {format!r}; use one of {', '.join(FORMATS)}")
