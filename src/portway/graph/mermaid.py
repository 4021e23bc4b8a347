"""Render a :class:`~portway.graph.build.Graph` as a Mermaid flowchart (for READMEs)."""

from __future__ import annotations

from portway.graph.build import Graph

# Mermaid shapes by node kind: https://mermaid.js.org/syntax/flowchart.html#node-shapes
_SHAPES = {
    "bucket": ('[("', '")]'),
    "queue": ('[["', '"]]'),
    "dead-letter-queue": ('[["', '"]]'),
    "topic": ('{{"', '"}}'),
    "function": ('("', '")'),
    "schedule": ('>"', '"]'),
    "route": ('[/"', '"/]'),
}
_ARROWS = {"trigger": "-->", "use": "-.->", "dead-letter": "-.->"}


def _text(value: str) -> str:
    # Mermaid labels are quoted; a quote inside must be an entity.
    return value.replace('"', "#quot;")


def render_mermaid(graph: Graph) -> str:
    ids = {node.id: f"n{index}" for index, node in enumerate(graph.nodes)}
    lines = ["flowchart LR", f"  %% pipeline {graph.pipeline}"]
    for node in graph.nodes:
        opening, closing = _SHAPES[node.kind]
        lines.append(f"  {ids[node.id]}{opening}{_text(node.label)}{closing}")
    for edge in graph.edges:
        arrow = _ARROWS[edge.kind]
        lines.append(f'  {ids[edge.source]} {arrow}|"{_text(edge.label)}"| {ids[edge.target]}')
    lines.append("  classDef deadletter stroke:#c0392b,stroke-dasharray:4 2")
    lines.append("  classDef public stroke:#e67e22,stroke-width:3px")
    dead = [ids[n.id] for n in graph.nodes if n.kind == "dead-letter-queue"]
    public = [ids[n.id] for n in graph.nodes if n.kind == "route" and n.attributes["public"]]
    if dead:
        lines.append(f"  class {','.join(dead)} deadletter")
    if public:
        lines.append(f"  class {','.join(public)} public")
    return "\n".join(lines) + "\n"
