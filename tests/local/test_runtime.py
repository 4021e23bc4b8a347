"""``portway run`` isolates handlers as the clouds do, and stops without losing work.

Each test runs the real runtime in a child process on a project in a temporary folder;
handlers leave observations in ``seen/`` files (see conftest.py).
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path

QUEUE_PIPELINE = """
from portway import Message, Pipeline

app = Pipeline("runtime-test")
jobs = app.queue("jobs")
lake = app.bucket("lake")
"""


def last_errors(state: Path) -> list[str]:
    with sqlite3.connect(state / "state.db") as connection:
        rows = connection.execute("SELECT last_error FROM messages ORDER BY seq").fetchall()
    return [row[0] or "" for row in rows]


def waiting_messages(state: Path) -> int:
    with sqlite3.connect(state / "state.db") as connection:
        return int(connection.execute("SELECT count(*) FROM messages").fetchone()[0])


def test_a_sent_message_reaches_its_handler_and_is_acknowledged(local_run, wait_until) -> None:
    run = local_run(
        QUEUE_PIPELINE
        + """
@app.on_message(jobs)
def work(msg: Message) -> None:
    record("work", f"{msg.json()['n']} attempt {msg.attempt}")
"""
    ).start()
    run.portway("send", "jobs", '{"n": 7}')
    wait_until(lambda: run.read("work"), 20, "the handler")
    assert run.read("work") == ["7 attempt 1"]
    wait_until(lambda: waiting_messages(run.state) == 0, 10, "the acknowledgement")
    assert run.stop() == 0
    assert "work" in run.output()  # the summary names the function


def test_a_handler_past_its_timeout_is_stopped_and_its_attempt_fails(local_run, wait_until) -> None:
    run = local_run(
        QUEUE_PIPELINE
        + """
import time

@app.on_message(jobs, timeout=1)
def slow(msg: Message) -> None:
    record("slow", "started")
    time.sleep(60)
"""
    ).start()
    run.portway("send", "jobs", "x")
    wait_until(lambda: any("TimeoutError" in e for e in last_errors(run.state)), 20, "timeout")
    [reason] = last_errors(run.state)
    assert "function 'slow' ran longer than its timeout of 1s" in reason
    assert run.process.poll() is None  # the runtime carries on


def test_a_handler_that_kills_its_process_fails_the_attempt_and_the_runtime_carries_on(
    local_run, wait_until
) -> None:
    run = local_run(
        QUEUE_PIPELINE
        + """
import os

@app.on_message(jobs)
def fragile(msg: Message) -> None:
    if msg.text() == "die":
        os._exit(3)
    record("fragile", msg.text())
"""
    ).start()
    run.portway("send", "jobs", "die")
    wait_until(lambda: any("WorkerDied" in e for e in last_errors(run.state)), 20, "worker death")
    assert "exit code 3" in last_errors(run.state)[0]
    run.portway("send", "jobs", "fine")
    wait_until(lambda: run.read("fragile") == ["fine"], 20, "the next message on a new worker")


def test_a_handler_exceeding_its_memory_gets_memory_error(local_run, wait_until) -> None:
    run = local_run(
        QUEUE_PIPELINE
        + """
@app.on_message(jobs, memory=128)
def greedy(msg: Message) -> None:
    hog = bytearray(1024 * 1024 * 1024)  # 1 GiB, over the declared 128 MiB
    record("greedy", str(len(hog)))
"""
    ).start()
    run.portway("send", "jobs", "x")
    wait_until(lambda: any("MemoryError" in e for e in last_errors(run.state)), 20, "MemoryError")
    assert run.read("greedy") == []


def test_an_undeclared_use_is_denied_naming_function_resource_and_use(
    local_run, wait_until
) -> None:
    run = local_run(
        QUEUE_PIPELINE
        + """
@app.on_message(jobs)
def sneaky(msg: Message) -> None:
    lake.write("stolen.txt", "x")
