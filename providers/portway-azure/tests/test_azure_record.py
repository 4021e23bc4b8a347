"""The deploy record and the stage lock, over the wire on Azurite: conditional blob writes
(``If-None-Match: *`` to create, ``If-Match`` to update) keep two deploys apart."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest
from portway_azure.deploy import record as records
from portway_azure.deploy.apply import apply_plan
from portway_azure.deploy.planner import plan_deploy
from portway_azure.deploy.record import Record, RecordedResource
from portway_azure.deploy.requests import ArmRequest
from portway_azure.deploy.resources import AzureResource, Kind, Observed
from portway_azure.naming import STATE_CONTAINER, Names

from portway.errors import DeployError

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient, ContainerClient

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def blobs(azurite_connection_string: str) -> BlobServiceClient:
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(azurite_connection_string)


@pytest.fixture
def state(blobs: BlobServiceClient, unique_name: str) -> ContainerClient:
    container = blobs.get_container_client(unique_name)
    records.ensure_state_container(container)
    return container


def a_record(etag: str | None = None, spec_hash: str = "0123456789abcdef") -> Record:
    resource = RecordedResource(
        Kind.STORAGE_QUEUE, "q-jobs", "/id", spec_hash, {}, "queue jobs", "acct"
    )
    return Record("shop", "dev", (resource,), "2026-11-29T00:00:00+00:00", etag)


def test_a_record_written_first_reads_back_with_its_etag(state: ContainerClient) -> None:
    assert records.read_record(state, "shop", "dev") is None
    records.write_record(state, a_record(), None)
    found = records.read_record(state, "shop", "dev")
    assert found is not None
    assert found.etag
    assert found.resources == a_record().resources


def test_ensuring_the_state_container_twice_is_harmless(state: ContainerClient) -> None:
    records.ensure_state_container(state)
    assert state.exists()


def test_a_first_write_fails_when_another_deploy_wrote_a_record_meanwhile(
    state: ContainerClient,
) -> None:
    records.write_record(state, a_record(), None)
    with pytest.raises(DeployError, match="changed while this deploy ran"):
        records.write_record(state, a_record(spec_hash="fedcba9876543210"), None)


def test_a_stale_record_write_fails_and_keeps_the_newer_record(state: ContainerClient) -> None:
    records.write_record(state, a_record(), None)
    read_by_first = records.read_record(state, "shop", "dev")
    read_by_second = records.read_record(state, "shop", "dev")
    assert read_by_first is not None
    assert read_by_second is not None
    records.write_record(state, a_record(spec_hash="1111111111111111"), read_by_second)
    with pytest.raises(DeployError, match="another deploy finished first"):
        records.write_record(state, a_record(spec_hash="2222222222222222"), read_by_first)
    kept = records.read_record(state, "shop", "dev")
    assert kept is not None
    assert kept.resources[0].spec_hash == "1111111111111111"


def test_an_update_with_the_current_etag_succeeds(state: ContainerClient) -> None:
    records.write_record(state, a_record(), None)
    current = records.read_record(state, "shop", "dev")
    records.write_record(state, a_record(spec_hash="3333333333333333"), current)
    updated = records.read_record(state, "shop", "dev")
    assert updated is not None
    assert updated.etag != (current.etag if current else None)


def test_the_lock_refuses_a_second_holder_and_names_the_first(state: ContainerClient) -> None:
    records.acquire_lock(state, "shop", "dev", "deploy")
    with pytest.raises(DeployError, match=r"locked by deploy from .* \(pid \d+\)"):
        records.acquire_lock(state, "shop", "dev", "destroy")
    records.release_lock(state, "shop", "dev")
    records.acquire_lock(state, "shop", "dev", "destroy")
    records.release_lock(state, "shop", "dev")


def test_of_two_deploys_racing_for_the_lock_exactly_one_wins(state: ContainerClient) -> None:
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def take() -> None:
        start.wait()
        try:
            records.acquire_lock(state, "shop", "dev", "deploy")
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
    records.acquire_lock(state, "shop", "dev", "deploy")
    records.acquire_lock(state, "shop", "prod", "deploy")
    records.release_lock(state, "shop", "dev")
    records.release_lock(state, "shop", "prod")


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
    plan = plan_deploy(names.app, "dev", [queue], {}, None)

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
    state = blobs.get_container_client(STATE_CONTAINER)
    written = records.read_record(state, names.app, "dev")
    assert written is not None
    assert [r.key for r in written.resources] == [queue.key]
    records.acquire_lock(state, names.app, "dev", "deploy")  # released after the deploy
    records.release_lock(state, names.app, "dev")
