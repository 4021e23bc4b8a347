"""``scheduler:job``: a Cloud Scheduler job calling its function's URL with OIDC.

A job takes no labels: its description holds the deployment's marks and spec hash.
The function's URL is known once the function exists: apply resolves it.
https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs
https://cloud.google.com/scheduler/docs/http-target-auth
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portway_gcp.deploy.observe import marker
from portway_gcp.deploy.resources import Kind

if TYPE_CHECKING:
    from portway_gcp.deploy.kinds import ApplyContext
    from portway_gcp.deploy.observe import Observed
    from portway_gcp.deploy.resources import GcpResource
    from portway_gcp.naming import Names

_PATHS = ("description", "schedule", "time_zone", "http_target")


def job_body(resource: GcpResource, names: Names, url: str) -> dict[str, Any]:
    """The ``Job`` message of ``resource``, calling ``url`` (its function's)."""
    spec = resource.spec
    target = spec["http_target"]
    return {
        "name": resource.name,
        "description": marker(names, resource.spec_hash),
        "schedule": spec["schedule"],
        "time_zone": spec["time_zone"],
        "http_target": {
            "uri": url,
            "http_method": target["http_method"],
            "body": str(target["body"]).encode("utf-8"),
            "headers": {"Content-Type": "application/json"},
            "oidc_token": {
                "service_account_email": target["oidc_service_account_email"],
                "audience": url,
            },
        },
    }


class _JobOperations:
    kind = Kind.SCHEDULER_JOB

    def create(self, context: ApplyContext, resource: GcpResource) -> None:
        from google.api_core import exceptions

        url = context.function_url(resource.spec["http_target"]["function"])
        body = job_body(resource, context.names, url)
        created = context.calls(self.kind, resource.name).settling(
            "cloudscheduler.jobs.create",
            context.clients.scheduler.create_job,
            request={"parent": resource.name.rpartition("/jobs/")[0], "job": body},
            harmless=(exceptions.AlreadyExists,),
        )
        if created is None:
            self._update(context, resource, body)

    def update(self, context: ApplyContext, resource: GcpResource, observed: Observed) -> None:
        url = context.function_url(resource.spec["http_target"]["function"])
        self._update(context, resource, job_body(resource, context.names, url))

    def _update(self, context: ApplyContext, resource: GcpResource, body: dict[str, Any]) -> None:
        context.calls(self.kind, resource.name).settling(
            "cloudscheduler.jobs.patch",
            context.clients.scheduler.update_job,
            request={"job": body, "update_mask": {"paths": list(_PATHS)}},
        )

    def delete(self, context: ApplyContext, observed: Observed) -> None:
        from google.api_core import exceptions

        context.calls(self.kind, observed.name).unless(
            (exceptions.NotFound,),
            "cloudscheduler.jobs.delete",
            context.clients.scheduler.delete_job,
            request={"name": observed.name},
        )


OPERATIONS = _JobOperations()
