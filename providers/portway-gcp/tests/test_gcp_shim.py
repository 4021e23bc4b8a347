"""The functions-framework entry point, ``portway_gcp.main.handle``, request by request.

Each test builds the Flask request functions-framework would pass (with werkzeug, which
Flask is built on), with the bodies Google documents: Pub/Sub push bodies and
CloudEvents, Cloud Storage notifications inside them, Cloud Scheduler calls and plain
HTTP. The pipeline is a module in a temporary directory, loaded as the instance would
load it from its source directory.
"""

from __future__ import annotations

import base64
import json
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from portway_gcp import main as shim
from portway_gcp.deploy import desired
from portway_gcp.native_events import PUBLISHED
from portway_gcp.testing.emulators import EmulatorEndpoints
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from portway.errors import ConfigError
from portway.testing.imports import cloud_sdk_modules, modules_imported_by

PIPELINE = """
import json
from pathlib import Path

from portway import BatchResult, HttpRequest, Message, ObjectEvent, Pipeline, ScheduleEvent

# Counts imports of this module: an instance loads its pipeline once.
with Path(__file__).with_name("imports.log").open("a") as log:
    log.write("imported\\n")

calls = []
app = Pipeline("shop")
landing = app.bucket("landing")
lake = app.bucket("lake")
jobs = app.queue("jobs")
loaded = app.topic("loaded")


@app.on_message(jobs, batch_size=10)
def transform(batch: list[Message]) -> BatchResult:
    calls.append(("transform", [m.json() for m in batch]))
    return BatchResult([m.id for m in batch if m.json().get("fail")])


@app.on_message(loaded)
def report(msg: Message) -> None:
    calls.append(("report", msg.text(), msg.attempt))
    if msg.text() == "boom":
        raise ValueError("cannot report boom")


@app.on_message(loaded)
def audit(msg: Message) -> None:
    lake.write("audit.txt", msg.body)  # lake.write() is not declared


@app.on_message(loaded, uses=[lake.write()])
def archive(msg: Message) -> None:
    lake.write("archive.txt", msg.body)  # declared


@app.on_object_created(landing, suffix=".csv")
def enqueue(event: ObjectEvent) -> None:
    calls.append(("enqueue", event.bucket, event.key, event.size))
    if event.key.startswith("bad"):
        raise RuntimeError(f"refusing {event.key}")


@app.http("GET", "/status/{name}")
def status(req: HttpRequest) -> dict[str, object]:
    if req.path_params["name"] == "crash":
        raise RuntimeError("secret detail")
    return {"name": req.path_params["name"], "verbose": req.query.get("verbose")}


@app.schedule("rate(15 minutes)")
def tick(event: ScheduleEvent) -> None:
    calls.append(("tick", event.schedule, event.time.isoformat()))
    if event.schedule == "never":
        raise RuntimeError("tick failed")
"""

SUBSCRIPTION = "projects/p-123456/subscriptions/shop-test--jobs"
MESSAGE_ID = "2070443601311540"


