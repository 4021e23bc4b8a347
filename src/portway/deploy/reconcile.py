"""Reconcile: the provider-neutral planner, ``(desired, observed, record) -> Plan``.

Every provider's deploy ends in the same decision, made here once. A provider supplies
its resources as plain frozen data satisfying two small protocols, and keeps only what
is really its own (its kinds and their rank, how it finds and marks resources):

:class:`DesiredResource`
    ``kind`` (a ``StrEnum`` member with a ``rank``: creation order), ``key``
    (``(kind, name)``: the resource's identity within its deployment; its second part is
    what a :class:`~portway.deploy.plan.Change` names), ``neutral`` (what it serves, for
    display), ``spec`` (a JSON-ready mapping), ``spec_hash``
    (:func:`portway.deploy.names.spec_hash` of ``spec``) and ``depends_on`` (keys that
    must exist first).
:class:`ObservedResource`
    ``kind``, ``key`` and ``spec_hash``: the hash the last deploy marked the resource
    with (a tag, a label, a description), ``None`` when it carries none.

Rules (:func:`plan_deploy`, :func:`plan_destroy`):

* A desired resource not observed is created.
* An observed one is left alone only when its mark, the record's hash and the desired
  hash all agree; otherwise it is updated, with ``details`` saying what differs
  (:func:`describe_update`). A deploy cut short leaves marks that differ from the
  record (or resources the record lacks), so the next plan updates them again: every
  operation is idempotent and the run converges.
* An observed resource no longer desired is deleted. Only what was observed (so
  carries the deployment's marks) is ever deleted: portway never deletes what it did
  not create. Observation decides that, not the planner.
* Order: creations and updates by kind rank, and within a kind each resource after
  those it depends on (:func:`dependency_order`); then deletions in the reverse kind
  order, so nothing is removed while something still points at it.

Each change is a :class:`ResourceChange` carrying the desired resource, the observed
one and the recorded entry, which is what an executor needs
(:mod:`portway.deploy.execute`). :func:`drift` is ``portway status`` on the same data.

Porting a provider onto this module: delete the provider's ``plan_deploy``,
``plan_destroy``, ``describe_update``, ``dependency_order`` and its ``Change``
subclass; make its resource and observed types satisfy the protocols (usually they
already do); call :func:`plan_deploy` with the provider's name. A resource whose
display name is not its own name (Azure's ``account/queue``) puts that path in the
second part of its ``key``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from portway.deploy.plan import Change, ChangeKind, Plan

if TYPE_CHECKING:
    from portway.deploy.record import Record, RecordedResource

#: ``(kind, name)``: a resource's identity within its deployment. Providers use their
#: ``StrEnum`` kinds, which hash and compare as their string values.
Key = tuple[str, str]


class RankedKind(Protocol):
    """A resource kind: its string value (``"sqs:queue"``) and its creation rank."""

    @property
    def rank(self) -> int:
        """A kind may depend on kinds of a lower rank, never a higher one."""


class DesiredResource(Protocol):
    """One resource a deployment wants; see the module docstring."""

    @property
    def kind(self) -> RankedKind: ...

    @property
    def key(self) -> Key: ...

    @property
    def neutral(self) -> str: ...

    @property
    def spec(self) -> Mapping[str, Any]: ...

    @property
    def spec_hash(self) -> str: ...

    @property
    def depends_on(self) -> Sequence[Key]: ...


class ObservedResource(Protocol):
    """One resource found carrying the deployment's marks; see the module docstring."""

    @property
    def kind(self) -> RankedKind: ...

    @property
    def key(self) -> Key: ...

    @property
    def spec_hash(self) -> str | None: ...


R = TypeVar("R", bound=DesiredResource)
O = TypeVar("O", bound=ObservedResource)  # noqa: E741 -- O for observed, as R for resource


@dataclass(frozen=True, slots=True)
class ResourceChange(Change, Generic[R, O]):
    """A change, with what an executor needs.

    ``resource``: the desired resource (creations and updates). ``observed``: the one
    found (updates and deletions). ``previous``: its entry in the last record, if any.
    Frozen, like the :class:`~portway.deploy.plan.Change` it extends.
    """

    resource: R | None = None
    observed: O | None = None
    previous: RecordedResource | None = None


