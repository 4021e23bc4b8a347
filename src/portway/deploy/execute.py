"""Execute: carry out a plan's changes in order, show progress, and record the result.

The executor holds no logic about resources. A provider supplies, per kind, an object
with ``create``/``update``/``delete`` (:class:`KindOperations`); this module runs the
changes of a :class:`~portway.deploy.plan.Plan` in the order the planner gave them
(:mod:`portway.deploy.reconcile`: dependency order, deletions last), one progress line
each, and wraps any failure in a :class:`~portway.errors.DeployError` naming the change
and saying that a second run resumes it. What was done stays done: the record is
written only once every change succeeded (:func:`apply_recorded`), so the next deploy
sees marks that differ from the record and finishes the work.

Pieces, from the smallest:

* :func:`carry_out`: one :class:`~portway.deploy.reconcile.ResourceChange` to its
  kind's operations.
* :func:`run_changes`: the loop (``[3/12] + sqs:queue demo-prod-jobs``), errors wrapped.
* :func:`apply_recorded`: the loop under the stage's lock, then the record written
  (deploy) or deleted (destroy) (:class:`~portway.deploy.record.StageRecords`).
* :func:`settle`: a call tried again, with bounded pauses, while the cloud refuses it
  for a reason that passes (a new identity not yet usable: IAM is eventually
  consistent).
* :class:`CallLog`: every cloud call, read-only or mutating; ``plan`` and a no-op
  redeploy must make no mutating call, and tests count them.
* :func:`console_progress`: progress on the terminal (rich; plain when not a terminal).

Porting a provider: delete its ``_apply_one`` (use :func:`carry_out`), the progress loop
and ``_MARK`` (use :func:`run_changes` or :func:`apply_recorded`), its
``console_progress``; keep what is its own: the up-front checks (a bucket to delete that
holds data), creating the state storage, and the kinds' operations.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from portway.deploy.plan import Change, ChangeKind
from portway.errors import DeployError, PortwayError

if TYPE_CHECKING:
    from portway.deploy.reconcile import DesiredResource, ObservedResource, ResourceChange
    from portway.deploy.record import Record, StageRecords

Context = TypeVar("Context", contravariant=True)
Resource = TypeVar("Resource", contravariant=True)
Found = TypeVar("Found", contravariant=True)
C = TypeVar("C", bound=Change)
X = TypeVar("X")
R = TypeVar("R", bound="DesiredResource")
O = TypeVar("O", bound="ObservedResource")  # noqa: E741 -- O for observed, as R for resource
T = TypeVar("T")

MARKS = {ChangeKind.CREATE: "+", ChangeKind.UPDATE: "~", ChangeKind.DELETE: "-"}


class KindOperations(Protocol[Context, Resource, Found]):
    """What a provider implements per resource kind.

    * ``create``: make the resource from ``resource.spec``, marked with the
      deployment's marks and the spec hash; idempotent (if it exists already, after a
      deploy cut short, bring it to the spec instead of failing).
    * ``update``: bring an existing resource to ``resource.spec``; store the new hash.
    * ``delete``: remove the resource and what portway attached to it; already gone is
      not an error.
    """

    def create(self, context: Context, resource: Resource) -> None: ...

    def update(self, context: Context, resource: Resource, observed: Found) -> None: ...

    def delete(self, context: Context, observed: Found) -> None: ...


def carry_out(
    change: ResourceChange[R, O],
    operations: KindOperations[X, R, O],
    context: X,
) -> None:
    """Send ``change`` to ``operations``; :class:`DeployError` if it lacks what it needs."""
    if change.kind is ChangeKind.CREATE and change.resource is not None:
        operations.create(context, change.resource)
    elif change.kind is ChangeKind.UPDATE and change.resource and change.observed:
        operations.update(context, change.resource, change.observed)
    elif change.kind is ChangeKind.DELETE and change.observed is not None:
        operations.delete(context, change.observed)
    else:
        raise DeployError(
            f"{change.kind} {change.resource_type} {change.name}: the plan lacks its "
            f"resource; plan again"
        )


def run_changes(
    changes: Sequence[C],
    apply: Callable[[C], None],
    *,
    progress: Callable[[str], None],
    done: int = 0,
    total: int | None = None,
) -> None:
    """Apply each change in order, after a progress line (``[n/total] + kind name``).

    ``done``/``total``: where this run stands in a larger one (a provider that applies
    some changes before taking the lock). A :class:`PortwayError` passes unchanged; any
    other failure becomes a :class:`DeployError` naming the change.
    """
    total = len(changes) + done if total is None else total
    for number, change in enumerate(changes, start=done + 1):
        progress(f"[{number}/{total}] {MARKS[change.kind]} {change.resource_type} {change.name}")
        try:
            apply(change)
        except PortwayError:
            raise
        except Exception as error:
            raise DeployError(
                f"{change.kind} {change.resource_type} {change.name} failed: "
                f"{type(error).__name__}: {error}; run the command again: it resumes where "
                f"this one stopped"
            ) from None


def apply_recorded(
    records: StageRecords,
    changes: Sequence[C],
    apply: Callable[[C], None],
    *,
    record: Record | None,
    progress: Callable[[str], None],
) -> None:
    """Under the stage's lock, apply ``changes`` then write ``record`` (a deploy), or
    delete the record (a destroy: ``record`` ``None``).

    The record is written conditionally on the one read under the lock, with
    ``deployed_at`` set when the last change succeeded. On any failure the lock is
    released and the record left as it was.
    """
    with records.locked("destroy" if record is None else "deploy"):
        previous = records.read()
        run_changes(changes, apply, progress=progress)
        if record is None:
            if previous is not None:
                records.delete()
        else:
            from portway.deploy.record import now

            records.write(dataclasses.replace(record, deployed_at=now()), previous)


def settle(
    call: Callable[[], T],
    *,
    delays: Sequence[float],
    passing: Callable[[Exception], bool],
    waiting: Callable[[int, int], None] = lambda attempt, tries: None,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """``call()``, tried again after each of ``delays`` while it fails with an error that
    ``passing`` says will pass (a new role not yet usable).

    ``waiting(next_attempt, tries)`` is told before each pause (for a progress line).
    The last error, or any error ``passing`` rejects, is raised unchanged: the caller
    knows how to word it. ``sleep``: :func:`time.sleep` unless given (tests).
    """
    tries = len(delays) + 1
    for attempt in range(tries):
        try:
            return call()
        except Exception as error:
            if attempt + 1 == tries or not passing(error):
                raise
            waiting(attempt + 2, tries)
            (sleep or time.sleep)(delays[attempt])
    raise AssertionError("unreachable")  # the loop returns or raises


@dataclass
class CallLog:
    """The cloud calls made, in order: ``(operation, mutating)``.

    ``operation`` as the provider names it (``"sqs.CreateQueue"``,
    ``"pubsub.topics.list"``). ``plan`` and a redeploy with no change must show no
    :attr:`writes`.
    """

    calls: list[tuple[str, bool]] = field(default_factory=list)

    def note(self, operation: str, *, mutating: bool) -> None:
        """Count a call made elsewhere (an SDK's own hook, a call skipped on an emulator)."""
        self.calls.append((operation, mutating))

    def skipped(self, operation: str) -> None:
        """Note a mutating call not made because the stage's emulator lacks it."""
        self.note(f"{operation} (skipped: emulator)", mutating=True)

    def read(self, operation: str, method: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Make a read-only call, and count it."""
        self.calls.append((operation, False))
        return method(*args, **kwargs)

    def write(self, operation: str, method: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Make a mutating call, and count it."""
        self.calls.append((operation, True))
        return method(*args, **kwargs)

    @property
    def reads(self) -> list[str]:
        return [name for name, mutating in self.calls if not mutating]

    @property
    def writes(self) -> list[str]:
        return [name for name, mutating in self.calls if mutating]


def console_progress(line: str) -> None:
    """One line of deploy progress on the terminal (rich; plain when not a terminal)."""
    from rich.console import Console
    from rich.markup import escape

    Console(highlight=False, soft_wrap=True).print(f"[dim]{escape(line)}[/]")
