"""The executor's per-kind operations: one module per AWS resource kind.

Each module defines one :class:`KindOperations` object and registers it in
:data:`OPERATIONS` (imported lazily by :func:`operations`). Contract of every method:

* ``create``: make the resource from ``resource.spec``, tagged with the deployment's
  tags and ``portway:spec`` = ``resource.spec_hash`` (an IAM role carries the hash in
  its description); idempotent: if the resource already exists (a deploy cut short), bring it
  to the spec instead of failing.
* ``update``: bring an existing resource to ``resource.spec`` and store the new hash.
* ``delete``: remove the resource and what portway attached to it (a queue's
  subscription, a function's event source mapping, URL and schedule); a resource that
  is already gone is not an error.

Errors from boto3 are wrapped in :class:`~portway.errors.DeployError` naming the
resource and the fix.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from portway.deploy import execute
from portway_aws.deploy.resources import AwsResource, Kind, Observed

if TYPE_CHECKING:
    from collections.abc import Callable

    from portway_aws.naming import Names
    from portway_aws.session import AwsClients


@dataclass(frozen=True, slots=True)
class ApplyContext:
    """What every operation may need besides the resource.

    ``code``: the Lambda zip's bytes (``None`` when no function is created or updated).
    ``progress``: a one-line note for the user (``"waiting for IAM role ..."``).
    """

    clients: AwsClients
    names: Names
    code: bytes | None = None
    progress: Callable[[str], None] = print


class KindOperations(execute.KindOperations[ApplyContext, AwsResource, Observed], Protocol):
    """The core's per-kind contract (:class:`portway.deploy.execute.KindOperations`)."""

    kind: Kind


_MODULES = {
    Kind.IAM_ROLE: "iam_roles",
    Kind.SNS_TOPIC: "sns_topics",
    Kind.SQS_QUEUE: "sqs_queues",
    Kind.S3_BUCKET: "s3_buckets",
    Kind.SCHEDULER_GROUP: "schedule_groups",
    Kind.LAMBDA_FUNCTION: "lambda_functions",
}


def operations(kind: Kind) -> KindOperations:
    """The operations of ``kind``, from ``portway_aws.deploy.kinds.<module>.OPERATIONS``."""
    module = importlib.import_module(f"{__name__}.{_MODULES[kind]}")
    found: KindOperations = module.OPERATIONS
    return found
