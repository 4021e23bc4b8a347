"""Record: what a deploy left on Google Cloud, kept in a portway-managed bucket.

One bucket per project (:attr:`~portway_gcp.naming.Names.state_bucket`, created on the
first deploy: uniform access, versioned, labelled ``portway-managed=state``) holds, per
app and stage, the record and the lock that :class:`portway.deploy.record.StageRecords`
manages (the document, the lock holder, the take-over and the messages are the core's).
The kinds Google Cloud cannot list by label in one call (IAM bindings, bucket
notifications) are known from the record alone (:mod:`portway_gcp.deploy.observe`).

This module keeps what is Cloud Storage's own: :class:`GcsRecordStore` creates with
``if_generation_match=0`` ("only if no live object has this name": Cloud Storage refuses
the second writer with 412 Precondition Failed) and replaces with
``if_generation_match`` = the generation read before, so even a writer that bypassed
the lock cannot overwrite a record it did not read. A generation travels as its decimal
string (:attr:`~portway.deploy.record.Record.version`).
https://cloud.google.com/storage/docs/request-preconditions

The emulators accept these preconditions without enforcing them (DESIGN §5): the tests
put a proxy applying the documented rule in front of the storage emulator, so the real
SDK's requests are checked over the wire.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from portway.deploy.record import Record, StageRecords
from portway.errors import DeployError

if TYPE_CHECKING:
    from portway.deploy.execute import CallLog
    from portway_gcp.deploy.resources import GcpResource
    from portway_gcp.naming import Names

#: The label of the state bucket (it belongs to no single app).
STATE_LABELS = {"portway-managed": "state"}


@dataclass
class GcsRecordStore:
    """A :class:`~portway.deploy.record.RecordStore` on the state bucket ``bucket``.

    ``storage``: a ``google.cloud.storage.Client``; every call is counted in ``log``.
    The store remembers the generation it last wrote or read of each object, and
    :meth:`delete` removes that generation only: releasing a lock removes the one this
    deploy took (or the dead holder's it read, when taking over), never one another
    deploy took meanwhile, so of two deploys taking over one lock, one wins.
    """

    storage: Any
    bucket: str
    log: CallLog
    _generations: dict[str, int] = field(default_factory=dict, repr=False)

    def create(self, key: str, body: bytes) -> bool:
        return self._upload(key, body, 0)

    def replace(self, key: str, body: bytes, version: str) -> bool:
        return self._upload(key, body, int(version))

    def _upload(self, key: str, body: bytes, generation: int) -> bool:
        from google.api_core import exceptions

        blob = self.storage.bucket(self.bucket).blob(key)
        try:
            self.log.write(
                "storage.objects.insert",
                blob.upload_from_string,
                body,
                content_type="application/json",
                if_generation_match=generation,
            )
        except exceptions.PreconditionFailed:
            return False
        except (exceptions.GoogleAPICallError, exceptions.RetryError) as error:
            raise DeployError(
                f"cannot write {self.location(key)}: {error}; the deploying identity needs "
                f"storage.objects.create on the bucket"
            ) from None
        if blob.generation:
            self._generations[key] = int(blob.generation)
        return True

    def read(self, key: str) -> tuple[bytes, str | None] | None:
        from google.api_core import exceptions

        try:
            blob = self.log.read(
                "storage.objects.get", self.storage.bucket(self.bucket).get_blob, key
            )
            if blob is None:
                return None
            # Read before the download: it resets the generation from the response
            # headers, which gcp-storage-emulator does not send.
            generation = int(blob.generation)
            data = self.log.read(
                "storage.objects.download", blob.download_as_bytes, if_generation_match=generation
            )
        except exceptions.NotFound:  # the state bucket itself is missing: never deployed
            return None
        except (exceptions.GoogleAPICallError, exceptions.RetryError) as error:
            raise DeployError(
                f"cannot read {self.location(key)}: {error}; the deploying identity needs "
                f"storage.objects.get on the bucket"
            ) from None
        self._generations[key] = generation
        return bytes(data), str(generation)

    def delete(self, key: str) -> None:
        from google.api_core import exceptions

        blob = self.storage.bucket(self.bucket).blob(key)
        generation = self._generations.pop(key, None)
        try:
            self.log.write("storage.objects.delete", blob.delete, if_generation_match=generation)
        except (exceptions.NotFound, exceptions.PreconditionFailed):
            return  # gone already, or replaced by another deploy since: theirs now

    def location(self, key: str) -> str:
        return f"gs://{self.bucket}/{key}"

    def removal(self, key: str) -> str:
        return f"gcloud storage rm {self.location(key)}"


def stage_records(storage: Any, names: Names, log: CallLog) -> StageRecords:
    """The record and lock of the deployment ``names`` describes."""
    return StageRecords(GcsRecordStore(storage, names.state_bucket, log), names.app, names.stage)


def deploy_record(names: Names, resources: Iterable[GcpResource]) -> Record:
    """The record of a deploy of ``resources`` finishing now."""
    return Record.of(names.app, names.stage, resources)


def ensure_state_bucket(storage: Any, names: Names, log: CallLog) -> None:
    """Create the state bucket if missing: uniform access, versioned (a record is never lost)."""
    from google.api_core import exceptions

    try:
        if log.read("storage.buckets.get", storage.lookup_bucket, names.state_bucket) is not None:
            return
        bucket = storage.bucket(names.state_bucket)
        bucket.labels = dict(STATE_LABELS)
        bucket.versioning_enabled = True
        bucket.iam_configuration.uniform_bucket_level_access_enabled = True
        log.write("storage.buckets.insert", bucket.create, location=names.region)
        if bucket.labels != STATE_LABELS or not bucket.versioning_enabled:
            # gcp-storage-emulator drops what an insert sets; Cloud Storage keeps it, so
            # this patch is made on the emulator only.
            bucket.labels = dict(STATE_LABELS)
            bucket.versioning_enabled = True
            log.write("storage.buckets.patch", bucket.patch)
    except exceptions.Conflict:
        return  # created meanwhile by another deploy, or ours from a run cut short
    except (exceptions.GoogleAPICallError, exceptions.RetryError) as error:
        raise DeployError(
            f"cannot create the state bucket {names.state_bucket!r}: {error}; the deploying "
            f"identity needs storage.buckets.create on project {names.project!r}"
        ) from None
