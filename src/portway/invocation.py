"""Calling a user function with a batch of messages: one contract for every provider.

A batch handler (``def f(batch: list[Message])``) gets the whole batch and may return
:class:`~portway.events.BatchResult` naming the messages to retry; a single-message
handler is called once per message and portway reports each failure itself. Providers
call :func:`deliver_messages` and map the failures to their own partial-batch response,
so retries mean the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from portway.events import BatchResult, Message
from portway.model.functions import Function


@dataclass(frozen=True, slots=True)
class Failure:
    """A message to be retried, and why (``"ExceptionType: message"``)."""

    message_id: str
    reason: str


def describe(error: BaseException) -> str:
    """``"ValueError: bad row 3"``: the one-line reason stored with a dead letter."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def deliver_messages(function: Function, messages: Sequence[Message]) -> list[Failure]:
    """Run ``function`` on ``messages``; return the failures (empty: all acknowledged).

    Exceptions raised by the handler are caught and become failures; nothing a handler
    does makes this raise (``KeyboardInterrupt`` and ``SystemExit`` excepted).
    """
    if not function.batch:
        failures = []
        for message in messages:
            try:
                function.handler(message)
            except Exception as error:
                failures.append(Failure(message.id, describe(error)))
        return failures
    try:
        result = function.handler(list(messages))
    except Exception as error:
        reason = describe(error)
        return [Failure(m.id, reason) for m in messages]
    if result is None:
        return []
    if not isinstance(result, BatchResult):
        reason = (
            f"TypeError: batch handler {function.name!r} returned {type(result).__name__}; "
            f"return None or BatchResult(failed=[...])"
        )
        return [Failure(m.id, reason) for m in messages]
    known = {m.id for m in messages}
    unknown = [i for i in result.failed if i not in known]
    if unknown:
        # As Lambda does for an unknown itemIdentifier: the whole batch is retried.
        reason = f"ValueError: BatchResult names ids not in the batch: {unknown}"
        return [Failure(m.id, reason) for m in messages]
    failed = set(result.failed)
    reason = "reported failed by the batch handler"
    return [Failure(m.id, reason) for m in messages if m.id in failed]
