"""Desired state: what the example pipeline becomes on Azure, resource by resource (pure)."""

from __future__ import annotations

import re

import pytest
from portway_azure.clients import CLIENT_ID, RESOURCES
from portway_azure.deploy.app_groups import role_assignment_name
from portway_azure.deploy.desired import data_plane_resources, desired_resources
from portway_azure.deploy.resources import AzureResource, Kind
from portway_azure.grouping import group_functions
from portway_azure.naming import Names
from portway_azure.roles import RoleAssignment, host_storage_assignment, role_assignments

from portway import Message, Pipeline
from portway.errors import ValidationError

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
NAMES = Names("lake-to-warehouse", "prod", SUBSCRIPTION, "data-rg", "westeurope")
GROUP = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/data-rg"
DATA = NAMES.storage_account
HOST = NAMES.host_storage_account


@pytest.fixture(scope="module")
def desired(example: Pipeline) -> tuple[AzureResource, ...]:
    return desired_resources(example, NAMES, app="pipeline:app")


def of_kind(resources: tuple[AzureResource, ...], kind: Kind) -> dict[str, AzureResource]:
    return {r.path: r for r in resources if r.kind is kind}


def test_data_plane_holds_a_container_per_bucket_and_each_queue_with_its_poison_queue(
    desired: tuple[AzureResource, ...],
) -> None:
    found = sorted((r.kind.value, r.name) for r in data_plane_resources(desired, NAMES))
    assert found == [
        ("storage:container", "b-lake"),
        ("storage:container", "b-landing"),
        ("storage:queue", "q-transform-jobs"),
        ("storage:queue", "q-transform-jobs-poison"),
        ("storage:queue", "t-enqueue"),
        ("storage:queue", "t-enqueue-poison"),
        ("storage:queue", "t-report"),
        ("storage:queue", "t-report-poison"),
    ]


def test_host_storage_is_a_second_account_holding_only_the_packages(
    desired: tuple[AzureResource, ...],
) -> None:
    accounts = of_kind(desired, Kind.STORAGE_ACCOUNT)
    assert {path: r.spec["purpose"] for path, r in accounts.items()} == {
        DATA: "data",
        HOST: "host",
    }
    assert DATA != HOST
    in_host = sorted(r.name for r in desired if r.parent == HOST)
    assert in_host == [
        f"package-{g}" for g in ("enqueue", "pull-ftp", "report", "status", "transform")
    ]


def test_object_trigger_is_a_blob_created_subscription_with_prefix_and_suffix(
    desired: tuple[AzureResource, ...],
) -> None:
    system = of_kind(desired, Kind.EVENTGRID_SYSTEM_TOPIC)
    assert list(system) == [NAMES.storage_system_topic]
    assert system[NAMES.storage_system_topic].spec["source"] == (
        f"{GROUP}/providers/Microsoft.Storage/storageAccounts/{DATA}"
    )
    subscription = of_kind(desired, Kind.EVENT_SUBSCRIPTION)[
        f"{NAMES.storage_system_topic}/t-enqueue"
    ]
    assert subscription.spec["included_event_types"] == ["Microsoft.Storage.BlobCreated"]
    assert subscription.spec["subject_begins_with"] == (
        "/blobServices/default/containers/b-landing/blobs/"
    )
    assert subscription.spec["subject_ends_with"] == ".csv"
    assert subscription.spec["queue"] == "t-enqueue"


def test_each_topic_subscriber_gets_its_own_subscription_into_its_own_queue(
    desired: tuple[AzureResource, ...],
) -> None:
    topics = of_kind(desired, Kind.EVENTGRID_TOPIC)
    assert list(topics) == ["lake-to-warehouse-prod-loaded"]
    subscriptions = {
        path: r.spec["queue"]
        for path, r in of_kind(desired, Kind.EVENT_SUBSCRIPTION).items()
        if r.spec["source"] == "topic"
    }
    assert subscriptions == {"lake-to-warehouse-prod-loaded/t-report": "t-report"}


def test_two_subscribers_of_one_topic_fan_out_into_separate_queues() -> None:
    app = Pipeline("fan")
    news = app.topic("news")

    @app.on_message(news)
    def first(message: Message) -> None: ...

    @app.on_message(news)
    def second(message: Message) -> None: ...

    names = Names("fan", "dev", SUBSCRIPTION, "rg", "westeurope")
    resources = desired_resources(app, names, app="pipeline:app")
    subscriptions = of_kind(resources, Kind.EVENT_SUBSCRIPTION)
    assert {r.spec["queue"] for r in subscriptions.values()} == {"t-first", "t-second"}
    queues = {r.name for r in data_plane_resources(resources, names)}
    assert queues == {"t-first", "t-first-poison", "t-second", "t-second-poison"}


def test_role_assignments_are_the_groups_exact_roles_plus_the_host_storage_role(
    example: Pipeline, desired: tuple[AzureResource, ...]
) -> None:
    expected: set[RoleAssignment] = set()
    for group in group_functions(example):
        expected.update(role_assignments(group, NAMES))
        expected.add(host_storage_assignment(group, NAMES))
    found = of_kind(desired, Kind.ROLE_ASSIGNMENT)
    assert {(r.spec["scope"], r.spec["role"], r.spec["principal"]) for r in found.values()} == {
        (a.scope, a.role.name, a.principal) for a in expected
    }
    assert set(found) == {role_assignment_name(a) for a in expected}


