"""The Event Grid player over the wire: the SDK's own publish requests, and BlobCreated
events from blobs in Azurite, fanned out to each subscription's queue with its filters."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.eventgrid import EventGridEvent, EventGridPublisherClient
from azure.storage.blob import ContentSettings
from portway_azure.clients import AzureClients, AzureResources
from portway_azure.dataplane import AzureDataPlane
from portway_azure.message_encoding import DECLARED_MAX_MESSAGE_BYTES
from portway_azure.native_events import message_of, object_events_of
from portway_azure.testing.azurite import Azurite
from portway_azure.testing.event_grid import BLOB_CREATED, EventGridPlayer

from portway import Pipeline
from portway.dataplane import bind
from portway.errors import DeployError, MessageTooLarge, PermissionDenied
from portway.model import MessageTrigger, ObjectCreatedTrigger
from portway.payload import message_size, outgoing

app = Pipeline("orders")
landing = app.bucket("landing")
loaded = app.topic("loaded")


@pytest.fixture
def player(azurite: Azurite) -> Iterator[EventGridPlayer]:
    with EventGridPlayer(azurite.connection_string) as running:
        yield running


def make_queues(player: EventGridPlayer, prefix: str, count: int) -> list[str]:
    names = [f"{prefix}-{index}" for index in range(count)]
    for name in names:
        player.clients.queue_service.create_queue(name)
    return names


def queued_events(player: EventGridPlayer, queue: str) -> list[dict[str, Any]]:
    """The events in ``queue``, decoded as the Functions host decodes them (base64)."""
    messages = player.clients.queue(queue).peek_messages(max_messages=32)
    return [json.loads(base64.b64decode(message.content)) for message in messages]


def plane_for(player: EventGridPlayer, topic: str, *, key: str | None = None) -> AzureDataPlane:
    clients = AzureClients(
        connection_string=player.clients.connection_string,
        event_grid_key=player.key if key is None else key,
    )
    return AzureDataPlane(clients, AzureResources(topics={"loaded": player.endpoint(topic)}))


# -- topics -------------------------------------------------------------------------------------


def test_a_published_message_reaches_every_subscription_in_event_grid_schema(
    player: EventGridPlayer, unique_name: str
) -> None:
    queues = make_queues(player, unique_name, 2)
    for queue in queues:
        player.subscribe(unique_name, queue)

    with bind(plane_for(player, unique_name)):
        identifier = loaded.publish({"table": "orders"}, attributes={"run": "7"})

    for queue in queues:
        (event,) = queued_events(player, queue)
        assert event["eventType"] == "portway.message"
        assert event["topic"].endswith(f"/providers/Microsoft.EventGrid/topics/{unique_name}")
        assert event["metadataVersion"] == "1"
        body = json.dumps(event).encode()
        message = message_of(body, MessageTrigger(loaded), identifier="q", attempt=1, time=None)
        assert (message.id, message.json(), message.attributes) == (
            identifier,
            {"table": "orders"},
            {"run": "7"},
        )


def test_the_sdks_own_event_grid_event_request_is_accepted(
    player: EventGridPlayer, unique_name: str
) -> None:
    (queue,) = make_queues(player, unique_name, 1)
    player.subscribe(unique_name, queue)
    client = EventGridPublisherClient(player.endpoint(unique_name), AzureKeyCredential(player.key))

    client.send([EventGridEvent(subject="s/1", event_type="t", data={"a": 1}, data_version="2")])

    (event,) = queued_events(player, queue)
    assert (event["subject"], event["data"], event["dataVersion"]) == ("s/1", {"a": 1}, "2")


def test_a_wrong_key_is_denied(player: EventGridPlayer, unique_name: str) -> None:
    player.add_topic(unique_name)

    with bind(plane_for(player, unique_name, key="wrong")), pytest.raises(PermissionDenied):
        loaded.publish("x")


def test_an_unknown_topic_says_to_deploy(player: EventGridPlayer) -> None:
    with bind(plane_for(player, "never-created")), pytest.raises(DeployError, match="deploy"):
        loaded.publish("x")


def test_a_text_message_of_exactly_the_declared_size_reaches_the_subscribers(
    player: EventGridPlayer, unique_name: str
) -> None:
    (queue,) = make_queues(player, unique_name, 1)
    player.subscribe(unique_name, queue)
    names = {f"attribute-{index}": "v" for index in range(9)}
    room = DECLARED_MAX_MESSAGE_BYTES - message_size(outgoing("", names))

    with bind(plane_for(player, unique_name)):
        loaded.publish("y" * room, attributes=names)

    (event,) = queued_events(player, queue)
    assert event["data"]["body"] == "y" * room


def test_a_message_too_large_for_the_subscribers_queues_is_refused(
    player: EventGridPlayer, unique_name: str
) -> None:
    (queue,) = make_queues(player, unique_name, 1)
    player.subscribe(unique_name, queue)

    with bind(plane_for(player, unique_name)), pytest.raises(MessageTooLarge, match="65,536"):
        loaded.publish('"' * (DECLARED_MAX_MESSAGE_BYTES * 2 // 3))

    assert queued_events(player, queue) == []


def test_a_delivery_to_a_missing_queue_is_recorded_not_raised(
    player: EventGridPlayer, unique_name: str
) -> None:
    player.subscribe(unique_name, f"{unique_name}-absent")

    with bind(plane_for(player, unique_name)):
        loaded.publish("x")

    ((delivery, reason),) = player.failures
    assert delivery.subscription.queue == f"{unique_name}-absent"
    assert "QueueNotFound" in reason


# -- storage events -------------------------------------------------------------------------


@pytest.fixture
def container(player: EventGridPlayer, unique_name: str) -> str:
    player.clients.blob_service.create_container(unique_name)
    player.add_storage_topic("blobs", "devstoreaccount1")
    return unique_name


def upload(player: EventGridPlayer, container: str, key: str, data: bytes = b"a,b\n") -> None:
    player.clients.container(container).upload_blob(
        key, data, overwrite=True, content_settings=ContentSettings(content_type="text/csv")
    )


def test_blob_created_carries_the_blobs_real_properties(
    player: EventGridPlayer, container: str
) -> None:
    upload(player, container, "in/a b.csv")

    event = player.blob_created_event(container, "in/a b.csv")

    etag = player.clients.container(container).get_blob_client("in/a b.csv").get_blob_properties()
    assert event["subject"] == f"/blobServices/default/containers/{container}/blobs/in/a b.csv"
    assert event["eventType"] == BLOB_CREATED
    assert event["data"]["contentType"] == "text/csv"
    assert event["data"]["contentLength"] == 4
    assert event["data"]["blobType"] == "BlockBlob"
    assert event["data"]["eTag"] == etag.etag.strip('"')
    assert event["data"]["url"].endswith(f"/{container}/in/a%20b.csv")
    assert len(event["data"]["sequencer"]) == 32


def test_blob_created_reaches_only_the_subscriptions_whose_filters_match(
    player: EventGridPlayer, container: str, unique_name: str
) -> None:
    csv, under_in, everything = make_queues(player, f"{unique_name}q", 3)
    head = f"/blobServices/default/containers/{container}/blobs/"
    player.subscribe("blobs", csv, subject_ends_with=".csv", included_event_types=(BLOB_CREATED,))
    player.subscribe("blobs", under_in, subject_begins_with=head + "in/")
    player.subscribe("blobs", everything, subject_begins_with=head)
    upload(player, container, "in/a.json")
    upload(player, container, "out/b.csv")

    player.blob_created("blobs", container, "in/a.json")
    player.blob_created("blobs", container, "out/b.csv")

    def keys(queue: str) -> list[str]:
        return [event["subject"].removeprefix(head) for event in queued_events(player, queue)]

    assert keys(csv) == ["out/b.csv"]
    assert keys(under_in) == ["in/a.json"]
    assert keys(everything) == ["in/a.json", "out/b.csv"]


def test_subject_filters_ignore_case_unless_the_subscription_says_otherwise(
    player: EventGridPlayer, container: str, unique_name: str
) -> None:
    loose, strict = make_queues(player, f"{unique_name}c", 2)
    player.subscribe("blobs", loose, subject_ends_with=".csv")
    player.subscribe("blobs", strict, subject_ends_with=".csv", subject_case_sensitive=True)
    upload(player, container, "A.CSV")

    player.blob_created("blobs", container, "A.CSV")

    assert len(queued_events(player, loose)) == 1
    assert queued_events(player, strict) == []


def test_the_shim_reads_a_delivered_blob_created_event(
    player: EventGridPlayer, unique_name: str
) -> None:
    # The shim knows the bucket by its container name, which is the same on every stage:
    # the test shares container b-landing and keeps to keys under its own name.
    container = "b-landing"
    if not player.clients.container(container).exists():
        player.clients.blob_service.create_container(container)
    player.add_storage_topic("blobs", "devstoreaccount1")
    (queue,) = make_queues(player, unique_name, 1)
    head = f"/blobServices/default/containers/{container}/blobs/{unique_name}/"
    player.subscribe("blobs", queue, subject_begins_with=head)
    upload(player, container, f"{unique_name}/x.csv", b"12345")

    player.blob_created("blobs", container, f"{unique_name}/x.csv")

    (event,) = queued_events(player, queue)
    (neutral,) = object_events_of(json.dumps(event).encode(), ObjectCreatedTrigger(landing))
    assert (neutral.bucket, neutral.key, neutral.size) == ("landing", f"{unique_name}/x.csv", 5)


def _post(url: str, body: object, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        f"{url}?api-version=2018-01-01",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json; charset=utf-8", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


EVENT = {
    "id": "1",
    "subject": "s",
    "eventType": "t",
    "eventTime": "2026-11-29T10:00:00Z",
    "data": {},
}


def test_a_bearer_token_is_accepted_and_no_credential_is_refused(
    player: EventGridPlayer, unique_name: str
) -> None:
    (queue,) = make_queues(player, unique_name, 1)
    player.subscribe(unique_name, queue)
    endpoint = player.endpoint(unique_name)

    assert _post(endpoint, [EVENT], {"authorization": "Bearer token"}) == 200
    assert _post(endpoint, [EVENT], {}) == 401
    assert len(queued_events(player, queue)) == 1


def test_malformed_publish_requests_are_refused_as_event_grid_does(
    player: EventGridPlayer, unique_name: str
) -> None:
    endpoint = player.add_topic(unique_name)
    key = {"aeg-sas-key": player.key}
    cloud = {**key, "content-type": "application/cloudevents-batch+json; charset=utf-8"}

    assert _post(endpoint, [{"id": "1", "subject": "s"}], key) == 400
    assert _post(endpoint, {"not": "a list"}, key) == 400
    assert _post(endpoint, [EVENT], cloud) == 400
    assert _post(endpoint, [{**EVENT, "data": "x" * 1_100_000}], key) == 413
