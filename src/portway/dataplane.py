"""How a data-plane call in user code reaches a provider.

``lake.write(key, data)`` or ``jobs.send(body)`` look up the *binding* of the current
context (a :mod:`contextvars` variable), check the call against the running function's
declared uses, and hand it to the bound provider's :class:`DataPlane`.

Three ways a call can be bound:

* inside a handler, the provider's runtime binds its clients and the function
  (so an undeclared use raises :class:`~portway.errors.PermissionDenied`);
* in a script or a test, ``with app.connect(stage="dev"):`` binds the stage's clients,
  with no function, so every use is allowed;
* outside both, the call raises :class:`~portway.errors.NotBound`, which says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from portway.errors import NotBound, PermissionDenied

if TYPE_CHECKING:
    from portway.model.functions import Function
    from portway.model.resources import Bucket, Queue, Topic, Use
    from portway.payload import OutgoingMessage


class DataPlane(Protocol):
    """What a provider implements so that handler code can reach its resources.

    Every method receives the neutral resource; the provider maps it to its own name.
    Methods raise :class:`~portway.errors.PortwayError` subclasses, never SDK errors.
    """

    def read_object(self, bucket: Bucket, key: str) -> bytes:
        """Return the object's bytes; ``KeyError`` if there is none."""
        ...

    def write_object(self, bucket: Bucket, key: str, data: bytes, content_type: str) -> None:
        """Store the object whole (readers never see a partial write)."""
        ...

    def list_objects(self, bucket: Bucket, prefix: str) -> list[str]:
        """Return the keys that start with ``prefix``, sorted."""
        ...

    def delete_object(self, bucket: Bucket, key: str) -> None:
        """Delete the object; deleting a missing key is not an error."""
        ...

    def send_messages(self, queue: Queue, messages: Sequence[OutgoingMessage]) -> list[str]:
        """Enqueue the messages (in batches where the provider has them); return their ids."""
        ...

    def publish_messages(self, topic: Topic, messages: Sequence[OutgoingMessage]) -> list[str]:
        """Publish the messages to every subscriber; return their ids."""
        ...


@dataclass(frozen=True, slots=True)
class Binding:
    """The clients a data-plane call goes to, and the function making it (if any)."""

    clients: DataPlane
    function: Function | None = None

    def check(self, use: Use) -> None:
        """Raise :class:`PermissionDenied` if the bound function did not declare ``use``."""
        if self.function is None or use in self.function.uses:
            return
        raise PermissionDenied(
            f"function {self.function.name!r} used {use} without declaring it: "
            f"add {use} to uses=[...] in its decorator"
        )


_current: ContextVar[Binding | None] = ContextVar("portway_binding", default=None)


@contextmanager
def bind(clients: DataPlane, function: Function | None = None) -> Iterator[Binding]:
    """Route data-plane calls made in this context to ``clients``.

    Providers' runtimes call this around each invocation with the function; scripts
    get it through ``Pipeline.connect``. Bindings nest; the innermost wins.
    """
    binding = Binding(clients, function)
    token = _current.set(binding)
    try:
        yield binding
    finally:
        _current.reset(token)


def current(call: str) -> Binding:
    """Return the active binding, or raise :class:`NotBound` naming ``call``."""
    binding = _current.get()
    if binding is None:
        raise NotBound(
            f"{call} was called outside a handler: wrap it in "
            f"'with app.connect(stage=...):' to reach a stage's resources from a script or test"
        )
    return binding
