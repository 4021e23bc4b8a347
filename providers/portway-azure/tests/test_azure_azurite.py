"""Azurite as the tests and the conformance harness start it: both services, one account."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient
from portway_azure.testing.azurite import (
    ACCOUNT_NAME,
    BIN_DIR_VARIABLE,
    Azurite,
    AzuriteUnavailable,
)


def test_blob_and_queue_answer_through_the_connection_string(
    azurite: Azurite, unique_name: str
) -> None:
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = blobs.create_container(unique_name)
    container.upload_blob("a.txt", b"hello")
    queues = QueueServiceClient.from_connection_string(azurite.connection_string)
    queue = queues.create_queue(unique_name)
    queue.send_message("hi")

    assert container.download_blob("a.txt").readall() == b"hello"
    assert [message.content for message in queue.receive_messages()] == ["hi"]


def test_each_service_has_its_own_port_under_the_development_account(azurite: Azurite) -> None:
    assert azurite.blob_endpoint is not None
    assert azurite.queue_endpoint is not None
    assert azurite.blob_endpoint.endswith(f"/{ACCOUNT_NAME}")
    assert azurite.blob_endpoint != azurite.queue_endpoint
    assert f"BlobEndpoint={azurite.blob_endpoint};" in azurite.connection_string


def test_missing_azurite_names_make_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BIN_DIR_VARIABLE, str(tmp_path))

    with pytest.raises(AzuriteUnavailable, match="make test"):
        Azurite().start()


def test_a_stopped_azurite_has_no_connection_string() -> None:
    with pytest.raises(AzuriteUnavailable, match="not running"):
        _ = Azurite().connection_string
