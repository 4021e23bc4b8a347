"""The big picture: a pipeline as a graph, rendered as JSON, Mermaid or DOT."""

from __future__ import annotations

import json

from portway.errors import NotSupported
from portway.graph.build import SCHEMA, Edge, Graph, Node, build_graph
from portway.graph.dot import render_dot
from portway.graph.mermaid import render_mermaid
from portway.model import Pipeline

FORMATS = ("mermaid", "dot", "json", "html")

__all__ = ["FORMATS", "SCHEMA", "Edge", "Graph", "Node", "build_graph", "render"]


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
        raise NotSupported(
            "graph --format html (a self-contained page) is not in this version yet; "
            "use --format mermaid, dot or json"
        )
    raise NotSupported(f"unknown graph format {format!r}; use one of {', '.join(FORMATS)}")
