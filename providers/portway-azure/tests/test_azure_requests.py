"""The requests a deploy sends, built with azure-mgmt's own model types.

No ARM emulator exists, so each body is checked as the SDK serializes it for the wire
against a golden file under ``tests/golden/`` (reviewed by eye when it changes). To
regenerate them after a deliberate change::

    PORTWAY_UPDATE_GOLDEN=1 .venv/bin/python -m pytest \
        providers/portway-azure/tests/test_azure_requests.py

and read the diff before committing it. Every request is also bound to the signature
of the azure-mgmt method it names, so a renamed parameter or operation fails here.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken
from portway_azure.clients import RESOURCES, AzureResources
from portway_azure.deploy import marks
from portway_azure.deploy.arm import OPERATIONS, ArmClients
from portway_azure.deploy.desired import desired_resources
from portway_azure.deploy.requests import (
    PUBLISH,
    ArmRequest,
    Resolved,
    create_requests,
    delete_requests,
    golden_json,
    update_requests,
)
from portway_azure.deploy.resources import AzureResource, Kind, Observed
from portway_azure.naming import APP_TAG, SPEC_TAG, STAGE_TAG, Names

from portway import Pipeline
from portway.errors import DeployError
from portway.loading import load_pipeline

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "lake-to-warehouse"
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("PORTWAY_UPDATE_GOLDEN") == "1"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
NAMES = Names("lake-to-warehouse", "prod", SUBSCRIPTION, "data-rg", "westeurope")
PACKAGE = "5" * 64


@pytest.fixture(scope="module")
def desired() -> Iterator[tuple[AzureResource, ...]]:
    path = list(sys.path)
    try:
        pipeline: Pipeline = load_pipeline("pipeline:app", EXAMPLE)
        yield desired_resources(
            pipeline, NAMES, app="pipeline:app", packages={"transform": PACKAGE}
        )
    finally:
        sys.modules.pop("pipeline", None)
        sys.path[:] = path


@pytest.fixture(scope="module")
def resolved(desired: tuple[AzureResource, ...]) -> Resolved:
    """Ids as Azure would assign them: fixed, so the golden files are stable."""
    found = Resolved()
    for index, resource in enumerate(r for r in desired if r.kind is Kind.MANAGED_IDENTITY):
        found.learn(
            Kind.MANAGED_IDENTITY,
            resource.name,
            {
                "principal_id": f"11111111-0000-0000-0000-{index:012d}",
                "client_id": f"22222222-0000-0000-0000-{index:012d}",
            },
        )
    found.learn(
        Kind.EVENTGRID_TOPIC,
        NAMES.topic("loaded"),
        {
            "endpoint": "https://lake-to-warehouse-prod-loaded.westeurope-1.eventgrid.azure.net/api/events"
        },
    )
    return found


def creations(
    desired: tuple[AzureResource, ...], resolved: Resolved, kind: Kind
) -> list[ArmRequest]:
    return [
        request
        for resource in desired
        if resource.kind is kind
        for request in create_requests(resource, NAMES, resolved)
    ]


def check_golden(name: str, requests: list[ArmRequest]) -> None:
    path = GOLDEN / f"{name}.json"
    text = golden_json(requests)
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run with PORTWAY_UPDATE_GOLDEN=1 and review it"
    assert json.loads(text) == json.loads(path.read_text()), f"{name}: differs from {path}"


@pytest.mark.parametrize(
    ("golden", "kind"),
    [
        ("storage_accounts", Kind.STORAGE_ACCOUNT),
        ("containers", Kind.STORAGE_CONTAINER),
        ("queues", Kind.STORAGE_QUEUE),
        ("eventgrid_topics", Kind.EVENTGRID_TOPIC),
        ("eventgrid_system_topics", Kind.EVENTGRID_SYSTEM_TOPIC),
        ("event_subscriptions", Kind.EVENT_SUBSCRIPTION),
        ("identities", Kind.MANAGED_IDENTITY),
        ("role_assignments", Kind.ROLE_ASSIGNMENT),
        ("app_service_plans", Kind.APP_SERVICE_PLAN),
        ("function_apps", Kind.FUNCTION_APP),
    ],
)
def test_create_request_bodies_match_the_golden_files(
    desired: tuple[AzureResource, ...], resolved: Resolved, golden: str, kind: Kind
) -> None:
    check_golden(golden, creations(desired, resolved, kind))


def test_delete_requests_match_the_golden_file(desired: tuple[AzureResource, ...]) -> None:
    deletions = []
    for kind in reversed(Kind):
        resource = next(r for r in desired if r.kind is kind)
        details = {"source": resource.spec["source"]} if kind is Kind.EVENT_SUBSCRIPTION else {}
        if kind is Kind.ROLE_ASSIGNMENT:
            details = {"scope": resource.spec["scope"]}
        found = Observed(kind, resource.name, resource.resource_id, "h", resource.parent, details)
        deletions.extend(delete_requests(found, NAMES))
    check_golden("deletions", deletions)


def test_every_request_fits_the_signature_of_the_sdk_method_it_names(
    desired: tuple[AzureResource, ...], resolved: Resolved
) -> None:
    class NoToken:
        def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
            raise AssertionError("no request may be sent")

    clients = ArmClients(SUBSCRIPTION, NoToken())
    requests = [r for kind in Kind for r in creations(desired, resolved, kind)]
    for resource in desired:
        found = Observed(resource.kind, resource.name, resource.resource_id, "h", resource.parent)
        requests += update_requests(resource, found, NAMES, resolved)
        requests += delete_requests(found, NAMES)
    for request in requests:
        if request.operation == PUBLISH:
            continue
        method = OPERATIONS[request.operation](clients)
        arguments = dict(request.arguments)
        if request.body_parameter:
            arguments[request.body_parameter] = request.body
        inspect.signature(method).bind(**arguments)


def test_every_arm_resource_carries_the_app_stage_and_spec_marks(
    desired: tuple[AzureResource, ...], resolved: Resolved
) -> None:
    for resource in desired:
        (request, *_) = create_requests(resource, NAMES, resolved)
        body = request.wire_body()
        expected = marks.tags(NAMES, resource.spec_hash)
        if resource.kind in (Kind.STORAGE_CONTAINER, Kind.STORAGE_QUEUE):
            assert body["properties"]["metadata"] == marks.metadata(NAMES, resource.spec_hash)
        elif resource.kind is Kind.EVENT_SUBSCRIPTION:
            assert body["properties"]["labels"] == [f"{k}={v}" for k, v in expected.items()]
        elif resource.kind is Kind.ROLE_ASSIGNMENT:
            found = marks.from_description(body["properties"]["description"])
            assert found == expected
        else:
            assert body["tags"] == {
                APP_TAG: NAMES.app,
                STAGE_TAG: NAMES.stage,
                SPEC_TAG: resource.spec_hash,
            }


def test_role_assignment_names_the_identitys_principal_as_a_service_principal(
    desired: tuple[AzureResource, ...], resolved: Resolved
) -> None:
    assignment = next(r for r in desired if r.kind is Kind.ROLE_ASSIGNMENT)
    (request,) = create_requests(assignment, NAMES, resolved)
    properties = request.wire_body()["properties"]
    principal = resolved.identity(assignment.spec["principal"], "principal_id")
    assert properties["principalId"] == principal
    assert properties["principalType"] == "ServicePrincipal"
    assert dict(request.arguments)["scope"] == assignment.spec["scope"]


def test_a_role_assignment_for_an_unknown_identity_is_refused_before_sending(
    desired: tuple[AzureResource, ...],
) -> None:
    assignment = next(r for r in desired if r.kind is Kind.ROLE_ASSIGNMENT)
    with pytest.raises(DeployError, match="principal_id is unknown"):
        create_requests(assignment, NAMES, Resolved())


def test_a_role_assignment_update_deletes_then_creates(
    desired: tuple[AzureResource, ...], resolved: Resolved
) -> None:
    assignment = next(r for r in desired if r.kind is Kind.ROLE_ASSIGNMENT)
    found = Observed(Kind.ROLE_ASSIGNMENT, assignment.name, assignment.resource_id, None)
    operations = [r.operation for r in update_requests(assignment, found, NAMES, resolved)]
    assert operations == [
        "authorization.role_assignments.delete",
        "authorization.role_assignments.create",
    ]


def test_function_app_settings_resolve_the_client_id_and_the_resource_map(
    desired: tuple[AzureResource, ...], resolved: Resolved
) -> None:
    app = next(
        r for r in desired if r.kind is Kind.FUNCTION_APP and r.neutral == "functions transform"
    )
    site, publish = create_requests(app, NAMES, resolved)
    settings = {
        pair["name"]: pair["value"]
        for pair in site.wire_body()["properties"]["siteConfig"]["appSettings"]
    }
    client_id = resolved.identity(app.spec["identity"], "client_id")
    assert settings["PORTWAY_STORAGE__clientId"] == client_id
    assert settings["AzureWebJobsStorage__clientId"] == client_id
    reached = AzureResources.from_json(settings[RESOURCES])
    assert reached.topic("loaded") == resolved.topic_endpoints[NAMES.topic("loaded")]
    assert reached.container("lake") == "b-lake"
    assert publish.operation == PUBLISH
    assert dict(publish.arguments)["package_sha256"] == PACKAGE


def test_a_function_app_without_a_package_is_not_published(
    desired: tuple[AzureResource, ...], resolved: Resolved
) -> None:
    app = next(r for r in desired if r.kind is Kind.FUNCTION_APP and r.spec["package_sha256"] == "")
    assert [r.operation for r in create_requests(app, NAMES, resolved)] == [
        "web.web_apps.begin_create_or_update"
    ]


def test_containers_and_queues_update_with_patch_not_put(
    desired: tuple[AzureResource, ...], resolved: Resolved
) -> None:
    for kind, operation in (
        (Kind.STORAGE_CONTAINER, "storage.blob_containers.update"),
        (Kind.STORAGE_QUEUE, "storage.queue.update"),
    ):
        resource = next(r for r in desired if r.kind is kind)
        found = Observed(kind, resource.name, resource.resource_id, None, resource.parent)
        requests = update_requests(resource, found, NAMES, resolved)
        assert [r.operation for r in requests] == [operation]