@pytest.fixture(autouse=True)
def isolated_modules() -> Iterator[None]:
    """Forget the pipeline module a test imported, and the shim's loaded function."""
    path = list(sys.path)
    shim.reset()
    yield
    shim.reset()
    sys.modules.pop("shop_pipeline", None)
    sys.path[:] = path


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The function's source directory, its working directory, and the deploy's environment."""
    (tmp_path / "shop_pipeline.py").write_text(textwrap.dedent(PIPELINE), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORTWAY_APP", "shop_pipeline:app")
    monkeypatch.setenv("PORTWAY_STAGE", "test")
    monkeypatch.setenv("PORTWAY_GCP_RESOURCES", "{}")
    return tmp_path


def calls() -> list[Any]:
    return list(sys.modules["shop_pipeline"].calls)


def invoke(
    monkeypatch: pytest.MonkeyPatch,
    function: str,
    body: bytes = b"",
    *,
    method: str = "POST",
    path: str = "/",
    headers: dict[str, str] | None = None,
) -> tuple[bytes, int, dict[str, str]]:
    monkeypatch.setenv("PORTWAY_FUNCTION", function)
    shim.reset()
    request = Request(
        EnvironBuilder(
            path=path,
            method=method,
            data=body,
            headers=headers or {"Content-Type": "application/json"},
        ).get_environ()
    )
    return shim.handle(request)


def pubsub_message(
    data: bytes, attributes: dict[str, str] | None = None, message_id: str = MESSAGE_ID
) -> dict[str, Any]:
    return {
        "data": base64.b64encode(data).decode("ascii"),
        "attributes": attributes or {},
        "messageId": message_id,
        "publishTime": "2021-02-26T19:13:55.749Z",
    }


def push_body(message: dict[str, Any], delivery_attempt: int = 1) -> bytes:
    return json.dumps(
        {"message": message, "subscription": SUBSCRIPTION, "deliveryAttempt": delivery_attempt}
    ).encode("utf-8")


def text_push(text: str, delivery_attempt: int = 1) -> bytes:
    message = pubsub_message(text.encode(), {"portway-content-type": "text/plain"})
    return push_body(message, delivery_attempt)


def json_push(document: object, message_id: str = MESSAGE_ID) -> bytes:
    data = json.dumps(document).encode()
    return push_body(pubsub_message(data, {"portway-content-type": "application/json"}, message_id))


def storage_notification(key: str, event_type: str = "OBJECT_FINALIZE") -> bytes:
    """A Cloud Storage notification as Pub/Sub pushes it (payload format JSON_API_V1)."""
    resource = {
        "kind": "storage#object",
        "bucket": "shop-test-landing",
        "name": key,
        "size": "42",
        "md5Hash": base64.b64encode(bytes(16)).decode(),
        "timeCreated": "2021-02-26T19:13:55.000Z",
    }
    attributes = {
        "notificationConfig": "projects/_/buckets/shop-test-landing/notificationConfigs/1",
        "eventType": event_type,
        "payloadFormat": "JSON_API_V1",
        "bucketId": "shop-test-landing",
        "objectId": key,
        "objectGeneration": "1614366835000000",
        "eventTime": "2021-02-26T19:13:55.000Z",
    }
    return push_body(pubsub_message(json.dumps(resource).encode(), attributes))


# -- the deploy contract ----------------------------------------------------------------------


def test_deploy_names_this_module_and_its_environment() -> None:
    assert shim.handle.__name__ == desired.ENTRY_POINT
    assert (desired.APP, desired.FUNCTION, desired.STAGE) == (shim.APP, shim.FUNCTION, shim.STAGE)


def test_an_instance_loads_its_pipeline_once(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTWAY_FUNCTION", "report")
    request = Request(EnvironBuilder(method="POST", data=text_push("hi")).get_environ())

    shim.handle(request)
    shim.handle(request)

    assert (root / "imports.log").read_text().splitlines() == ["imported"]


def test_an_unknown_function_names_the_redeploy(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=r"PORTWAY_FUNCTION='gone'.*--stage test"):
        invoke(monkeypatch, "gone", text_push("hi"))


# -- queues and topics ------------------------------------------------------------------------


def test_a_handled_message_is_acknowledged(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, status, _ = invoke(monkeypatch, "report", text_push("hello", delivery_attempt=3))

    assert 200 <= status < 300
    assert calls() == [("report", "hello", 3)]


def test_a_failed_handler_answers_500_so_pubsub_retries(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, status, _ = invoke(monkeypatch, "report", text_push("boom"))

    assert status == 500
    assert (
        f"portway: report: {MESSAGE_ID} failed: ValueError: cannot report boom"
        in capsys.readouterr().err
    )


def test_a_batch_handler_gets_a_list_of_one(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, status, _ = invoke(monkeypatch, "transform", json_push({"n": 1}))

    assert 200 <= status < 300
    assert calls() == [("transform", [{"n": 1}])]


def test_a_batch_result_naming_the_message_answers_500(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, status, _ = invoke(monkeypatch, "transform", json_push({"n": 2, "fail": True}))

    assert status == 500
    assert f"portway: transform: {MESSAGE_ID} failed: reported failed" in capsys.readouterr().err


def test_a_binary_cloudevent_is_delivered_as_a_push_body_is(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = pubsub_message(b"hello", {"portway-content-type": "text/plain"})
    headers = {
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": MESSAGE_ID,
        "ce-source": "//pubsub.googleapis.com/projects/p-123456/topics/shop-test--loaded",
        "ce-type": PUBLISHED,
    }
    data = json.dumps({"message": message, "subscription": SUBSCRIPTION}).encode()

    _, status, _ = invoke(monkeypatch, "report", data, headers=headers)

    assert 200 <= status < 300
    assert calls() == [("report", "hello", 1)]


def test_a_malformed_message_answers_400_with_its_reason(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    message = pubsub_message(b"not base64!", {"portway-content-type": "text/plain;base64"})

    _, status, _ = invoke(monkeypatch, "report", push_body(message))

    assert status == 400
    err = capsys.readouterr().err
    assert f"portway: report: {MESSAGE_ID} failed: MalformedEvent: " in err
    assert "marked base64 but is not" in err
    assert calls() == []


def test_a_body_that_is_not_a_push_answers_400(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, status, _ = invoke(monkeypatch, "report", b"{not json")

    assert status == 400
    assert "portway: report: request failed: MalformedEvent: " in capsys.readouterr().err


def test_an_undeclared_use_answers_500_with_permission_denied(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, status, _ = invoke(monkeypatch, "audit", text_push("x"))

    assert status == 500
    err = capsys.readouterr().err
    assert f"portway: audit: {MESSAGE_ID} failed: PermissionDenied: " in err
    assert "add lake.write() to uses=[...]" in err


def test_a_declared_use_reaches_the_bucket_deploy_named_through_the_gcp_data_plane(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    gcp_environment: EmulatorEndpoints,
    unique_name: Callable[[str], str],
) -> None:
    from google.cloud import storage

    bucket = storage.Client(project="portway-test").create_bucket(unique_name("shop-lake"))
    monkeypatch.setenv("PORTWAY_GCP_RESOURCES", json.dumps({"buckets": {"lake": bucket.name}}))

    _, status, _ = invoke(monkeypatch, "archive", text_push("archived"))

    assert status == 200
    assert bucket.blob("archive.txt").download_as_bytes() == b"archived"


def test_a_declared_use_missing_from_the_deployed_resources_says_to_redeploy(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, status, _ = invoke(monkeypatch, "archive", text_push("x"))

    assert status == 500
    err = capsys.readouterr().err
    assert "ConfigError: bucket 'lake' is not among the resources this function" in err
    assert "redeploy" in err


# -- objects ----------------------------------------------------------------------------------


def test_a_matching_new_object_runs_the_handler(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, status, _ = invoke(monkeypatch, "enqueue", storage_notification("in/orders.csv"))

    assert status == 200
    assert calls() == [("enqueue", "landing", "in/orders.csv", 42)]


def test_an_object_outside_the_suffix_is_acknowledged_unrun(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, status, _ = invoke(monkeypatch, "enqueue", storage_notification("in/orders.json"))

    assert status == 204
    assert calls() == []


def test_another_storage_event_is_acknowledged_unrun(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = storage_notification("in/orders.csv", event_type="OBJECT_DELETE")

    _, status, _ = invoke(monkeypatch, "enqueue", body)

    assert status == 204
    assert calls() == []


def test_a_failed_object_handler_answers_500(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, status, _ = invoke(monkeypatch, "enqueue", storage_notification("bad.csv"))

    assert status == 500
    assert (
        f"portway: enqueue: {MESSAGE_ID} (bad.csv) failed: RuntimeError: refusing bad.csv"
        in capsys.readouterr().err
    )


def test_a_message_that_is_not_a_storage_notification_answers_400(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, status, _ = invoke(monkeypatch, "enqueue", text_push("x"))

    assert status == 400
    assert "no eventType" in capsys.readouterr().err


# -- schedules --------------------------------------------------------------------------------


def schedule_call(expression: str) -> tuple[bytes, dict[str, str]]:
    headers = {
        "Content-Type": "application/json",
        "X-CloudScheduler": "true",
        "X-CloudScheduler-JobName": "shop-test--tick",
        "X-CloudScheduler-ScheduleTime": "2021-02-26T19:15:00+00:00",
    }
    return json.dumps({"portway": "schedule", "schedule": expression}).encode(), headers


def test_a_scheduler_call_runs_the_handler_for_its_tick(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body, headers = schedule_call("rate(15 minutes)")

    _, status, _ = invoke(monkeypatch, "tick", body, headers=headers)

    assert status == 200
    assert calls() == [("tick", "rate(15 minutes)", "2021-02-26T19:15:00+00:00")]


def test_a_failed_schedule_answers_500(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    body, headers = schedule_call("never")

    _, status, _ = invoke(monkeypatch, "tick", body, headers=headers)

    assert status == 500
    assert "portway: tick: shop-test--tick@" in capsys.readouterr().err


def test_a_schedule_call_without_its_body_answers_400(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, status, _ = invoke(monkeypatch, "tick", b"{}")

    assert status == 400
    assert "portway: tick: request failed: MalformedEvent: " in capsys.readouterr().err


# -- http -------------------------------------------------------------------------------------


def test_http_passes_path_params_and_query(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body, status, headers = invoke(
        monkeypatch, "status", method="GET", path="/status/acme?verbose=1"
    )

    assert status == 200
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body) == {"name": "acme", "verbose": "1"}


def test_http_answers_404_outside_the_route(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, status, _ = invoke(monkeypatch, "status", method="GET", path="/elsewhere")

    assert status == 404


def test_http_answers_405_to_another_method(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, status, headers = invoke(monkeypatch, "status", method="DELETE", path="/status/acme")

    assert (status, headers["allow"]) == (405, "GET")


def test_http_handler_exception_is_a_500_with_the_traceback_logged(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    body, status, _ = invoke(monkeypatch, "status", method="GET", path="/status/crash")

    assert (status, json.loads(body)) == (500, {"error": "internal error"})
    err = capsys.readouterr().err
    assert "portway: status: request failed: RuntimeError: secret detail" in err
    assert "Traceback (most recent call last)" in err
    assert b"secret" not in body


# -- imports ----------------------------------------------------------------------------------


def test_importing_the_shim_imports_no_google_sdk() -> None:
    imported = modules_imported_by("import portway_gcp.main")

    assert "portway_gcp.main" in imported
    assert cloud_sdk_modules(imported, ("google", "grpc")) == []


def test_importing_the_shim_leaves_traceback_and_pathlib_until_they_are_needed() -> None:
    # Every cold start pays for what the shim imports; traceback is only needed when an
    # http handler fails, pathlib only when the pipeline's import fails.
    imported = modules_imported_by("import portway_gcp.main")

    assert "portway_gcp.main" in imported
    assert "traceback" not in imported
    assert "pathlib" not in imported


def test_importing_the_shim_leaves_url_parsing_to_http_functions() -> None:
    imported = modules_imported_by("import portway_gcp.main")

    assert "portway_gcp.native_events" in imported
    assert "urllib.parse" not in imported


def test_importing_the_shim_leaves_base64_to_functions_that_decode_messages() -> None:
    imported = modules_imported_by("import portway_gcp.main")

    assert "portway_gcp.native_events" in imported
    assert "base64" not in imported
