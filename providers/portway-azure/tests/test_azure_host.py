"""The played Functions host runs the packaged app against Azurite's own queues.

The app is built by ``build_app_archives`` and run by a worker subprocess from the
unpacked zip; the listener's host settings are given directly (the pipeline model's
minimums, 10 s visibility and 5 attempts, would make these tests slow; host.json's
values are tested with the package).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import sys
import threading
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pytest
from portway_azure.package import build_app_archives
from portway_azure.packaging.requirements import runtime_pins
from portway_azure.testing.azurite import Azurite
from portway_azure.testing.functions_worker import AppWorker, Invocation, WorkerError
from portway_azure.testing.host import (
    QueueListener,
    QueueSettings,
    TimerPlayer,
    failure_reason,
    seconds_of,
)
from portway_azure.testing.http_host import KEY_HEADER, HttpHost, route_of
from portway_azure.testing.python_packages import install_pinned

from portway.config import load_project
from portway.loading import load_pipeline
from portway.testing.harness import wait_for

PIPELINE = """
import time

from portway import HttpRequest, Message, Pipeline, ScheduleEvent

app = Pipeline("hosted")
jobs = app.queue("jobs")


@app.on_message(jobs, timeout=10)
def work(message: Message) -> None:
    print(f"attempt {message.attempt} of {message.body.decode()}")
    if message.body.startswith(b"sleep"):
        time.sleep(5)
    if message.body.startswith(b"fail"):
        raise RuntimeError(f"failing on purpose: {message.body.decode()}")


@app.schedule("rate(5 minutes)", timeout=10)
def tick(event: ScheduleEvent) -> None:
    print(f"tick past_due={event.raw['past_due']}")


@app.http("GET", "/hello/{name}", timeout=10)
def hello(request: HttpRequest) -> dict[str, str]:
    return {"hello": request.path_params["name"], "q": request.query.get("q", "")}


@app.http("POST", "/open", public=True, timeout=10)
def open_door(request: HttpRequest) -> str:
    return "open: " + request.text()
"""
CONFIG = (
    'app = "hosted:app"\n[stages.dev]\nprovider = "azure"\nsubscription = "s"\n'
    'resource_group = "rg"\nlocation = "westeurope"\n'
)


class Apps:
    """The packaged groups of the test pipeline, each with a running worker."""

    def __init__(self, folder: Path, connection: str) -> None:
        project = folder / "project"
        project.mkdir()
        (project / "hosted.py").write_text(PIPELINE, encoding="utf-8")
        (project / "portway.toml").write_text(CONFIG, encoding="utf-8")
        stage = load_project(project).stage("dev")
        path = list(sys.path)
        try:
            pipeline = load_pipeline(stage.app, project)
        finally:
            sys.modules.pop("hosted", None)
            sys.path[:] = path
        self.logs: list[IO[bytes]] = []
        self.workers: dict[str, AppWorker] = {}
        self.folder = folder
        for archive in build_app_archives(pipeline, stage, folder / "zips"):
            root = folder / "apps" / archive.group
            with zipfile.ZipFile(archive.path) as opened:
                opened.extractall(root)
            packages = install_pinned(root / "requirements.txt", folder / "packages")
            self.logs.append((folder / f"{archive.group}.log").open("wb"))
            worker = AppWorker(
                archive.group,
                root=root,
                packages=packages,
                environment={"PORTWAY_STORAGE": connection, "PATH": "/usr/bin:/bin"},
                timeout=10,
                log=self.logs[-1],
            )
            worker.start()
            self.workers[archive.group] = worker

    def worker(self, function: str) -> AppWorker:
        """The worker of the app group ``function`` is in (as its index says)."""
        return next(w for w in self.workers.values() if function in w.index)

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()
        for log in self.logs:
            log.close()


@pytest.fixture(scope="module")
def apps(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apps]:
    built = Apps(tmp_path_factory.mktemp("hosted"), azurite.connection_string)
    try:
        yield built
    finally:
        built.stop()


class Outcomes:
    """What the host observed, by function, in order (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[str, str, Invocation]] = []

    def __call__(self, function: str, what: str, outcome: Invocation) -> None:
        with self.lock:
            self.seen.append((function, what, outcome))

    def logs(self) -> str:
        with self.lock:
            return "".join(outcome.logs for _, _, outcome in self.seen)


