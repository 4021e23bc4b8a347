"""How a portway message travels as a Pub/Sub message, and what Pub/Sub accepts. Pure, no SDK.

A Pub/Sub message carries any bytes (``data``) and string attributes, so a portway
message goes as it is: the body as ``data``, the user's attributes beside one of
portway's, ``portway-content-type``, naming the body's content type. The ``;base64`` and
``;empty`` marks of the AWS provider are never needed here (the shim still reads them,
see :mod:`portway_gcp.native_events`); an empty body is sent as empty data, which Pub/Sub
accepts because the message has an attribute.

Pub/Sub refuses a publish request above 10,000,000 bytes, as protobuf serializes it
(the topic's path, and per message its data and attributes with their framing); the
client library checks this before it sends. :func:`publish_request_size` counts the same
bytes without importing the library.
https://cloud.google.com/pubsub/quotas#resource_limits
"""

from __future__ import annotations

from collections.abc import Mapping

from portway.payload import OutgoingMessage

CONTENT_TYPE_ATTRIBUTE = "portway-content-type"

#: The largest publish request Pub/Sub accepts (decimal megabytes, as its quotas say).
MAX_REQUEST_BYTES = 10_000_000
#: What the provider declares (counted as portway counts a message: body, attribute names
#: and values): 1,000 bytes stay for what a one-message request adds (the topic's path,
#: at most ~310 bytes for a 30-character project id and a 255-character topic id; the
#: protobuf framing, at most 9 bytes per attribute and 15 for the message; and
#: ``portway-content-type`` with its value), so a message within it always fits.
DECLARED_MAX_MESSAGE_BYTES = MAX_REQUEST_BYTES - 1_000


def attributes_of(message: OutgoingMessage) -> dict[str, str]:
    """The Pub/Sub attributes of ``message``: the user's and ``portway-content-type``."""
    return {**message.attributes, CONTENT_TYPE_ATTRIBUTE: message.content_type}


def publish_request_size(topic_path: str, data: bytes, attributes: Mapping[str, str]) -> int:
    """Bytes of a ``PublishRequest`` of one message, as Pub/Sub counts it (protobuf).

    ``PublishRequest{topic = 1; repeated PubsubMessage messages = 2}`` and
    ``PubsubMessage{bytes data = 1; map<string, string> attributes = 2}``, each map
    entry a message ``{key = 1; value = 2}``.
    """
    message = _field(len(data)) if data else 0
    for name, value in attributes.items():
        entry = _field(len(name.encode("utf-8"))) + _field(len(value.encode("utf-8")))
        message += _field(entry)
    return _field(len(topic_path.encode("utf-8"))) + _field(message)


def _field(length: int) -> int:
    """A length-delimited field of ``length`` bytes: its tag, its length, its bytes."""
    return 1 + _varint_size(length) + length


def _varint_size(value: int) -> int:
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size
