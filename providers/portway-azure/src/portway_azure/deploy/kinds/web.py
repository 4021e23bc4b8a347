"""Requests of the Functions kinds: the Flex Consumption plan and the Function App of an
app group (azure-mgmt-web), and the upload of its package (:data:`PUBLISH`)."""

from __future__ import annotations

from portway_azure import clients
from portway_azure.deploy import marks
from portway_azure.deploy.app_groups import RESOLVE_IDENTITY_CLIENT_ID, RESOLVE_RESOURCES
from portway_azure.deploy.requests import PUBLISH, ArmRequest, KindRequests, Resolved, in_group
from portway_azure.deploy.resources import AzureResource, Kind, Observed, identity_id, plan_id
from portway_azure.naming import Names


def _plan(resource: AzureResource, names: Names, _: Resolved) -> list[ArmRequest]:
    from azure.mgmt.web.models import AppServicePlan, AppServicePlanProperties, SkuDescription

    body = AppServicePlan(
        location=resource.spec["location"],
        tags=marks.tags(names, resource.spec_hash),
        kind="functionapp",
        sku=SkuDescription(name=resource.spec["sku"], tier="FlexConsumption"),
        # Linux: Flex Consumption runs on Linux only.
        properties=AppServicePlanProperties(reserved=True),
    )
    arguments = in_group(names, ("name", resource.name))
    return [
        ArmRequest(
            "web.app_service_plans.begin_create_or_update", arguments, "app_service_plan", body
        )
    ]


def _delete_plan(found: Observed, names: Names) -> list[ArmRequest]:
    return [ArmRequest("web.app_service_plans.delete", in_group(names, ("name", found.name)))]


def app_settings(resource: AzureResource, names: Names, resolved: Resolved) -> dict[str, str]:
    """The Function App's settings, with the values Azure assigned filled in."""
    settings = dict(resource.spec["app_settings"])
    for key, what in resource.spec["resolve"].items():
        if what["resolve"] == RESOLVE_IDENTITY_CLIENT_ID:
            settings[key] = resolved.identity(what["identity"], "client_id")
        elif what["resolve"] == RESOLVE_RESOURCES:
            endpoints = {
                neutral: resolved.topic_endpoint(topic, names.location)
                for neutral, topic in what["topics"].items()
            }
            reached = clients.AzureResources(what["buckets"], what["queues"], endpoints)
            settings[key] = reached.to_json()
        else:  # pragma: no cover - desired writes no other kind
            raise AssertionError(f"unknown app setting resolution {what!r}")
    return dict(sorted(settings.items()))


def _function_app(resource: AzureResource, names: Names, resolved: Resolved) -> list[ArmRequest]:
    from azure.mgmt.web.models import (
        FunctionAppConfig,
        FunctionsDeployment,
        FunctionsDeploymentStorage,
        FunctionsDeploymentStorageAuthentication,
        FunctionsRuntime,
        FunctionsScaleAndConcurrency,
        ManagedServiceIdentity,
        NameValuePair,
        Site,
        SiteConfig,
        SiteProperties,
        UserAssignedIdentity,
    )

    spec = resource.spec
    identity = identity_id(names, spec["identity"])
    package = (
        f"https://{names.host_storage_account}.blob.core.windows.net/{spec['package_container']}"
    )
    settings = app_settings(resource, names, resolved)
    runtime, version = spec["runtime"]
    body = Site(
        location=spec["location"],
        tags=marks.tags(names, resource.spec_hash),
        kind="functionapp,linux",
        identity=ManagedServiceIdentity(
            type="UserAssigned", user_assigned_identities={identity: UserAssignedIdentity()}
        ),
        properties=SiteProperties(
            server_farm_id=plan_id(names, spec["plan"]),
            https_only=True,
            site_config=SiteConfig(
                app_settings=[NameValuePair(name=k, value=v) for k, v in settings.items()],
                min_tls_version="1.2",
                ftps_state="Disabled",
            ),
            function_app_config=FunctionAppConfig(
                deployment=FunctionsDeployment(
                    storage=FunctionsDeploymentStorage(
                        type="blobContainer",
                        value=package,
                        authentication=FunctionsDeploymentStorageAuthentication(
                            type="UserAssignedIdentity", user_assigned_identity_resource_id=identity
                        ),
                    )
                ),
                runtime=FunctionsRuntime(name=runtime, version=version),
                scale_and_concurrency=FunctionsScaleAndConcurrency(
                    instance_memory_mb=spec["instance_memory_mb"],
                    maximum_instance_count=spec["maximum_instance_count"],
                ),
            ),
        ),
    )
    arguments = in_group(names, ("name", resource.name))
    requests = [ArmRequest("web.web_apps.begin_create_or_update", arguments, "site_envelope", body)]
    if spec["package_sha256"]:
        requests.append(
            ArmRequest(PUBLISH, (*arguments, ("package_sha256", spec["package_sha256"])))
        )
    return requests


def _delete_function_app(found: Observed, names: Names) -> list[ArmRequest]:
    return [ArmRequest("web.web_apps.delete", in_group(names, ("name", found.name)))]


REQUESTS = {
    Kind.APP_SERVICE_PLAN: KindRequests(_plan, _delete_plan),
    Kind.FUNCTION_APP: KindRequests(_function_app, _delete_function_app),
}
