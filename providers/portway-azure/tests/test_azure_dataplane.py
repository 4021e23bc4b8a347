"""The Azure data plane over the wire on Azurite: clients, containers, queues and topics."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest
from portway_azure.clients import (
    RESOURCES,
    STORAGE,
    AzureClients,
    AzureResources,
    topic_endpoint,
)
from portway_azure.dataplane import AzureDataPlane, connect_pipeline, from_environment
from portway_azure.message_encoding import (
    DECLARED_MAX_MESSAGE_BYTES,
    MAX_QUEUE_MESSAGE_BYTES,
    queue_text,
)
from portway_azure.naming import Names
from portway_azure.native_events import message_of
from portway_azure.plugin import CAPABILITIES
from portway_azure.testing.azurite import Azurite

from portway import Message, Pipeline
from portway.config import StageConfig
from portway.dataplane import bind
from portway.errors import (
    ConfigError,
    DeployError,
    InvalidKey,
    MessageTooLarge,
    PermissionDenied,
)
from portway.model import MessageTrigger
from portway.payload import message_size, outgoing
from portway.testing.imports import cloud_sdk_modules, modules_imported_by

NAMES = Names("orders", "test", "sub", "data-rg", "westeurope")

app = Pipeline("orders")
lake = app.bucket("lake")
jobs = app.queue("jobs")
loaded = app.topic("loaded")


@app.on_message(jobs, uses=[lake.read()])
def reader(msg: Message) -> None:
    lake.write("sneaky", b"x")


@dataclass
class Stage:
    """One test's container and queue in Azurite, and the data plane bound to them."""

    plane: AzureDataPlane
    clients: AzureClients
    container: str
    queue: str

    def received(self) -> list[Any]:
        """The messages on the queue (peeked: still there), as Azurite holds them."""
        return list(self.clients.queue(self.queue).peek_messages(max_messages=32))


@pytest.fixture
def stage(azurite: Azurite, unique_name: str) -> Stage:
    clients = AzureClients(connection_string=azurite.connection_string)
    clients.blob_service.create_container(unique_name)
    clients.queue_service.create_queue(unique_name)
    resources = AzureResources(buckets={"lake": unique_name}, queues={"jobs": unique_name})
    return Stage(
        AzureDataPlane(clients, resources, stage="test"), clients, unique_name, unique_name
    )


def delivered(text: str, attempt: int = 1) -> Message:
    """What the shim makes of a queue message: the host base64-decodes it first."""
    trigger = MessageTrigger(jobs)
    return message_of(base64.b64decode(text), trigger, identifier="q", attempt=attempt, time=None)


# -- clients ------------------------------------------------------------------------------------


def test_clients_of_a_stage_with_a_connection_string_reach_azurite(
    azure_stage: StageConfig, unique_name: str
) -> None:
    clients = AzureClients.for_stage(azure_stage)

    clients.blob_service.create_container(unique_name)
    clients.container(unique_name).upload_blob("k", b"v")
    clients.queue_service.create_queue(unique_name)
    clients.queue(unique_name).send_message("hello")

    assert clients.container(unique_name).download_blob("k").readall() == b"v"
    assert clients.queue(unique_name).peek_messages()[0].content == "hello"
    assert clients.container(unique_name) is clients.container(unique_name)


def test_clients_without_a_connection_string_use_the_account_urls(
    azure_stage: StageConfig,
) -> None:
    settings = {k: v for k, v in azure_stage.settings.items() if k != "connection_string"}
    stage = StageConfig(name="prod", provider="azure", settings=settings)

    clients = AzureClients.for_stage(stage, storage_account=NAMES.storage_account)

    assert clients.blob_url == f"https://{NAMES.storage_account}.blob.core.windows.net"
    assert clients.queue_url == f"https://{NAMES.storage_account}.queue.core.windows.net"
    with pytest.raises(ConfigError, match="deploy the stage first"):
        AzureClients.for_stage(stage)


