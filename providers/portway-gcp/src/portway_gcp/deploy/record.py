"""Record: what a deploy left on Google Cloud, kept in a portway-managed bucket.

One bucket per project (:attr:`~portway_gcp.naming.Names.state_bucket`, created on the
first deploy: uniform access, versioned, labelled ``portway-managed=state``) holds, per
app and stage:

* ``deployments/<app>/<stage>.json`` (:attr:`~portway_gcp.naming.Names.record_key`):
  the record (every resource, its spec hash and spec). ``destroy`` works from it and
  from the labels, so it removes exactly what portway created even when the pipeline
  file changed or is gone. The kinds Google Cloud cannot list by label in one call
  (IAM bindings, bucket notifications) are known from it alone.
* ``locks/<app>/<stage>.json``: held while a deploy or destroy applies changes, created
  with ``if_generation_match=0`` ("only if no live object has this name"): Cloud Storage
  refuses the second writer with 412 Precondition Failed, so two deploys of one stage
  cannot interleave; the loser gets an error naming the holder.

The record itself is written with ``if_generation_match`` = the generation read before
(``0`` for the first), so even a writer that bypassed the lock cannot overwrite a record
it did not read. https://cloud.google.com/storage/docs/request-preconditions

The emulators accept these preconditions without enforcing them (DESIGN §5): the tests
put a proxy applying the documented rule in front of the storage emulator, so the real
SDK's requests are checked over the wire.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from portway.errors import DeployError
from portway_gcp.deploy.resources import GcpResource, Kind

if TYPE_CHECKING:
    from portway_gcp.deploy.kinds.calls import CallLog
    from portway_gcp.naming import Names

RECORD_VERSION = 1
#: The label of the state bucket (it belongs to no single app).
STATE_LABELS = {"portway-managed": "state"}


@dataclass(frozen=True, slots=True)
class RecordedResource:
    kind: Kind
    name: str
    spec_hash: str
    spec: Mapping[str, Any] = field(default_factory=dict)
    neutral: str = ""

    @property
    def key(self) -> tuple[Kind, str]:
        return (self.kind, self.name)


@dataclass(frozen=True, slots=True)
class Record:
    """The last completed deploy of one app on one stage.

    ``generation``: the object's generation as read (for ``if_generation_match``).
    """

    app: str
    stage: str
    resources: tuple[RecordedResource, ...] = ()
    deployed_at: str = ""
    generation: int | None = None

    def by_key(self) -> dict[tuple[Kind, str], RecordedResource]:
        return {r.key: r for r in self.resources}

    def to_json(self) -> bytes:
        document = {
            "version": RECORD_VERSION,
            "app": self.app,
            "stage": self.stage,
            "deployed_at": self.deployed_at,
            "resources": [
                {
                    "kind": str(r.kind),
                    "name": r.name,
                    "spec_hash": r.spec_hash,
                    "spec": dict(r.spec),
                    "neutral": r.neutral,
                }
                for r in self.resources
            ],
        }
        return json.dumps(document, indent=1, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, generation: int | None) -> Record:
        try:
            document = json.loads(data)
            resources = tuple(
                RecordedResource(
                    Kind(r["kind"]),
                    r["name"],
                    r["spec_hash"],
                    r.get("spec", {}),
                    r.get("neutral", ""),
                )
                for r in document["resources"]
            )
            return cls(
                document["app"], document["stage"], resources, document["deployed_at"], generation
            )
        except (ValueError, KeyError, TypeError) as error:
            raise DeployError(
                f"the deploy record is unreadable ({type(error).__name__}: {error}); "
                f"it was not written by this version of portway"
            ) from None


def recorded(resources: Sequence[GcpResource]) -> tuple[RecordedResource, ...]:
    return tuple(
        RecordedResource(r.kind, r.name, r.spec_hash, r.spec, r.neutral) for r in resources
    )


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _location(names: Names, key: str) -> str:
    return f"gs://{names.state_bucket}/{key}"


def read_record(storage: Any, names: Names, log: CallLog) -> Record | None:
    """The stage's record, or ``None`` if it was never deployed (or the bucket is new)."""
    from google.api_core import exceptions

    bucket = storage.bucket(names.state_bucket)
    try:
        blob = log.read("storage.objects.get", bucket.get_blob, names.record_key)
        if blob is None:
            return None
        # Read before the download: it resets the generation from the response headers,
        # which gcp-storage-emulator does not send.
        generation = int(blob.generation)
        data = log.read(
            "storage.objects.download", blob.download_as_bytes, if_generation_match=generation
        )
    except exceptions.NotFound:  # the state bucket itself is missing: never deployed
        return None
    except (exceptions.GoogleAPICallError, exceptions.RetryError) as error:
        raise DeployError(
            f"cannot read the deploy record {_location(names, names.record_key)}: {error}; "
            f"the deploying identity needs storage.objects.get on the bucket"
        ) from None
    return Record.from_json(data, generation)


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


