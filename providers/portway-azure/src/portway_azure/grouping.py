"""Which portway functions share an Azure Function App (pure, no SDK, no I/O).

Azure sets several things per Function App, not per function:

* the managed identity, so every function of an app holds every role assigned to it
  (https://learn.microsoft.com/azure/app-service/overview-managed-identity);
* ``host.json``'s ``extensions.queues`` (``batchSize``, ``maxDequeueCount``,
  ``visibilityTimeout``), which every queue trigger of the app shares
  (https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#host-json);
* ``host.json``'s ``functionTimeout``
  (https://learn.microsoft.com/azure/azure-functions/functions-host-json#functiontimeout);
* the Flex Consumption instance memory (512, 2,048 or 4,096 MB)
  (https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#instance-memory);
* the app settings, which are the functions' environment variables
  (https://learn.microsoft.com/azure/azure-functions/functions-app-settings).

The rule: two functions share an app only when *all* of these are equal, so each
function runs exactly as it would alone. In particular its identity is exact least
privilege: functions whose declared ``uses`` differ, or that process different queues
(a function's own trigger queue, with its poison queue, is part of what its identity
may touch), never share an identity. The key is therefore:

``(uses, processed queues, batchSize, maxDequeueCount, visibilityTimeout,
functionTimeout, instance memory, environment)``

In practice HTTP and timer functions with the same uses, timeout, memory and
environment share an app, and so do competing consumers of one queue with the same
settings; every other function gets an app of its own.

A group is named for its first function (in name order), in the portable form
(``pull-ftp``). Groups partition the functions, so no two groups share a name; adding a
function that joins no existing group renames nothing; and changing a setting of a
one-function group keeps its name, so Azure updates the app in place instead of
replacing it (a hash of the key would rename the app, its host name and its keys).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from portway.errors import ValidationError
from portway.model import (
    Action,
    Function,
    MessageTrigger,
    ObjectCreatedTrigger,
    Pipeline,
    Queue,
    limits,
)
from portway.model.resources import Resource
from portway_azure.naming import Names

#: Flex Consumption instance sizes in MB; a declared memory is rounded up to one.
#: https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#instance-memory
INSTANCE_MEMORY = (512, 2048, 4096)


@dataclass(frozen=True, slots=True, order=True)
class ProcessedQueue:
    """A queue a function's trigger reads: a declared queue, or the one portway puts
    between a topic or a bucket and the function (``kind="trigger"``, named for it)."""

    kind: Literal["queue", "trigger"]
    name: str

    def physical(self, names: Names) -> str:
        if self.kind == "queue":
            return names.queue(self.name)
        return names.trigger_queue(self.name)

    def poison(self, names: Names) -> str:
        if self.kind == "queue":
            return names.poison_queue(self.name)
        return names.trigger_poison_queue(self.name)


@dataclass(frozen=True, slots=True)
class AppGroup:
    """Functions that share one Function App, its identity and its ``host.json``.

    ``functions`` are in name order. The queue settings are ``None`` when no function
    of the group has a queue trigger (HTTP and timer functions).
    """

    name: str
    functions: tuple[str, ...]
    uses: frozenset[tuple[Resource, Action]]
    processes: frozenset[ProcessedQueue]
    batch_size: int | None
    max_dequeue_count: int | None
    visibility_timeout: int | None
    function_timeout: int
    instance_memory: int
    environment: tuple[tuple[str, str], ...]


_Key = tuple[
    frozenset[tuple[Resource, Action]],
    frozenset[ProcessedQueue],
    int | None,
    int | None,
    int | None,
    int,
    int,
    tuple[tuple[str, str], ...],
]


def group_functions(pipeline: Pipeline) -> list[AppGroup]:
    """The app groups of ``pipeline``, sorted by name; every function is in exactly one.

    Raises :class:`ValidationError` for a memory no Flex Consumption instance offers.
    """
    members: dict[_Key, list[Function]] = {}
    for function in sorted(pipeline.functions.values(), key=lambda f: f.name):
        members.setdefault(_key(function), []).append(function)
    groups = [
        AppGroup(functions[0].resource_name, tuple(f.name for f in functions), *key)
        for key, functions in members.items()
    ]
    return sorted(groups, key=lambda group: group.name)


def group_of(groups: list[AppGroup], function: str) -> AppGroup:
    """The group holding ``function``; :class:`KeyError` if none does."""
    for group in groups:
        if function in group.functions:
            return group
    raise KeyError(function)


def instance_memory(function: Function) -> int:
    """The Flex Consumption instance size ``function`` needs, in MB."""
    for size in INSTANCE_MEMORY:
        if function.memory <= size:
            return size
    raise ValidationError(
        f"function {function.name!r}: memory={function.memory} is more than the largest "
        f"Flex Consumption instance ({INSTANCE_MEMORY[-1]} MB); declare at most "
        f"{INSTANCE_MEMORY[-1]}"
    )


def _key(function: Function) -> _Key:
    uses = frozenset((use.resource, use.action) for use in function.uses)
    processed: frozenset[ProcessedQueue] = frozenset()
    batch_size: int | None = None
    max_dequeue_count: int | None = None
    visibility_timeout: int | None = None
    trigger = function.trigger
    if isinstance(trigger, MessageTrigger) and isinstance(trigger.source, Queue):
        queue = trigger.source
        processed = frozenset({ProcessedQueue("queue", queue.name)})
        max_dequeue_count, visibility_timeout = queue.max_attempts, queue.visibility_timeout
    elif isinstance(trigger, MessageTrigger | ObjectCreatedTrigger):
        # The queue portway owns between a topic or a bucket and this function takes
        # the core defaults, as on AWS and GCP.
        processed = frozenset({ProcessedQueue("trigger", function.name)})
        max_dequeue_count = limits.DEFAULT_MAX_ATTEMPTS
        visibility_timeout = limits.DEFAULT_VISIBILITY_TIMEOUT
    if processed:
        # host.json batchSize is how many messages the host fetches and runs in parallel
        # (one invocation each); an object trigger runs once per object.
        batch_size = trigger.batch_size if isinstance(trigger, MessageTrigger) else 1
    return (
        uses,
        processed,
        batch_size,
        max_dequeue_count,
        visibility_timeout,
        function.timeout,
        instance_memory(function),
        _environment(function.environment),
    )


def _environment(environment: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(environment.items()))
