"""Apply: carry out a plan's changes in order, under the stage's lock, then record.

The executor holds no logic of its own about resources: each change goes to its kind's
operations (:mod:`portway_aws.deploy.kinds`). It takes the stage lock first, shows
progress, and writes the record once every change succeeded. If a change fails, the
lock is released and the record is left as it was: the next deploy sees what was done
(marks that differ from the record) and finishes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from portway.deploy import ChangeKind, Plan
from portway.errors import DeployError, PortwayError
from portway_aws.deploy import record as records
from portway_aws.deploy.kinds import ApplyContext, operations
from portway_aws.deploy.planner import AwsChange
from portway_aws.deploy.resources import AwsResource, Kind

if TYPE_CHECKING:
    from portway_aws.naming import Names
    from portway_aws.session import AwsClients

_MARK = {ChangeKind.CREATE: "+", ChangeKind.UPDATE: "~", ChangeKind.DELETE: "-"}


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
    changes = [c for c in plan.changes if isinstance(c, AwsChange)]
    if len(changes) != len(plan.changes):
        raise DeployError("this plan was not made by the aws provider; run the command again")
    _refuse_to_lose_data(changes, clients)
    records.ensure_state_bucket(clients, names)
    operation = "destroy" if desired is None else "deploy"
    records.acquire_lock(clients, names, operation)
    try:
        previous = records.read_record(clients, names)
        context = ApplyContext(clients, names, code, progress)
        total = len(changes)
        for number, change in enumerate(changes, start=1):
            mark = _MARK[change.kind]
            progress(f"[{number}/{total}] {mark} {change.resource_type} {change.name}")
            _apply_one(context, change)
        if desired is None:
            if previous is not None:
                records.delete_record(clients, names)
        else:
            record = records.Record(
                names.app, names.stage, records.recorded(desired), records.now()
            )
            records.write_record(clients, names, record, previous)
    finally:
        records.release_lock(clients, names)


def _refuse_to_lose_data(changes: Sequence[AwsChange], clients: AwsClients) -> None:
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


def _apply_one(context: ApplyContext, change: AwsChange) -> None:
    kind = Kind(change.resource_type)
    kind_operations = operations(kind)
    try:
        if change.kind is ChangeKind.CREATE and change.resource is not None:
            kind_operations.create(context, change.resource)
        elif change.kind is ChangeKind.UPDATE and change.resource and change.observed:
            kind_operations.update(context, change.resource, change.observed)
        elif change.kind is ChangeKind.DELETE and change.observed is not None:
            kind_operations.delete(context, change.observed)
        else:
            raise DeployError(f"{change.kind} {kind} {change.name}: the plan lacks its resource")
    except PortwayError:
        raise
    except Exception as error:
        raise DeployError(
            f"{change.kind} {kind} {change.name} failed: {type(error).__name__}: {error}; "
            f"run the command again: it resumes where this one stopped"
        ) from None
