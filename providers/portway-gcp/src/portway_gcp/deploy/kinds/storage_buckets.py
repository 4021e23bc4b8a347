"""``storage:bucket``: a pipeline's bucket (uniform access, labelled).

Bucket names are global across every project: a name taken elsewhere, or a bucket of
this project that portway did not create, is refused with the fix, never taken over.
Deleting a bucket that holds objects is refused before any change by the executor
(:mod:`portway_gcp.deploy.apply`): portway never deletes data.
https://cloud.google.com/storage/docs/json_api/v1/buckets
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portway.errors import DeployError
from portway_gcp.deploy.observe import is_ours
from portway_gcp.deploy.resources import Kind
from portway_gcp.naming import SPEC_LABEL

if TYPE_CHECKING:
    from portway_gcp.deploy.kinds import ApplyContext
    from portway_gcp.deploy.observe import Observed
    from portway_gcp.deploy.resources import GcpResource


def bucket_id(path: str) -> str:
    """``projects/_/buckets/B`` -> ``B``."""
    return path.rsplit("/", 1)[1]


def bucket_labels(resource: GcpResource) -> dict[str, str]:
    return {**resource.spec["labels"], SPEC_LABEL: resource.spec_hash}


def _configure(bucket: Any, resource: GcpResource) -> None:
    bucket.labels = bucket_labels(resource)
    uniform = bool(resource.spec["uniform_bucket_level_access"])
    bucket.iam_configuration.uniform_bucket_level_access_enabled = uniform


class _BucketOperations:
    kind = Kind.STORAGE_BUCKET

    def create(self, context: ApplyContext, resource: GcpResource) -> None:
        from google.api_core import exceptions

        storage = context.clients.storage
        calls = context.calls(self.kind, resource.name)
        bucket = storage.bucket(bucket_id(resource.name))
        _configure(bucket, resource)
        created = calls.unless(
            (exceptions.Conflict,),
            "storage.buckets.insert",
            lambda: (
                bucket.create(project=context.names.project, location=resource.spec["location"])
                or True
            ),  # Bucket.create returns None: True tells success from a conflict
        )
        if created is None:
            self._adopt_own(context, resource)
            return
        if dict(bucket.labels or {}) != bucket_labels(resource):
            # gcp-storage-emulator drops the labels of an insert; Cloud Storage keeps
            # them, so this patch is made on the emulator only.
            self._patch(context, resource)

    def _adopt_own(self, context: ApplyContext, resource: GcpResource) -> None:
        """A bucket of that name exists: converge it if it is this deployment's (a deploy
        cut short), refuse otherwise."""
        from google.api_core import exceptions

        name = bucket_id(resource.name)
        found = context.calls(self.kind, resource.name).unless(
            (exceptions.Forbidden,),
            "storage.buckets.get",
            context.clients.storage.get_bucket,
            name,
            mutating=False,
        )
        if found is None:
            raise DeployError(
                f"{self.kind} {resource.name}: the bucket name {name!r} is taken by another "
                f"project (bucket names are global); rename the app or the bucket"
            )
        labels = dict(found.labels or {})
        if not is_ours(context.names, labels):
            raise DeployError(
                f"{self.kind} {resource.name}: bucket {name!r} exists and was not created by "
                f"this deployment (labels {labels}); portway does not take over a bucket: "
                f"rename the app or the bucket, or delete that bucket"
            )
        self._patch(context, resource)

    def update(self, context: ApplyContext, resource: GcpResource, observed: Observed) -> None:
        self._patch(context, resource)

    def _patch(self, context: ApplyContext, resource: GcpResource) -> None:
        bucket = context.clients.storage.bucket(bucket_id(resource.name))
        _configure(bucket, resource)
        context.calls(self.kind, resource.name).write("storage.buckets.patch", bucket.patch)

    def delete(self, context: ApplyContext, observed: Observed) -> None:
        from google.api_core import exceptions

        bucket = context.clients.storage.bucket(bucket_id(observed.name))
        context.calls(self.kind, observed.name).unless(
            (exceptions.NotFound,), "storage.buckets.delete", bucket.delete
        )


OPERATIONS = _BucketOperations()
