"""The harness publishes Cloud Storage's OBJECT_FINALIZE notifications as GCS shapes them.

Neither storage emulator sends notifications, so the conformance harness puts a front
(:class:`StorageFront`) before the storage emulator and publishes, for each object
written through it, what GCS would publish to each matching notification config's
topic. Tested over the wire: the real storage SDK writes through the front, the real
Pub/Sub emulator carries the message, and the runtime shim's reader reads it back.
https://cloud.google.com/storage/docs/pubsub-notifications
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from portway_gcp import native_events
from portway_gcp.clients import GcpClients
from portway_gcp.testing.emulators import EmulatorEndpoints
from portway_gcp.testing.notifications import (
    NotificationConfig,
    NotificationPlayer,
    finalize_message,
)
from portway_gcp.testing.storage_front import StorageFront, created_object

from portway.model import Pipeline

PROJECT = "portway-test"

RESOURCE = {
    "kind": "storage#object",
    "id": "lake/incoming/a b.csv/1700000000000001",
    "name": "incoming/a b.csv",
    "bucket": "lake",
    "generation": "1700000000000001",
    "metageneration": "1",
    "contentType": "text/csv",
    "size": "8",
    "md5Hash": base64.b64encode(hashlib.md5(b"a,b\n1,2\n").digest()).decode(),
    "timeCreated": "2026-11-29T21:00:00.123Z",
    "updated": "2026-11-29T21:00:00.123Z",
}


def config(prefix: str = "", **changes: Any) -> NotificationConfig:
    return NotificationConfig(
        id="7",
        bucket="lake",
        topic=f"projects/{PROJECT}/topics/lake-events",
        object_name_prefix=prefix,
        **changes,
    )


# -- the message, pure ---------------------------------------------------------------------


def test_finalize_message_carries_the_attributes_gcs_sets_and_the_object_resource() -> None:
    data, attributes = finalize_message(config(), RESOURCE)
    assert attributes == {
        "notificationConfig": "projects/_/buckets/lake/notificationConfigs/7",
        "eventType": "OBJECT_FINALIZE",
        "payloadFormat": "JSON_API_V1",
        "bucketId": "lake",
        "objectId": "incoming/a b.csv",
        "objectGeneration": "1700000000000001",
        "eventTime": "2026-11-29T21:00:00.123Z",
    }
    assert json.loads(data) == RESOURCE


def test_a_replaced_generation_is_named_and_custom_attributes_are_kept() -> None:
    _, attributes = finalize_message(
        config(custom_attributes={"team": "data"}), RESOURCE, overwrote_generation="5"
    )
    assert attributes["overwroteGeneration"] == "5"
    assert attributes["team"] == "data"


def test_payload_format_none_sends_no_data() -> None:
    data, attributes = finalize_message(config(payload_format="NONE"), RESOURCE)
    assert data == b""
    assert attributes["payloadFormat"] == "NONE"


def test_only_the_prefix_filters_as_in_gcs() -> None:
    csv_only = config("incoming/")
    assert csv_only.matches("lake", "incoming/notes.txt")  # a suffix is the shim's to apply
    assert not csv_only.matches("lake", "archive/rows.csv")
    assert not csv_only.matches("other", "incoming/rows.csv")
    assert not csv_only.matches("lake", "incoming/rows.csv", "OBJECT_DELETE")
    assert config(event_types=()).matches("lake", "x", "OBJECT_DELETE")  # none listed: all


def test_the_shim_reads_the_played_notification_as_an_object_event() -> None:
    pipeline = Pipeline("notified")
    lake = pipeline.bucket("lake")
    seen = []

    @pipeline.on_object_created(lake, prefix="incoming/", suffix=".csv")
    def ingest(event: Any) -> None:
        seen.append(event)

    trigger = pipeline.function("ingest").trigger
    data, attributes = finalize_message(config("incoming/"), RESOURCE)
    push = {
        "subscription": f"projects/{PROJECT}/subscriptions/ingest",
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": attributes,
            "messageId": "42",
            "publishTime": "2026-11-29T21:00:00.200Z",
        },
    }
    delivery = native_events.pubsub_delivery({"content-type": "application/json"}, json.dumps(push))
    event = native_events.object_event_of(delivery, trigger)  # type: ignore[arg-type]
    assert event is not None
    assert (event.bucket, event.key, event.size) == ("lake", "incoming/a b.csv", 8)
    assert event.etag == hashlib.md5(b"a,b\n1,2\n").hexdigest()


def test_only_writes_that_create_an_object_count() -> None:
    body = json.dumps(RESOURCE).encode()
    assert created_object("POST", "/upload/storage/v1/b/lake/o", 200, body) == RESOURCE
    assert created_object("PUT", "/upload/storage/v1/b/lake/o", 200, body) == RESOURCE
    assert created_object("PUT", "/upload/storage/v1/b/lake/o", 308, b"") is None
    assert created_object("PATCH", "/storage/v1/b/lake/o/incoming%2Fa", 200, body) is None
    assert created_object("GET", "/storage/v1/b/lake/o/incoming%2Fa", 200, body) is None
    assert created_object("POST", "/upload/storage/v1/b/lake/o", 412, body) is None
    rewrite = json.dumps({"kind": "storage#rewriteResponse", "done": True, "resource": RESOURCE})
    assert (
        created_object("POST", "/storage/v1/b/a/o/x/rewriteTo/b/lake/o/y", 200, rewrite.encode())
        == RESOURCE
    )


# -- over the wire ---------------------------------------------------------------------------


@pytest.fixture
def notified(
    gcp_environment: EmulatorEndpoints, unique_name: Callable[[str], str]
) -> Iterator[tuple[Any, Any, str, str, NotificationPlayer]]:
    """A bucket behind a storage front, a notification config publishing ``incoming/``
    objects to a topic, and a pull subscription of that topic:
    ``(bucket, subscriber, subscription path, topic path, player)``."""
    direct = GcpClients(PROJECT, "europe-west1", pubsub_endpoint=gcp_environment.pubsub)
    topic = direct.publisher.create_topic(
        name=f"projects/{PROJECT}/topics/{unique_name('events')}"
    ).name
    subscription = direct.subscriber.create_subscription(
        request={"name": topic.replace("/topics/", "/subscriptions/"), "topic": topic}
    ).name
    player_box: list[NotificationPlayer] = []
    front = StorageFront(gcp_environment.storage, lambda r: player_box[0].object_finalized(r))
    front.start()
    try:
        clients = GcpClients(PROJECT, "europe-west1", storage_endpoint=front.endpoint)
        bucket = clients.storage.create_bucket(unique_name("lake"))
        player = NotificationPlayer(
            direct.publisher,
            [NotificationConfig("1", bucket.name, topic, object_name_prefix="incoming/")],
        )
        player_box.append(player)
        yield bucket, direct.subscriber, subscription, topic, player
    finally:
        front.stop()


def pull_all(subscriber: Any, subscription: str) -> list[Any]:
    from google.api_core import exceptions

    try:
        response = subscriber.pull(
            request={"subscription": subscription, "max_messages": 10}, timeout=5, retry=None
        )
    except exceptions.DeadlineExceeded:
        return []
    return [received.message for received in response.received_messages]


def test_an_object_written_through_the_front_is_notified_with_its_resource(
    notified: tuple[Any, Any, str, str, NotificationPlayer],
) -> None:
    bucket, subscriber, subscription, _topic, _player = notified
    blob = bucket.blob("incoming/report é 1+2.csv")
    blob.upload_from_string(b"a,b\n1,2\n", content_type="text/csv")
    (message,) = pull_all(subscriber, subscription)
    blob.reload()
    resource = json.loads(message.data)
    assert resource["name"] == "incoming/report é 1+2.csv"
    assert resource["bucket"] == bucket.name
    assert resource["size"] == "8"
    assert resource["md5Hash"] == blob.md5_hash
    attributes = dict(message.attributes)
    assert attributes["eventType"] == "OBJECT_FINALIZE"
    assert attributes["payloadFormat"] == "JSON_API_V1"
    assert attributes["bucketId"] == bucket.name
    assert attributes["objectId"] == "incoming/report é 1+2.csv"
    assert attributes["objectGeneration"] == str(blob.generation)
    assert attributes["notificationConfig"] == (
        f"projects/_/buckets/{bucket.name}/notificationConfigs/1"
    )


def test_objects_outside_the_prefix_and_metadata_updates_are_not_notified(
    notified: tuple[Any, Any, str, str, NotificationPlayer],
) -> None:
    bucket, subscriber, subscription, _topic, player = notified
    bucket.blob("archive/rows.csv").upload_from_string(b"x")
    blob = bucket.blob("incoming/rows.csv")
    blob.upload_from_string(b"x")
    blob.metadata = {"checked": "yes"}
    blob.patch()
    messages = pull_all(subscriber, subscription)
    assert [m.attributes["objectId"] for m in messages] == ["incoming/rows.csv"]
    assert [a["objectId"] for _, a in player.published] == ["incoming/rows.csv"]


def test_a_resumable_upload_is_notified_once_when_it_completes(
    notified: tuple[Any, Any, str, str, NotificationPlayer],
) -> None:
    bucket, subscriber, subscription, _topic, _player = notified
    blob = bucket.blob("incoming/big.bin", chunk_size=256 * 1024)  # forces resumable
    data = bytes(range(256)) * 2048  # 512 KiB: two chunks through the front
    blob.upload_from_string(data)
    (message,) = pull_all(subscriber, subscription)
    assert json.loads(message.data)["size"] == str(len(data))


def test_a_second_write_names_the_generation_it_replaced(
    notified: tuple[Any, Any, str, str, NotificationPlayer],
) -> None:
    bucket, subscriber, subscription, _topic, _player = notified
    blob = bucket.blob("incoming/twice.csv")
    blob.upload_from_string(b"1")
    first = blob.generation
    blob.upload_from_string(b"2")
    messages = pull_all(subscriber, subscription)
    by_generation = {m.attributes["objectGeneration"]: dict(m.attributes) for m in messages}
    assert "overwroteGeneration" not in by_generation[str(first)]
    assert by_generation[str(blob.generation)]["overwroteGeneration"] == str(first)
