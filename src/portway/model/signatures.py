"""Check a handler's signature against its trigger, and tell batch handlers apart.

A handler takes exactly one positional parameter. Its annotation, when there is one,
must accept the trigger's event type (``Message``, or a base such as ``Event``), or for
a message trigger be a list of it (``list[Message]``), which makes it a batch handler.
Unannotated handlers take one event.
"""

from __future__ import annotations

import collections.abc
import inspect
import typing
from collections.abc import Callable
from typing import Any

from portway.errors import ValidationError

_LIST_ORIGINS = (list, collections.abc.Sequence, collections.abc.Iterable)


def is_batch_handler(
    handler: Callable[..., Any], event_type: type, *, allow_batch: bool, where: str
) -> bool:
    """Return True if ``handler`` takes a list of ``event_type``; raise if it fits neither.

    ``where`` names the function and trigger in the error message.
    """
    if not callable(handler):
        raise ValidationError(f"{where}: the decorator must wrap a function, got {handler!r}")
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError) as error:
        raise ValidationError(f"{where}: cannot read the handler's signature ({error})") from None
    required = [
        p
        for p in signature.parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    others = [
        p
        for p in signature.parameters.values()
        if p.default is p.empty and p.kind == p.KEYWORD_ONLY
    ]
    handler_name = getattr(handler, "__name__", "handler")
    expected = f"def {handler_name}(event: {event_type.__name__})"
    if allow_batch:
        expected += f" or (batch: list[{event_type.__name__}])"
    if len(required) != 1 or others:
        raise ValidationError(
            f"{where}: the handler must take exactly one event parameter, as {expected}; "
            f"it takes {signature.replace(return_annotation=inspect.Signature.empty)}"
        )
    annotation = _annotation(handler, required[0].name)
    if annotation is None:
        return False
    if _accepts(annotation, event_type):
        return False
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in _LIST_ORIGINS and len(args) == 1 and _accepts(args[0], event_type):
        if allow_batch:
            return True
        raise ValidationError(
            f"{where}: this trigger delivers one {event_type.__name__} at a time; "
            f"declare the handler as def {handler_name}(event: {event_type.__name__})"
        )
    shown = (
        annotation.__name__
        if isinstance(annotation, type)
        else str(annotation).replace("portway.events.", "").replace("typing.", "")
    )
    raise ValidationError(
        f"{where}: the handler's parameter is annotated {shown}, "
        f"but this trigger passes {event_type.__name__}: declare it as {expected}"
    )


def _accepts(annotation: Any, event_type: type) -> bool:
    """True when a parameter annotated ``annotation`` accepts an ``event_type`` (or Any)."""
    if annotation is Any:
        return True
    return isinstance(annotation, type) and issubclass(event_type, annotation)


def _annotation(handler: Callable[..., Any], parameter: str) -> Any:
    """The resolved annotation of ``parameter``, or None when absent or unresolvable.

    String annotations (``from __future__ import annotations``) are resolved in the
    handler's module; one that cannot be resolved is treated as absent rather than
    guessed at.
    """
    raw = inspect.signature(handler).parameters[parameter].annotation
    if raw is inspect.Parameter.empty:
        return None
    if not isinstance(raw, str):
        return raw
    # Only this parameter's annotation is evaluated (get_type_hints would evaluate the
    # return annotation too, and fail on one that is importable only for type checkers).
    namespace = getattr(handler, "__globals__", {})
    try:
        return eval(raw, namespace)  # as typing.get_type_hints evaluates annotations
    except Exception:
        # An annotation naming something that is not importable at declaration time
        # (a TYPE_CHECKING-only import, say) is the user's business; accept the handler.
        return None