def test_clients_from_app_settings_need_storage() -> None:
    with pytest.raises(ConfigError, match=STORAGE):
        AzureClients.from_environment({})


def test_an_event_grid_key_publishes_with_a_key_credential(azurite: Azurite) -> None:
    clients = AzureClients.from_environment(
        {STORAGE: azurite.connection_string, "PORTWAY_AZURE_EVENT_GRID_KEY": "k"}
    )

    publisher = clients.event_grid("http://127.0.0.1:1/api/events")

    assert publisher is clients.event_grid("http://127.0.0.1:1/api/events")
    assert "AzureKeyCredential" in repr(publisher)


def test_importing_the_clients_imports_no_azure_sdk() -> None:
    imported = modules_imported_by("import portway_azure.clients")

    assert cloud_sdk_modules(imported, ["azure"]) == []


# -- the resource map -----------------------------------------------------------------------


def test_the_resource_map_names_every_resource_by_the_deploy_rules() -> None:
    resources = AzureResources.for_pipeline(app, NAMES)

    assert resources.container("lake") == NAMES.container("lake")
    assert resources.queue("jobs") == NAMES.queue("jobs")
    assert resources.topic("loaded") == topic_endpoint(NAMES.topic("loaded"), "westeurope")
    assert resources.topic("loaded").startswith("https://orders-test-loaded.westeurope-1.")


def test_the_resource_map_round_trips_through_the_app_settings() -> None:
    resources = AzureResources.for_pipeline(
        app, NAMES, topic_endpoints={"loaded": "http://127.0.0.1:9/api/events"}
    )

    assert AzureResources.from_environment(resources.to_environment()) == resources


@pytest.mark.parametrize("text", ["not json", "[]", '{"others": {}}', '{"queues": {"jobs": ""}}'])
def test_a_malformed_resource_map_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match=RESOURCES):
        AzureResources.from_json(text)


@pytest.mark.parametrize("environ", [{}, {RESOURCES: ""}])
def test_an_absent_or_empty_resource_setting_reads_as_no_resources(
    environ: dict[str, str],
) -> None:
    resources = AzureResources.from_environment(environ)

    assert resources == AzureResources()
    with pytest.raises(ConfigError, match=r"bucket 'lake' .* this app was deployed with"):
        resources.container("lake")


def test_a_resource_missing_from_the_map_says_to_redeploy() -> None:
    resources = AzureResources.from_json(json.dumps({"buckets": {"lake": "b-lake"}}))

    with pytest.raises(ConfigError, match="portway deploy"):
        resources.queue("jobs")


def test_the_declared_message_size_is_the_providers_capability() -> None:
    assert CAPABILITIES.max_message_bytes == DECLARED_MAX_MESSAGE_BYTES


# -- buckets ------------------------------------------------------------------------------------


def test_an_object_round_trips_with_its_content_type(stage: Stage) -> None:
    with bind(stage.plane):
        lake.write("in/a b.csv", "x,y\n", content_type="text/csv")
        data = lake.read("in/a b.csv")

    properties = stage.clients.container(stage.container).get_blob_client("in/a b.csv")
    assert data == b"x,y\n"
    assert properties.get_blob_properties().content_settings.content_type == "text/csv"


def test_reading_a_missing_object_is_a_key_error(stage: Stage) -> None:
    with bind(stage.plane), pytest.raises(KeyError, match="no object 'nothing'"):
        lake.read("nothing")


def test_list_returns_the_keys_under_a_prefix_sorted(stage: Stage) -> None:
    with bind(stage.plane):
        for key in ("b/2", "a/1", "b/1", "c"):
            lake.write(key, b"")
        assert lake.list("b/") == ["b/1", "b/2"]
        assert lake.list("") == ["a/1", "b/1", "b/2", "c"]


def test_delete_removes_the_object_and_a_missing_one_is_no_error(stage: Stage) -> None:
    with bind(stage.plane):
        lake.write("k", b"v")
        lake.delete("k")
        lake.delete("k")
        assert lake.list("") == []


