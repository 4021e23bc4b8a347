"""Record: what a deploy left on AWS, kept in a portway-managed S3 bucket.

One bucket per account and region (``portway-state-<hash>``, created on first deploy,
private, versioned) holds, per app and stage:

* ``deployments/<app>/<stage>.json``: the record (every resource, its ARN and spec
  hash, and its spec for ``plan`` to show what changed). ``destroy`` works from it and
  from the tags, so it removes exactly what portway created even when the pipeline
  file changed or is gone.
* ``locks/<app>/<stage>.json``: held while a deploy or destroy applies changes,
  created with ``If-None-Match: *``: S3 refuses the second writer, so two deploys of
  one stage cannot interleave; the loser gets an error naming the holder.

The record itself is written with ``If-Match`` on the ETag read before (or
``If-None-Match: *`` for the first), so even a writer that bypassed the lock cannot
overwrite a record it did not read.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from portway.errors import DeployError
from portway_aws.deploy.resources import AwsResource, Kind

if TYPE_CHECKING:
    from portway_aws.naming import Names
    from portway_aws.session import AwsClients

RECORD_VERSION = 1


@dataclass(frozen=True, slots=True)
class RecordedResource:
    kind: Kind
    name: str
    arn: str
    spec_hash: str
    spec: Mapping[str, Any] = field(default_factory=dict)
    neutral: str = ""

    @property
    def key(self) -> tuple[Kind, str]:
        return (self.kind, self.name)


@dataclass(frozen=True, slots=True)
class Record:
    """The last completed deploy of one app on one stage. ``etag``: as read (for If-Match)."""

    app: str
    stage: str
    resources: tuple[RecordedResource, ...] = ()
    deployed_at: str = ""
    etag: str | None = None

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
                    "arn": r.arn,
                    "spec_hash": r.spec_hash,
                    "spec": dict(r.spec),
                    "neutral": r.neutral,
                }
                for r in self.resources
            ],
        }
        return json.dumps(document, indent=1, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, etag: str | None) -> Record:
        try:
            document = json.loads(data)
            resources = tuple(
                RecordedResource(
                    Kind(r["kind"]),
                    r["name"],
                    r["arn"],
                    r["spec_hash"],
                    r.get("spec", {}),
                    r.get("neutral", ""),
                )
                for r in document["resources"]
            )
            return cls(document["app"], document["stage"], resources, document["deployed_at"], etag)
        except (ValueError, KeyError, TypeError) as error:
            raise DeployError(
                f"the deploy record is unreadable ({type(error).__name__}: {error}); "
                f"it was not written by this version of portway"
            ) from None


def recorded(resources: Sequence[AwsResource]) -> tuple[RecordedResource, ...]:
    return tuple(
        RecordedResource(r.kind, r.name, r.arn, r.spec_hash, r.spec, r.neutral) for r in resources
    )


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def read_record(clients: AwsClients, names: Names) -> Record | None:
    """The stage's record, or ``None`` if it was never deployed (or the bucket is new)."""
    try:
        response = clients.s3.get_object(Bucket=names.state_bucket, Key=names.record_key)
    except Exception as error:
        if _error_code(error) in {"NoSuchKey", "NoSuchBucket", "404"}:
            return None
        raise DeployError(
            f"cannot read the deploy record s3://{names.state_bucket}/{names.record_key}: {error}"
        ) from None
    return Record.from_json(response["Body"].read(), response.get("ETag"))


def ensure_state_bucket(clients: AwsClients, names: Names) -> None:
    """Create the state bucket if missing: private, versioned (a record is never lost)."""
    s3 = clients.s3
    try:
        s3.head_bucket(Bucket=names.state_bucket)
        return
    except Exception as error:
        if _error_code(error) not in {"404", "NoSuchBucket", "NotFound"}:
            raise DeployError(
                f"cannot reach the state bucket {names.state_bucket!r}: {error}"
            ) from None
    arguments: dict[str, Any] = {"Bucket": names.state_bucket}
    if names.region != "us-east-1":  # us-east-1 refuses an explicit LocationConstraint
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": names.region}
    try:
        s3.create_bucket(**arguments)
    except Exception as error:
        if _error_code(error) != "BucketAlreadyOwnedByYou":
            raise DeployError(
                f"cannot create the state bucket {names.state_bucket!r}: {error}"
            ) from None
    s3.put_public_access_block(
        Bucket=names.state_bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_versioning(
        Bucket=names.state_bucket, VersioningConfiguration={"Status": "Enabled"}
    )


def write_record(
    clients: AwsClients, names: Names, record: Record, previous: Record | None
) -> None:
    """Write ``record``, conditional on ``previous`` still being the one stored."""
    condition: dict[str, str] = {"IfNoneMatch": "*"}
    if previous is not None and previous.etag:
        condition = {"IfMatch": previous.etag}
    try:
        clients.s3.put_object(
            Bucket=names.state_bucket,
            Key=names.record_key,
            Body=record.to_json(),
            ContentType="application/json",
            **condition,
        )
    except Exception as error:
        if _error_code(error) in {"PreconditionFailed", "ConditionalRequestConflict", "412"}:
            raise DeployError(
                f"the deploy record of {names.app!r} on stage {names.stage!r} changed while "
                f"this deploy ran (another deploy finished first); run 'portway deploy "
                f"--stage {names.stage}' again to reconcile"
            ) from None
        raise DeployError(f"cannot write the deploy record: {error}") from None


def delete_record(clients: AwsClients, names: Names) -> None:
    clients.s3.delete_object(Bucket=names.state_bucket, Key=names.record_key)


def _lock_key(names: Names) -> str:
    return f"locks/{names.app}/{names.stage}.json"


def acquire_lock(clients: AwsClients, names: Names, operation: str) -> None:
    """Take the stage's lock, or raise :class:`DeployError` naming who holds it."""
    holder = {
        "operation": operation,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        clients.s3.put_object(
            Bucket=names.state_bucket,
            Key=_lock_key(names),
            Body=json.dumps(holder).encode("utf-8"),
            IfNoneMatch="*",
        )
        return
    except Exception as error:
        if _error_code(error) not in {"PreconditionFailed", "ConditionalRequestConflict", "412"}:
            raise DeployError(f"cannot take the deploy lock: {error}") from None
    current = _read_lock(clients, names)
    if current and _holder_is_dead(current):
        # Our own machine, a process that is gone: a deploy that was killed. Take over.
        release_lock(clients, names)
        return acquire_lock(clients, names, operation)
    who = (
        f"{current.get('operation', 'a deploy')} from {current.get('host')} "
        f"(pid {current.get('pid')}) since {current.get('since')}"
        if current
        else "another deploy"
    )
    raise DeployError(
        f"stage {names.stage!r} of {names.app!r} is locked by {who}; wait for it to finish. "
        f"If no deploy is running, remove the lock: aws s3 rm "
        f"s3://{names.state_bucket}/{_lock_key(names)}"
    )


def _read_lock(clients: AwsClients, names: Names) -> dict[str, Any]:
    try:
        body = clients.s3.get_object(Bucket=names.state_bucket, Key=_lock_key(names))["Body"]
        value = json.loads(body.read())
        return value if isinstance(value, dict) else {}
    except Exception:
        return {}


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


def release_lock(clients: AwsClients, names: Names) -> None:
    clients.s3.delete_object(Bucket=names.state_bucket, Key=_lock_key(names))


def now() -> str:
    return datetime.fromtimestamp(time.time(), UTC).isoformat(timespec="seconds")
