"""``iam:service-account``: a function's own account, or the deployment's invoker account.

A service account takes no labels: its description holds the deployment's marks and
spec hash (:func:`~portway_gcp.deploy.observe.marker`), which observe parses back.
https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portway_gcp.deploy.observe import marker
from portway_gcp.deploy.resources import Kind

if TYPE_CHECKING:
    from portway_gcp.deploy.kinds import ApplyContext
    from portway_gcp.deploy.observe import Observed
    from portway_gcp.deploy.resources import GcpResource


class _ServiceAccountOperations:
    kind = Kind.SERVICE_ACCOUNT

    def create(self, context: ApplyContext, resource: GcpResource) -> None:
        from google.api_core import exceptions

        calls = context.calls(self.kind, resource.name)
        created = calls.unless(
            (exceptions.AlreadyExists, exceptions.Conflict),
            "iam.serviceAccounts.create",
            context.clients.iam_admin.create_service_account,
            request={
                "name": f"projects/{context.names.project}",
                "account_id": resource.spec["account_id"],
                "service_account": {
                    "display_name": resource.spec["display_name"],
                    "description": marker(context.names, resource.spec_hash),
                },
            },
        )
        if created is None:  # left by a deploy cut short: bring it to the spec
            self._patch(context, resource)

    def update(self, context: ApplyContext, resource: GcpResource, observed: Observed) -> None:
        self._patch(context, resource)

    def _patch(self, context: ApplyContext, resource: GcpResource) -> None:
        operation = "iam.serviceAccounts.patch"
        if context.skip("service-account-update", operation):
            return
        calls = context.calls(self.kind, resource.name)
        calls.write(
            operation,
            context.clients.iam_admin.patch_service_account,
            request={
                "service_account": {
                    "name": resource.name,
                    "display_name": resource.spec["display_name"],
                    "description": marker(context.names, resource.spec_hash),
                },
                "update_mask": {"paths": ["display_name", "description"]},
            },
        )

    def delete(self, context: ApplyContext, observed: Observed) -> None:
        from google.api_core import exceptions

        calls = context.calls(self.kind, observed.name)
        calls.unless(
            (exceptions.NotFound,),
            "iam.serviceAccounts.delete",
            context.clients.iam_admin.delete_service_account,
            request={"name": observed.name},
        )


OPERATIONS = _ServiceAccountOperations()
