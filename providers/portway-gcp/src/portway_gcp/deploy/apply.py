"""Apply: carry out a plan's changes in order, under the stage's lock, then record.

The executor holds no logic of its own about resources: each change goes to its kind's
operations (:mod:`portway_gcp.deploy.kinds`). It refuses up front, changing nothing,
to delete a bucket that holds objects; then takes the stage lock, shows progress, and
writes the record once every change succeeded. If a change fails, the lock is released
and the record is left as it was: the next deploy sees what was done (marks that differ
from the record) and finishes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from portway.deploy import ChangeKind, Plan
from portway.errors import DeployError, PortwayError
from portway_gcp.deploy import record as records
from portway_gcp.deploy.kinds import operations
from portway_gcp.deploy.planner import PROVIDER, GcpChange
from portway_gcp.deploy.resources import Kind

if TYPE_CHECKING:
    from portway_gcp.deploy.kinds import ApplyContext
    from portway_gcp.deploy.resources import GcpResource

_MARK = {ChangeKind.CREATE: "+", ChangeKind.UPDATE: "~", ChangeKind.DELETE: "-"}


def apply_plan(plan: Plan, context: ApplyContext, *, desired: Sequence[GcpResource] | None) -> None:
    """Carry out ``plan``, then record ``desired`` (deploy), or drop the record (destroy: ``None``).

    Raises :class:`DeployError` naming the change that failed; what was done stays done.
    """
    changes = [c for c in plan.changes if isinstance(c, GcpChange)]
    if plan.provider != PROVIDER or len(changes) != len(plan.changes):
        raise DeployError("this plan was not made by the gcp provider; run the command again")
    refuse_to_lose_data(changes, context)
    storage, names, log = context.clients.storage, context.names, context.log
    records.ensure_state_bucket(storage, names, log)
    lock = records.acquire_lock(storage, names, "destroy" if desired is None else "deploy", log)
    try:
        previous = records.read_record(storage, names, log)
        total = len(changes)
        for number, change in enumerate(changes, start=1):
            context.progress(
                f"[{number}/{total}] {_MARK[change.kind]} {change.resource_type} {change.name}"
            )
            _apply_one(context, change)
        if desired is None:
            if previous is not None:
                records.delete_record(storage, names, log)
        else:
            record = records.Record(
                names.app, names.stage, records.recorded(desired), records.now()
            )
            records.write_record(storage, names, record, previous, log)
    finally:
        records.release_lock(storage, names, log, lock)


def refuse_to_lose_data(changes: Sequence[GcpChange], context: ApplyContext) -> None:
    """Stop before any change if a bucket to delete holds objects: portway never deletes data.

    Checked up front (one listing call per bucket to delete), so a destroy does not stop
    half-way, with its functions gone and its buckets left.
    """
    from google.api_core import exceptions

    kept = []
    for change in changes:
        if change.kind is ChangeKind.DELETE and change.resource_type == str(Kind.STORAGE_BUCKET):
            bucket = change.name.rsplit("/", 1)[1]
            calls = context.calls(Kind.STORAGE_BUCKET, change.name)
            listed = calls.unless(
                (exceptions.NotFound,),
                "storage.objects.list",
                lambda name=bucket: list(context.clients.storage.list_blobs(name, max_results=1)),
                mutating=False,
            )
            if listed:
                kept.append(bucket)
    if kept:
        buckets = ", ".join(kept)
        commands = "; ".join(f"gcloud storage rm --recursive gs://{name}/**" for name in kept)
        raise DeployError(
            f"bucket(s) {buckets} still hold objects and portway never deletes data; nothing "
            f"was changed. Empty them first if their objects can go ({commands}), then run "
            f"the command again"
        )


def _apply_one(context: ApplyContext, change: GcpChange) -> None:
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
