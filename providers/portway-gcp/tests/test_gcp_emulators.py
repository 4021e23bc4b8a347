"""The emulator fixtures start real emulators, and GcpClients reaches each of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from portway_gcp.clients import GcpClients
from portway_gcp.testing.emulators import EmulatorUnavailable, PubSubEmulator

from portway.config import StageConfig
from portway.errors import ConfigError
from portway.testing.imports import cloud_sdk_modules, modules_imported_by

PROJECT = "portway-test"


def test_publisher_and_subscriber_reach_the_pubsub_emulator(
    gcp_clients: GcpClients, unique_name: Callable[[str], str]
) -> None:
    topic = f"projects/{PROJECT}/topics/{unique_name('topic')}"
    subscription = f"projects/{PROJECT}/subscriptions/{unique_name('subscription')}"
    gcp_clients.publisher.create_topic(name=topic)
    gcp_clients.subscriber.create_subscription(name=subscription, topic=topic)

    topics = [t.name for t in gcp_clients.publisher.list_topics(project=f"projects/{PROJECT}")]
    subscriptions = [
        s.name for s in gcp_clients.subscriber.list_subscriptions(project=f"projects/{PROJECT}")
    ]

    assert topic in topics
    assert subscription in subscriptions


def test_storage_client_reaches_the_storage_emulator(
    gcp_clients: GcpClients, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("bucket")
    gcp_clients.storage.create_bucket(name)

    assert name in [bucket.name for bucket in gcp_clients.storage.list_buckets()]


def test_functions_and_scheduler_clients_reach_drongo_over_rest(
    gcp_clients: GcpClients,
) -> None:
    parent = gcp_clients.location_path

    functions = list(gcp_clients.functions.list_functions(parent=parent))
    jobs = list(gcp_clients.scheduler.list_jobs(parent=parent))

    assert all(f.name.startswith(parent) for f in functions)
    assert all(j.name.startswith(parent) for j in jobs)


def test_iam_admin_client_reaches_drongos_iam_emulator(
    gcp_clients: GcpClients, unique_name: Callable[[str], str]
) -> None:
    from google.cloud import iam_admin_v1

    account_id = unique_name("sa")
    created = gcp_clients.iam_admin.create_service_account(
        request=iam_admin_v1.CreateServiceAccountRequest(
            name=f"projects/{PROJECT}", account_id=account_id
        )
    )
    listed = gcp_clients.iam_admin.list_service_accounts(name=f"projects/{PROJECT}")

    assert created.email == f"{account_id}@{PROJECT}.iam.gserviceaccount.com"
    assert created.email in [account.email for account in listed]


def test_clients_are_created_once_and_shared(gcp_clients: GcpClients) -> None:
    assert gcp_clients.storage is gcp_clients.storage
    assert gcp_clients.publisher is gcp_clients.publisher


def test_stage_settings_choose_the_emulators(gcp_stage: StageConfig) -> None:
    clients = GcpClients.for_stage(gcp_stage)

    assert clients.project == PROJECT
    assert clients.region == "europe-west1"
    assert clients.pubsub_endpoint == gcp_stage.settings["pubsub_endpoint"]
    assert clients.storage_endpoint == gcp_stage.settings["storage_endpoint"]
    assert clients.api_endpoint == gcp_stage.settings["api_endpoint"]
    assert clients.iam_endpoint == gcp_stage.settings["iam_endpoint"]
    assert clients.emulated


def test_the_emulator_variables_are_the_default_endpoints() -> None:
    environ = {"PUBSUB_EMULATOR_HOST": "127.0.0.1:1", "STORAGE_EMULATOR_HOST": "http://x:2"}

    clients = GcpClients("portway-test", "europe-west1", environ=environ)

    assert clients.pubsub_endpoint == "127.0.0.1:1"
    assert clients.storage_endpoint == "http://x:2"
    assert clients.api_endpoint is None


def test_a_stage_without_project_is_refused_with_the_setting_to_add() -> None:
    stage = StageConfig("prod", "gcp", {"region": "europe-west1"})

    with pytest.raises(ConfigError, match="'project'"):
        GcpClients.for_stage(stage)


def test_an_emulated_api_without_an_iam_emulator_refuses_to_reach_google() -> None:
    clients = GcpClients("portway-test", "europe-west1", api_endpoint="http://127.0.0.1:1")

    with pytest.raises(ConfigError, match="iam_endpoint"):
        clients.iam_admin  # noqa: B018


def test_a_missing_pubsub_emulator_is_reported_with_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTWAY_PUBSUB_EMULATOR", str(tmp_path / "absent"))
    emulator = PubSubEmulator(tmp_path / "pubsub.log")

    assert not emulator.installed()
    with pytest.raises(EmulatorUnavailable, match="PORTWAY_PUBSUB_EMULATOR"):
        emulator.start()


def test_importing_the_clients_module_imports_no_google_sdk() -> None:
    imported = modules_imported_by("import portway_gcp.clients")

    assert "portway_gcp.clients" in imported
    assert cloud_sdk_modules(imported, ("google", "grpc")) == []
