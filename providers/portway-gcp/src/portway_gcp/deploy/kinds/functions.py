"""``functions:function``: a portway function as a Cloud Run function (Cloud Functions v2).

The source zip goes up through ``generateUploadUrl`` (a signed URL, then one PUT of the
zip) and the function is built from the ``storageSource`` it names. A function keeps
the first digits of its zip's SHA-256 in the ``portway-source`` label: an update whose
zip is unchanged sends no source (no upload, ``build_config.source`` left out of the
update mask), so only the configuration changes.
https://cloud.google.com/functions/docs/reference/rest/v2/projects.locations.functions
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from portway.errors import DeployError
from portway_gcp.deploy.observe import SOURCE_DIGITS, SOURCE_LABEL
from portway_gcp.deploy.resources import Kind
from portway_gcp.naming import SPEC_LABEL

if TYPE_CHECKING:
    from portway_gcp.deploy.kinds import ApplyContext
    from portway_gcp.deploy.kinds.calls import ResourceCalls
    from portway_gcp.deploy.observe import Observed
    from portway_gcp.deploy.resources import GcpResource

#: How long a function's build and rollout may take (Cloud Build, then Cloud Run).
OPERATION_TIMEOUT = 900.0
#: The signed upload URL takes zips up to 100 MiB, and wants this header with the PUT.
#: https://cloud.google.com/functions/docs/reference/rest/v2/projects.locations.functions/generateUploadUrl
UPLOAD_HEADERS = {
    "content-type": "application/zip",
    "x-goog-content-length-range": "0,104857600",
}
_CONFIGURATION_PATHS = (
    "labels",
    "build_config.runtime",
    "build_config.entry_point",
    "service_config.available_memory",
    "service_config.timeout_seconds",
    "service_config.environment_variables",
    "service_config.service_account_email",
)


def function_body(
    resource: GcpResource, storage_source: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The ``Function`` message of ``resource`` (``storage_source`` from the upload, or
    ``None`` to leave the deployed source as it is)."""
    spec = resource.spec
    build: dict[str, Any] = {"runtime": spec["runtime"], "entry_point": spec["entry_point"]}
    if storage_source is not None:
        build["source"] = {"storage_source": dict(storage_source)}
    return {
        "name": resource.name,
        "labels": {
            **spec["labels"],
            SPEC_LABEL: resource.spec_hash,
            SOURCE_LABEL: str(spec["source_sha256"])[:SOURCE_DIGITS],
        },
        "build_config": build,
        "service_config": {
            "available_memory": f"{spec['memory_mib']}Mi",
            "timeout_seconds": spec["timeout_seconds"],
            "environment_variables": dict(spec["environment"]),
            "service_account_email": spec["service_account_email"],
        },
    }


class _FunctionOperations:
    kind = Kind.FUNCTION

    def create(self, context: ApplyContext, resource: GcpResource) -> None:
        from google.api_core import exceptions

        calls = context.calls(self.kind, resource.name)
        parent, _, function_id = resource.name.rpartition("/functions/")
        source = upload_source(context, calls, parent)
        operation = calls.settling(
            "cloudfunctions.functions.create",
            context.clients.functions.create_function,
            request={
                "parent": parent,
                "function_id": function_id,
                "function": function_body(resource, source),
            },
            harmless=(exceptions.AlreadyExists, exceptions.Conflict),
        )
        if operation is None:  # left by a deploy cut short: bring it to the spec
            self._update(context, resource, source)
            return
        self._finish(context, calls, resource, operation)

    def update(self, context: ApplyContext, resource: GcpResource, observed: Observed) -> None:
        wanted = str(resource.spec["source_sha256"])[:SOURCE_DIGITS]
        calls = context.calls(self.kind, resource.name)
        parent = resource.name.rpartition("/functions/")[0]
        unchanged = observed.attributes.get("source") == wanted
        self._update(
            context, resource, None if unchanged else upload_source(context, calls, parent)
        )

    def _update(
        self, context: ApplyContext, resource: GcpResource, source: Mapping[str, Any] | None
    ) -> None:
        calls = context.calls(self.kind, resource.name)
        paths = [*_CONFIGURATION_PATHS, *(["build_config.source"] if source else [])]
        operation = calls.settling(
            "cloudfunctions.functions.patch",
            context.clients.functions.update_function,
            request={
                "function": function_body(resource, source),
                "update_mask": {"paths": paths},
            },
        )
        self._finish(context, calls, resource, operation)

    def _finish(
        self, context: ApplyContext, calls: ResourceCalls, resource: GcpResource, operation: Any
    ) -> None:
        """Wait for the build and rollout; keep the function's URL for what calls it."""
        context.progress(f"waiting for function {resource.name.rsplit('/', 1)[1]} to deploy")
        try:
            function = operation.result(timeout=OPERATION_TIMEOUT)
        except Exception as error:
            raise calls.failure("cloudfunctions.functions (build and deploy)", error) from None
        url = function.url or function.service_config.uri
        if url:
            context.function_urls[resource.name] = url

    def delete(self, context: ApplyContext, observed: Observed) -> None:
        from google.api_core import exceptions

        calls = context.calls(self.kind, observed.name)
        operation = calls.unless(
            (exceptions.NotFound,),
            "cloudfunctions.functions.delete",
            context.clients.functions.delete_function,
            request={"name": observed.name},
        )
        if operation is not None:
            try:
                operation.result(timeout=OPERATION_TIMEOUT)
            except exceptions.NotFound:
                return
            except Exception as error:
                raise calls.failure("cloudfunctions.functions.delete (wait)", error) from None


def upload_source(context: ApplyContext, calls: ResourceCalls, parent: str) -> dict[str, Any]:
    """Upload the source zip through a signed URL; return the ``storage_source`` naming it."""
    if context.source is None:
        raise DeployError(f"{calls.kind} {calls.name}: no source zip was built for this deploy")
    path, _sha256 = context.source
    response = calls.write(
        "cloudfunctions.functions.generateUploadUrl",
        context.clients.functions.generate_upload_url,
        request={"parent": parent},
    )
    source = response.storage_source
    storage_source = {"bucket": source.bucket, "object_": source.object_}
    if source.generation:
        storage_source["generation"] = source.generation
    if context.skip("function-source-upload", "PUT <generateUploadUrl>"):
        return storage_source
    context.log.calls.append(("PUT <generateUploadUrl>", True))
    try:
        put_source(response.upload_url, path.read_bytes())
    except (urllib.error.URLError, OSError) as error:
        raise DeployError(
            f"{calls.kind} {calls.name}: uploading the source zip failed: {error}; run the "
            f"command again (an upload URL is valid for minutes)"
        ) from None
    return storage_source


def put_source(upload_url: str, data: bytes) -> None:
    """PUT the zip to a signed upload URL (a Cloud Storage XML API object URL)."""
    request = urllib.request.Request(upload_url, data=data, method="PUT", headers=UPLOAD_HEADERS)
    with urllib.request.urlopen(request, timeout=300) as answer:
        answer.read()


OPERATIONS = _FunctionOperations()
