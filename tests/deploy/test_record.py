"""The deploy record document and the stage lock, over a RecordStore.

Each provider tests its own store against its emulator (portway-aws: moto's S3, which
enforces conditional writes). Here the store is the ``stage`` fixture's dict-backed one
(conftest.py), so the core's rules are checked without a cloud.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from typing import Any

import pytest

from portway.deploy.record import (
    Record,
    RecordedResource,
    RecordStore,
    StageRecords,
    lock_key,
    record_key,
)
from portway.errors import DeployError
from portway.testing.record_store import check_record_store

QUEUE = RecordedResource(
    "test:queue", "jobs", "0123456789abcdef", {"retention": 60}, "queue jobs", {"arn": "arn:q"}
)


def test_records_and_locks_live_under_the_app_and_stage() -> None:
    assert record_key("demo", "prod") == "deployments/demo/prod.json"
    assert lock_key("demo", "prod") == "locks/demo/prod.json"


def test_a_record_round_trips_through_its_json_with_provider_extras() -> None:
    record = Record("demo", "prod", (QUEUE,), "2026-11-29T10:00:00+00:00")
    document = json.loads(record.to_json())
    assert document["version"] == 1
    assert document["resources"] == [
        {
            "arn": "arn:q",
            "kind": "test:queue",
            "name": "jobs",
            "neutral": "queue jobs",
            "spec": {"retention": 60},
            "spec_hash": "0123456789abcdef",
        }
    ]
    read = Record.from_json(record.to_json(), "etag-1")
    assert read == Record("demo", "prod", (QUEUE,), "2026-11-29T10:00:00+00:00", "etag-1")
    assert read.by_key() == {("test:queue", "jobs"): QUEUE}


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"app": "demo", "stage": "prod"}',
        b'{"app": "demo", "stage": "prod", "deployed_at": "", "resources": [{"kind": "x"}]}',
        b'{"app": 1, "stage": "prod", "deployed_at": "", "resources": []}',
        b'{"app": "a", "stage": "p", "deployed_at": "", "resources": '
        b'[{"kind": "k", "name": "n", "spec_hash": "h", "spec": []}]}',
    ],
)
def test_a_corrupt_record_is_a_clear_deploy_error(data: bytes) -> None:
    with pytest.raises(DeployError, match="the deploy record is unreadable"):
        Record.from_json(data, None)


def test_a_first_record_is_written_then_read_with_its_version(stage: StageRecords) -> None:
    assert stage.read() is None
    stage.write(Record("demo", "prod", (QUEUE,), "t"), None)
    read = stage.read()
    assert read is not None
    assert read.version == "v1"
    assert read.resources == (QUEUE,)


def test_a_record_changed_since_it_was_read_is_not_overwritten(stage: StageRecords) -> None:
    stage.write(Record("demo", "prod", (QUEUE,), "t"), None)
    seen = stage.read()
    stage.write(Record("demo", "prod", (), "t2"), seen)  # another deploy finished first
    with pytest.raises(DeployError, match=r"changed while this deploy ran.*--stage prod"):
        stage.write(Record("demo", "prod", (QUEUE,), "t3"), seen)


def test_a_first_record_is_not_written_over_one_that_appeared(stage: StageRecords) -> None:
    stage.write(Record("demo", "prod", (), "t"), None)
    with pytest.raises(DeployError, match="changed while this deploy ran"):
        stage.write(Record("demo", "prod", (QUEUE,), "t"), None)


def test_deleting_a_record_forgets_the_deployment(stage: StageRecords) -> None:
    stage.write(Record("demo", "prod", (), "t"), None)
    stage.delete()
    assert stage.read() is None
    stage.delete()  # gone already is fine


def test_a_held_lock_refuses_a_second_deploy_naming_the_holder(stage: StageRecords) -> None:
    stage.acquire("deploy")
    with pytest.raises(DeployError) as error:
        stage.acquire("destroy")
    message = str(error.value)
    assert f"locked by deploy from {socket.gethostname()} (pid " in message
    assert "remove the lock: forget locks/demo/prod.json" in message
    stage.release()
    stage.acquire("destroy")  # free again


def test_an_unreadable_lock_still_refuses_naming_no_holder(stage: StageRecords) -> None:
    stage.store.create(stage.lock_key, b"\xff not json")
    with pytest.raises(DeployError, match="locked by another deploy"):
        stage.acquire("deploy")


def test_a_lock_left_by_a_killed_process_on_this_machine_is_taken_over(
    stage: StageRecords,
) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    holder = {"operation": "deploy", "host": socket.gethostname(), "pid": int(gone.stdout)}
    stage.store.create(stage.lock_key, json.dumps(holder).encode())
    stage.acquire("deploy")
    stored = stage.store.read(stage.lock_key)
    assert stored is not None
    assert json.loads(stored[0])["pid"] != holder["pid"]


def test_a_lock_of_another_machine_is_never_taken_over(stage: StageRecords) -> None:
    holder = {"operation": "deploy", "host": "elsewhere.invalid", "pid": 1}
    stage.store.create(stage.lock_key, json.dumps(holder).encode())
    with pytest.raises(DeployError, match=r"locked by deploy from elsewhere\.invalid"):
        stage.acquire("deploy")


def test_the_lock_is_released_when_the_locked_block_fails(stage: StageRecords) -> None:
    held: list[bool] = []

    def deploy() -> None:
        with stage.locked("deploy"):
            held.append(stage.store.read(stage.lock_key) is not None)
            raise RuntimeError("a change failed")

    with pytest.raises(RuntimeError, match="a change failed"):
        deploy()
    assert held == [True]
    assert stage.store.read(stage.lock_key) is None


def test_the_memory_store_keeps_the_record_store_contract(stage: StageRecords) -> None:
    check_record_store(stage.store, "deployments/demo/contract.json")


def test_the_contract_check_catches_a_store_that_ignores_versions(stage: StageRecords) -> None:
    class Careless:
        def __init__(self, inner: RecordStore) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def replace(self, key: str, body: bytes, version: str) -> bool:
            stored = self.inner.read(key)  # whatever the caller read: last writer wins
            return stored is not None and self.inner.replace(key, body, stored[1] or "")

    with pytest.raises(AssertionError, match="replace on a stale version succeeded"):
        check_record_store(Careless(stage.store), "deployments/demo/careless.json")
