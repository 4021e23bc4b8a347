"""Plan: a pure function of (desired, observed, recorded) -> Plan of frozen changes.

A resource is up to date when the spec hash marked on it, the hash in the last
completed deploy's record and the desired hash all agree. A deploy cut short leaves
resources whose mark differs from the record (or that the record lacks), so the next
plan updates them again: every operation is idempotent, and the run converges.

Order: creations and updates first, by kind (storage accounts, containers, queues,
topics, identities, role assignments, plans, Function Apps, event subscriptions; see
:class:`~portway_azure.deploy.resources.Kind`) and dependencies within a kind; then
deletions, in the reverse order, so nothing is removed while something still points
at it. A change's ``name`` is the resource's path (``account/queue``,
``topic/subscription``, or its own name).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from portway.deploy import Change, ChangeKind, Plan
from portway_azure.deploy.record import Record, RecordedResource
from portway_azure.deploy.resources import AzureResource, Key, Observed

PROVIDER = "azure"


@dataclass(frozen=True, slots=True)
class AzureChange(Change):
    """A change, with what the executor needs: the desired resource and the found one.

    Frozen, like the :class:`~portway.deploy.Change` it extends.
    """

    resource: AzureResource | None = None
    observed: Observed | None = None


def plan_deploy(
    app: str,
    stage: str,
    desired: Iterable[AzureResource],
    observed: Mapping[Key, Observed],
    record: Record | None,
) -> Plan:
    """The changes that bring ``observed`` to ``desired``; empty when nothing differs."""
    wanted = {r.key: r for r in desired}
    recorded = record.by_key() if record is not None else {}
    changes: list[Change] = []
    for resource in dependency_order(wanted.values()):
        found = observed.get(resource.key)
        if found is None:
            changes.append(
                AzureChange(
                    ChangeKind.CREATE,
                    str(resource.kind),
                    resource.path,
                    resource.neutral,
                    resource=resource,
                )
            )
            continue
        previous = recorded.get(resource.key)
        if (
            found.spec_hash == resource.spec_hash
            and previous is not None
            and (previous.spec_hash == resource.spec_hash)
        ):
            continue
        changes.append(
            AzureChange(
                ChangeKind.UPDATE,
                str(resource.kind),
                resource.path,
                resource.neutral,
                details=describe_update(resource, found, previous),
                resource=resource,
                observed=found,
            )
        )
    extra = [found for key, found in observed.items() if key not in wanted]
    changes.extend(_deletions(extra, recorded))
    return Plan(app, stage, PROVIDER, tuple(changes))


def plan_destroy(
    app: str,
    stage: str,
    observed: Mapping[Key, Observed],
    record: Record | None,
) -> Plan:
    """Delete every resource of the deployment: tagged (found) or recorded and still there."""
    recorded = record.by_key() if record is not None else {}
    return Plan(app, stage, PROVIDER, tuple(_deletions(observed.values(), recorded)))


def _deletions(found: Iterable[Observed], recorded: Mapping[Key, RecordedResource]) -> list[Change]:
    ordered = sorted(found, key=lambda o: (-o.kind.rank, o.path))
    return [
        AzureChange(
            ChangeKind.DELETE,
            str(o.kind),
            o.path,
            _neutral_of(o, recorded),
            observed=o,
        )
        for o in ordered
    ]


def _neutral_of(found: Observed, recorded: Mapping[Key, RecordedResource]) -> str:
    previous = recorded.get(found.key)
    return previous.neutral if previous is not None and previous.neutral else "tagged"


def describe_update(
    resource: AzureResource, found: Observed, previous: RecordedResource | None
) -> dict[str, Any]:
    """What differs, for display: changed spec fields when the record knows the old spec."""
    if previous is None:
        return {"reason": "not in the deploy record (a deploy was cut short)"}
    details: dict[str, Any] = {}
    if found.spec_hash != previous.spec_hash:
        details["reason"] = "changed outside portway, or a deploy was cut short"
    old, new = dict(previous.spec), dict(resource.spec)
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            details[key] = _summary(old.get(key), new.get(key))
    return details or {"reason": "spec differs"}


def _summary(old: Any, new: Any) -> Any:
    """``[old, new]`` for short values; for mappings, only their changed keys."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return {
            key: _summary(old.get(key), new.get(key))
            for key in sorted(set(old) | set(new))
            if old.get(key) != new.get(key)
        }
    return [old, new]


def dependency_order(resources: Iterable[AzureResource]) -> list[AzureResource]:
    """Kind rank first; within a kind, each resource after the ones it depends on."""
    pending = sorted(resources, key=lambda r: (r.kind.rank, r.path))
    keys = {r.key for r in pending}
    done: set[Key] = set()
    ordered: list[AzureResource] = []
    while pending:
        for index, resource in enumerate(pending):
            waiting = [d for d in resource.depends_on if d in keys and d not in done]
            if not waiting:
                ordered.append(resource)
                done.add(resource.key)
                del pending[index]
                break
        else:
            cycle = ", ".join(f"{r.kind} {r.path}" for r in pending)
            raise AssertionError(f"dependency cycle among {cycle}")  # a desired-state bug
    return ordered
