"""Apply: carry out a plan's changes in order, under the stage's lock, then record.

The loop, the lock and the record are the core's (:func:`portway.deploy.execute.
apply_recorded`); each change goes to its kind's operations
(:mod:`portway_gcp.deploy.kinds`). What is Google Cloud's own: a destroy that would
delete a bucket still holding objects is refused before any change, and the state
bucket is created first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from portway.deploy import ChangeKind, Plan
from portway.deploy.execute import apply_recorded, carry_out
from portway.deploy.reconcile import ResourceChange
from portway.errors import DeployError
from portway_gcp.deploy import record as records
from portway_gcp.deploy.kinds import operations
from portway_gcp.deploy.resources import Kind

if TYPE_CHECKING:
    from portway_gcp.deploy.kinds import ApplyContext
    from portway_gcp.deploy.resources import GcpResource

PROVIDER = "gcp"


def apply_plan(plan: Plan, context: ApplyContext, *, desired: Sequence[GcpResource] | None) -> None:
    """Carry out ``plan``, then record ``desired`` (deploy), or drop the record (destroy: ``None``).

    Raises :class:`DeployError` naming the change that failed; what was done stays done.
    """
    changes = [c for c in plan.changes if isinstance(c, ResourceChange)]
    if plan.provider != PROVIDER or len(changes) != len(plan.changes):
        raise DeployError("this plan was not made by the gcp provider; run the command again")
    refuse_to_lose_data(changes, context)
    storage, names, log = context.clients.storage, context.names, context.log
    records.ensure_state_bucket(storage, names, log)
    apply_recorded(
        records.stage_records(storage, names, log),
        changes,
        lambda change: carry_out(change, operations(Kind(change.resource_type)), context),
        record=None if desired is None else records.deploy_record(names, desired),
        progress=context.progress,
    )


def refuse_to_lose_data(changes: Sequence[ResourceChange[Any, Any]], context: ApplyContext) -> None:
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
