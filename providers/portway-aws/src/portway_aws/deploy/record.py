"""Record: what a deploy left on AWS, kept in a portway-managed S3 bucket.

One bucket per account and region (``portway-state-<hash>``, created on first deploy,
private, versioned) holds, per app and stage, the record and the lock that
:class:`portway.deploy.record.StageRecords` manages (the document, the lock holder and
the messages are the core's). This module keeps what is S3's own:
:class:`S3RecordStore` writes the lock with ``If-None-Match: *`` (S3 refuses the second
writer) and the record with ``If-Match`` on the ETag read before, or ``If-None-Match:
*`` for the first, so even a writer that bypassed the lock cannot overwrite a record
it did not read; each record entry keeps the resource's ARN.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portway.deploy.record import Record, StageRecords
from portway.errors import DeployError

if TYPE_CHECKING:
    from portway_aws.deploy.resources import AwsResource
    from portway_aws.naming import Names
    from portway_aws.session import AwsClients

#: What S3 answers when a condition (``If-Match``, ``If-None-Match``) fails.
_REFUSED = {"PreconditionFailed", "ConditionalRequestConflict", "412"}


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True, slots=True)
class S3RecordStore:
    """A :class:`~portway.deploy.record.RecordStore` on the state bucket ``bucket``."""

    clients: AwsClients
    bucket: str

    def create(self, key: str, body: bytes) -> bool:
        return self._put(key, body, IfNoneMatch="*")

    def replace(self, key: str, body: bytes, version: str) -> bool:
        return self._put(key, body, IfMatch=version)

    def _put(self, key: str, body: bytes, **condition: str) -> bool:
        try:
            self.clients.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                **condition,
            )
        except Exception as error:
            if _error_code(error) in _REFUSED:
                return False
            raise DeployError(f"cannot write {self.location(key)}: {error}") from None
        return True

    def read(self, key: str) -> tuple[bytes, str | None] | None:
        try:
            response = self.clients.s3.get_object(Bucket=self.bucket, Key=key)
        except Exception as error:
            if _error_code(error) in {"NoSuchKey", "NoSuchBucket", "404"}:
                return None
            raise DeployError(f"cannot read {self.location(key)}: {error}") from None
        return response["Body"].read(), response.get("ETag")

    def delete(self, key: str) -> None:
        self.clients.s3.delete_object(Bucket=self.bucket, Key=key)

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def removal(self, key: str) -> str:
        return f"aws s3 rm {self.location(key)}"


def stage_records(clients: AwsClients, names: Names) -> StageRecords:
    """The record and lock of the deployment ``names`` describes."""
    return StageRecords(S3RecordStore(clients, names.state_bucket), names.app, names.stage)


def deploy_record(names: Names, resources: Iterable[AwsResource]) -> Record:
    """The record of a deploy of ``resources`` finishing now; each entry keeps its ARN."""
    return Record.of(names.app, names.stage, resources, extra=lambda r: {"arn": r.arn})


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