@pytest.fixture
def queues(azurite: Azurite) -> Iterator[tuple[Any, Any]]:
    from azure.storage.queue import QueueServiceClient

    service = QueueServiceClient.from_connection_string(azurite.connection_string)
    name = f"q-{uuid.uuid4().hex[:12]}"
    queue, poison = service.get_queue_client(name), service.get_queue_client(f"{name}-poison")
    queue.create_queue()
    try:
        yield queue, poison
    finally:
        for client in (queue, poison):
            # The poison queue exists only once something was poisoned.
            with contextlib.suppress(Exception):
                client.delete_queue()
        service.close()


def listening(
    apps: Apps, queues: tuple[Any, Any], settings: QueueSettings, outcomes: Outcomes
) -> QueueListener:
    queue, poison = queues
    listener = QueueListener(
        "work", queue, poison, settings, apps.worker("work"), outcomes, max_polling_interval=0.2
    )
    listener.start()
    return listener


def peek(queue: Any) -> list[Any]:
    """The queue's messages, left in it; none while the queue does not exist."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return list(queue.peek_messages(max_messages=32))
    except ResourceNotFoundError:
        return []


def send(queue: Any, text: str) -> None:
    queue.send_message(base64.b64encode(text.encode()).decode("ascii"))


def test_a_message_runs_the_packaged_function_once_and_is_deleted(
    apps: Apps, queues: tuple[Any, Any]
) -> None:
    outcomes = Outcomes()
    listener = listening(apps, queues, QueueSettings(visibility_timeout=0), outcomes)
    try:
        send(queues[0], "hello")
        wait_for(lambda: "attempt 1 of hello" in outcomes.logs(), timeout=20, what="a delivery")
        wait_for(lambda: not queues[0].peek_messages(), timeout=10, what="the message deleted")
    finally:
        listener.stop()
        listener.join(5)
    assert [o.error for _, _, o in outcomes.seen] == [None]


def test_a_failed_message_comes_back_with_the_next_dequeue_count_then_is_poisoned(
    apps: Apps, queues: tuple[Any, Any]
) -> None:
    outcomes = Outcomes()
    settings = QueueSettings(max_dequeue_count=3, visibility_timeout=0)
    listener = listening(apps, queues, settings, outcomes)
    content = base64.b64encode(b"fail-always").decode("ascii")
    try:
        queues[0].send_message(content)
        poisoned = wait_for(
            lambda: peek(queues[1]),
            timeout=30,
            what="the message in the poison queue",
        )
    finally:
        listener.stop()
        listener.join(5)
    logs = outcomes.logs()
    assert [n for n in (1, 2, 3, 4) if f"attempt {n} of fail-always" in logs] == [1, 2, 3]
    assert [message.content for message in poisoned] == [content]  # as the host writes it
    assert not queues[0].peek_messages()
    [letter] = listener.poisoned_as(content)
    assert letter.attempts == 3
    assert letter.reason.startswith("RuntimeError: failing on purpose: fail-always")


def test_a_message_that_is_not_base64_fails_and_is_poisoned(
    apps: Apps, queues: tuple[Any, Any]
) -> None:
    outcomes = Outcomes()
    settings = QueueSettings(max_dequeue_count=1, visibility_timeout=0)
    listener = listening(apps, queues, settings, outcomes)
    try:
        queues[0].send_message("not base64 at all!")
        wait_for(
            lambda: peek(queues[1]),
            timeout=20,
            what="the message in the poison queue",
        )
    finally:
        listener.stop()
        listener.join(5)
    [letter] = listener.poisoned_as("not base64 at all!")
    assert "not base64" in letter.reason


def test_an_invocation_over_the_function_timeout_restarts_the_worker(apps: Apps) -> None:
    packaged = apps.worker("work")
    with (apps.folder / "timeout.log").open("wb") as log:
        worker = AppWorker(
            "work",
            root=apps.folder / "apps" / "work",
            packages=apps.folder / "packages",
            environment={},
            timeout=1,
            log=log,
        )
        worker.start()
        try:
            assert worker.invoke(queue_request("warm up")).error is None
            slow = worker.invoke(queue_request("sleep"))
            assert slow.error is not None
            assert slow.error.startswith("FunctionTimeoutException: ")
            again = worker.invoke(queue_request("after"))
            assert again.error is None
            assert "attempt 1 of after" in again.logs
        finally:
            worker.stop()
    assert packaged.index.keys() == worker.index.keys()


def queue_request(text: str) -> dict[str, object]:
    """What the listener sends the worker for a first delivery of ``text``."""
    return {
        "kind": "queue",
        "function": "work",
        "id": uuid.uuid4().hex,
        "body": base64.b64encode(text.encode()).decode("ascii"),
        "dequeue_count": 1,
    }


def test_timer_fires_the_packaged_function_with_past_due(apps: Apps) -> None:
    outcomes = Outcomes()
    player = TimerPlayer("tick", "0 */5 * * * *", apps.worker("tick"), outcomes)
    assert player.fire(past_due=True).error is None
    assert player.fire().error is None
    assert "tick past_due=True" in outcomes.logs()
    assert "tick past_due=False" in outcomes.logs()


def test_timer_is_due_at_the_next_time_of_its_ncrontab_schedule(apps: Apps) -> None:
    player = TimerPlayer("tick", "0 */5 * * * *", apps.worker("tick"), Outcomes())
    after = datetime(2026, 1, 1, 10, 7, 30, tzinfo=UTC)
    assert player.next_due(after) == datetime(2026, 1, 1, 10, 10, 0, tzinfo=UTC)
    seconds = TimerPlayer("tick", "15 * * * * *", apps.worker("tick"), Outcomes())
    assert seconds.next_due(after) == datetime(2026, 1, 1, 10, 8, 15, tzinfo=UTC)


@pytest.fixture
def front_door(apps: Apps) -> Iterator[tuple[HttpHost, str]]:
    key = "the-function-key"
    routes = [
        route_of(name, dict(function.trigger), worker, key)
        for worker in apps.workers.values()
        for name, function in worker.index.items()
        if function.trigger["type"] == "httpTrigger"
    ]
    host = HttpHost(routes, Outcomes())
    host.start()
    try:
        yield host, key
    finally:
        host.stop()


def request(
    host: HttpHost, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", host.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return (
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            response.read(),
        )
    finally:
        connection.close()


def test_private_route_needs_the_function_key(front_door: tuple[HttpHost, str]) -> None:
    host, key = front_door
    assert request(host, "GET", "/hello/ada")[0] == 401
    assert request(host, "GET", "/hello/ada", {KEY_HEADER: "wrong"})[0] == 401
    status, headers, body = request(host, "GET", "/hello/ada?q=x", {KEY_HEADER: key})
    assert status == 200
    assert json.loads(body) == {"hello": "ada", "q": "x"}
    assert headers["content-type"].startswith("application/json")
    assert request(host, "GET", f"/hello/ada?code={key}")[0] == 200


def test_public_route_is_anonymous(front_door: tuple[HttpHost, str]) -> None:
    host, _ = front_door
    assert request(host, "POST", "/open", body=b"please")[:3:2] == (200, b"open: please")


def test_unknown_route_or_method_is_404(front_door: tuple[HttpHost, str]) -> None:
    host, key = front_door
    assert request(host, "GET", "/nowhere", {KEY_HEADER: key})[0] == 404
    assert request(host, "GET", "/open")[0] == 404


def test_worker_refuses_a_function_whose_parameter_is_not_its_binding(tmp_path: Path) -> None:
    root = tmp_path / "app"
    root.mkdir()
    (root / "function_app.py").write_text(
        "import azure.functions as func\n"
        "app = func.FunctionApp()\n"
        "@app.route(route='x')\n"
        "def handle(request: func.HttpRequest) -> func.HttpResponse:\n"
        "    return func.HttpResponse('x')\n",
        encoding="utf-8",
    )
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(runtime_pins().values()) + "\n", encoding="utf-8")
    packages = install_pinned(requirements, tmp_path / "packages")
    with (tmp_path / "worker.log").open("wb") as log:
        worker = AppWorker(
            "broken", root=root, packages=packages, environment={}, timeout=5, log=log
        )
        with pytest.raises(
            WorkerError, match=r"parameters \['request'\] are not its bindings \['req'\]"
        ):
            worker.start()


def test_failure_reason_is_the_last_one_the_shim_logged() -> None:
    outcome = Invocation(
        error="RuntimeError: wrapped",
        logs=(
            "portway: work: m1 failed: ValueError: first\nportway: work: m1 failed: KeyError: 'k'\n"
        ),
    )
    assert failure_reason(outcome) == "KeyError: 'k'"
    assert failure_reason(Invocation(error="RuntimeError: only")) == "RuntimeError: only"


def test_host_json_timespans_are_read_in_seconds() -> None:
    assert seconds_of("00:00:10") == 10
    assert seconds_of("1.02:00:30") == 86400 + 7200 + 30
    assert seconds_of("00:00:00.5") == 0.5
