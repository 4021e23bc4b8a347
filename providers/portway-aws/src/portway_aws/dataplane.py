"""The AWS data plane: ``lake.write()``, ``jobs.send()``, ``loaded.publish()`` on S3, SQS, SNS.

:class:`AwsDataPlane` maps each neutral resource to its AWS identity through a
:class:`~portway_aws.runtime_config.ResourceMap` and makes the one SDK call that does the
job (batch APIs for messages). boto3 is imported on the first call, not before: the
handler shim imports this module at cold start. Clients are created once per process
and reused (they are thread-safe); a module-level cache keys them by service, region,
endpoint and profile.

Every SDK error is wrapped into a :class:`~portway.errors.PortwayError` naming the
resource, its AWS identity and the fix; a missing object is ``KeyError`` as everywhere.
"""

from __future__ import annotations

import os
from _thread import allocate_lock
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from portway.errors import (
    ConfigError,
    DeployError,
    MessageTooLarge,
    PermissionDenied,
    PortwayError,
    ValidationError,
)
from portway.keys import check_key
from portway.model import Bucket, Queue, Topic
from portway.payload import OutgoingMessage, check_sizes
from portway_aws import message_encoding
from portway_aws.message_encoding import (
    DECLARED_MAX_MESSAGE_BYTES,
    MAX_MESSAGE_BYTES,
    WireMessage,
)
from portway_aws.runtime_config import ResourceMap

# SendMessageBatch and PublishBatch take at most 10 entries, and at most 256 KiB in all.
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
# https://docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html
MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = MAX_MESSAGE_BYTES

SessionFactory = Callable[[], Any]

_NOT_FOUND = frozenset(
    {
        "NoSuchBucket",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NotFound",
        "NotFoundException",
    }
)
_DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "AuthorizationError", "AuthorizationErrorException"}
)

_clients: dict[tuple[str, str | None, str | None, str | None], Any] = {}
# threading.Lock is _thread.allocate_lock; importing threading itself costs a cold start
# more, and boto3 imports it anyway when the first client is made.
_clients_lock = allocate_lock()


def _client_config() -> Any:
    from botocore.config import Config

    # Standard retry mode backs off on throttling and transient errors, 5 attempts in
    # all; short connect timeout so a wrong endpoint fails fast instead of hanging.
    # https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
    return Config(
        retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60
    )


def shared_client(
    service: str, *, region: str | None, endpoint_url: str | None, profile: str | None
) -> Any:
    """A boto3 client for ``service``, created on first use and shared by the process.

    ``region`` defaults to ``AWS_REGION`` (set by Lambda) or ``AWS_DEFAULT_REGION``;
    ``endpoint_url`` to ``AWS_ENDPOINT_URL`` (read by boto3 itself).
    """
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    # The environment's endpoint is part of the key: a client keeps the endpoint it was
    # made with, and tests point the variable at a new server.
    endpoint_key = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    key = (service, region, endpoint_key, profile)
    client = _clients.get(key)
    if client is not None:
        return client
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            import boto3

            session = boto3.session.Session(profile_name=profile, region_name=region)
            client = session.client(service, endpoint_url=endpoint_url, config=_client_config())
            _clients[key] = client
        return client


@dataclass(frozen=True, slots=True)
class CallTarget:
    """What a call is about, for error messages: ``bucket 'lake' (acme-lake)``."""

    kind: str
    name: str
    identity: str
    call: str
    permission: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r} ({self.identity})"