def write_record(
    storage: Any, names: Names, record: Record, previous: Record | None, log: CallLog
) -> None:
    """Write ``record``, conditional on ``previous`` still being the one stored."""
    from google.api_core import exceptions

    generation = previous.generation if previous is not None and previous.generation else 0
    blob = storage.bucket(names.state_bucket).blob(names.record_key)
    try:
        log.write(
            "storage.objects.insert",
            blob.upload_from_string,
            record.to_json(),
            content_type="application/json",
            if_generation_match=generation,
        )
    except exceptions.PreconditionFailed:
        raise DeployError(
            f"the deploy record of {names.app!r} on stage {names.stage!r} changed while this "
            f"deploy ran (another deploy finished first); run 'portway deploy --stage "
            f"{names.stage}' again to reconcile"
        ) from None
    except (exceptions.GoogleAPICallError, exceptions.RetryError) as error:
        raise DeployError(
            f"cannot write the deploy record {_location(names, names.record_key)}: {error}"
        ) from None


def delete_record(storage: Any, names: Names, log: CallLog) -> None:
    from google.api_core import exceptions

    blob = storage.bucket(names.state_bucket).blob(names.record_key)
    try:
        log.write("storage.objects.delete", blob.delete)
    except exceptions.NotFound:
        return


def lock_key(names: Names) -> str:
    return f"locks/{names.app}/{names.stage}.json"


def acquire_lock(storage: Any, names: Names, operation: str, log: CallLog) -> int | None:
    """Take the stage's lock; return its generation (for :func:`release_lock`), or raise
    :class:`DeployError` naming who holds it."""
    from google.api_core import exceptions

    holder = {
        "operation": operation,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": now(),
    }
    blob = storage.bucket(names.state_bucket).blob(lock_key(names))
    try:
        log.write(
            "storage.objects.insert",
            blob.upload_from_string,
            json.dumps(holder).encode("utf-8"),
            content_type="application/json",
            if_generation_match=0,
        )
        return int(blob.generation) if blob.generation else None
    except exceptions.PreconditionFailed:
        pass
    except (exceptions.GoogleAPICallError, exceptions.RetryError) as error:
        raise DeployError(f"cannot take the deploy lock: {error}") from None
    current, generation = _read_lock(storage, names, log)
    if current and _holder_is_dead(current):
        # Our own machine, a process that is gone: a deploy that was killed. Take over,
        # removing that lock only (its generation): of two deploys taking over, one wins.
        release_lock(storage, names, log, generation)
        return acquire_lock(storage, names, operation, log)
    who = (
        f"{current.get('operation', 'a deploy')} from {current.get('host')} "
        f"(pid {current.get('pid')}) since {current.get('since')}"
        if current
        else "another deploy"
    )
    raise DeployError(
        f"stage {names.stage!r} of {names.app!r} is locked by {who}; wait for it to finish. "
        f"If no deploy is running, remove the lock: gcloud storage rm "
        f"{_location(names, lock_key(names))}"
    )


def _read_lock(storage: Any, names: Names, log: CallLog) -> tuple[dict[str, Any], int | None]:
    """The lock's holder and generation (``{}`` and ``None`` when unreadable or gone)."""
    try:
        blob = log.read(
            "storage.objects.get", storage.bucket(names.state_bucket).get_blob, lock_key(names)
        )
        generation = int(blob.generation)
        value = json.loads(log.read("storage.objects.download", blob.download_as_bytes))
        return (value if isinstance(value, dict) else {}), generation
    except Exception:  # gone meanwhile, or not portway's: the error names no holder
        return {}, None


def _holder_is_dead(holder: Mapping[str, Any]) -> bool:
    if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
        return False
    pid = int(holder["pid"])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def release_lock(storage: Any, names: Names, log: CallLog, generation: int | None = None) -> None:
    """Remove the lock: only generation ``generation`` when given (the one this deploy
    took), so a lock taken over by another deploy meanwhile is left to it."""
    from google.api_core import exceptions

    blob = storage.bucket(names.state_bucket).blob(lock_key(names))
    try:
        log.write("storage.objects.delete", blob.delete, if_generation_match=generation)
    except (exceptions.NotFound, exceptions.PreconditionFailed):
        return
