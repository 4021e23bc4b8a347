"""Role assignments of each app group's identity, asserted whole: exact built-in roles
on exact containers, queues and topics, never on the account or the resource group."""

from __future__ import annotations

import re

from portway_azure.grouping import group_functions, group_of
from portway_azure.naming import Names
from portway_azure.roles import (
    EVENTGRID_DATA_SENDER,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_BLOB_DATA_READER,
    STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR,
    STORAGE_QUEUE_DATA_MESSAGE_SENDER,
    STORAGE_QUEUE_DATA_READER,
    Role,
    RoleAssignment,
    identity_name,
    portability_notes,
    role_assignments,
)

from portway import HttpRequest, Pipeline

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
NAMES = Names("lake-to-warehouse", "prod", SUBSCRIPTION, "data-rg", "westeurope")
GROUP = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/data-rg"
ACCOUNT = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/laketowarehousep5f5dd76d"
CONTAINERS = f"{ACCOUNT}/blobServices/default/containers/"
QUEUES = f"{ACCOUNT}/queueServices/default/queues/"
TOPICS = f"{GROUP}/providers/Microsoft.EventGrid/topics/"


def assignments(pipeline: Pipeline, function: str) -> list[tuple[str, Role]]:
    """The (scope, role) pairs of ``function``'s group; checks they all name its identity."""
    group = group_of(group_functions(pipeline), function)
    found = role_assignments(group, NAMES)
    assert {a.principal for a in found} == {identity_name(group, NAMES)}
    return [(a.scope, a.role) for a in found]


def test_role_ids_are_azures_built_in_role_definitions() -> None:
    assert {role.name: role.id for role in ALL_ROLES} == {
        "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
        "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        "Storage Queue Data Reader": "19e7f393-937e-4f77-808e-94535e297925",
        "Storage Queue Data Message Sender": "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a",
        "Storage Queue Data Message Processor": "8a0f0c08-91a1-4084-bc3d-661d67233fed",
        "EventGrid Data Sender": "d5a91429-5739-47e2-a06b-3470a27159e7",
    }
    assert STORAGE_BLOB_DATA_READER.definition(SUBSCRIPTION) == (
        f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
        "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
    )


ALL_ROLES = (
    STORAGE_BLOB_DATA_READER,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_QUEUE_DATA_READER,
    STORAGE_QUEUE_DATA_MESSAGE_SENDER,
    STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR,
    EVENTGRID_DATA_SENDER,
)


def test_pull_ftp_may_write_landing_only(example: Pipeline) -> None:
    assert assignments(example, "pull_ftp") == [
        (CONTAINERS + "b-landing", STORAGE_BLOB_DATA_CONTRIBUTOR),
    ]


def test_enqueue_may_process_its_trigger_queue_and_send_to_jobs(example: Pipeline) -> None:
    assert assignments(example, "enqueue") == [
        (QUEUES + "q-transform-jobs", STORAGE_QUEUE_DATA_MESSAGE_SENDER),
        (QUEUES + "t-enqueue", STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR),
        (QUEUES + "t-enqueue", STORAGE_QUEUE_DATA_READER),
        (QUEUES + "t-enqueue-poison", STORAGE_QUEUE_DATA_MESSAGE_SENDER),
    ]


def test_transform_may_process_jobs_read_landing_write_lake_and_publish(
    example: Pipeline,
) -> None:
    assert assignments(example, "transform") == [
        (TOPICS + "lake-to-warehouse-prod-loaded", EVENTGRID_DATA_SENDER),
        (CONTAINERS + "b-lake", STORAGE_BLOB_DATA_CONTRIBUTOR),
        (CONTAINERS + "b-landing", STORAGE_BLOB_DATA_READER),
        (QUEUES + "q-transform-jobs", STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR),
        (QUEUES + "q-transform-jobs", STORAGE_QUEUE_DATA_READER),
        (QUEUES + "q-transform-jobs-poison", STORAGE_QUEUE_DATA_MESSAGE_SENDER),
    ]


def test_report_may_process_its_subscription_queue_and_read_lake(example: Pipeline) -> None:
    assert assignments(example, "report") == [
        (CONTAINERS + "b-lake", STORAGE_BLOB_DATA_READER),
        (QUEUES + "t-report", STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR),
        (QUEUES + "t-report", STORAGE_QUEUE_DATA_READER),
        (QUEUES + "t-report-poison", STORAGE_QUEUE_DATA_MESSAGE_SENDER),
    ]


def test_status_may_list_lake_only(example: Pipeline) -> None:
    assert assignments(example, "status") == [(CONTAINERS + "b-lake", STORAGE_BLOB_DATA_READER)]


def test_no_assignment_is_scoped_to_the_account_resource_group_or_subscription(
    example: Pipeline,
) -> None:
    exact = re.compile(
        rf"^{re.escape(CONTAINERS)}[a-z0-9-]+$"
        rf"|^{re.escape(QUEUES)}[a-z0-9-]+$"
        rf"|^{re.escape(TOPICS)}[A-Za-z0-9-]+$"
    )
    every = [a for g in group_functions(example) for a in role_assignments(g, NAMES)]
    assert len(every) == 16
    for assignment in every:
        assert exact.fullmatch(assignment.scope), assignment
        assert assignment.scope not in (ACCOUNT, GROUP, f"/subscriptions/{SUBSCRIPTION}")


def test_every_group_has_its_own_identity(example: Pipeline) -> None:
    groups = group_functions(example)
    identities = {identity_name(group, NAMES) for group in groups}
    assert len(identities) == len(groups)


def test_a_container_read_and_written_gets_the_contributor_role_alone() -> None:
    app = Pipeline("lake-to-warehouse")
    lake = app.bucket("lake")

    @app.http("POST", "/compact", uses=[lake.read(), lake.list(), lake.write(), lake.delete()])
    def compact(request: HttpRequest) -> None: ...

    group = group_functions(app)[0]
    assert role_assignments(group, NAMES) == [
        RoleAssignment(
            CONTAINERS + "b-lake", STORAGE_BLOB_DATA_CONTRIBUTOR, identity_name(group, NAMES)
        )
    ]
    assert portability_notes(group) == []


def test_write_without_read_is_reported_as_a_portability_note(example: Pipeline) -> None:
    groups = group_functions(example)
    assert portability_notes(group_of(groups, "pull_ftp")) == [
        "pull_ftp: declares landing.write() without landing.read(); Azure has no "
        "write-only blob role, so on Azure it may also read and list landing"
    ]
    assert portability_notes(group_of(groups, "report")) == []
