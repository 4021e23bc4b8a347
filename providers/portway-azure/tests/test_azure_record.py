"""The deploy record and the stage lock, over the wire on Azurite: conditional blob writes
(``If-None-Match: *`` to create, ``If-Match`` to update) keep two deploys apart."""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING, Any

import pytest
from portway_azure.deploy import record as records
from portway_azure.deploy.apply import apply_plan
from portway_azure.deploy.record import BlobRecordStore
from portway_azure.deploy.requests import ArmRequest
from portway_azure.deploy.resources import AzureResource, Kind, Observed
from portway_azure.naming import STATE_CONTAINER, Names

from portway.deploy.reconcile import plan_deploy
from portway.deploy.record import Record, StageRecords
from portway.errors import DeployError
from portway.testing.record_store import check_record_store

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient, ContainerClient

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
NAMES = Names("shop", "dev", SUBSCRIPTION, "rg", "westeurope")


@pytest.fixture
def blobs(azurite_connection_string: str) -> BlobServiceClient:
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(azurite_connection_string)


@pytest.fixture
def state(blobs: BlobServiceClient, unique_name: str) -> ContainerClient:
    container = blobs.get_container_client(unique_name)
    records.ensure_state_container(container)
    return container


def stage_records(state: ContainerClient, stage: str = "dev") -> StageRecords:
    return records.stage_records(state, dataclasses.replace(NAMES, stage=stage))


def a_record(spec_hash: str = "0123456789abcdef") -> Record:
    queue = AzureResource(
        Kind.STORAGE_QUEUE, "q-jobs", "/id", "queue jobs", {"role": "queue"}, "acct"
    )
    record = records.deploy_record(NAMES, [queue])
    entry = dataclasses.replace(record.resources[0], spec_hash=spec_hash)
    return dataclasses.replace(record, resources=(entry,))


def test_the_blob_store_keeps_the_record_store_contract(state: ContainerClient) -> None:
    check_record_store(BlobRecordStore(state), "deployments/shop/contract.json")


def test_the_blob_store_reads_nothing_from_a_missing_container(
    blobs: BlobServiceClient, unique_name: str
) -> None:
    store = BlobRecordStore(blobs.get_container_client(f"{unique_name}-none"))
    assert store.read("deployments/shop/dev.json") is None


def test_a_record_is_named_by_path_and_keeps_the_resource_id_and_parent(
    state: ContainerClient,
) -> None:
    stage = stage_records(state)
    assert stage.read() is None
    stage.write(a_record(), None)
    found = stage.read()
    assert found is not None
    assert found.version
    assert found.resources == a_record().resources
    (entry,) = found.resources
    assert entry.key == (Kind.STORAGE_QUEUE, "acct/q-jobs")
    assert entry.extra == {"resource_id": "/id", "parent": "acct"}


def test_ensuring_the_state_container_twice_is_harmless(state: ContainerClient) -> None:
    records.ensure_state_container(state)
    assert state.exists()


def test_a_first_write_fails_when_another_deploy_wrote_a_record_meanwhile(
    state: ContainerClient,
) -> None:
    stage = stage_records(state)
    stage.write(a_record(), None)
    with pytest.raises(DeployError, match="changed while this deploy ran"):
        stage.write(a_record(spec_hash="fedcba9876543210"), None)


def test_a_stale_record_write_fails_and_keeps_the_newer_record(state: ContainerClient) -> None:
    stage = stage_records(state)
    stage.write(a_record(), None)
    read_by_first = stage.read()
    read_by_second = stage.read()
    assert read_by_first is not None
    assert read_by_second is not None
    stage.write(a_record(spec_hash="1111111111111111"), read_by_second)
    with pytest.raises(DeployError, match="another deploy finished first"):
        stage.write(a_record(spec_hash="2222222222222222"), read_by_first)
    kept = stage.read()
    assert kept is not None
    assert kept.resources[0].spec_hash == "1111111111111111"


def test_an_update_with_the_current_etag_succeeds(state: ContainerClient) -> None:
    stage = stage_records(state)
    stage.write(a_record(), None)
    current = stage.read()
    assert current is not None
    stage.write(a_record(spec_hash="3333333333333333"), current)
    updated = stage.read()
    assert updated is not None
    assert updated.resources[0].spec_hash == "3333333333333333"
    assert updated.version != current.version


def test_the_lock_refuses_a_second_holder_and_names_the_first(state: ContainerClient) -> None:
    stage = stage_records(state)
    stage.acquire("deploy")
    with pytest.raises(DeployError, match=r"locked by deploy from .* \(pid \d+\)") as refused:
        stage.acquire("destroy")
    assert f"az storage blob delete --account-name {state.account_name}" in str(refused.value)
    stage.release()
    stage.acquire("destroy")
    stage.release()


def test_of_two_deploys_racing_for_the_lock_exactly_one_wins(state: ContainerClient) -> None:
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def take() -> None:
        start.wait()
        try:
            stage_records(state).acquire("deploy")
            outcomes.append("won")
        except DeployError:
            outcomes.append("refused")

    threads = [threading.Thread(target=take) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["refused", "won"]


def test_locks_of_two_stages_are_independent(state: ContainerClient) -> None:
    dev, prod = stage_records(state), stage_records(state, "prod")
    dev.acquire("deploy")
    prod.acquire("deploy")
    dev.release()
    prod.release()


class SecondDeployDuringFirst:
    """A sender that, while the first deploy applies its change, starts a second one."""

    def __init__(self, second: Any) -> None:
        self.second = second
        self.sent: list[ArmRequest] = []
        self.second_error: DeployError | None = None

    def send(self, request: ArmRequest) -> None:
        self.sent.append(request)
        try:
            self.second()
        except DeployError as error:
            self.second_error = error


def test_a_second_concurrent_deploy_fails_clearly_and_the_first_records(
    blobs: BlobServiceClient, unique_name: str
) -> None:
    # The stage's data account is the Azurite account: its state container is shared by
    # every test, so this test's app name is unique instead.
    names = Names(unique_name, "dev", SUBSCRIPTION, "rg", "westeurope")
    queue = AzureResource(
        Kind.STORAGE_QUEUE, "q-jobs", "/queues/q-jobs", "queue jobs", {"role": "queue"}, "acct"
    )
    # The data account exists (it holds the lock); the plan only adds a queue to it.
    account = Observed(Kind.STORAGE_ACCOUNT, names.storage_account, "/account", "h")
    plan = plan_deploy("azure", names.app, "dev", [queue], {}, None)

    def second() -> None:
        apply_plan(
            plan,
            SecondDeployDuringFirst(lambda: None),
            names,
            lambda: blobs,
            desired=[queue],
            observed={account.key: account},
            progress=lambda line: None,
        )

    sender = SecondDeployDuringFirst(second)
    apply_plan(
        plan,
        sender,
        names,
        lambda: blobs,
        desired=[queue],
        observed={account.key: account},
        progress=lambda _: None,
    )
    assert sender.second_error is not None
    assert f"stage 'dev' of {unique_name!r} is locked by deploy" in str(sender.second_error)
    assert [r.operation for r in sender.sent] == ["storage.queue.create"]
    stage = records.stage_records(blobs.get_container_client(STATE_CONTAINER), names)
    written = stage.read()
    assert written is not None
    assert [r.key for r in written.resources] == [queue.key]
    stage.acquire("deploy")  # released after the deploy
    stage.release()
