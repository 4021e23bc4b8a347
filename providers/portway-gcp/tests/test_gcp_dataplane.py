"""The Google Cloud data plane on the emulators: buckets, queues and topics from handler code."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from portway_gcp import native_events
from portway_gcp.clients import GcpClients
from portway_gcp.dataplane import GcpDataPlane, connect_pipeline
from portway_gcp.message_encoding import (
    CONTENT_TYPE_ATTRIBUTE,
    DECLARED_MAX_MESSAGE_BYTES,
    MAX_REQUEST_BYTES,
    publish_request_size,
)
from portway_gcp.naming import Names
from portway_gcp.runtime_config import ResourceMap

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
from portway.model.triggers import MessageTrigger
from portway.payload import MAX_ATTRIBUTE_VALUE_BYTES, message_size, outgoing
from portway.testing.imports import cloud_sdk_modules, modules_imported_by

PROJECT = "portway-test"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"

app = Pipeline("orders")
lake = app.bucket("lake")
jobs = app.queue("jobs")
loaded = app.topic("loaded")


@app.on_message(jobs, uses=[lake.read()])
def reader(message: Message) -> None:
    """Declares lake.read() only: writes, sends and publishes are not its to make."""


READER = app.function("reader")


@dataclass
class Stage:
    """The resources of one test on the emulators, and the data plane bound to them."""

    plane: GcpDataPlane
    clients: GcpClients
    bucket: str
    queue_topic: str
    topic: str

    def subscribe(self, topic: str) -> str:
        """A new pull subscription to ``topic``; returns its path."""
        path = f"projects/{PROJECT}/subscriptions/{topic.rsplit('/', 1)[1]}-{time.monotonic_ns()}"
        self.clients.subscriber.create_subscription(name=path, topic=topic)
        return path

    def pull(self, subscription: str, count: int = 1, *, deadline: float = 10.0) -> list[Any]:
        """Pull (and acknowledge) until ``count`` messages came, or ``deadline`` seconds."""
        from google.api_core.exceptions import DeadlineExceeded

        subscriber = self.clients.subscriber
        received: list[Any] = []
        stop = time.monotonic() + deadline
        while len(received) < count and time.monotonic() < stop:
            try:
                response = subscriber.pull(
                    request={"subscription": subscription, "max_messages": 100}, timeout=2
                )
            except DeadlineExceeded:
                continue
            if response.received_messages:
                subscriber.acknowledge(
                    request={
                        "subscription": subscription,
                        "ack_ids": [m.ack_id for m in response.received_messages],
                    }
                )
            received.extend(m.message for m in response.received_messages)
        return received


@pytest.fixture
def stage(gcp_clients: GcpClients, unique_name: Callable[[str], str]) -> Iterator[Stage]:
    bucket = gcp_clients.storage.create_bucket(unique_name("orders-lake")).name
    queue_topic = f"projects/{PROJECT}/topics/{unique_name('orders-jobs')}"
    topic = f"projects/{PROJECT}/topics/{unique_name('orders-loaded')}"
    gcp_clients.publisher.create_topic(name=queue_topic)
    gcp_clients.publisher.create_topic(name=topic)
    resources = ResourceMap(
        buckets={"lake": bucket}, queues={"jobs": queue_topic}, topics={"loaded": topic}
    )
    plane = GcpDataPlane(resources, gcp_clients, stage="test")
    with bind(plane):
        yield Stage(plane, gcp_clients, bucket, queue_topic, topic)


def unreachable_plane() -> GcpDataPlane:
    """A data plane whose every call would fail to connect (nothing listens on port 9)."""
    clients = GcpClients(
        PROJECT,
        "europe-west1",
        pubsub_endpoint="127.0.0.1:9",
        storage_endpoint="http://127.0.0.1:9",
    )
    resources = ResourceMap(
        buckets={"lake": "orders-lake"},
        queues={"jobs": f"projects/{PROJECT}/topics/orders-jobs"},
        topics={"loaded": f"projects/{PROJECT}/topics/orders-loaded"},
    )
    return GcpDataPlane(resources, clients, stage="test")


# -- buckets ---------------------------------------------------------------------------------


def test_an_object_written_is_read_back_with_its_content_type(stage: Stage) -> None:
    lake.write("in/a.txt", "hello")

    assert lake.read("in/a.txt") == b"hello"
    blob = stage.clients.storage.bucket(stage.bucket).get_blob("in/a.txt")
    # gcp-storage-emulator keeps the media type of a multipart upload's part and drops
    # its parameters (Cloud Storage keeps "text/plain; charset=utf-8" whole).
    assert blob.content_type.split(";")[0] == "text/plain"


def test_an_explicit_content_type_is_stored(stage: Stage) -> None:
    lake.write("report.csv", b"a,b\n", content_type="text/csv")

    assert stage.clients.storage.bucket(stage.bucket).get_blob("report.csv").content_type == (
        "text/csv"
    )


def test_reading_a_missing_object_raises_key_error_naming_bucket_and_key(stage: Stage) -> None:
    with pytest.raises(KeyError, match=r"bucket 'lake' has no object 'absent\.txt'"):
        lake.read("absent.txt")


def test_listing_returns_the_keys_under_the_prefix_sorted(stage: Stage) -> None:
    for key in ("in/b.csv", "in/a.csv", "out/c.csv", "in/sub/d.csv"):
        lake.write(key, b"x")

    assert lake.list("in/") == ["in/a.csv", "in/b.csv", "in/sub/d.csv"]
    assert lake.list("") == ["in/a.csv", "in/b.csv", "in/sub/d.csv", "out/c.csv"]


def test_a_deleted_object_is_gone_and_deleting_it_again_is_no_error(stage: Stage) -> None:
    lake.write("a.txt", b"x")

    lake.delete("a.txt")
    lake.delete("a.txt")

    assert lake.list("") == []


@pytest.mark.parametrize("key", ["../escape", "/absolute", "a//b", ""], ids=repr)
def test_unsafe_keys_are_refused_before_any_call(key: str) -> None:
    with bind(unreachable_plane()):
        with pytest.raises(InvalidKey):
            lake.write(key, b"x")
        with pytest.raises(InvalidKey):
            lake.read(key)


def test_a_bucket_that_does_not_exist_says_to_deploy_the_stage(
    gcp_clients: GcpClients, unique_name: Callable[[str], str]
) -> None:
    missing = unique_name("orders-gone")
    plane = GcpDataPlane(ResourceMap(buckets={"lake": missing}), gcp_clients, stage="test")

    with bind(plane):
        for call in (
            lambda: lake.read("a.txt"),
            lambda: lake.write("a.txt", b"x"),
            lambda: lake.list(""),
            lambda: lake.delete("a.txt"),
        ):
            with pytest.raises(DeployError, match=rf"\({missing}\) does not exist on stage 'test'"):
                call()


def test_a_resource_missing_from_the_function_environment_is_a_config_error(
    gcp_clients: GcpClients,
) -> None:
    with bind(GcpDataPlane(ResourceMap(), gcp_clients, stage="test")):
        with pytest.raises(ConfigError, match="bucket 'lake' is not among the resources"):
            lake.write("a.txt", b"x")
        with pytest.raises(ConfigError, match="queue 'jobs' is not among the resources"):
            jobs.send("x")


# -- permissions -----------------------------------------------------------------------------------


def test_an_undeclared_use_is_denied_before_any_call_to_google() -> None:
    with bind(unreachable_plane(), READER):
        for call, use in (
            (lambda: lake.write("a.txt", b"x"), "lake.write()"),
            (lambda: jobs.send("x"), "jobs.send()"),
            (lambda: loaded.publish("x"), "loaded.publish()"),
        ):
            with pytest.raises(PermissionDenied, match=rf"'reader' used {use}"):
                call()


def test_a_declared_use_reaches_google(stage: Stage) -> None:
    lake.write("a.txt", b"declared")

    with bind(stage.plane, READER):
        assert lake.read("a.txt") == b"declared"


# -- queues and topics -----------------------------------------------------------------------------


def test_a_sent_message_arrives_with_its_body_content_type_and_attributes(stage: Stage) -> None:
    subscription = stage.subscribe(stage.queue_topic)

    message_id = jobs.send({"key": "in/a.csv"}, attributes={"tenant": "acme"})

    [received] = stage.pull(subscription)
    assert received.message_id == message_id
    assert received.data == b'{"key":"in/a.csv"}'
    assert dict(received.attributes) == {"tenant": "acme", CONTENT_TYPE_ATTRIBUTE: JSON}


def test_the_shim_reads_back_exactly_what_was_sent(stage: Stage) -> None:
    subscription = stage.subscribe(stage.queue_topic)
    jobs.send(b"\xff\x00binary", attributes={"part": "1"})
    [received] = stage.pull(subscription)
    push = {
        "subscription": subscription,
        "message": {
            "data": base64.b64encode(received.data).decode("ascii"),
            "attributes": dict(received.attributes),
            "messageId": received.message_id,
            "publishTime": "2026-11-29T10:00:00Z",
        },
    }
    trigger = READER.trigger
    assert isinstance(trigger, MessageTrigger)

    message = native_events.message_of(native_events.pubsub_delivery({}, _json(push)), trigger)

    assert message.body == b"\xff\x00binary"
    assert message.content_type == "application/octet-stream"
    assert message.attributes == {"part": "1"}


def test_an_empty_body_travels_as_empty_data_with_its_content_type(stage: Stage) -> None:
    subscription = stage.subscribe(stage.queue_topic)

    jobs.send("")

    [received] = stage.pull(subscription)
    assert received.data == b""
    assert received.attributes[CONTENT_TYPE_ATTRIBUTE] == TEXT


def test_a_batch_of_25_messages_returns_25_ids_in_order_and_every_message_arrives(
    stage: Stage,
) -> None:
    subscription = stage.subscribe(stage.queue_topic)

    ids = jobs.send_batch([{"n": n} for n in range(25)])

    received = stage.pull(subscription, 25)
    assert len(ids) == 25 == len(set(ids))
    by_id = {m.message_id: m.data for m in received}
    assert [by_id[i] for i in ids] == [f'{{"n":{n}}}'.encode() for n in range(25)]


def test_publishing_reaches_every_subscription_of_the_topic(stage: Stage) -> None:
    first, second = stage.subscribe(stage.topic), stage.subscribe(stage.topic)

    message_id = loaded.publish("done", attributes={"table": "orders"})

    for subscription in (first, second):
        [received] = stage.pull(subscription)
        assert received.message_id == message_id
        assert received.data == b"done"
        assert dict(received.attributes) == {"table": "orders", CONTENT_TYPE_ATTRIBUTE: TEXT}


def test_a_message_exactly_at_the_declared_limit_is_sent(stage: Stage) -> None:
    subscription = stage.subscribe(stage.queue_topic)
    attributes = {f"a{n}": "v" * MAX_ATTRIBUTE_VALUE_BYTES for n in range(9)}
    room = DECLARED_MAX_MESSAGE_BYTES - message_size(outgoing(b"", attributes))

    jobs.send(b"y" * room, attributes=attributes)

    [received] = stage.pull(subscription)
    assert len(received.data) == room


def test_a_message_one_byte_over_the_declared_limit_is_refused_and_nothing_is_sent(
    stage: Stage,
) -> None:
    subscription = stage.subscribe(stage.queue_topic)
    too_big = b"x" * (DECLARED_MAX_MESSAGE_BYTES + 1)

    with pytest.raises(MessageTooLarge, match=r"jobs\.send\(\)"):
        jobs.send_batch([b"small", too_big])
    with pytest.raises(MessageTooLarge, match=r"loaded\.publish\(\)"):
        loaded.publish(too_big)

    assert stage.pull(subscription, deadline=1) == []


def test_sending_to_a_deleted_topic_says_to_deploy_the_stage(stage: Stage) -> None:
    stage.clients.publisher.delete_topic(topic=stage.queue_topic)

    with pytest.raises(DeployError, match=r"jobs\.send\(\): queue 'jobs' \(projects/.*\) does"):
        jobs.send("x")


def test_publishing_to_a_deleted_topic_says_to_deploy_the_stage(stage: Stage) -> None:
    stage.clients.publisher.delete_topic(topic=stage.topic)

    with pytest.raises(DeployError, match="run 'portway deploy --stage test'"):
        loaded.publish("x")


# -- the request size, as Pub/Sub counts it --------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "attributes"),
    [
        (b"", {CONTENT_TYPE_ATTRIBUTE: TEXT}),
        (b"x" * 200, {"a": "", CONTENT_TYPE_ATTRIBUTE: JSON}),
        (b"y" * 70_000, {f"k{n}": "v" * 1024 for n in range(9)}),
        (b"z" * 3_000_000, {"n\u00e9": "\u00e9t\u00e9"}),
    ],
    ids=["empty", "empty-value", "nine-attributes", "large-utf8"],
)
def test_the_request_size_is_what_protobuf_serializes(
    data: bytes, attributes: dict[str, str]
) -> None:
    from google.pubsub_v1 import types

    topic = f"projects/{PROJECT}/topics/{'t' * 255}"
    request = types.PublishRequest(
        topic=topic, messages=[types.PubsubMessage(data=data, attributes=attributes)]
    )

    assert (
        publish_request_size(topic, data, attributes) == types.PublishRequest.pb(request).ByteSize()
    )


def test_the_declared_limit_leaves_room_for_the_request_around_the_message() -> None:
    attributes = {f"{n}" + "k" * 255: "v" * 1024 for n in range(9)}
    body = b"x" * (DECLARED_MAX_MESSAGE_BYTES - message_size(outgoing(b"", attributes)))
    topic = f"projects/{'p' * 30}/topics/{'t' * 255}"

    size = publish_request_size(topic, body, {**attributes, CONTENT_TYPE_ATTRIBUTE: TEXT})

    assert size <= MAX_REQUEST_BYTES


# -- connecting ------------------------------------------------------------------------------------


def test_connect_pipeline_reaches_the_resources_by_the_names_deploy_gives_them(
    gcp_stage: StageConfig, gcp_clients: GcpClients
) -> None:
    names = Names("orders", gcp_stage.name, PROJECT, "europe-west1")
    gcp_clients.storage.create_bucket(names.bucket("lake"))
    queue_topic = names.topic_path(names.queue_topic("jobs"))
    gcp_clients.publisher.create_topic(name=queue_topic)
    plane = connect_pipeline(app, gcp_stage)
    stage = Stage(plane, gcp_clients, names.bucket("lake"), queue_topic, "")
    subscription = stage.subscribe(queue_topic)

    with bind(plane):
        lake.write("a.csv", b"x")
        jobs.send("hello")

    assert gcp_clients.storage.bucket(names.bucket("lake")).blob("a.csv").download_as_bytes() == (
        b"x"
    )
    [received] = stage.pull(subscription)
    assert received.data == b"hello"


def test_a_deployed_function_finds_resources_project_and_emulators_in_its_environment() -> None:
    environ = {
        "PORTWAY_GCP_RESOURCES": '{"buckets":{"lake":"orders-prod-lake-1a2b3c4d"},'
        '"queues":{"jobs":"projects/acme-data/topics/orders-prod-jobs"}}',
        "PORTWAY_STAGE": "prod",
        "PUBSUB_EMULATOR_HOST": "127.0.0.1:8085",
    }

    plane = GcpDataPlane.from_environment(environ)

    assert plane.resources.bucket("lake") == "orders-prod-lake-1a2b3c4d"
    assert plane.resources.queue_topic("jobs") == "projects/acme-data/topics/orders-prod-jobs"
    assert plane.clients.project == "acme-data"
    assert plane.clients.pubsub_endpoint == "127.0.0.1:8085"
    assert plane.clients.storage_endpoint is None
    assert plane.stage == "prod"


def test_a_malformed_resource_map_says_to_redeploy() -> None:
    with pytest.raises(ConfigError, match="PORTWAY_GCP_RESOURCES is not JSON"):
        GcpDataPlane.from_environment({"PORTWAY_GCP_RESOURCES": "{not json"})


def test_connecting_creates_no_client_until_the_first_call(gcp_stage: StageConfig) -> None:
    plane = connect_pipeline(app, gcp_stage)

    assert plane.clients._clients == {}


def test_importing_the_data_plane_imports_no_google_sdk() -> None:
    imported = modules_imported_by("import portway_gcp.dataplane")

    assert "portway_gcp.dataplane" in imported
    assert cloud_sdk_modules(imported, ("google", "grpc", "requests")) == []


def _json(document: object) -> bytes:
    import json

    return json.dumps(document).encode("utf-8")
