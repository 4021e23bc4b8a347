"""Buckets, queues and topics: declarations that are also the handles user code calls.

Each resource method does two jobs, told apart by its arguments:

* with no argument it *declares a use* for ``uses=[...]``: ``lake.read()``,
  ``jobs.send()``, ``loaded.publish()``;
* with arguments it is a *data-plane call*: ``lake.read("2026/a.csv")``,
  ``jobs.send({"key": k})``, resolved at run time by the bound provider
  (see :mod:`portway.dataplane`).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, overload

from portway.dataplane import current
from portway.errors import ValidationError
from portway.model import limits
from portway.payload import outgoing

if TYPE_CHECKING:
    from portway.model.pipeline import Pipeline


class Action(StrEnum):
    """What a function may do to a resource. The unit of every permission.

    Listed from the least privilege to the most, the order suggestions follow.
    """

    READ = "read"
    LIST = "list"
    WRITE = "write"
    DELETE = "delete"
    SEND = "send"
    PUBLISH = "publish"


class _Declare:
    """Sentinel: a resource method called with no argument declares a use."""

    def __repr__(self) -> str:
        return "<declare a use>"


DECLARE: Any = _Declare()


@dataclass(frozen=True, slots=True)
class Resource:
    """A named resource of one pipeline. Compared by pipeline name, kind and name."""

    kind: ClassVar[str] = "resource"
    actions: ClassVar[frozenset[Action]] = frozenset()

    name: str
    app: str
    owner: Pipeline = field(compare=False, repr=False)

    def use(self, action: Action) -> Use:
        """Return the :class:`Use` of ``action`` on this resource.

        Raises :class:`~portway.errors.ValidationError` for an action the resource does
        not offer (a bucket cannot be sent to).
        """
        return Use(self, action)

    def _bound(self, action: Action, call: str) -> Any:
        binding = current(call)
        binding.check(self.use(action))
        return binding.clients


@dataclass(frozen=True, slots=True)
class Use:
    """A declared permission: ``action`` on ``resource``. Also a graph edge."""

    resource: Resource
    action: Action

    def __post_init__(self) -> None:
        if self.action not in self.resource.actions:
            offered = ", ".join(sorted(f"{a}()" for a in self.resource.actions))
            raise ValidationError(
                f"{self.resource.kind} {self.resource.name!r} has no {self.action}() use; "
                f"it offers {offered}"
            )

    def __str__(self) -> str:
        return f"{self.resource.name}.{self.action}()"

    def __iter__(self) -> Any:
        # ``lake.list()`` declares a use; a handler that meant "list everything" gets a
        # clear error instead of silently iterating over nothing.
        raise TypeError(
            f"{self} declares a use; to call the resource pass an argument "
            f"(for example {self.resource.name}.list(prefix=''))"
        )


@dataclass(frozen=True, slots=True)
class Bucket(Resource):
    """An object store: S3 bucket, Cloud Storage bucket, Blob container, a local folder."""

    kind: ClassVar[str] = "bucket"
    actions: ClassVar[frozenset[Action]] = frozenset(
        {Action.READ, Action.WRITE, Action.DELETE, Action.LIST}
    )

    @overload
    def read(self) -> Use: ...
    @overload
    def read(self, key: str) -> bytes: ...
    def read(self, key: str = DECLARE) -> Use | bytes:
        """Declare the read use, or return the bytes of object ``key``."""
        if key is DECLARE:
            return self.use(Action.READ)
        clients = self._bound(Action.READ, f"{self.name}.read({key!r})")
        data: bytes = clients.read_object(self, key)
        return data

    @overload
    def write(self) -> Use: ...
    @overload
    def write(self, key: str, data: bytes | str, *, content_type: str | None = None) -> None: ...
    def write(
        self, key: str = DECLARE, data: bytes | str = DECLARE, *, content_type: str | None = None
    ) -> Use | None:
        """Declare the write use, or store ``data`` (bytes, or str as UTF-8) at ``key``."""
        if key is DECLARE:
            return self.use(Action.WRITE)
        if data is DECLARE:
            raise TypeError(f"{self.name}.write({key!r}) needs the data to store")
        clients = self._bound(Action.WRITE, f"{self.name}.write({key!r}, ...)")
        if isinstance(data, str):
            payload, default_type = data.encode("utf-8"), "text/plain; charset=utf-8"
        elif isinstance(data, bytes | bytearray | memoryview):
            payload, default_type = bytes(data), "application/octet-stream"
        else:
            raise TypeError(
                f"{self.name}.write({key!r}, ...): data must be bytes or str, "
                f"not {type(data).__name__}"
            )
        clients.write_object(self, key, payload, content_type or default_type)
        return None

    @overload
    def list(self) -> Use: ...
    @overload
    def list(self, prefix: str) -> builtins.list[str]: ...
    def list(self, prefix: str = DECLARE) -> Use | builtins.list[str]:
        """Declare the list use, or return the sorted keys under ``prefix`` (``""``: all)."""
        if prefix is DECLARE:
            return self.use(Action.LIST)
        clients = self._bound(Action.LIST, f"{self.name}.list({prefix!r})")
        keys: builtins.list[str] = clients.list_objects(self, prefix)
        return keys

    @overload
    def delete(self) -> Use: ...
    @overload
    def delete(self, key: str) -> None: ...
    def delete(self, key: str = DECLARE) -> Use | None:
        """Declare the delete use, or delete object ``key`` (a missing key is no error)."""
        if key is DECLARE:
            return self.use(Action.DELETE)
        clients = self._bound(Action.DELETE, f"{self.name}.delete({key!r})")
        clients.delete_object(self, key)
        return None


@dataclass(frozen=True, slots=True)
class Queue(Resource):
    """A work queue with retries and a dead-letter queue.

    ``max_attempts``: deliveries before a message moves to the dead-letter queue.
    ``visibility_timeout``: seconds a delivered message stays hidden from other consumers.
    ``retention``: seconds an undelivered message is kept.
    """

    kind: ClassVar[str] = "queue"
    actions: ClassVar[frozenset[Action]] = frozenset({Action.SEND})

    max_attempts: int = limits.DEFAULT_MAX_ATTEMPTS
    visibility_timeout: int = limits.DEFAULT_VISIBILITY_TIMEOUT
    retention: int = limits.DEFAULT_RETENTION

    @property
    def dead_letter_name(self) -> str:
        """The neutral name of this queue's dead-letter queue."""
        return f"{self.name}-dlq"

    @overload
    def send(self) -> Use: ...
    @overload
    def send(self, body: object, *, attributes: Mapping[str, str] | None = None) -> str: ...
    def send(self, body: object = DECLARE, *, attributes: Mapping[str, str] | None = None) -> Any:
        """Declare the send use, or enqueue one message and return its id.

        ``body``: bytes, str (UTF-8) or anything JSON-serialisable.
        """
        if body is DECLARE:
            return self.use(Action.SEND)
        clients = self._bound(Action.SEND, f"{self.name}.send(...)")
        return clients.send_messages(self, [outgoing(body, attributes)])[0]

    def send_batch(
        self, bodies: Iterable[object], *, attributes: Mapping[str, str] | None = None
    ) -> list[str]:
        """Enqueue many messages (the provider's batch API where it has one); return ids."""
        if isinstance(bodies, str | bytes | bytearray | memoryview):
            raise TypeError(
                f"{self.name}.send_batch() takes a list of bodies, not one "
                f"{type(bodies).__name__}; use {self.name}.send(body) for a single message"
            )
        clients = self._bound(Action.SEND, f"{self.name}.send_batch(...)")
        messages = [outgoing(body, attributes) for body in bodies]
        if not messages:
            return []
        ids: list[str] = clients.send_messages(self, messages)
        return ids


@dataclass(frozen=True, slots=True)
class Topic(Resource):
    """A fan-out topic: each subscribing function gets its own copy of every message."""

    kind: ClassVar[str] = "topic"
    actions: ClassVar[frozenset[Action]] = frozenset({Action.PUBLISH})

    @overload
    def publish(self) -> Use: ...
    @overload
    def publish(self, body: object, *, attributes: Mapping[str, str] | None = None) -> str: ...
    def publish(
        self, body: object = DECLARE, *, attributes: Mapping[str, str] | None = None
    ) -> Any:
        """Declare the publish use, or publish one message to every subscriber; return its id."""
        if body is DECLARE:
            return self.use(Action.PUBLISH)
        clients = self._bound(Action.PUBLISH, f"{self.name}.publish(...)")
        return clients.publish_messages(self, [outgoing(body, attributes)])[0]
