"""Render a :class:`~portway.graph.build.Graph` in Graphviz DOT."""

from __future__ import annotations

from portway.graph.build import Graph

_SHAPES = {
    "bucket": "cylinder",
    "queue": "box3d",
    "dead-letter-queue": "box3d",
    "topic": "hexagon",
    "function": "box",
    "schedule": "cds",
    "route": "parallelogram",
}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(graph: Graph) -> str:
    lines = [
        f"digraph {_quote(graph.pipeline)} {{",
        "  rankdir=LR;",
        '  node [fontname="Helvetica"]; edge [fontname="Helvetica", fontsize=10];',
    ]
    for node in graph.nodes:
        style = ', style="rounded"' if node.kind == "function" else ""
        if node.kind == "dead-letter-queue":
            style = ', color="#c0392b", style="dashed"'
        elif node.kind == "route" and node.attributes.get("public"):
            style = ', color="#e67e22", penwidth=2'
        lines.append(
            f"  {_quote(node.id)} [label={_quote(node.label)}, shape={_SHAPES[node.kind]}{style}];"
        )
    for edge in graph.edges:
        style = "" if edge.kind == "trigger" else ", style=dashed"
        lines.append(
            f"  {_quote(edge.source)} -> {_quote(edge.target)} [label={_quote(edge.label)}{style}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"
