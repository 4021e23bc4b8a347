"""The graph model and its renderers, on small pipelines."""

from __future__ import annotations

import json

from portway import HttpRequest, Message, Pipeline
from portway.graph import SCHEMA, build_graph, render


def small() -> Pipeline:
    app = Pipeline("graphs")
    raw = app.bucket("raw")
    jobs = app.queue("jobs", max_attempts=7)

    @app.on_message(jobs, batch_size=3, uses=[raw.read(), raw.delete()])
    def work(batch: list[Message]) -> None: ...

    @app.http("POST", "/hooks/{name}", public=True, uses=[jobs.send()])
    def hook(req: HttpRequest) -> None: ...

    return app


def test_json_carries_the_schema_version_and_pipeline() -> None:
    document = json.loads(render(small(), "json"))
    assert document["schema"] == SCHEMA
    assert document["pipeline"] == "graphs"


def test_node_ids_are_unique_and_every_edge_joins_two_nodes() -> None:
    graph = build_graph(small())
    ids = [n.id for n in graph.nodes]
    assert len(ids) == len(set(ids))
    assert all(e.source in ids and e.target in ids for e in graph.edges)
    assert len({e.id for e in graph.edges}) == len(graph.edges)


def test_use_edges_point_the_way_data_flows() -> None:
    edges = {(e.source, e.target, e.label) for e in build_graph(small()).edges if e.kind == "use"}
    assert ("bucket:raw", "function:work", "read") in edges
    assert ("function:work", "bucket:raw", "delete") in edges
    assert ("function:hook", "queue:jobs", "send") in edges


def test_trigger_edges_carry_their_details() -> None:
    triggers = {e.target: e for e in build_graph(small()).edges if e.kind == "trigger"}
    assert triggers["function:work"].attributes["batch_size"] == 3
    assert triggers["function:hook"].source == "route:POST /hooks/{name}"
    assert triggers["function:hook"].attributes["public"] is True


def test_each_queue_has_its_dead_letter_queue() -> None:
    graph = build_graph(small())
    (edge,) = [e for e in graph.edges if e.kind == "dead-letter"]
    assert (edge.source, edge.target, edge.label) == (
        "queue:jobs",
        "dead-letter-queue:jobs-dlq",
        "after 7 attempts",
    )


def test_mermaid_marks_public_routes_and_dead_letter_queues() -> None:
    text = render(small(), "mermaid")
    assert "(public)" in text
    assert "class " in text
    assert " public" in text
    assert " deadletter" in text


def test_mermaid_escapes_quotes_in_labels() -> None:
    app = Pipeline("quotes")
    drop = app.bucket("drop")

    @app.on_object_created(drop, suffix='".csv')
    def load(event: object) -> None: ...

    text = render(app, "mermaid")
    assert "#quot;.csv" in text
    assert 'suffix ".csv' not in text


def test_dot_escapes_quotes_and_backslashes() -> None:
    app = Pipeline("quotes")
    drop = app.bucket("drop")

    @app.on_object_created(drop, prefix='a\\"b')
    def load(event: object) -> None: ...

    assert 'prefix a\\\\\\"b' in render(app, "dot")
