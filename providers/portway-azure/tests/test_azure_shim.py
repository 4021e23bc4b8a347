"""The Azure runtime shim, called as the Functions host calls the generated function_app.py.

No host runs here: each test builds the ``azure.functions`` input the host would pass
(``QueueMessage``, ``TimerRequest``, ``HttpRequest``) and calls the shim with it.
"""

from __future__ import annotations

import base64
import json
import logging
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest
from portway_azure import shim
from portway_azure.clients import (
    BLOB_SERVICE_URI,
    QUEUE_SERVICE_URI,
    RESOURCES,
    STORAGE,
    AzureClients,
    AzureResources,
)
from portway_azure.grouping import group_functions
from portway_azure.naming import Names
from portway_azure.native_events import MalformedMessage, container_of, envelope
from portway_azure.packaging import function_app_py
from portway_azure.testing.azurite import Azurite

from portway.errors import ConfigError, PermissionDenied
from portway.loading import load_pipeline
from portway.payload import outgoing
from portway.testing.imports import cloud_sdk_modules, modules_imported_by

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "lake-to-warehouse"
NAMES = Names("lake-to-warehouse", "prod", "sub-id", "data-rg", "westeurope")
MODULE = "azure_shop_pipeline"

PIPELINE = """
import json
from pathlib import Path

from portway import BatchResult, HttpRequest, Message, ObjectEvent, Pipeline, ScheduleEvent

SEEN = []

with Path(__file__).with_name("imports.log").open("a") as log:
    log.write("imported\\n")

app = Pipeline("shop")
landing = app.bucket("landing")
lake = app.bucket("lake")
jobs = app.queue("jobs")
loaded = app.topic("loaded")


@app.on_message(jobs, uses=[lake.write()])
def transform(msg: Message) -> None:
    SEEN.append(msg)
    if msg.body == b"boom":
        raise RuntimeError("bad order")


@app.on_message(jobs, batch_size=10)
def tally(batch: list[Message]) -> BatchResult:
    SEEN.extend(batch)
    return BatchResult([m.id for m in batch if m.body == b"boom"])


@app.on_message(loaded)
def report(msg: Message) -> None:
    SEEN.append(msg)


@app.on_object_created(landing, prefix="in/", suffix=".csv")
def enqueue(event: ObjectEvent) -> None:
    SEEN.append(event)


@app.on_message(jobs)
def sneaky(msg: Message) -> None:
    lake.write("x", b"y")


@app.on_message(jobs, uses=[lake.write()])
def writer(msg: Message) -> None:
    lake.write("x", b"y")


@app.schedule("rate(15 minutes)")
def pull(event: ScheduleEvent) -> None:
    SEEN.append(event)


@app.http("GET", "/orders/{order_id}")
def order(request: HttpRequest) -> dict:
    if request.path_params["order_id"] == "fail":
        raise ValueError("no such order")
    return {"order": request.path_params["order_id"], "q": request.query.get("q")}
"""


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A tiny pipeline module in ``tmp_path``, configured as function_app.py does."""
    (tmp_path / f"{MODULE}.py").write_text(textwrap.dedent(PIPELINE), encoding="utf-8")
    monkeypatch.setenv("AzureWebJobsScriptRoot", str(tmp_path))
    path = list(sys.path)
    shim.configure(f"{MODULE}:app")
    yield tmp_path
    shim.reset()
    sys.modules.pop(MODULE, None)
    sys.path[:] = path


def seen() -> list[object]:
    return list(sys.modules[MODULE].SEEN)


def queue_message(body: str | bytes, *, dequeue_count: int = 1) -> QueueMessage:
    return QueueMessage(body=body, id="m-1", dequeue_count=dequeue_count)


def wrapped(body: bytes, **attributes: str) -> str:
    return json.dumps(envelope(outgoing(body, attributes), "e-1"))


def blob_created(container: str, key: str) -> str:
    return json.dumps(
        {
            "id": "ev-1",
            "topic": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/...",
            "subject": f"/blobServices/default/containers/{container}/blobs/{key}",
            "eventType": "Microsoft.Storage.BlobCreated",
            "eventTime": "2026-11-25T10:00:00+00:00",
            "data": {"contentLength": 12, "eTag": "0x8D", "api": "PutBlob"},
            "dataVersion": "",
            "metadataVersion": "1",
        }
    )


# -- queue messages ---------------------------------------------------------------------------


def test_envelope_round_trips_text_body_attributes_and_id(pipeline: Path) -> None:
    shim.queue_message("transform", queue_message(wrapped(b'{"n": 1}', kind="order")))

    (message,) = seen()
    assert message.id == "e-1"
    assert message.body == b'{"n": 1}'
    assert message.attributes == {"kind": "order"}
    assert message.content_type == "application/octet-stream"


def test_envelope_round_trips_a_binary_body_as_base64(pipeline: Path) -> None:
    data = bytes(range(256))
    text = wrapped(data)
    assert json.loads(text)["body"] == base64.b64encode(data).decode("ascii")

    shim.queue_message("transform", queue_message(text))

    assert seen()[0].body == data


def test_a_message_portway_did_not_send_arrives_as_text(pipeline: Path) -> None:
    shim.queue_message("transform", queue_message("hello", dequeue_count=3))

    (message,) = seen()
    assert (message.id, message.text(), message.attempt) == ("m-1", "hello", 3)


def test_a_handler_failure_is_logged_and_raised_so_the_host_retries(
    pipeline: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(RuntimeError, match="bad order"):
        shim.queue_message("transform", queue_message("boom", dequeue_count=2))

    assert "portway: transform: m-1 failed: RuntimeError: bad order" in caplog.text


def test_a_batch_handler_failure_raises_so_the_host_retries(
    pipeline: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(shim.MessageFailed):
        shim.queue_message("tally", queue_message("boom"))

    assert "portway: tally: m-1 failed:" in caplog.text


def test_a_malformed_message_raises_with_its_reason_logged(
    pipeline: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = json.dumps({"portway": 1, "body": "***", "content_type": "text/plain;base64"})

    with pytest.raises(MalformedMessage, match="marked base64"):
        shim.queue_message("transform", queue_message(bad))

    assert "portway: transform: m-1 failed: MalformedMessage: the body is marked" in caplog.text
    assert seen() == []


def test_topic_event_grid_event_carries_the_envelope(pipeline: Path) -> None:
    event = {
        "id": "eg-9",
        "subject": "portway/loaded",
        "eventType": "portway.message",
        "eventTime": "2026-11-25T10:00:00+00:00",
        "data": json.loads(wrapped(b"done", table="orders")),
        "dataVersion": "1",
    }

    shim.queue_message("report", queue_message(json.dumps(event)))

    (message,) = seen()
    assert (message.id, message.text(), message.attributes) == ("e-1", "done", {"table": "orders"})
    assert message.source == "/portway/azure/topics/loaded"


def test_topic_event_without_an_envelope_is_malformed(pipeline: Path) -> None:
    event = {"id": "eg-9", "eventType": "portway.message", "data": {"x": 1}}

    with pytest.raises(MalformedMessage, match="no portway envelope"):
        shim.queue_message("report", queue_message(json.dumps(event)))


def test_blob_created_maps_the_container_back_to_the_bucket(pipeline: Path) -> None:
    shim.queue_message("enqueue", queue_message(blob_created("b-landing", "in/a b.csv")))

    (event,) = seen()
    assert (event.bucket, event.key) == ("landing", "in/a b.csv")
    assert (event.size, event.etag) == (12, "0x8D")


@pytest.mark.parametrize("key", ["out/a.csv", "in/a.json"])
def test_blob_created_outside_prefix_or_suffix_is_acknowledged_without_a_call(
    pipeline: Path, key: str
) -> None:
    shim.queue_message("enqueue", queue_message(blob_created("b-landing", key)))

    assert seen() == []


def test_blob_created_in_another_container_is_malformed(pipeline: Path) -> None:
    with pytest.raises(MalformedMessage, match="container 'b-lake'"):
        shim.queue_message("enqueue", queue_message(blob_created("b-lake", "in/a.csv")))


def test_the_container_rule_is_the_naming_rule() -> None:
    for bucket in ("landing", "x" * 60):
        assert container_of(bucket) == NAMES.container(bucket)


def test_an_undeclared_use_raises_permission_denied(pipeline: Path) -> None:
    with pytest.raises(PermissionDenied):
        shim.queue_message("sneaky", queue_message("hi"))


def test_a_declared_use_reaches_the_data_plane_the_app_settings_name(
    pipeline: Path, azurite: Azurite, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = AzureClients(connection_string=azurite.connection_string)
    clients.blob_service.create_container(unique_name)
    monkeypatch.setenv(STORAGE, azurite.connection_string)
    resources = AzureResources(buckets={"lake": unique_name})
    for name, value in resources.to_environment().items():
        monkeypatch.setenv(name, value)

    shim.queue_message("writer", queue_message("hi"))

    assert clients.container(unique_name).download_blob("x").readall() == b"y"


def test_a_data_plane_call_without_app_settings_names_them(
    pipeline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (STORAGE, BLOB_SERVICE_URI, QUEUE_SERVICE_URI, RESOURCES):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(ConfigError, match=STORAGE):
        shim.queue_message("writer", queue_message("hi"))


def test_the_pipeline_is_imported_once_per_worker(pipeline: Path) -> None:
    shim.queue_message("transform", queue_message("a"))
    shim.queue_message("report", queue_message("b"))

    assert (pipeline / "imports.log").read_text().count("imported") == 1


# -- timers and HTTP --------------------------------------------------------------------------


def test_a_past_due_timer_is_surfaced_and_logged(
    pipeline: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="portway.azure"):
        shim.timer("pull", TimerRequest(past_due=True))

    (event,) = seen()
    assert event.schedule == "rate(15 minutes)"
    assert event.raw["past_due"] is True
    assert "pull: timer is past due" in caplog.text


def test_http_passes_path_params_and_query(pipeline: Path) -> None:
    request = func.HttpRequest(
        "GET",
        "https://shop.azurewebsites.net/orders/42?q=x",
        headers={"Accept": "application/json"},
        params={"q": "x"},
        route_params={"order_id": "42"},
        body=b"",
    )

    response = shim.http("order", request)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert json.loads(response.get_body()) == {"order": "42", "q": "x"}


def test_http_handler_exception_is_a_500_with_the_traceback_logged(
    pipeline: Path, caplog: pytest.LogCaptureFixture
) -> None:
    request = func.HttpRequest(
        "GET", "https://shop.azurewebsites.net/orders/fail", route_params={}, body=b""
    )

    response = shim.http("order", request)

    assert response.status_code == 500
    assert json.loads(response.get_body()) == {"error": "internal error"}
    assert "ValueError: no such order" in caplog.text
    assert "Traceback" in caplog.text


# -- the generated app and import cost ---------------------------------------------------------


def test_generated_function_app_imports_and_lists_its_triggers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = load_pipeline("pipeline:app", EXAMPLE)
    bindings: dict[str, set[str]] = {}
    try:
        for index, group in enumerate(group_functions(pipeline)):
            module = f"function_app_{index}"
            source = function_app_py(pipeline, group, NAMES, "pipeline:app")
            (tmp_path / f"{module}.py").write_text(source, encoding="utf-8")
            monkeypatch.syspath_prepend(str(tmp_path))
            generated = __import__(module)
            for function in generated.app.get_functions():
                bindings[function.get_function_name()] = {
                    binding.type for binding in function.get_bindings()
                }
    finally:
        shim.reset()
        for name in [m for m in sys.modules if m == "pipeline" or m.startswith("function_app_")]:
            del sys.modules[name]

    assert bindings == {
        "pull_ftp": {"timerTrigger"},
        "enqueue": {"queueTrigger"},
        "transform": {"queueTrigger"},
        "report": {"queueTrigger"},
        "status": {"httpTrigger", "http"},
    }


def test_importing_the_shim_imports_no_storage_or_identity_sdk() -> None:
    imported = modules_imported_by("import portway_azure.shim")

    assert "portway_azure.shim" in imported
    heavy = ("azure.storage", "azure.identity", "azure.core", "boto3", "google")
    assert cloud_sdk_modules(imported, heavy) == []


def test_importing_the_shim_adds_neither_uuid_nor_pathlib_to_what_the_host_loaded() -> None:
    # azure.functions (loaded by the worker before the app) brings neither: uuid (with
    # the platform module) is needed by http functions only, pathlib by a failed import.
    imported = modules_imported_by("import azure.functions\nimport portway_azure.shim")

    assert "portway_azure.shim" in imported
    assert "uuid" not in imported
    assert "pathlib" not in imported