"""
    ).start()
    run.portway("send", "jobs", "x")
    wait_until(lambda: any(last_errors(run.state)), 20, "the failure")
    [reason] = last_errors(run.state)
    assert reason.startswith("PermissionDenied: function 'sneaky' used lake.write()")
    assert "add lake.write() to uses=[...]" in reason
    assert not (run.state / "buckets" / "lake" / "stolen.txt").exists()


def test_stopping_lets_a_running_handler_finish(local_run, wait_until) -> None:
    run = local_run(
        QUEUE_PIPELINE
        + """
import time

@app.on_message(jobs)
def steady(msg: Message) -> None:
    record("steady", "started")
    time.sleep(1.5)
    record("steady", "finished")
"""
    ).start()
    run.portway("send", "jobs", "x")
    wait_until(lambda: run.read("steady"), 20, "the handler to start")
    assert run.stop() == 0
    assert run.read("steady") == ["started", "finished"]
    assert waiting_messages(run.state) == 0  # it was acknowledged before the runtime exited


def test_stopping_past_the_grace_period_gives_the_message_back_with_the_reason(
    local_run, wait_until
) -> None:
    run = local_run(
        QUEUE_PIPELINE
        + """
import time

@app.on_message(jobs)
def stuck(msg: Message) -> None:
    record("stuck", f"attempt {msg.attempt}")
    time.sleep(60)
"""
    ).start("--grace", "0.5")
    run.portway("send", "jobs", "x")
    wait_until(lambda: run.read("stuck"), 20, "the handler to start")
    began = time.monotonic()
    assert run.stop() == 0
    assert time.monotonic() - began < 15
    [reason] = last_errors(run.state)
    assert reason.startswith("Interrupted: the runtime stopped while 'stuck' was running")
    run.start()
    wait_until(lambda: len(run.read("stuck")) == 2, 20, "the redelivery after restart")
    assert run.read("stuck") == ["attempt 1", "attempt 2"]


def test_a_killed_runtime_delivers_its_in_flight_message_again_at_the_next_start(
    local_run, wait_until
) -> None:
    run = local_run(
        QUEUE_PIPELINE
        + """
import time

@app.on_message(jobs)
def patient(msg: Message) -> None:
    record("patient", f"attempt {msg.attempt}")
    if msg.attempt == 1:
        time.sleep(60)
"""
    ).start()
    run.portway("send", "jobs", "x")
    wait_until(lambda: run.read("patient"), 20, "the first attempt")
    run.kill()
    run.start()
    wait_until(lambda: waiting_messages(run.state) == 0, 20, "the redelivery")
    assert run.read("patient") == ["attempt 1", "attempt 2"]
    assert "delivered again" in run.output()


def test_a_second_run_of_the_same_stage_is_refused(local_run, wait_until) -> None:
    run = local_run(QUEUE_PIPELINE).start()
    second = run.portway("run", "--for", "1", check=False)
    assert second.returncode == 1
    assert "stage 'dev' is already running" in second.stderr


def test_http_routes_answer_on_localhost(local_run, wait_until) -> None:
    run = local_run(
        QUEUE_PIPELINE
        + """
from portway import HttpRequest

@app.http("GET", "/hello/{name}")
def hello(req: HttpRequest) -> dict:
    return {"hello": req.path_params["name"], "q": req.query.get("q")}

@app.http("POST", "/boom")
def boom(req: HttpRequest) -> dict:
    raise ValueError("no good")
"""
    ).start("--port", "0")
    base = f"http://127.0.0.1:{run.port}"
    with urllib.request.urlopen(f"{base}/hello/ada?q=1", timeout=20) as response:
        assert response.status == 200
        assert json.loads(response.read()) == {"hello": "ada", "q": "1"}
    statuses = {}
    for method, path in (("POST", "/boom"), ("GET", "/nowhere"), ("DELETE", "/hello/x")):
        request = urllib.request.Request(f"{base}{path}", method=method, data=b"")
        try:
            urllib.request.urlopen(request, timeout=20)
        except urllib.error.HTTPError as error:
            statuses[path] = (error.code, json.loads(error.read()))
    assert statuses["/boom"][0] == 500
    assert statuses["/boom"][1]["error"] == "ValueError: no good"
    assert statuses["/nowhere"][0] == 404
    assert statuses["/nowhere"][1]["routes"] == ["GET /hello/{name}", "POST /boom"]
    assert statuses["/hello/x"][0] == 405


def test_a_batching_window_gathers_messages_into_one_invocation(local_run, wait_until) -> None:
    run = local_run(
        QUEUE_PIPELINE
        + """
