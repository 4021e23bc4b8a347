"""How a portway message travels as an SQS or SNS message, and back. Pure, no SDK.

SQS and SNS carry text bodies of XML characters only (``#x9 | #xA | #xD | #x20-#xD7FF |
#xE000-#xFFFD | #x10000-#x10FFFF``), never an empty one. So:

* a body that is valid UTF-8 of allowed characters goes as that text;
* any other non-empty body goes base64-encoded;
* an empty body goes as a single space, marked empty.

portway adds one String message attribute, ``portway-content-type``: the body's content
type, followed by ``;base64`` when the body was base64-encoded, or ``;empty`` when it
was empty. User attributes go as String attributes beside it (the core keeps their
names off ``portway-`` and allows 9, so all 10 fit SQS's limit).

https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from portway.payload import BINARY, OutgoingMessage

CONTENT_TYPE_ATTRIBUTE = "portway-content-type"
BASE64_MARK = ";base64"
EMPTY_MARK = ";empty"
STRING = "String"

# SQS and SNS both refuse a message (or a batch request) above 256 KiB, counting "all
# parts of the message attribute, including Name, Type, and Value" with the body.
# moto accepts up to 1 MiB, so portway checks this itself.
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_MessageAttributeValue.html
MAX_MESSAGE_BYTES = 262_144
# What the provider declares (its capability, counted as portway counts a message: body,
# attribute names and values): 64 bytes stay for portway-content-type (name, type and
# value) and 6 for the type of each of the 9 attributes the core allows, so a message
# within it always fits once sent. send() and publish() refuse what exceeds it, as the
# local provider refuses what exceeds its own, so the limit means the same everywhere.
DECLARED_MAX_MESSAGE_BYTES = MAX_MESSAGE_BYTES - 64 - 9 * 6

_NOT_XML_PATTERN = "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


@functools.cache
def _not_xml() -> re.Pattern[str]:
    """Compiled on first use: compiling it costs milliseconds every cold start would pay."""
    return re.compile(_NOT_XML_PATTERN)


class MalformedMessage(ValueError):
    """A delivered body does not decode as its ``portway-content-type`` says."""


@dataclass(frozen=True, slots=True)
class WireMessage:
    """A message as SQS/SNS carry it: text body and String attributes (portway's included)."""

    body: str
    attributes: Mapping[str, str]

    @property
    def size(self) -> int:
        """Bytes SQS/SNS count: the body, and each attribute's name, type and value."""
        size = len(self.body.encode("utf-8"))
        for name, value in self.attributes.items():
            size += len(name.encode("utf-8")) + len(STRING) + len(value.encode("utf-8"))
        return size


def encode(message: OutgoingMessage) -> WireMessage:
    """The SQS/SNS form of ``message`` (see the module docstring for the rule)."""
    content_type = message.content_type
    if not message.body:
        body, content_type = " ", content_type + EMPTY_MARK
    else:
        try:
            text = message.body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and _not_xml().search(text) is None:
            body = text
        else:
            # base64 is imported where it is used, not at the top: every cold start
            # imports this module, and only binary bodies need it.
            import base64

            body = base64.b64encode(message.body).decode("ascii")
            content_type += BASE64_MARK
    return WireMessage(body, {**message.attributes, CONTENT_TYPE_ATTRIBUTE: content_type})


def decode(body: str, content_type: str | None) -> tuple[bytes, str]:
    """``(bytes, content_type)`` of a delivered body, given its ``portway-content-type``.

    With no content type (a message portway did not send), the body is taken as text
    and reported as binary. Raises :class:`MalformedMessage` for a body marked base64
    that is not.
    """
    if content_type is None:
        return body.encode("utf-8", errors="surrogatepass"), BINARY
    if content_type.endswith(EMPTY_MARK):
        return b"", content_type.removesuffix(EMPTY_MARK)
    if content_type.endswith(BASE64_MARK):
        import base64

        try:
            data = base64.b64decode(body.encode("ascii"), validate=True)
        except ValueError as error:  # binascii.Error and UnicodeEncodeError are ValueErrors
            raise MalformedMessage(f"the body is marked base64 but is not ({error})") from None
        return data, content_type.removesuffix(BASE64_MARK)
    return body.encode("utf-8", errors="surrogatepass"), content_type


def user_attributes(attributes: Mapping[str, str]) -> dict[str, str]:
    """The attributes a handler sees: all but portway's own."""
    return {name: value for name, value in attributes.items() if name != CONTENT_TYPE_ATTRIBUTE}
