"""The dashboard in a real browser: the example pipeline under ``portway run --ui``.

The project is the example (``examples/lake-to-warehouse``) plus one queue whose function
fails while a file named ``broken`` exists in the project folder. A message sent there
when the run starts fails for real, attempt after attempt (5, the portable minimum, 10 s
apart), while the other tests run, and is dead-lettered; once the "bug" is fixed (the
file removed), a redrive from the page delivers it for real.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "lake-to-warehouse"
DEADLINE_MS = 30_000
BODY = "<script>window.__pwned = true</script><b>bold?</b>"

_spec = importlib.util.spec_from_file_location(
    "portway_tests_ui_conftest", REPO / "tests" / "ui" / "conftest.py"
)
assert _spec is not None
assert _spec.loader is not None
ui = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = ui  # dataclasses look their module up while it loads
_spec.loader.exec_module(ui)

POISON = """

# -- added by the browser tests: a queue whose function fails while 'broken' exists --
import os as _os

poison = app.queue("poison", max_attempts=5, visibility_timeout=10)


@app.on_message(poison)
def explode(msg: Message) -> None:
    if _os.path.exists("broken"):
        raise ValueError("cannot digest this message")
    record("explode", msg.text())
"""


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("example-ui")
    shutil.copytree(EXAMPLE / "samples", root / "samples")
    (root / "broken").write_text("remove me to fix explode\n")
    # The recorder the run's helpers prepend must not come before the example's
    # `from __future__` import, which Python 3.11 does not need for its annotations.
    example = (EXAMPLE / "pipeline.py").read_text(encoding="utf-8")
    source = example.replace("from __future__ import annotations\n", "") + POISON
    started = ui.start_dashboard(root, source)
    portway(root, "send", "poison", BODY)  # fails from now on, while the other tests run
    yield started
    started.run.stop()


def portway(root: Path, *arguments: str) -> None:
    subprocess.run([sys.executable, "-m", "portway", *arguments], cwd=root, check=True)


def graph_json(root: Path) -> dict[str, Any]:
    printed = subprocess.run(
        [sys.executable, "-m", "portway", "graph", "--format", "json"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    document: dict[str, Any] = json.loads(printed)
    return document


INVOCATIONS = """id => {
    const title = document.querySelector(`[data-node-id="${id}"] > title`);
    const found = title && title.textContent.match(/([\\d,]+) invocations/);
    return found ? Number(found[1].replace(/,/g, '')) : 0;
}"""


def invocations(page: Any, function: str) -> int:
    """What the live tooltip of ``function``'s node says it has run (0 before any figure)."""
    count: int = page.evaluate(INVOCATIONS, f"function:{function}")
    return count


def open_dashboard(page: Any, dashboard: Any) -> None:
    page.goto(dashboard.url)
    page.wait_for_selector('#status[data-state="live"]', timeout=DEADLINE_MS)


def test_every_function_and_resource_of_the_example_is_drawn(page: Any, dashboard: Any) -> None:
    open_dashboard(page, dashboard)
    expected = {node["id"] for node in graph_json(dashboard.run.root)["nodes"]}
    page.wait_for_selector("[data-node-id]", timeout=DEADLINE_MS)
    drawn = set(
        page.eval_on_selector_all("[data-node-id]", "els => els.map(e => e.dataset.nodeId)")
    )
    assert drawn == expected
    for name in ("enqueue", "transform", "report", "status", "pull_ftp"):
        assert f"function:{name}" in drawn


def test_counters_of_enqueue_transform_and_report_rise_after_a_put(
    page: Any, dashboard: Any
) -> None:
    open_dashboard(page, dashboard)
    names = ("enqueue", "transform", "report")
    page.wait_for_function(f"() => ({INVOCATIONS})('function:enqueue') >= 0", timeout=DEADLINE_MS)
    before = {name: invocations(page, name) for name in names}
    portway(dashboard.run.root, "put", "landing", "orders.csv", "samples/orders-2026-11-01.csv")
    for name in names:
        page.wait_for_function(
            f"() => ({INVOCATIONS})('function:{name}') > {before[name]}", timeout=DEADLINE_MS
        )
    page.click('[data-node-id="function:transform"]')
    assert "transform" in (page.locator("#panel").text_content() or "")


def test_a_failing_message_shows_its_reason_as_text_and_redrive_puts_it_back(
    page: Any, dashboard: Any
) -> None:
    root = dashboard.run.root
    body = BODY
    open_dashboard(page, dashboard)
    page.click('[data-tab="dlq"]')
    row = page.locator('.dlq-queue[data-channel="queue/poison"] .dlq-row').first
    # Five attempts, 10 s apart, started with the run: up to ~50 s from the start.
    row.wait_for(timeout=90_000)
    assert "ValueError: cannot digest this message" in (row.text_content() or "")
    shown = row.locator(".dlq-body").text_content()
    assert shown == body, "the body is shown as text, exactly as sent"
    assert page.evaluate("window.__pwned === undefined"), "the body never ran as script"
    assert row.locator(".dlq-body b").count() == 0, "no element was made from the body"

    (root / "broken").unlink()  # the "bug" is fixed: redrive from the page
    row.locator("button.redrive").click()
    page.wait_for_selector(
        '.dlq-queue[data-channel="queue/poison"] .dlq-row', state="detached", timeout=DEADLINE_MS
    )
    seen = root / "seen" / "explode"
    ui.wait_until(seen.exists, 30, "the redriven message handled by 'explode'")
    assert seen.read_text().splitlines() == [body]


def test_a_redrive_without_the_token_is_refused_from_the_page(page: Any, dashboard: Any) -> None:
    open_dashboard(page, dashboard)
    status = page.evaluate(
        """async () => {
            const answer = await fetch('/_portway/api/dlq/redrive', {
                method: 'POST',
                headers: {'content-type': 'application/json'},
                body: JSON.stringify({channel: 'queue/poison', ids: null}),
            });
            return answer.status;
        }"""
    )
    assert status == 403
