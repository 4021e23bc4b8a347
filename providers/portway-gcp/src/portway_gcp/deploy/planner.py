"""Plan: a pure function of (desired, observed, recorded) -> Plan of frozen changes.

A resource is up to date when the spec hash marked on it, the hash in the last
completed deploy's record and the desired hash all agree. A deploy cut short leaves
resources whose mark differs from the record (or that the record lacks), so the next
plan updates them again: every operation is idempotent, and the run converges.

Order: creations and updates first, by :attr:`Kind.rank` (accounts, topics, buckets,
functions, subscriptions, jobs, IAM bindings, notifications) and dependencies within a
kind; then deletions, in the reverse order, so nothing is removed while something still
points at it. Only what was observed (so carries the deployment's labels or marks, or is
in its record) is ever deleted: portway never deletes what it did not create.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from portway.deploy import Change, ChangeKind, Plan
from portway_gcp.deploy.observe import Observed
from portway_gcp.deploy.record import Record, RecordedResource
from portway_gcp.deploy.resources import GcpResource, Kind

PROVIDER = "gcp"


@dataclass(frozen=True, slots=True)
class GcpChange(Change):
    """A change, with what the executor needs: the desired resource and the found one."""

    resource: GcpResource | None = None
    observed: Observed | None = None
    previous: RecordedResource | None = None


def plan_deploy(
    app: str,
    stage: str,
    desired: Iterable[GcpResource],
    observed: Mapping[tuple[Kind, str], Observed],
    record: Record | None,
) -> Plan:
    """The changes that bring ``observed`` to ``desired``; empty when nothing differs."""
    wanted = {r.key: r for r in desired}
    recorded = record.by_key() if record is not None else {}
    changes: list[Change] = []
    for resource in dependency_order(wanted.values()):
        found = observed.get(resource.key)
        previous = recorded.get(resource.key)
        if found is None:
            changes.append(
                GcpChange(
                    ChangeKind.CREATE,
                    str(resource.kind),
                    resource.name,
                    resource.neutral,
                    resource=resource,
                    previous=previous,
                )
            )
            continue
        if (
            found.spec_hash == resource.spec_hash
            and previous is not None
            and previous.spec_hash == resource.spec_hash
        ):
            continue
        changes.append(
            GcpChange(
                ChangeKind.UPDATE,
                str(resource.kind),
                resource.name,
                resource.neutral,
                details=describe_update(resource, found, previous),
                resource=resource,
                observed=found,
                previous=previous,
            )
        )
    extra = [found for key, found in observed.items() if key not in wanted]
    changes.extend(_deletions(extra, recorded))
    return Plan(app, stage, PROVIDER, tuple(changes))


def plan_destroy(
    app: str,
    stage: str,
    observed: Mapping[tuple[Kind, str], Observed],
    record: Record | None,
) -> Plan:
    """Delete every resource of the deployment: labelled or marked (found), or recorded
    and still attached to something found."""
    recorded = record.by_key() if record is not None else {}
    return Plan(app, stage, PROVIDER, tuple(_deletions(observed.values(), recorded)))


def _deletions(
    found: Iterable[Observed], recorded: Mapping[tuple[Kind, str], RecordedResource]
) -> list[Change]:
    ordered = sorted(found, key=lambda o: (-o.kind.rank, o.name))
    return [
        GcpChange(
            ChangeKind.DELETE,
            str(o.kind),
            o.name,
            _neutral_of(o, recorded),
            observed=o,
            previous=recorded.get(o.key),
        )
        for o in ordered
    ]


def _neutral_of(found: Observed, recorded: Mapping[tuple[Kind, str], RecordedResource]) -> str:
    previous = recorded.get(found.key)
    return previous.neutral if previous is not None and previous.neutral else "labelled"


def describe_update(
    resource: GcpResource, found: Observed, previous: RecordedResource | None
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


def dependency_order(resources: Iterable[GcpResource]) -> list[GcpResource]:
    """Kind rank first; within a kind, each resource after the ones it depends on."""
    pending = sorted(resources, key=lambda r: (r.kind.rank, r.name))
    keys = {r.key for r in pending}
    done: set[tuple[Kind, str]] = set()
    ordered: list[GcpResource] = []
    while pending:
        for index, resource in enumerate(pending):
            waiting = [d for d in resource.depends_on if d in keys and d not in done]
            if not waiting:
                ordered.append(resource)
                done.add(resource.key)
                del pending[index]
                break
        else:
            cycle = ", ".join(f"{r.kind} {r.name}" for r in pending)
            raise AssertionError(f"dependency cycle among {cycle}")  # a desired-state bug
    return ordered