def plan_deploy(
    provider: str,
    app: str,
    stage: str,
    desired: Iterable[R],
    observed: Mapping[Any, O],
    record: Record | None,
    *,
    unrecorded: str = "tagged",
) -> Plan:
    """The changes that bring ``observed`` to ``desired``; empty when nothing differs.

    ``observed``: every resource found with the deployment's marks, by its ``key``
    (typed ``Mapping[Any, ...]`` so a provider's ``dict[tuple[Kind, str], ...]`` fits).
    ``record``: the last completed deploy's, or ``None``. ``unrecorded``: what a
    deletion's ``neutral`` says of a resource the record does not know (``"tagged"``,
    ``"labelled"``).
    """
    wanted = {r.key: r for r in desired}
    recorded = record.by_key() if record is not None else {}
    changes: list[Change] = []
    for resource in dependency_order(wanted.values()):
        found = observed.get(resource.key)
        previous = recorded.get(resource.key)
        if found is None:
            changes.append(_change(ChangeKind.CREATE, resource, None, previous))
        elif not _up_to_date(resource, found, previous):
            details = describe_update(resource, found, previous)
            changes.append(_change(ChangeKind.UPDATE, resource, found, previous, details))
    extra = [found for key, found in observed.items() if key not in wanted]
    changes.extend(_deletions(extra, recorded, unrecorded))
    return Plan(app, stage, provider, tuple(changes))


def plan_destroy(
    provider: str,
    app: str,
    stage: str,
    observed: Mapping[Any, O],
    record: Record | None,
    *,
    unrecorded: str = "tagged",
) -> Plan:
    """Delete every observed resource of the deployment, in reverse kind order."""
    recorded = record.by_key() if record is not None else {}
    deletions = _deletions(observed.values(), recorded, unrecorded)
    return Plan(app, stage, provider, tuple(deletions))


def _up_to_date(resource: R, found: O, previous: RecordedResource | None) -> bool:
    return (
        found.spec_hash == resource.spec_hash
        and previous is not None
        and previous.spec_hash == resource.spec_hash
    )


def _change(
    kind: ChangeKind,
    resource: R,
    found: O | None,
    previous: RecordedResource | None,
    details: Mapping[str, Any] | None = None,
) -> ResourceChange[R, O]:
    return ResourceChange(
        kind,
        str(resource.key[0]),
        resource.key[1],
        resource.neutral,
        details=dict(details or {}),
        resource=resource,
        observed=found,
        previous=previous,
    )


def _deletions(
    found: Iterable[O], recorded: Mapping[Key, RecordedResource], unrecorded: str
) -> list[ResourceChange[Any, O]]:
    ordered = sorted(found, key=lambda o: (-o.kind.rank, o.key[1]))
    changes: list[ResourceChange[Any, O]] = []
    for observed in ordered:
        previous = recorded.get(observed.key)
        neutral = previous.neutral if previous is not None and previous.neutral else unrecorded
        changes.append(
            ResourceChange(
                ChangeKind.DELETE,
                str(observed.key[0]),
                observed.key[1],
                neutral,
                observed=observed,
                previous=previous,
            )
        )
    return changes


def describe_update(
    resource: DesiredResource, found: ObservedResource, previous: RecordedResource | None
) -> dict[str, Any]:
    """What differs, for display: changed spec fields when the record knows the old spec.

    ``{"reason": ...}`` when the record lacks the resource or its mark differs from the
    record; ``{field: [old, new]}`` for each changed top-level field of the spec (for
    mappings, only their changed keys, recursively).
    """
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


def dependency_order(resources: Iterable[R]) -> list[R]:
    """Kind rank first; within a kind, each resource after the ones it depends on.

    Dependencies on keys outside ``resources`` are ignored (they exist already, or
    belong to another kind's rank). A cycle is a bug in the provider's desired state:
    :class:`AssertionError` naming the resources in it.
    """
    pending = sorted(resources, key=lambda r: (r.kind.rank, r.key[1]))
    keys = {r.key for r in pending}
    done: set[Key] = set()
    ordered: list[R] = []
    while pending:
        for index, resource in enumerate(pending):
            waiting = [d for d in resource.depends_on if d in keys and d not in done]
            if not waiting:
                ordered.append(resource)
                done.add(resource.key)
                del pending[index]
                break
        else:
            cycle = ", ".join(f"{r.key[0]} {r.key[1]}" for r in pending)
            raise AssertionError(f"dependency cycle among {cycle}")  # a desired-state bug
    return ordered


def drift(
    provider: str,
    app: str,
    stage: str,
    desired: Iterable[DesiredResource],
    observed: Mapping[Any, ObservedResource],
) -> dict[str, Any]:
    """Deployed versus declared (``portway status``): missing, changed and extra resources.

    Each list holds ``"<kind> <name>"`` strings, sorted; ``in_sync`` when all are empty.
    """
    wanted = {r.key: r for r in desired}
    missing = [f"{k[0]} {k[1]}" for k in wanted if k not in observed]
    changed = [
        f"{k[0]} {k[1]}"
        for k, r in wanted.items()
        if k in observed and observed[k].spec_hash != r.spec_hash
    ]
    extra = [f"{k[0]} {k[1]}" for k in observed if k not in wanted]
    return {
        "app": app,
        "stage": stage,
        "provider": provider,
        "in_sync": not (missing or changed or extra),
        "missing": sorted(missing),
        "changed": sorted(changed),
        "extra": sorted(extra),
    }
