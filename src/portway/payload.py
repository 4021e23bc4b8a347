"""How a message body given by user code becomes bytes, and back.

``bytes`` go as they are, ``str`` as UTF-8 text, anything else as compact JSON. The
content type travels with the message so the receiving side knows which it was.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
BINARY = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message on its way to a queue or topic, already encoded."""

    body: bytes
    content_type: str = BINARY
    attributes: Mapping[str, str] = field(default_factory=dict)


def encode_body(body: object) -> tuple[bytes, str]:
    """Return ``(bytes, content_type)`` for a body given by user code.

    Raises ``TypeError`` naming the type when the body is not bytes, text or JSON-able.
    """
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body), BINARY
    if isinstance(body, str):
        return body.encode("utf-8"), TEXT
    try:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"a message body must be bytes, str or JSON-serialisable; "
            f"{type(body).__name__} is not ({error})"
        ) from None
    return text.encode("utf-8"), JSON


def check_attributes(attributes: Mapping[str, Any] | None) -> dict[str, str]:
    """Return attributes as a plain ``dict[str, str]``; raise ``TypeError`` otherwise.

    Every provider carries string attributes (SQS string attributes, Pub/Sub attributes,
    Azure metadata), so portway accepts nothing else.
    """
    if not attributes:
        return {}
    if not isinstance(attributes, Mapping):
        raise TypeError(
            f"message attributes must be a dict of str to str, not {type(attributes).__name__}"
        )
    checked: dict[str, str] = {}
    for key, value in attributes.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"message attribute {key!r}: keys and values must be str, "
                f"got {type(key).__name__} -> {type(value).__name__}"
            )
        checked[key] = value
    return checked


def outgoing(body: object, attributes: Mapping[str, Any] | None = None) -> OutgoingMessage:
    """Encode a body and its attributes into an :class:`OutgoingMessage`."""
    data, content_type = encode_body(body)
    return OutgoingMessage(data, content_type, check_attributes(attributes))
