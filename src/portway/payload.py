"""How a message body given by user code becomes bytes, and back.

``bytes`` go as they are, ``str`` as UTF-8 text, anything else as compact JSON. The
content type travels with the message so the receiving side knows which it was.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portway.errors import MessageTooLarge, ValidationError

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
BINARY = "application/octet-stream"

# Attribute rules every builtin provider accepts: SQS allows 10 message attributes with
# names of letters, digits, '_', '-' and '.' (not starting with 'aws.' or 'amazon.');
# Pub/Sub refuses keys starting with 'goog' and values over 1,024 bytes. Of SQS's 10,
# one is kept for portway itself: a provider may add an attribute named 'portway-...'
# (the AWS provider carries the body's content type in 'portway-content-type').
MAX_ATTRIBUTES = 9
MAX_ATTRIBUTE_NAME = 256
MAX_ATTRIBUTE_VALUE_BYTES = 1024
_RESERVED_PREFIXES = ("aws.", "amazon.", "goog")
_PORTWAY_PREFIXES = ("portway-", "portway.")


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
    if len(attributes) > MAX_ATTRIBUTES:
        raise ValidationError(
            f"a message carries at most {MAX_ATTRIBUTES} attributes, got {len(attributes)} "
            f"(SQS allows 10 and portway keeps one); put the rest in the body"
        )
    checked: dict[str, str] = {}
    for key, value in attributes.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"message attribute {key!r}: keys and values must be str, "
                f"got {type(key).__name__} -> {type(value).__name__}"
            )
        _check_attribute(key, value)
        checked[key] = value
    return checked


# Compiled on first use, not at import: every cold start imports this module, and most
# functions never send an attribute.
@functools.cache
def _attribute_name() -> re.Pattern[str]:
    return re.compile(r"^[A-Za-z0-9_-](?:[A-Za-z0-9_-]|\.(?!\.))*(?<!\.)$")


def _check_attribute(key: str, value: str) -> None:
    if len(key) > MAX_ATTRIBUTE_NAME or not _attribute_name().fullmatch(key):
        raise ValidationError(
            f"message attribute name {key!r}: use 1 to {MAX_ATTRIBUTE_NAME} letters, digits, "
            f"'_', '-' or '.' (no leading, trailing or doubled '.')"
        )
    if key.lower().startswith(_RESERVED_PREFIXES):
        raise ValidationError(
            f"message attribute name {key!r}: names starting with 'aws.', 'amazon.' or "
            f"'goog' are reserved by the clouds"
        )
    if key.lower().startswith(_PORTWAY_PREFIXES):
        raise ValidationError(
            f"message attribute name {key!r}: names starting with 'portway-' or 'portway.' "
            f"are reserved for portway's own attributes"
        )
    size = len(value.encode("utf-8", errors="surrogatepass"))
    if size > MAX_ATTRIBUTE_VALUE_BYTES:
        raise ValidationError(
            f"message attribute {key!r}: the value is {size:,} bytes, more than the "
            f"{MAX_ATTRIBUTE_VALUE_BYTES:,} allowed; put large data in the body"
        )


def message_size(message: OutgoingMessage) -> int:
    """Bytes a message counts against a size limit: body, attribute names and values.

    SQS counts a message this way (body plus every attribute's name and value).
    """
    size = len(message.body)
    for key, value in message.attributes.items():
        size += len(key.encode("utf-8")) + len(value.encode("utf-8", errors="surrogatepass"))
    return size


def check_sizes(messages: Sequence[OutgoingMessage], limit: int, *, target: str) -> None:
    """Raise :class:`MessageTooLarge` naming ``target`` if a message exceeds ``limit``."""
    for index, message in enumerate(messages):
        size = message_size(message)
        if size > limit:
            which = f"message {index + 1} of {len(messages)}" if len(messages) > 1 else "message"
            raise MessageTooLarge(
                f"{target}: the {which} is {size:,} bytes (body and attributes), more than "
                f"the {limit:,} this stage's provider accepts; store the data in a bucket "
                f"and send its key"
            )


def outgoing(body: object, attributes: Mapping[str, Any] | None = None) -> OutgoingMessage:
    """Encode a body and its attributes into an :class:`OutgoingMessage`."""
    data, content_type = encode_body(body)
    return OutgoingMessage(data, content_type, check_attributes(attributes))
