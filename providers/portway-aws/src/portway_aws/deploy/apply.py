"""Apply: carry out a plan's changes in order, under the stage's lock, then record.

The loop, the lock and the record are the core's (:func:`portway.deploy.execute.
apply_recorded`); each change goes to its kind's operations
(:mod:`portway_aws.deploy.kinds`). What is AWS's own: the state bucket is created
first, and a destroy that would delete a bucket still holding objects is refused
before any change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from portway.deploy import ChangeKind, Plan
from portway.deploy.execute import apply_recorded, carry_out
from portway.deploy.reconcile import ResourceChange
from portway.errors import DeployError
from portway_aws.deploy import record as records
from portway_aws.deploy.kinds import ApplyContext, operations
from portway_aws.deploy.resources import AwsResource, Kind

if TYPE_CHECKING:
    from portway_aws.naming import Names
    from portway_aws.session import AwsClients


def apply_plan(
    plan: Plan,
    clients: AwsClients,
    names: Names,
    *,
    desired: Sequence[AwsResource] | None,
    code: bytes | None = None,
    progress: Callable[[str], None] = print,
) -> None:
    """Carry out ``plan``, then record ``desired`` (deploy), or drop the record (destroy: ``None``).

    Raises :class:`DeployError` naming the change that failed; what was done stays done.
    """
    changes = [c for c in plan.changes if isinstance(c, ResourceChange)]
    if plan.provider != "aws" or len(changes) != len(plan.changes):
        raise DeployError("this plan was not made by the aws provider; run the command again")
    _refuse_to_lose_data(changes, clients)
    records.ensure_state_bucket(clients, names)
    context = ApplyContext(clients, names, code, progress)
    apply_recorded(
        records.stage_records(clients, names),
        changes,
        lambda change: carry_out(change, operations(Kind(change.resource_type)), context),
        record=None if desired is None else records.deploy_record(names, desired),
        progress=progress,
    )


def _refuse_to_lose_data(changes: Sequence[ResourceChange[Any, Any]], clients: AwsClients) -> None:
    """Stop before any change if a bucket to delete holds objects: portway never deletes data.

    Checked up front (one listing call per bucket to delete), so a destroy does not stop
    half-way, with its functions gone and its buckets left.
    """
    kept = []
    for change in changes:
        if change.kind is ChangeKind.DELETE and change.resource_type == str(Kind.S3_BUCKET):
            try:
                listed = clients.s3.list_objects_v2(Bucket=change.name, MaxKeys=1)
            except Exception:  # gone already, or unreadable: the delete itself will say
                continue
            if listed.get("KeyCount", 0):
                kept.append(change.name)
    if kept:
        buckets = ", ".join(kept)
        commands = "; ".join(f"aws s3 rm s3://{name} --recursive" for name in kept)
        raise DeployError(
            f"bucket(s) {buckets} still hold objects and portway never deletes data; nothing "
            f"was changed. Empty them first if their objects can go ({commands}), then run "
            f"the command again"
        )
