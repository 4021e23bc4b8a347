"""The pipeline as a graph of nodes and edges: the one model every renderer draws.

Schema ``portway.graph/1`` (documented in docs/reference/graph-json.md; the local
dashboard reads it, so change it only by adding keys):

* a node: ``{"id", "kind", "name", "label", "attributes"}``, where ``kind`` is one of
  ``bucket``, ``queue``, ``dead-letter-queue``, ``topic``, ``function``, ``schedule``,
  ``route``; ``id`` is ``"<kind>:<name>"`` and unique.
* an edge: ``{"id", "source", "target", "kind", "label", "attributes"}``, where
  ``kind`` is ``trigger`` (what starts a function), ``use`` (a declared use; it points
  the way data flows: ``read``/``list`` from the resource to the function, the other
  actions from the function to the resource) or ``dead-letter`` (queue to its DLQ).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portway.model import (
    Action,
    Function,
    HttpTrigger,
    MessageTrigger,
    ObjectCreatedTrigger,
    Pipeline,
    Queue,
    Resource,
    ScheduleTrigger,
)

SCHEMA = "portway.graph/1"
_INBOUND = frozenset({Action.READ, Action.LIST})


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    kind: str
    name: str
    label: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Edge:
    id: str
    source: str
    target: str
    kind: str
    label: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Graph:
    pipeline: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "pipeline": self.pipeline,
            "nodes": [_as_dict(n) for n in self.nodes],
            "edges": [_as_dict(e) for e in self.edges],
        }


def _as_dict(item: Node | Edge) -> dict[str, Any]:
    return {name: getattr(item, name) for name in item.__dataclass_fields__}


def node_id(resource: Resource) -> str:
    return f"{resource.kind}:{resource.name}"


def build_graph(pipeline: Pipeline) -> Graph:
    """The graph of ``pipeline``: resources, dead-letter queues, functions, trigger sources."""
    nodes: list[Node] = []
    edges: list[Edge] = []
    for resource in pipeline.resources.values():
        nodes.append(_resource_node(resource))
        if isinstance(resource, Queue):
            dlq = Node(
                f"dead-letter-queue:{resource.dead_letter_name}",
                "dead-letter-queue",
                resource.dead_letter_name,
                resource.dead_letter_name,
                {"queue": resource.name},
            )
            nodes.append(dlq)
            edges.append(
                Edge(
                    f"dead-letter:{resource.name}",
                    node_id(resource),
                    dlq.id,
                    "dead-letter",
                    f"after {resource.max_attempts} attempts",
                    {"max_attempts": resource.max_attempts},
                )
            )
    for function in pipeline.functions.values():
        nodes.append(_function_node(function))
        source = _trigger_source(function, nodes)
        edges.append(_trigger_edge(function, source))
        for use in function.uses:
            function_id, resource_id = f"function:{function.name}", node_id(use.resource)
            inbound = use.action in _INBOUND
            edges.append(
                Edge(
                    f"use:{function.name}:{use.resource.name}:{use.action}",
                    resource_id if inbound else function_id,
                    function_id if inbound else resource_id,
                    "use",
                    str(use.action),
                    {"action": str(use.action), "function": function.name},
                )
            )
    return Graph(pipeline.name, tuple(nodes), tuple(edges))


def _resource_node(resource: Resource) -> Node:
    attributes: dict[str, Any] = {}
    if isinstance(resource, Queue):
        attributes = {
            "max_attempts": resource.max_attempts,
            "visibility_timeout": resource.visibility_timeout,
            "retention": resource.retention,
            "dead_letter_queue": resource.dead_letter_name,
        }
    return Node(node_id(resource), resource.kind, resource.name, resource.name, attributes)


def _function_node(function: Function) -> Node:
    return Node(
        f"function:{function.name}",
        "function",
        function.name,
        function.name,
        {
            "trigger": function.trigger.kind,
            "batch": function.batch,
            "timeout": function.timeout,
            "memory": function.memory,
            "entry_point": function.entry_point,
        },
    )


def _trigger_source(function: Function, nodes: list[Node]) -> str:
    """The id of the node that starts ``function``; schedules and routes get their own."""
    trigger = function.trigger
    if isinstance(trigger, ScheduleTrigger):
        node = Node(
            f"schedule:{function.name}",
            "schedule",
            trigger.schedule.expression,
            trigger.schedule.expression,
            {"kind": trigger.schedule.kind, "function": function.name},
        )
    elif isinstance(trigger, HttpTrigger):
        label = trigger.route + (" (public)" if trigger.public else "")
        node = Node(
            f"route:{trigger.route}",
            "route",
            trigger.route,
            label,
            {"method": trigger.method, "path": trigger.path, "public": trigger.public},
        )
    else:
        resource = trigger.resource
        assert resource is not None
        return node_id(resource)
    nodes.append(node)
    return node.id


def _trigger_edge(function: Function, source: str) -> Edge:
    trigger = function.trigger
    attributes: dict[str, Any] = {"trigger": trigger.kind}
    if isinstance(trigger, ObjectCreatedTrigger):
        attributes |= {"prefix": trigger.prefix, "suffix": trigger.suffix}
    elif isinstance(trigger, MessageTrigger):
        attributes |= {
            "batch_size": trigger.batch_size,
            "max_batching_window": trigger.max_batching_window,
        }
    elif isinstance(trigger, ScheduleTrigger):
        attributes |= {"schedule": trigger.schedule.expression}
    elif isinstance(trigger, HttpTrigger):
        attributes |= {"public": trigger.public}
    return Edge(
        f"trigger:{function.name}",
        source,
        f"function:{function.name}",
        "trigger",
        trigger.describe(),
        attributes,
    )
