"""The dashboard's HTTP API, against a real ``portway run --ui``."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from portway.local import messages
from portway.local.database import StageLayout, connect, transaction
from portway.payload import OutgoingMessage

Dashboard = Any  # tests/ui/conftest.py's Dashboard (conftest modules are not importable)
WaitUntil = Callable[[Callable[[], object], float, str], None]
REASON = "ValueError: cannot digest this message"


def _next_snapshot(
    dashboard: Dashboard, accept: Callable[[dict[str, Any]], bool], seconds: float = 20
) -> dict[str, Any]:
    """Read the event stream until a ``figures`` snapshot passes ``accept``."""
    connection = http.client.HTTPConnection("127.0.0.1", dashboard.port, timeout=seconds)
    connection.request("GET", f"/_portway/api/stream?token={dashboard.token}")
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("content-type") == "text/event-stream"
    deadline = time.monotonic() + seconds
    event = ""
    try:
        while time.monotonic() < deadline:
            line = response.fp.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "figures":
                snapshot = json.loads(line.removeprefix("data: "))
                if accept(snapshot):
                    return snapshot
    finally:
        connection.close()
    raise AssertionError(f"no accepted snapshot within {seconds}s")


def _dead_letter(dashboard: Dashboard, body: bytes) -> str:
    """Dead-letter a message of ``poison`` as the runtime does after its last attempt.

    (Five real attempts, ten seconds apart, would make a slow test.) Sent, claimed and
    failed in one transaction, so the running runtime cannot take it in between.
    """
    connection = connect(StageLayout(dashboard.run.state))
    try:
        with transaction(connection):
            (identifier,) = messages.enqueue(
                connection, [("queue/poison", OutgoingMessage(body, "text/plain", {}))], time.time()
            )
            for delivery in messages.claim(
                connection,
                "queue/poison",
                limit=100,
                visibility_timeout=30,
                max_attempts=5,
                now=time.time(),
            ):
                if delivery.id == identifier:
                    messages.fail(connection, delivery, REASON, max_attempts=1, now=time.time())
                else:
                    messages.release(connection, [delivery], time.time())
    finally:
        connection.close()
    return identifier


def _dead_letters(dashboard: Dashboard, channel: str) -> list[dict[str, Any]]:
    status, document = dashboard.json("/api/dlq")
    assert status == 200
    (queue,) = [q for q in document["queues"] if q["channel"] == channel]
    return list(queue["dead_letters"])


def test_the_page_is_served_with_the_token_and_refused_without(dashboard: Dashboard) -> None:
    status, headers, body = dashboard.request("GET", "/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert b"/_portway/static/dashboard.js" in body
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert dashboard.request("GET", "/", token=False)[0] == 403
    assert dashboard.request("GET", "/?token=wrong", token=False)[0] == 403


def test_the_start_line_prints_the_dashboard_url_on_127_0_0_1(dashboard: Dashboard) -> None:
    assert dashboard.url.startswith(f"http://127.0.0.1:{dashboard.port}/_portway/?token=")
    assert len(dashboard.token) >= 32


def test_a_request_with_another_host_header_is_refused(dashboard: Dashboard) -> None:
    for host in ("evil.example", f"evil.example:{dashboard.port}", "127.0.0.1:1"):
        status, _, _ = dashboard.request("GET", "/api/graph", headers={"Host": host})
        assert status == 403, host
    status, _, _ = dashboard.request(
        "GET", "/api/graph", headers={"Host": f"localhost:{dashboard.port}"}
    )
    assert status == 200


def test_the_graph_endpoint_equals_portway_graph_json(dashboard: Dashboard) -> None:
    status, graph = dashboard.json("/api/graph")
    expected = subprocess.run(
        [sys.executable, "-m", "portway", "graph", "--format", "json"],
        cwd=dashboard.run.root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status == 200
    assert graph == json.loads(expected)


def test_the_stream_pushes_figures_that_rise_after_a_put(dashboard: Dashboard) -> None:
    before = _next_snapshot(dashboard, lambda s: True)
    seen = before["functions"]["landed"]["invocations"]
    sample = dashboard.run.root / "sample.csv"
    sample.write_text("id,name\n1,ada\n", encoding="utf-8")
    dashboard.run.portway("put", "drop", f"in/{time.time_ns()}.csv", str(sample))
    after = _next_snapshot(dashboard, lambda s: s["functions"]["landed"]["invocations"] > seen)
    landed = after["functions"]["landed"]
    assert landed["failures"] == 0
    assert landed["p95_ms"] >= landed["p50_ms"] > 0
    assert after["buckets"]["drop"]["written"] >= 1
    badges = after["nodes"]["function:landed"]["badges"]
    assert badges
    assert {b["tone"] for b in badges} <= {"ok", "warn", "bad", "info"}
    assert "invocations" in after["nodes"]["function:landed"]["tooltip"]


def test_a_poison_message_is_listed_with_its_reason_and_its_body_as_text(
    dashboard: Dashboard,
) -> None:
    body = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    identifier = _dead_letter(dashboard, body.encode())
    (letter,) = [d for d in _dead_letters(dashboard, "queue/poison") if d["id"] == identifier]
    assert letter["body"] == body  # a JSON string: the page sets it with textContent
    assert letter["attempts"] == 1
    assert letter["reason"] == REASON
    assert letter["truncated"] is False
    snapshot = _next_snapshot(dashboard, lambda s: s["channels"]["queue/poison"]["dead_letters"])
    assert snapshot["nodes"]["dead-letter-queue:poison-dlq"]["badges"][0]["tone"] == "bad"


def test_a_long_or_binary_body_is_cut_to_2_kib_or_shown_as_a_note(dashboard: Dashboard) -> None:
    long = _dead_letter(dashboard, b"y" * 5000)
    binary = _dead_letter(dashboard, b"\xff\xfe\x00binary")
    letters = {d["id"]: d for d in _dead_letters(dashboard, "queue/poison")}
    assert letters[long]["body"] == "y" * 2048
    assert letters[long]["truncated"] is True
    assert letters[long]["size"] == 5000
    assert letters[binary]["body"] is None
    assert "not UTF-8" in letters[binary]["body_note"]


def test_a_redrive_without_the_token_is_refused(dashboard: Dashboard) -> None:
    assert dashboard.redrive("queue/poison", None, token="")[0] == 403
    assert dashboard.redrive("queue/poison", None, token="not-the-token")[0] == 403
    # The token as a query parameter is not enough for a change: the header is required.
    status, _, _ = dashboard.request(
        "POST",
        "/api/dlq/redrive",
        headers={"content-type": "application/json"},
        body=b'{"channel": "queue/poison", "ids": null}',
    )
    assert status == 403


def test_a_redrive_needs_a_json_body(dashboard: Dashboard) -> None:
    status, _, _ = dashboard.request(
        "POST",
        "/api/dlq/redrive",
        headers={"content-type": "text/plain", "x-portway-token": dashboard.token},
        body=b'{"channel": "queue/poison", "ids": null}',
        token=False,
    )
    assert status == 415


def test_redrive_moves_one_dead_letter_back_with_its_attempts_reset(
    dashboard: Dashboard, wait_until: WaitUntil
) -> None:
    # The handler accepts bodies that start with "ok": this one succeeds once redriven.
    redriven = _dead_letter(dashboard, b"ok: redriven")
    stays = _dead_letter(dashboard, b"stays dead")
    status, answer = dashboard.redrive("poison", [redriven])
    assert status == 200
    assert answer == {"channel": "queue/poison", "moved": 1}
    wait_until(lambda: "ok: redriven" in dashboard.run.read("explode"), 20, "the redelivery")
    remaining = {d["id"] for d in _dead_letters(dashboard, "queue/poison")}
    assert redriven not in remaining
    assert stays in remaining


def test_redrive_all_empties_the_dead_letter_queue(
    dashboard: Dashboard, wait_until: WaitUntil
) -> None:
    _dead_letter(dashboard, b"ok: all one")
    _dead_letter(dashboard, b"ok: all two")
    status, answer = dashboard.redrive("queue/poison", None)
    assert status == 200
    assert answer["moved"] >= 2
    wait_until(
        lambda: {"ok: all one", "ok: all two"} <= set(dashboard.run.read("explode")),
        20,
        "both redeliveries",
    )


def test_redrive_of_an_unknown_queue_is_404(dashboard: Dashboard) -> None:
    status, answer = dashboard.redrive("no-such-queue", None)
    assert status == 404
    assert "no-such-queue" in answer["error"]


def test_traces_list_the_hops_of_an_object_write(
    dashboard: Dashboard, wait_until: WaitUntil
) -> None:
    status, recent = dashboard.json("/api/traces")
    if status == 501:
        pytest.skip("tracing is not in this checkout yet")
    sample = dashboard.run.root / "traced.csv"
    sample.write_text("a\n1\n", encoding="utf-8")
    key = f"in/traced-{time.time_ns()}.csv"
    dashboard.run.portway("put", "drop", key, str(sample))
    wait_until(lambda: key in dashboard.run.read("landed"), 20, "the handler")
    found: list[str] = []

    def traced() -> bool:
        status, document = dashboard.json(f"/api/traces?bucket=drop&key={key}")
        if status == 200 and document["trace_id"]:
            trace_id = document["trace_id"]
            status, spans = dashboard.json(f"/api/traces/{trace_id}")
            if status == 200 and any(s["function"] == "landed" for s in spans["spans"]):
                found.append(trace_id)
                return True
        return False

    wait_until(traced, 20, "the trace of the write")
    status, trace = dashboard.json(f"/api/traces/{found[0]}")
    hops = {(s["function"], s["trigger"], s["outcome"]) for s in trace["spans"]}
    assert ("landed", "bucket", "ok") in hops
    status, recent = dashboard.json("/api/traces")
    assert found[0] in {t["trace_id"] for t in recent["traces"]}


def test_run_ui_refuses_a_route_under_the_reserved_prefix(
    tmp_path: Path, start_dashboard: Callable[..., Dashboard]
) -> None:
    source = """
    from portway import HttpRequest, Pipeline

    app = Pipeline("clash")

    @app.http("GET", "/_portway/mine")
    def mine(req: HttpRequest) -> dict[str, str]:
        return {}
    """
    with pytest.raises(AssertionError, match="/_portway/"):
        start_dashboard(tmp_path, source)


def test_redrive_of_chosen_ids_leaves_the_other_dead_letters(tmp_path: Path) -> None:
    connection = connect(StageLayout(tmp_path))
    with transaction(connection):
        messages.enqueue(
            connection, [("queue/q", OutgoingMessage(b"x", "text/plain", {}))] * 3, 1.0
        )
        for delivery in messages.claim(
            connection, "queue/q", limit=3, visibility_timeout=30, max_attempts=1, now=1.0
        ):
            messages.fail(connection, delivery, "boom", max_attempts=1, now=1.0)
    letters = messages.dead_letters(connection, "queue/q")
    with transaction(connection):
        assert messages.redrive(connection, "queue/q", 2.0, [letters[0].id, "unknown"]) == 1
        assert messages.redrive(connection, "queue/q", 2.0, []) == 0
    assert [d.id for d in messages.dead_letters(connection, "queue/q")] == [
        letters[1].id,
        letters[2].id,
    ]
    connection.close()