def test_no_role_is_granted_on_the_data_account_or_the_resource_group(
    desired: tuple[AzureResource, ...],
) -> None:
    scopes = {r.spec["scope"] for r in of_kind(desired, Kind.ROLE_ASSIGNMENT).values()}
    data_account = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/{DATA}"
    assert data_account not in scopes
    assert GROUP not in scopes
    host_account = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/{HOST}"
    account_wide = {s for s in scopes if s.endswith(f"/storageAccounts/{HOST}")}
    assert account_wide == {host_account}
    for scope in scopes - account_wide:
        assert "/containers/" in scope or "/queues/" in scope or "/topics/" in scope


def test_role_assignment_names_are_stable_guids_distinct_per_assignment(
    example: Pipeline, desired: tuple[AzureResource, ...]
) -> None:
    again = desired_resources(example, NAMES, app="pipeline:app")
    assert (
        of_kind(again, Kind.ROLE_ASSIGNMENT).keys() == of_kind(desired, Kind.ROLE_ASSIGNMENT).keys()
    )
    other = Names("lake-to-warehouse", "dev", SUBSCRIPTION, "data-rg", "westeurope")
    elsewhere = desired_resources(example, other, app="pipeline:app")
    assert (
        not of_kind(elsewhere, Kind.ROLE_ASSIGNMENT).keys()
        & of_kind(desired, Kind.ROLE_ASSIGNMENT).keys()
    )


def test_function_app_settings_hold_the_portway_contract_and_resolve_the_identity(
    desired: tuple[AzureResource, ...],
) -> None:
    apps = {r.neutral: r for r in of_kind(desired, Kind.FUNCTION_APP).values()}
    transform = apps["functions transform"]
    settings = transform.spec["app_settings"]
    assert settings["PORTWAY_APP"] == "pipeline:app"
    assert settings["PORTWAY_STAGE"] == "prod"
    assert settings["AzureWebJobsStorage__accountName"] == HOST
    assert settings["PORTWAY_STORAGE__queueServiceUri"] == f"https://{DATA}.queue.core.windows.net"
    assert settings["PORTWAY_STORAGE__blobServiceUri"] == f"https://{DATA}.blob.core.windows.net"
    assert settings["PORTWAY_STORAGE__credential"] == "managedidentity"
    assert "FUNCTIONS_WORKER_RUNTIME" not in settings  # Flex Consumption refuses it
    resolve = transform.spec["resolve"]
    identity = transform.spec["identity"]
    for key in (CLIENT_ID, "AzureWebJobsStorage__clientId"):
        assert resolve[key] == {"resolve": "identity-client-id", "identity": identity}
    assert resolve[RESOURCES] == {
        "resolve": "resources",
        "buckets": {"lake": "b-lake", "landing": "b-landing"},
        "queues": {},
        "topics": {"loaded": "lake-to-warehouse-prod-loaded"},
    }
    assert apps["functions report"].spec["resolve"][RESOURCES]["topics"] == {}


def test_function_app_waits_for_its_plan_identity_package_container_and_roles(
    desired: tuple[AzureResource, ...],
) -> None:
    keys = {r.key for r in desired}
    for resource in desired:
        assert set(resource.depends_on) <= keys, resource.path
        for kind, _ in resource.depends_on:
            assert kind.rank <= resource.kind.rank
    app = next(iter(of_kind(desired, Kind.FUNCTION_APP).values()))
    needed = {kind for kind, _ in app.depends_on}
    assert needed == {
        Kind.APP_SERVICE_PLAN,
        Kind.MANAGED_IDENTITY,
        Kind.STORAGE_CONTAINER,
        Kind.ROLE_ASSIGNMENT,
    }


def test_a_new_package_changes_only_its_groups_function_app(
    example: Pipeline, desired: tuple[AzureResource, ...]
) -> None:
    group = NAMES.function_app("transform")
    changed = desired_resources(
        example, NAMES, app="pipeline:app", packages={"transform": "ab" * 32}
    )
    differ = [new.key for old, new in zip(desired, changed, strict=True) if old != new]
    assert differ == [(Kind.FUNCTION_APP, group)]


def test_an_environment_variable_the_host_reads_is_refused() -> None:
    app = Pipeline("env")

    @app.on_message(app.queue("jobs"), environment={"AzureWebJobsStorage": "x"})
    def work(message: Message) -> None: ...

    names = Names("env", "dev", SUBSCRIPTION, "rg", "westeurope")
    with pytest.raises(ValidationError, match="AzureWebJobsStorage"):
        desired_resources(app, names, app="pipeline:app")


def test_host_account_name_is_a_valid_account_name_apart_from_the_data_account() -> None:
    long = Names("a" * 40, "s" * 20, SUBSCRIPTION, "rg", "westeurope")
    for names in (NAMES, long, Names("ab", "c", SUBSCRIPTION, "rg", "westeurope")):
        host = names.host_storage_account
        assert re.fullmatch(r"[a-z0-9]{3,24}", host)
        assert host != names.storage_account
    again = Names("lake-to-warehouse", "prod", SUBSCRIPTION, "data-rg", "westeurope")
    assert again.host_storage_account == HOST
    elsewhere = Names("lake-to-warehouse", "prod", SUBSCRIPTION, "other-rg", "westeurope")
    assert elsewhere.host_storage_account != HOST