def test_an_unsafe_key_is_refused_before_any_call(stage: Stage) -> None:
    with bind(stage.plane), pytest.raises(InvalidKey):
        lake.write("../etc/passwd", b"")


def test_a_container_that_was_never_deployed_says_to_deploy(azurite: Azurite) -> None:
    clients = AzureClients(connection_string=azurite.connection_string)
    plane = AzureDataPlane(clients, AzureResources(buckets={"lake": "b-missing"}), stage="dev")

    with bind(plane), pytest.raises(DeployError, match=r"container b-missing.*--stage dev"):
        lake.read("k")


def test_an_undeclared_use_is_denied_before_any_call(stage: Stage) -> None:
    with bind(stage.plane, app.function("reader")), pytest.raises(PermissionDenied):
        lake.write("sneaky", b"x")

    with bind(stage.plane):
        assert lake.list("") == []


# -- queues ---------------------------------------------------------------------------------


def test_a_sent_message_reaches_the_handler_as_sent(stage: Stage) -> None:
    with bind(stage.plane):
        identifier = jobs.send({"order": 1}, attributes={"kind": "new"})

    (raw,) = stage.received()
    message = delivered(raw.content)
    assert message.id == identifier
    assert message.json() == {"order": 1}
    assert message.attributes == {"kind": "new"}
    assert message.content_type == "application/json"


def test_a_sent_message_lives_as_long_as_the_queues_retention(
    azurite: Azurite, unique_name: str
) -> None:
    short = Pipeline("orders").queue("jobs", retention=3600)
    clients = AzureClients(connection_string=azurite.connection_string)
    clients.queue_service.create_queue(unique_name)
    plane = AzureDataPlane(clients, AzureResources(queues={"jobs": unique_name}))

    with bind(plane):
        short.send("x")

    (raw,) = clients.queue(unique_name).peek_messages()
    assert (raw.expires_on - raw.inserted_on).total_seconds() == 3600


def test_a_binary_body_round_trips(stage: Stage) -> None:
    data = bytes(range(256))
    with bind(stage.plane):
        jobs.send(data)

    (raw,) = stage.received()
    assert delivered(raw.content).body == data


def test_a_batch_is_sent_in_order_with_one_id_each(stage: Stage) -> None:
    with bind(stage.plane):
        ids = jobs.send_batch(["a", "b", "c"])

    messages = [delivered(raw.content) for raw in stage.received()]
    assert [m.id for m in messages] == ids
    assert [m.text() for m in messages] == ["a", "b", "c"]