class AwsDataPlane:
    """Implements :class:`portway.dataplane.DataPlane` on S3, SQS and SNS.

    ``resources`` maps neutral names to AWS identities. ``stage`` is named in errors.
    ``region``, ``endpoint_url`` and ``profile`` choose the clients (default: the
    environment, as in a Lambda function); ``session_factory`` (returning a
    ``boto3.session.Session``) replaces that choice entirely, for callers that hold
    their own session.
    """

    def __init__(
        self,
        resources: ResourceMap,
        *,
        stage: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        session_factory: SessionFactory | None = None,
    ) -> None:
        self.resources = resources
        self.stage = stage
        self.region = region
        self.endpoint_url = endpoint_url
        self.profile = profile
        self._session_factory = session_factory
        self._own_clients: dict[str, Any] = {}
        self.list_page_size = 1000  # S3's own maximum; tests make it small to page

    def _client(self, service: str) -> Any:
        if self._session_factory is None:
            return shared_client(
                service, region=self.region, endpoint_url=self.endpoint_url, profile=self.profile
            )
        client = self._own_clients.get(service)
        if client is None:
            session = self._session_factory()
            client = session.client(
                service, endpoint_url=self.endpoint_url, config=_client_config()
            )
            self._own_clients[service] = client
        return client

    # -- buckets ---------------------------------------------------------------------

    def read_object(self, bucket: Bucket, key: str) -> bytes:
        check_key(key, bucket=bucket.name)
        target = self._bucket(bucket, f"{bucket.name}.read({key!r})", "s3:GetObject")
        client = self._client("s3")
        with self._translated(target):
            try:
                response = client.get_object(Bucket=target.identity, Key=key)
            except client.exceptions.NoSuchKey:
                raise KeyError(f"bucket {bucket.name!r} has no object {key!r}") from None
            data: bytes = response["Body"].read()
        return data

    def write_object(self, bucket: Bucket, key: str, data: bytes, content_type: str) -> None:
        check_key(key, bucket=bucket.name)
        target = self._bucket(bucket, f"{bucket.name}.write({key!r}, ...)", "s3:PutObject")
        with self._translated(target):
            self._client("s3").put_object(
                Bucket=target.identity, Key=key, Body=data, ContentType=content_type
            )

    def list_objects(self, bucket: Bucket, prefix: str) -> list[str]:
        target = self._bucket(bucket, f"{bucket.name}.list({prefix!r})", "s3:ListBucket")
        keys: list[str] = []
        with self._translated(target):
            pages = self._client("s3").get_paginator("list_objects_v2")
            pagination = {"PageSize": self.list_page_size}
            for page in pages.paginate(
                Bucket=target.identity, Prefix=prefix, PaginationConfig=pagination
            ):
                keys.extend(item["Key"] for item in page.get("Contents", ()))
        return sorted(keys)

    def delete_object(self, bucket: Bucket, key: str) -> None:
        check_key(key, bucket=bucket.name)
        target = self._bucket(bucket, f"{bucket.name}.delete({key!r})", "s3:DeleteObject")
        # S3 answers 204 for a key that does not exist: deleting it is no error.
        with self._translated(target):
            self._client("s3").delete_object(Bucket=target.identity, Key=key)

    def _bucket(self, bucket: Bucket, call: str, permission: str) -> CallTarget:
        identity = self.resources.bucket(bucket.name)
        return CallTarget("bucket", bucket.name, identity, call, permission)

    # -- queues and topics ---------------------------------------------------------------

    def send_messages(self, queue: Queue, messages: Sequence[OutgoingMessage]) -> list[str]:
        call = f"{queue.name}.send()"
        url = self.resources.queue_url(queue.name)
        target = CallTarget("queue", queue.name, url, call, "sqs:SendMessage")
        client = self._client("sqs")
        return self._deliver(
            target,
            _encode_all(messages, call),
            one=lambda body, attributes: client.send_message(
                QueueUrl=url, MessageBody=body, MessageAttributes=attributes
            ),
            many=lambda entries: client.send_message_batch(QueueUrl=url, Entries=entries),
            body_field="MessageBody",
        )

    def publish_messages(self, topic: Topic, messages: Sequence[OutgoingMessage]) -> list[str]:
        call = f"{topic.name}.publish()"
        arn = self.resources.topic_arn(topic.name)
        target = CallTarget("topic", topic.name, arn, call, "sns:Publish")
        client = self._client("sns")
        return self._deliver(
            target,
            _encode_all(messages, call),
            one=lambda body, attributes: client.publish(
                TopicArn=arn, Message=body, MessageAttributes=attributes
            ),
            many=lambda entries: client.publish_batch(
                TopicArn=arn, PublishBatchRequestEntries=entries
            ),
            body_field="Message",
        )

    def _deliver(
        self,
        target: CallTarget,
        wire: list[WireMessage],
        *,
        one: Callable[[str, dict[str, dict[str, str]]], Any],
        many: Callable[[list[dict[str, Any]]], Any],
        body_field: str,
    ) -> list[str]:
        """Send encoded messages: one by the plain call, more by the batch call in
        batches of at most 10 and 256 KiB; return their ids in order."""
        if len(wire) == 1:  # no batch envelope to build and parse
            with self._translated(target):
                response = one(wire[0].body, _string_attributes(wire[0]))
            return [str(response["MessageId"])]
        ids: list[str] = []
        for batch in _batches(wire):
            entries = [
                {
                    "Id": str(index),
                    body_field: message.body,
                    "MessageAttributes": _string_attributes(message),
                }
                for index, message in enumerate(batch)
            ]
            with self._translated(target):
                response = many(entries)
            ids.extend(batch_message_ids(response, batch, target, len(ids), len(wire)))
        return ids

    # -- errors ----------------------------------------------------------------------------

    @contextmanager
    def _translated(self, target: CallTarget) -> Iterator[None]:
        """Turn botocore's exceptions raised in the block into portway's."""
        try:
            yield
        except (PortwayError, KeyError):
            raise
        except Exception as error:
            translated = self._translate(error, target)
            if translated is None:
                raise
            raise translated from None

    def _translate(self, error: Exception, target: CallTarget) -> PortwayError | None:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            NoRegionError,
        )

        deploy = f"'portway deploy --stage {self.stage}'" if self.stage else "'portway deploy'"
        on_stage = f"on stage {self.stage!r}" if self.stage else "on this stage"
        if isinstance(error, ClientError):
            details = error.response.get("Error", {})
            code = str(details.get("Code", ""))
            text = str(details.get("Message", "")) or code
            if code in _NOT_FOUND:
                return DeployError(
                    f"{target.call}: {target} does not exist {on_stage}: run {deploy}"
                )
            if code in _DENIED:
                return PermissionDenied(
                    f"{target.call}: AWS denied {target.permission} on {target} ({text}); "
                    f"declare the use in the function's uses=[...] and run {deploy}"
                )
            return PortwayError(f"{target.call}: AWS refused it for {target}: {code}: {text}")
        if isinstance(error, NoCredentialsError):
            return ConfigError(
                f"{target.call}: no AWS credentials were found: set a profile in the "
                f"stage's settings, or AWS_PROFILE / AWS_ACCESS_KEY_ID in the environment"
            )
        if isinstance(error, NoRegionError):
            return ConfigError(
                f"{target.call}: no AWS region: set 'region' in the stage or AWS_REGION"
            )
        if isinstance(error, EndpointConnectionError):
            return PortwayError(f"{target.call}: could not reach AWS for {target}: {error}")
        if isinstance(error, BotoCoreError):
            return PortwayError(f"{target.call}: the AWS SDK failed for {target}: {error}")
        return None


