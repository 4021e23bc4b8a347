"""Deterministic AWS names and ARNs for a pipeline's resources on one stage.

Every physical name is ``{app}-{stage}-{name}``, so two stages of one app, or two apps in
one account, never collide, and a second deploy finds what the first created. Where a
service's name limit is shorter than that, the name is cut and ends with a stable hash
of the whole (``-`` + 8 hex digits), so it stays unique and the same on every run.

Names that portway adds itself use a double hyphen (``transform--in``), which the
portable name rule forbids in user names, so they can never clash with a declared one.
S3 bucket names are global across all accounts: they end with a stable hash of the
account and region.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portway.deploy.names import fit, stable_hash
from portway.errors import ConfigError

# Service name limits (characters).
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
S3_BUCKET_LIMIT = 63
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
SQS_QUEUE_LIMIT = 80
# https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html
SNS_TOPIC_LIMIT = 256
# https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html
LAMBDA_FUNCTION_LIMIT = 64
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
IAM_ROLE_LIMIT = 64
# https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html
SCHEDULE_LIMIT = 64

_STAGE = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,19}$")

#: Tags on every resource portway creates; destroy and status find them by these.
APP_TAG = "portway:app"
STAGE_TAG = "portway:stage"
#: A hash of the resource's desired definition: a second deploy compares it instead of
#: reading every attribute of every resource (observation grows with kinds, not counts).
SPEC_TAG = "portway:spec"


def check_stage(stage: str) -> str:
    """Return ``stage`` if it can be part of AWS names; raise :class:`ConfigError` otherwise."""
    if not _STAGE.fullmatch(stage):
        raise ConfigError(
            f"stage {stage!r}: an AWS stage name must be 1 to 20 lowercase letters, digits "
            f"and single hyphens (it is part of every resource name); rename the stage"
        )
    return stage


@dataclass(frozen=True, slots=True)
class Names:
    """Physical names and ARNs of one app on one stage, in one account and region."""

    app: str
    stage: str
    account: str
    region: str
    partition: str = "aws"

    def __post_init__(self) -> None:
        check_stage(self.stage)

    @property
    def prefix(self) -> str:
        """``{app}-{stage}``: the start of every name of this deployment."""
        return f"{self.app}-{self.stage}"

    @property
    def tags(self) -> dict[str, str]:
        """The tags that mark a resource as this deployment's."""
        return {APP_TAG: self.app, STAGE_TAG: self.stage}

    # -- S3 ------------------------------------------------------------------------------

    @property
    def bucket_suffix(self) -> str:
        """Makes bucket names globally unique, and stable for this account and region."""
        return stable_hash(f"{self.account}/{self.region}")

    def bucket(self, name: str) -> str:
        """The S3 bucket of neutral bucket ``name``."""
        suffix = f"-{self.bucket_suffix}"
        return fit(f"{self.prefix}-{name}", S3_BUCKET_LIMIT - len(suffix)) + suffix

    def bucket_arn(self, name: str) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket(name)}"

    @property
    def state_bucket(self) -> str:
        """The portway-managed bucket holding deploy records (one per account and region)."""
        return f"portway-state-{self.bucket_suffix}"

    # -- SQS -----------------------------------------------------------------------------

    def queue(self, name: str) -> str:
        """The SQS queue of neutral queue ``name`` (its DLQ: :meth:`dead_letter_queue`)."""
        return fit(f"{self.prefix}-{name}", SQS_QUEUE_LIMIT - len("-dlq"))

    def dead_letter_queue(self, name: str) -> str:
        return self.queue(name) + "-dlq"

    def trigger_queue(self, function: str) -> str:
        """The queue portway owns between a topic or a bucket and ``function``."""
        return fit(f"{self.prefix}-{_resource(function)}--in", SQS_QUEUE_LIMIT - len("-dlq"))

    def trigger_dead_letter_queue(self, function: str) -> str:
        return self.trigger_queue(function) + "-dlq"

    def queue_arn(self, physical: str) -> str:
        """The ARN of the SQS queue named ``physical`` (a name from this class)."""
        return f"arn:{self.partition}:sqs:{self.region}:{self.account}:{physical}"

    def queue_url(self, physical: str) -> str:
        """The URL of the SQS queue named ``physical``, in AWS's documented form."""
        return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{physical}"

    # -- SNS -----------------------------------------------------------------------------

    def topic(self, name: str) -> str:
        return fit(f"{self.prefix}-{name}", SNS_TOPIC_LIMIT)

    def topic_arn(self, name: str) -> str:
        return f"arn:{self.partition}:sns:{self.region}:{self.account}:{self.topic(name)}"

    def bucket_topic(self, bucket: str) -> str:
        """The topic fanning a bucket's object events out, when its triggers' filters overlap."""
        return fit(f"{self.prefix}-{bucket}--objects", SNS_TOPIC_LIMIT)

    def bucket_topic_arn(self, bucket: str) -> str:
        return f"arn:{self.partition}:sns:{self.region}:{self.account}:{self.bucket_topic(bucket)}"

    # -- Lambda, IAM, logs -----------------------------------------------------------------

    def function(self, function: str) -> str:
        """The Lambda function of portway function ``function`` (``pull_ftp``)."""
        return fit(f"{self.prefix}-{_resource(function)}", LAMBDA_FUNCTION_LIMIT)

    def function_arn(self, function: str) -> str:
        return (
            f"arn:{self.partition}:lambda:{self.region}:{self.account}:"
            f"function:{self.function(function)}"
        )

    def log_group_arn(self, function: str) -> str:
        """The ARN of the function's CloudWatch log group and its streams."""
        return (
            f"arn:{self.partition}:logs:{self.region}:{self.account}:"
            f"log-group:/aws/lambda/{self.function(function)}:*"
        )

    @property
    def role_path(self) -> str:
        """The IAM path of every role of this deployment: listing by it finds them all."""
        return f"/portway/{self.app}/{self.stage}/"

    def role(self, function: str) -> str:
        """The IAM role of ``function`` (one role per function)."""
        return fit(f"{self.prefix}-{_resource(function)}", IAM_ROLE_LIMIT)

    @property
    def scheduler_role(self) -> str:
        """The role EventBridge Scheduler assumes to invoke this deployment's functions."""
        return fit(f"{self.prefix}--scheduler", IAM_ROLE_LIMIT)

    def role_arn(self, role: str) -> str:
        """The ARN of the role named ``role`` (from :meth:`role` or :attr:`scheduler_role`)."""
        return f"arn:{self.partition}:iam::{self.account}:role{self.role_path}{role}"

    # -- EventBridge Scheduler -------------------------------------------------------------

    @property
    def schedule_group(self) -> str:
        """The schedule group of this deployment: listing it finds every schedule."""
        return fit(self.prefix, SCHEDULE_LIMIT)

    def schedule(self, function: str) -> str:
        return fit(_resource(function), SCHEDULE_LIMIT)

    def schedule_group_arn(self) -> str:
        return (
            f"arn:{self.partition}:scheduler:{self.region}:{self.account}:"
            f"schedule-group/{self.schedule_group}"
        )


def _resource(function: str) -> str:
    """``pull_ftp`` -> ``pull-ftp``: AWS names take no underscores everywhere."""
    return function.replace("_", "-")
