"""AWS calls made for one resource, with botocore's errors turned into :class:`DeployError`.

Every call a kind's operations make goes through a :class:`ResourceCalls` bound to the
resource, so a failure reads ``sqs:queue demo-test-jobs: SetQueueAttributes failed:
InvalidAttributeValue: ...`` followed by the fix where one is known, and never as a bare
botocore traceback. Errors that mean "already there" or "already gone" are named by the
caller (:meth:`ResourceCalls.unless`), because only it knows which ones are harmless.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from portway.errors import DeployError
from portway_aws.deploy.resources import Kind

_ACCESS_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",
        "AuthorizationErrorException",
        "UnauthorizedOperation",
    }
)
_BAD_CREDENTIALS = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
    }
)
_THROTTLED = frozenset(
    {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}
)
_QUOTA = frozenset({"LimitExceeded", "LimitExceededException", "TooManyBuckets"})

# IAM actions whose name is not the API operation's (the rest are ``service:Operation``).
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
_ACTION_OF_OPERATION = {
    ("s3", "PutBucketNotificationConfiguration"): "s3:PutBucketNotification",
    ("s3", "GetBucketNotificationConfiguration"): "s3:GetBucketNotification",
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
}
# AWS names the missing permission in its message: "... is not authorized to perform:
# iam:PassRole on resource ...".
_NAMED_ACTION = re.compile(r"perform:\s*([A-Za-z0-9-]+:[A-Za-z0-9*]+)")


def error_codes(error: ClientError) -> frozenset[str]:
    """The codes of a ClientError: SQS's JSON protocol gives two (``Code`` and the
    ``QueryErrorCode`` of its older protocol, e.g. ``QueueDoesNotExist``), others one."""
    details = error.response.get("Error", {})
    return frozenset(str(details[key]) for key in ("Code", "QueryErrorCode") if details.get(key))


def error_message(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return str(details.get("Message") or details.get("message") or "").strip()


@dataclass(frozen=True, slots=True)
class ResourceCalls:
    """Calls made on behalf of one resource: ``calls(sqs.create_queue, QueueName=...)``.

    A failing call raises :class:`DeployError` naming the resource, the operation, AWS's
    code and message, and the fix where one is known.
    """

    kind: Kind
    name: str

    def __call__(self, method: Callable[..., Any], /, **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except ClientError as error:
            raise self.failure(error, method) from None

    def unless(self, codes: Collection[str], method: Callable[..., Any], /, **kwargs: Any) -> Any:
        """The call's result, or ``None`` when it fails with one of ``codes``
        (the resource is already there, or already gone)."""
        try:
            return method(**kwargs)
        except ClientError as error:
            if error_codes(error) & set(codes):
                return None
            raise self.failure(error, method) from None

    def pages(
        self,
        client: Any,
        operation: str,
        key: str,
        /,
        *,
        unless: Collection[str] = (),
        **kwargs: Any,
    ) -> list[Any]:
        """Every item under ``key`` of every page of the paginated ``operation``; none
        when it fails with one of the codes ``unless`` (what it lists is gone)."""
        try:
            pages = client.get_paginator(operation).paginate(**kwargs)
            return [item for page in pages for item in page.get(key, [])]
        except ClientError as error:
            if error_codes(error) & set(unless):
                return []
            raise self.failure(error, getattr(client, operation)) from None

    def wait(self, client: Any, waiter: str, /, **kwargs: Any) -> None:
        """Wait with ``client``'s boto3 waiter ``waiter``; a timeout is a DeployError."""
        try:
            client.get_waiter(waiter).wait(**kwargs)
        except WaiterError as error:
            raise DeployError(
                f"{self.kind} {self.name}: waiting ({waiter}) gave up: {error}; "
                f"run the command again: it resumes where this one stopped"
            ) from None

    def failure(self, error: ClientError, method: Callable[..., Any] | None = None) -> DeployError:
        """The DeployError telling the user what failed on this resource, and the fix."""
        codes = error_codes(error)
        details = error.response.get("Error", {})
        code = str(details.get("QueryErrorCode") or details.get("Code") or "Error")
        message = error_message(error)
        text = f"{self.kind} {self.name}: {error.operation_name} failed: {code}: {message}"
        fix = _fix(codes, message, _service(method), error.operation_name)
        return DeployError(f"{text}; {fix}" if fix else text)


def _service(method: Callable[..., Any] | None) -> str:
    client: Any = getattr(method, "__self__", None)
    try:
        return str(client.meta.service_model.signing_name)
    except AttributeError:
        return ""


def _fix(codes: frozenset[str], message: str, service: str, operation: str) -> str:
    if codes & _ACCESS_DENIED:
        named = _NAMED_ACTION.search(message)
        action = (
            named.group(1)
            if named
            else _ACTION_OF_OPERATION.get((service, operation), f"{service}:{operation}")
        )
        return (
            f"the deploying identity lacks the permission {action}: grant it in the "
            f"identity's IAM policy, or deploy with credentials that have it"
        )
    if codes & _BAD_CREDENTIALS:
        return (
            "the AWS credentials are invalid or expired: refresh them (aws sso login, or "
            "the profile's keys) and run the command again"
        )
    if codes & _THROTTLED:
        return "AWS throttled the calls: run the command again in a minute, it resumes"
    if codes & _QUOTA:
        return (
            "an account quota is reached: raise it in Service Quotas, or remove resources "
            "this account no longer uses"
        )
    if "BucketAlreadyExists" in codes:
        return (
            "S3 bucket names are global and another account owns this one: rename the "
            "bucket or the app"
        )
    return ""
