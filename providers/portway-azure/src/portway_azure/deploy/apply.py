"""Apply: carry out a plan's changes in order, under the stage's lock, then record.

The loop (progress lines, errors wrapped) is the core's
(:func:`portway.deploy.execute.run_changes`), the lock and the record too
(:class:`portway.deploy.record.StageRecords` on a :class:`~portway_azure.deploy.record.
BlobRecordStore`). Each change becomes its kind's requests
(:mod:`portway_azure.deploy.requests`), which a :class:`~portway_azure.deploy.arm.Sender`
sends. An empty plan sends nothing at all.

What is Azure's own: the lock and the record live in the data storage account, which a
first deploy must create before it can take the lock, so the apply has two phases:
storage account changes (an idempotent PUT, which two racing first deploys may both
send harmlessly) run first, then the lock is taken and the rest applied (the count
goes on: ``run_changes(..., done=, total=)``). A destroy takes the lock first; once it
deleted the data account, lock and record went with it. If a change fails, the lock is
released and the record left as it was: the next deploy sees what was done (marks that
differ from the record) and finishes it. A destroy that would delete a container still
holding blobs is refused before any change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portway.deploy import ChangeKind, Plan
from portway.deploy.execute import carry_out, run_changes
from portway.deploy.reconcile import ResourceChange
from portway.errors import DeployError
from portway_azure.deploy import record as records
from portway_azure.deploy.requests import (
    ArmRequest,
    Resolved,
    create_requests,
    delete_requests,
    update_requests,
)
from portway_azure.deploy.resources import AzureResource, Key, Kind, Observed
from portway_azure.naming import STATE_CONTAINER

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient, ContainerClient

    from portway_azure.deploy.arm import Sender
    from portway_azure.naming import Names

#: A change of an Azure plan: the desired resource, the observed one.
AzureChange = ResourceChange[AzureResource, Observed]


def apply_plan(
    plan: Plan,
    sender: Sender,
    names: Names,
    blobs: Callable[[], BlobServiceClient],
    *,
    desired: Sequence[AzureResource] | None,
    observed: Mapping[Key, Observed],
    progress: Callable[[str], None] = print,
) -> None:
    """Carry out ``plan``, then record ``desired`` (deploy), or drop the record (destroy: ``None``).

    ``blobs`` gives the data account's Blob service (the lock, the record, and the check
    that no container to delete holds data). ``observed``: what the plan was made from
    (identities' and topics' ids that requests need). Raises :class:`DeployError` naming
    the change that failed; what was done stays done.
    """
    changes: list[AzureChange] = [c for c in plan.changes if isinstance(c, ResourceChange)]
    if plan.provider != "azure" or len(changes) != len(plan.changes):
        raise DeployError("this plan was not made by the azure provider; run the command again")
    if not changes:
        return
    resolved = Resolved()
    for found in observed.values():
        resolved.learn(found.kind, found.name, found.details)
    data_account = (Kind.STORAGE_ACCOUNT, names.storage_account)
    data_account_goes = any(
        c.kind is ChangeKind.DELETE and (Kind(c.resource_type), c.name) == data_account
        for c in changes
    )
    if data_account_goes or any(_deletes_a_container(c) for c in changes):
        refuse_to_lose_data(changes, names, blobs())
    operations = ArmOperations(sender, names, resolved)

    def apply(change: AzureChange) -> None:
        carry_out(change, operations, None)

    first = [c for c in changes if _is_account(c) and c.kind is not ChangeKind.DELETE]
    rest = [c for c in changes if c not in first]
    total = len(changes)
    run_changes(first, apply, progress=progress, total=total)
    if data_account not in observed and not any(c.name == names.storage_account for c in first):
        # A destroy finishing what was left after the data account (and the lock and
        # record in it) went: nothing to lock or forget.
        run_changes(rest, apply, progress=progress, done=len(first), total=total)
        return
    state = records.state_container(blobs())
    records.ensure_state_container(state)
    stage = records.stage_records(state, names)
    stage.acquire("destroy" if desired is None else "deploy")
    try:
        previous = stage.read()
        run_changes(rest, apply, progress=progress, done=len(first), total=total)
        if data_account_goes:
            return  # the record and the lock were in it
        if desired is None:
            stage.delete()
        else:
            stage.write(records.deploy_record(names, desired), previous)
    finally:
        if not data_account_goes:
            stage.release()


@dataclass(frozen=True, slots=True)
class ArmOperations:
    """Every kind's operations (:class:`~portway.deploy.execute.KindOperations`): the
    requests of :mod:`portway_azure.deploy.requests`, sent by ``sender``; what a create
    answers (an identity's ids, a topic's endpoint) goes to ``resolved``."""

    sender: Sender
    names: Names
    resolved: Resolved

    def create(self, context: None, resource: AzureResource) -> None:
        self._send(resource, create_requests(resource, self.names, self.resolved))

    def update(self, context: None, resource: AzureResource, observed: Observed) -> None:
        self._send(resource, update_requests(resource, observed, self.names, self.resolved))

    def delete(self, context: None, observed: Observed) -> None:
        self._send(None, delete_requests(observed, self.names))

    def _send(self, resource: AzureResource | None, requests: list[ArmRequest]) -> None:
        for request in requests:
            details = _details(self.sender.send(request))
            if resource is not None and details:
                self.resolved.learn(resource.kind, resource.name, details)


def _deletes_a_container(change: AzureChange) -> bool:
    return change.kind is ChangeKind.DELETE and change.resource_type == str(Kind.STORAGE_CONTAINER)


def _is_account(change: AzureChange) -> bool:
    return change.resource_type == str(Kind.STORAGE_ACCOUNT)


def refuse_to_lose_data(
    changes: Sequence[AzureChange], names: Names, blobs: BlobServiceClient
) -> None:
    """Stop before any change if a container to delete holds blobs: portway never deletes data.

    The containers to delete are those of deleted buckets and, when the data account
    itself goes, every container in it but the deploy record's. Checked up front (one
    listing call per container), so a destroy does not stop half-way.
    """
    from azure.core.exceptions import AzureError

    doomed = {
        c.observed.name
        for c in changes
        if c.kind is ChangeKind.DELETE
        and c.resource_type == str(Kind.STORAGE_CONTAINER)
        and c.observed is not None
        and c.observed.parent == names.storage_account
    }
    try:
        if any(c.kind is ChangeKind.DELETE and c.name == names.storage_account for c in changes):
            doomed |= {c.name for c in blobs.list_containers() if c.name != STATE_CONTAINER}
        kept = sorted(name for name in doomed if _holds_blobs(blobs.get_container_client(name)))
    except AzureError as error:
        raise DeployError(
            f"cannot check that the containers to delete in {names.storage_account} are "
            f"empty ({type(error).__name__}: {error}); nothing was changed"
        ) from None
    if kept:
        commands = "; ".join(
            f"az storage blob delete-batch --account-name {names.storage_account} --source {name}"
            for name in kept
        )
        raise DeployError(
            f"container(s) {', '.join(kept)} still hold blobs and portway never deletes "
            f"data; nothing was changed. Empty them first if their blobs can go "
            f"({commands}), then run the command again"
        )


def _holds_blobs(container: ContainerClient) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return next(iter(container.list_blobs(results_per_page=1)), None) is not None
    except ResourceNotFoundError:  # gone already
        return False


def _details(result: Any) -> dict[str, str]:
    """What a created identity or topic tells: ids and endpoint (see ``Observed.details``)."""
    details: dict[str, str] = {}
    for attribute in ("principal_id", "client_id", "endpoint"):
        value = getattr(result, attribute, None)
        if value:
            details[attribute] = str(value)
    return details
