"""The Azure data plane over the wire on Azurite: clients, containers, queues and topics."""

from __future__ import annotations

import json

import pytest
from portway_azure.clients import (
    RESOURCES,
    STORAGE,
    AzureClients,
    AzureResources,
    topic_endpoint,
)
from portway_azure.naming import Names
from portway_azure.testing.azurite import Azurite

from portway import Pipeline
from portway.config import StageConfig
from portway.errors import ConfigError
from portway.testing.imports import cloud_sdk_modules, modules_imported_by

NAMES = Names("orders", "test", "sub", "data-rg", "westeurope")

app = Pipeline("orders")
lake = app.bucket("lake")
jobs = app.queue("jobs")
loaded = app.topic("loaded")


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


def test_a_resource_missing_from_the_map_says_to_redeploy() -> None:
    resources = AzureResources.from_json(json.dumps({"buckets": {"lake": "b-lake"}}))

    with pytest.raises(ConfigError, match="portway deploy"):
        resources.queue("jobs")