@app.on_message(jobs, batch_size=10, max_batching_window=5)
def gather(batch: list[Message]) -> None:
    record("gather", str(len(batch)))
"""
    ).start()
    (run.root / "two.jsonl").write_text("1\n2\n")
    run.portway("send", "jobs", "--file", "two.jsonl")
    run.portway("send", "jobs", "3")  # a second later, still inside the 5 s window
    wait_until(lambda: run.read("gather"), 30, "the batch")
    assert run.read("gather") == ["3"]


def test_a_schedule_tick_missed_while_stopped_fires_once_at_start(local_run, wait_until) -> None:
    run = local_run(
        QUEUE_PIPELINE
        + """
from portway import ScheduleEvent

@app.schedule("rate(1 minute)")
def tick(event: ScheduleEvent) -> None:
    record("tick", event.time.isoformat())
"""
    )
    run.portway("run", "--for", "0.5")  # first run: the schedule starts counting
    with sqlite3.connect(run.state / "state.db") as connection:
        connection.execute("UPDATE schedule_ticks SET last_tick = last_tick - 600")
    output = run.portway("run", "--until-idle").stdout
    assert "tick: a schedule tick was missed while stopped; fired once" in output
    assert len(run.read("tick")) == 1


def test_until_idle_runs_the_example_pipeline_end_to_end(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    example = Path(__file__).resolve().parents[2] / "examples" / "lake-to-warehouse"
    project = tmp_path / "example"
    shutil.copytree(example, project, ignore=shutil.ignore_patterns(".portway"))

    def portway(*arguments: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "portway", *arguments],
            cwd=project,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout

    for sample in sorted((project / "samples").glob("*.csv")):
        portway("put", "landing", sample.name, str(sample))
    output = portway("run", "--until-idle")
    assert output.count("report: clean/") == 3
    status = json.loads(portway("invoke", "status").split(" ", 1)[1])
    assert status["objects"] == 3


def test_a_function_sees_its_own_environment_only(local_run, wait_until) -> None:
    run = local_run(
        QUEUE_PIPELINE
        + """
import os

other = app.queue("other")

@app.on_message(jobs, environment={"TABLE": "orders"})
def first(msg: Message) -> None:
    record("env", f"first {os.environ.get('TABLE')}")

@app.on_message(other)
def second(msg: Message) -> None:
    record("env", f"second {os.environ.get('TABLE')}")
"""
    ).start("--workers", "1")
    run.portway("send", "jobs", "x")
    wait_until(lambda: run.read("env"), 20, "the first function")
    run.portway("send", "other", "x")
    wait_until(lambda: len(run.read("env")) == 2, 20, "the second function")
    assert run.read("env") == ["first orders", "second None"]


def test_reload_restarts_the_runtime_when_the_pipeline_changes(local_run, wait_until) -> None:
    source = (
        QUEUE_PIPELINE
        + """
@app.on_message(jobs)
def work(msg: Message) -> None:
    record("work", "version 1")
"""
    )
    run = local_run(source).start("--reload")
    run.portway("send", "jobs", "x")
    wait_until(lambda: run.read("work") == ["version 1"], 20, "version 1")
    pipeline = run.root / "pipeline.py"
    info = run.state / "runtime.json"
    first_pid = json.loads(info.read_text())["pid"]
    pipeline.write_text(pipeline.read_text().replace("version 1", "version 2"))
    wait_until(
        lambda: info.exists() and json.loads(info.read_text())["pid"] != first_pid,
        30,
        "the restart",
    )
    run.portway("send", "jobs", "x")
    wait_until(lambda: len(run.read("work")) == 2, 20, "version 2")
    assert run.read("work") == ["version 1", "version 2"]
    assert "pipeline.py changed; restarting" in run.output()