def _body_filling_the_queue_message() -> bytes:
    """A text body, within the declared size, whose encoded message is exactly 64 KiB:
    quotes, which JSON escapes to two bytes each, fill the envelope to 49,152 bytes."""
    overhead = len(base64.b64decode(queue_text(outgoing(b""), "0" * 32).text))
    room = MAX_QUEUE_MESSAGE_BYTES * 3 // 4 - overhead
    return b'"' * (room // 2) + b"a" * (room % 2)


def test_a_message_of_exactly_64_kib_encoded_is_sent(stage: Stage) -> None:
    body = _body_filling_the_queue_message()
    assert len(body) < DECLARED_MAX_MESSAGE_BYTES
    assert queue_text(outgoing(body), "0" * 32).size == MAX_QUEUE_MESSAGE_BYTES

    with bind(stage.plane):
        jobs.send(body)

    (raw,) = stage.received()
    assert delivered(raw.content).body == body


def test_a_message_over_64_kib_encoded_is_refused_naming_queue_size_and_limit(
    stage: Stage,
) -> None:
    body = _body_filling_the_queue_message() + b"a"

    with bind(stage.plane), pytest.raises(MessageTooLarge) as raised:
        jobs.send(body)

    assert f"Storage Queue {stage.queue!r}" in str(raised.value)
    assert "65,540 bytes" in str(raised.value)
    assert "65,536" in str(raised.value)
    assert stage.received() == []


@pytest.mark.parametrize("attributes", [0, 9])
def test_a_text_message_of_exactly_the_declared_size_is_sent(stage: Stage, attributes: int) -> None:
    names = {f"attribute-{index}": "v" for index in range(attributes)}
    room = DECLARED_MAX_MESSAGE_BYTES - message_size(outgoing("", names))

    with bind(stage.plane):
        jobs.send("y" * room, attributes=names)

    (raw,) = stage.received()
    assert delivered(raw.content).body == b"y" * room


def test_a_message_over_the_declared_size_is_refused_as_validate_says(stage: Stage) -> None:
    with bind(stage.plane), pytest.raises(MessageTooLarge, match="48,128"):
        jobs.send(b"a" * (DECLARED_MAX_MESSAGE_BYTES + 1))

    assert stage.received() == []


def test_a_binary_body_near_the_declared_size_is_refused_with_the_reason(stage: Stage) -> None:
    with bind(stage.plane), pytest.raises(MessageTooLarge, match="not UTF-8 text"):
        jobs.send(b"\xff" * 40_000)


def test_a_batch_cut_short_says_how_many_were_sent(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = stage.clients.queue(stage.queue)
    calls = []

    def delete_queue_after_two(text: str, **options: Any) -> Any:
        calls.append(text)
        if len(calls) == 3:  # the queue disappears under the sender
            stage.clients.queue_service.delete_queue(stage.queue)
        return send(text, **options)

    send = client.send_message
    monkeypatch.setattr(client, "send_message", delete_queue_after_two)

    with bind(stage.plane), pytest.raises(DeployError, match="2 of the 4 messages were sent"):
        jobs.send_batch(["a", "b", "c", "d"])


def test_a_queue_that_was_never_deployed_says_to_deploy(azurite: Azurite) -> None:
    clients = AzureClients(connection_string=azurite.connection_string)
    plane = AzureDataPlane(clients, AzureResources(queues={"jobs": "q-missing"}), stage="dev")

    with bind(plane), pytest.raises(DeployError, match="Storage Queue q-missing"):
        jobs.send("x")


# -- connecting a pipeline ------------------------------------------------------------------


def test_connect_pipeline_names_resources_as_deploy_does(
    azure_stage: StageConfig, unique_name: str
) -> None:
    pipeline = Pipeline(unique_name)
    bucket = pipeline.bucket(unique_name)
    names = Names(unique_name, azure_stage.name, "s", "r", "westeurope")
    plane = connect_pipeline(pipeline, azure_stage, environ={})
    plane.clients.blob_service.create_container(names.container(unique_name))

    with bind(plane):
        bucket.write("k", b"v")
        assert bucket.read("k") == b"v"
    assert plane.resources.container(unique_name) == names.container(unique_name)


def test_connect_pipeline_takes_topic_endpoints_from_the_environment(
    azure_stage: StageConfig,
) -> None:
    environ = {
        RESOURCES: json.dumps({"topics": {"loaded": "http://127.0.0.1:1/api/events"}}),
        "PORTWAY_AZURE_EVENT_GRID_KEY": "key",
    }

    plane = connect_pipeline(app, azure_stage, environ=environ)

    assert plane.resources.topic("loaded") == "http://127.0.0.1:1/api/events"
    assert plane.clients.event_grid_key == "key"


def test_a_deployed_function_reads_its_data_plane_from_app_settings(stage: Stage) -> None:
    resources = AzureResources(buckets={"lake": stage.container})
    assert stage.clients.connection_string is not None
    plane = from_environment(
        {STORAGE: stage.clients.connection_string, **resources.to_environment()}
    )

    with bind(plane):
        lake.write("k", b"v")
        assert lake.read("k") == b"v"


def test_importing_the_data_plane_imports_no_azure_sdk() -> None:
    imported = modules_imported_by("import portway_azure.dataplane")

    assert cloud_sdk_modules(imported, ["azure"]) == []
