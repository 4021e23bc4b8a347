"""``s3:bucket``: a neutral bucket, private, with one notification per object trigger.

Each object-created trigger is an S3 event notification into the SQS queue portway owns
for it (created before the bucket: queues rank before buckets). Portway never deletes a
bucket that holds objects: :meth:`delete` refuses and says how to empty it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from portway.errors import DeployError
from portway_aws.deploy.kinds.errors import ResourceCalls, error_codes
from portway_aws.deploy.resources import Kind
from portway_aws.naming import SPEC_TAG

if TYPE_CHECKING:
    from portway_aws.deploy.kinds import ApplyContext
    from portway_aws.deploy.resources import AwsResource, Observed

_GONE = {"NoSuchBucket"}
_PRIVATE = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
# One listing page: enough to tell the user how much is at stake.
_COUNT_LIMIT = 1000


class _BucketOperations:
    kind = Kind.S3_BUCKET

    def create(self, context: ApplyContext, resource: AwsResource) -> None:
        s3 = context.clients.s3
        calls = ResourceCalls(self.kind, resource.name)
        region = context.clients.region
        location: dict[str, Any] = {}
        # us-east-1 is the one region S3 refuses to be named as a location constraint.
        # https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html
        if region != "us-east-1":
            location["CreateBucketConfiguration"] = {"LocationConstraint": region}
        # A bucket this account already owns is one a deploy cut short left: converge it.
        calls.unless(
            {"BucketAlreadyOwnedByYou"}, s3.create_bucket, Bucket=resource.name, **location
        )
        self._tag(calls, context, resource)
        calls(
            s3.put_public_access_block,
            Bucket=resource.name,
            PublicAccessBlockConfiguration=_PRIVATE,
        )
        self._notify(calls, s3, resource)

    def update(self, context: ApplyContext, resource: AwsResource, observed: Observed) -> None:
        calls = ResourceCalls(self.kind, resource.name)
        self._notify(calls, context.clients.s3, resource)
        self._tag(calls, context, resource)

    def delete(self, context: ApplyContext, observed: Observed) -> None:
        s3 = context.clients.s3
        calls = ResourceCalls(self.kind, observed.name)
        listed = calls.unless(_GONE, s3.list_objects_v2, Bucket=observed.name, MaxKeys=_COUNT_LIMIT)
        if listed is None:
            return  # already gone
        if listed.get("KeyCount", 0):
            raise _not_empty(self.kind, observed.name, listed["KeyCount"], listed["IsTruncated"])
        try:
            s3.delete_bucket(Bucket=observed.name)
        except ClientError as error:
            codes = error_codes(error)
            if "BucketNotEmpty" in codes:  # written to between the listing and now
                raise _not_empty(self.kind, observed.name, 1, True) from None
            if not codes & _GONE:
                raise calls.failure(error, s3.delete_bucket) from None

    def _tag(self, calls: ResourceCalls, context: ApplyContext, resource: AwsResource) -> None:
        tags = {**context.names.tags, SPEC_TAG: resource.spec_hash}
        tag_set = [{"Key": key, "Value": value} for key, value in tags.items()]
        calls(
            context.clients.s3.put_bucket_tagging, Bucket=resource.name, Tagging={"TagSet": tag_set}
        )

    def _notify(self, calls: ResourceCalls, s3: Any, resource: AwsResource) -> None:
        """Replace the bucket's notifications with the spec's (none: all removed)."""
        configurations = [_queue_configuration(n) for n in resource.spec.get("notifications", [])]
        topics = [
            {"Id": n["id"], "TopicArn": n["topic_arn"], "Events": ["s3:ObjectCreated:*"]}
            for n in resource.spec.get("topic_notifications", [])
        ]
        calls(
            s3.put_bucket_notification_configuration,
            Bucket=resource.name,
            NotificationConfiguration={
                "QueueConfigurations": configurations,
                "TopicConfigurations": topics,
            },
        )


def _queue_configuration(notification: Mapping[str, Any]) -> dict[str, Any]:
    configuration: dict[str, Any] = {
        "Id": notification["id"],
        "QueueArn": notification["queue_arn"],
        "Events": ["s3:ObjectCreated:*"],
    }
    rules = [
        {"Name": name, "Value": notification[name]}
        for name in ("prefix", "suffix")
        if notification.get(name)
    ]
    if rules:
        configuration["Filter"] = {"Key": {"FilterRules": rules}}
    return configuration


def _not_empty(kind: Kind, name: str, count: int, more: bool) -> DeployError:
    amount = f"at least {count}" if more else str(count)
    noun = "object" if count == 1 and not more else "objects"
    return DeployError(
        f"{kind} {name}: {amount} {noun} remain in the bucket, and portway never deletes "
        f"data: empty it first (aws s3 rm s3://{name} --recursive) if its objects can go, "
        f"then run the command again"
    )


OPERATIONS = _BucketOperations()
