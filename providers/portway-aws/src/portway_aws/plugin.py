"""Entry point of the ``aws`` provider (``[project.entry-points.portway]``).

Declares what AWS offers as data, so ``portway validate`` and ``portway providers``
work without the AWS SDK installed. The provider object (and, later, its SDK) is
imported only when a command needs it, through ``SPEC.factory``.
"""

from __future__ import annotations

from portway.capabilities import ALL_FEATURES, Capabilities
from portway.hookspec import hookimpl
from portway.providers import ProviderSpec, Setting
from portway_aws.message_encoding import DECLARED_MAX_MESSAGE_BYTES

CAPABILITIES = Capabilities(
    # SQS and SNS both accept 262,144 bytes (256 KiB) by default; each can be raised to
    # 1 MiB per queue or topic, but portway creates them with the default so a message
    # that fits one fits the other.
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
    # https://docs.aws.amazon.com/sns/latest/dg/large-message-payloads.html
    # Both count every attribute's name, type ("String", 6 bytes) and value with the body.
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_MessageAttributeValue.html
    # portway keeps 64 bytes for its own portway-content-type attribute (name, type and
    # value) and 6 for the type of each of the 9 user attributes the core allows, so a
    # message within the declared limit always fits once sent. Binary bodies that are not
    # UTF-8 text travel base64 (see portway_aws.message_encoding) and count 4/3.
    max_message_bytes=DECLARED_MAX_MESSAGE_BYTES,
    # An SQS event source mapping takes a BatchSize above 10 only together with a
    # batching window of at least 1 s, which would delay every message; portway never
    # sets one, so 10 is the most one invocation receives.
    # https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
    # https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html
    max_batch_size=10,
    # max_attempts is the redrive policy's maxReceiveCount: "a value between 1 and 1,000".
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue.html
    max_attempts=(1, 1000),
    # Queue visibility timeout: 0 to 43,200 s (12 hours).
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html
    visibility_timeout=(0, 43_200),
    # Lambda runs an invocation for at most 900 s, whatever invokes it; a function URL
    # (portway's HTTP trigger) is bound by the same function timeout.
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html
    max_timeout=900,
    max_http_timeout=900,
    # Function memory: 128 MB to 10,240 MB, in 1 MB steps.
    # https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
    memory=(128, 10_240),
    # "Lambda reads messages in batches and invokes your function once for each batch."
    # https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
    batch_delivery="native",
    # An S3 notification filter rule is named "prefix" or "suffix".
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_FilterRule.html
    native_object_filters=frozenset({"prefix", "suffix"}),
    # EventBridge Scheduler takes rate(value unit) expressions as they are.
    # https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
    rate_schedules="native",
    # Lambda validates the event source mapping and refuses it when the function
    # timeout exceeds the queue's visibility timeout.
    # https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
    visibility_must_cover_timeout=True,
    features=ALL_FEATURES,
    notes=(
        "a queue's visibility_timeout must be at least its functions' timeout "
        "(AWS recommends six times it, to leave room for throttled retries)",
        "messages are limited to 256 KiB: put larger payloads in a bucket and send the key",
        "object keys arrive URL-encoded from S3; portway hands them to handlers decoded",
    ),
)

SPEC = ProviderSpec(
    name="aws",
    capabilities=CAPABILITIES,
    factory="portway_aws.provider:AwsProvider",
    description="AWS: Lambda, SQS, SNS, S3 and EventBridge Scheduler",
    settings=(
        Setting("region", str, required=True, help="AWS region, like eu-west-1"),
        Setting("profile", str, help="named profile from ~/.aws/config (default: environment)"),
        Setting(
            "architecture",
            str,
            help='Lambda architecture: "x86_64" (default) or "arm64"',
        ),
        Setting(
            "endpoint_url",
            str,
            help="one endpoint for every AWS service (a local moto server, for tests)",
        ),
    ),
)


@hookimpl
def portway_providers() -> list[ProviderSpec]:
    """Declare the ``aws`` provider (see :func:`portway.hookspec.portway_providers`)."""
    return [SPEC]