def _encode_all(messages: Sequence[OutgoingMessage], call: str) -> list[WireMessage]:
    """Encode each message; :class:`MessageTooLarge` if one exceeds what SQS/SNS accept.

    First against the declared limit (as portway counts a message, the same rule on every
    provider), then once encoded against what SQS and SNS really accept (a base64 body
    counts four bytes for every three).
    """
    check_sizes(messages, DECLARED_MAX_MESSAGE_BYTES, target=call)
    wire = []
    for index, message in enumerate(messages):
        for name, value in message.attributes.items():
            if not value:
                # SQS and SNS refuse an attribute with an empty value (moto does not).
                raise ValidationError(
                    f"{call}: message attribute {name!r} is empty; SQS and SNS refuse empty "
                    f"attribute values: leave the attribute out instead"
                )
        encoded = message_encoding.encode(message)
        if encoded.size > MAX_MESSAGE_BYTES:
            which = f"message {index + 1} of {len(messages)}" if len(messages) > 1 else "message"
            how = (
                " (its body is not UTF-8 text, so it travels base64, a third larger)"
                if encoded.attributes[message_encoding.CONTENT_TYPE_ATTRIBUTE].endswith(
                    message_encoding.BASE64_MARK
                )
                else ""
            )
            raise MessageTooLarge(
                f"{call}: the {which} is {encoded.size:,} bytes as SQS and SNS count it "
                f"(body, attribute names, types and values){how}, more than the "
                f"{MAX_MESSAGE_BYTES:,} they accept; store the data in a bucket and send its key"
            )
        wire.append(encoded)
    return wire


def _batches(messages: list[WireMessage]) -> Iterator[list[WireMessage]]:
    """Consecutive batches of at most 10 messages and 256 KiB in all, order kept."""
    batch: list[WireMessage] = []
    size = 0
    for message in messages:
        if batch and (len(batch) == MAX_BATCH_ENTRIES or size + message.size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(message)
        size += message.size
    if batch:
        yield batch


def _string_attributes(message: WireMessage) -> dict[str, dict[str, str]]:
    return {
        name: {"DataType": message_encoding.STRING, "StringValue": value}
        for name, value in message.attributes.items()
    }


def batch_message_ids(
    response: dict[str, Any],
    batch: Sequence[object],
    target: CallTarget,
    sent_before: int,
    total: int,
) -> list[str]:
    """The message ids of a batch response, in entry order.

    A batch call succeeds even when entries fail: each failure is listed under
    ``Failed``. Raises :class:`PortwayError` naming the first failed entry, how many
    messages went before it, and the reason AWS gave.
    """
    count = len(batch)
    failed = sorted(response.get("Failed", ()), key=lambda entry: int(entry["Id"]))
    if failed:
        first = failed[0]
        number = sent_before + int(first["Id"]) + 1
        fault = "the request" if first.get("SenderFault") else "AWS (retry later)"
        sent = sent_before + count - len(failed)
        raise PortwayError(
            f"{target.call}: {target} refused message {number} "
            f"({first.get('Code', 'unknown')}: {first.get('Message', 'no reason given')}; "
            f"at fault: {fault}); {sent} of the {total} message(s) were accepted, "
            f"the others were not sent"
        )
    by_entry = {int(entry["Id"]): str(entry["MessageId"]) for entry in response["Successful"]}
    missing = [index for index in range(count) if index not in by_entry]
    if missing:
        raise PortwayError(
            f"{target.call}: {target} answered without a result for {len(missing)} message(s)"
        )
    return [by_entry[index] for index in range(count)]
