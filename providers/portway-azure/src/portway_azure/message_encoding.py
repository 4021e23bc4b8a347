"""How a portway message travels on a Storage Queue or an Event Grid topic. Pure, no SDK.

**Queue** (``send()``): the message's envelope (:func:`portway_azure.native_events.envelope`:
id, body, content type, attributes) as compact JSON, UTF-8, then base64: the queue
trigger of every portway Function App decodes base64 (``host.json`` ``messageEncoding``,
:func:`portway_azure.packaging.app_files.host_json`) and hands the shim the JSON.

**Topic** (``publish()``): one Event Grid event per message, in the Event Grid schema
(the input schema of every portway topic, and the one its Storage Queue subscriptions
deliver), whose ``data`` is the same envelope::

    {"id": "<message id>", "subject": "portway/topics/<topic>", "eventType": "portway.message",
     "eventTime": "<UTC ISO 8601>", "dataVersion": "1", "data": {<envelope>}}

Event Grid writes each event, with ``topic`` and ``metadataVersion`` added, base64-encoded
into every subscription's queue (https://github.com/MicrosoftDocs/azure-docs/issues/102923),
where the shim reads it (:func:`portway_azure.native_events.message_of`).

**Size.** A queue message may be 64 KiB as sent, "base64 encoded" counted
(https://learn.microsoft.com/rest/api/storageservices/put-message; Azurite refuses
65,537 characters with ``RequestBodyTooLarge``). Base64 spends 4 bytes for every 3, which
leaves 48 KiB, and the envelope (and on a topic the event around it) takes up to 1 KiB:
the provider declares 47 KiB of body and attributes (:data:`DECLARED_MAX_MESSAGE_BYTES`,
what ``portway validate`` reports), and a text message within it always fits. A message
is checked against that first, as every provider checks it, and then, encoded, against
the 64 KiB the queue accepts: JSON escapes quotes, backslashes and control characters in
a text body, and a binary body travels base64 inside the envelope (a third more again),
so such a message near the declared limit may still not fit, and the error says so.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from portway.payload import OutgoingMessage
from portway_azure.native_events import envelope

#: A Storage Queue message: at most 64 KiB, counted as sent (base64 text).
MAX_QUEUE_MESSAGE_BYTES = 64 * 1024
#: The bytes 64 KiB of base64 carries.
BASE64_CAPACITY = MAX_QUEUE_MESSAGE_BYTES * 3 // 4
#: Kept for the envelope (at most 175 bytes for a text body: keys, id, content type,
#: the quotes around 9 attributes) and, on a topic, the Event Grid event around it and
#: what Event Grid adds on delivery (:data:`DELIVERY_RESERVE_BYTES`).
ENVELOPE_RESERVE_BYTES = 1024
#: What the provider declares (``CAPABILITIES.max_message_bytes``, a test keeps them
#: equal): body and attributes as portway counts them, which always fit once sent when
#: the body is text with nothing JSON must escape.
DECLARED_MAX_MESSAGE_BYTES = BASE64_CAPACITY - ENVELOPE_RESERVE_BYTES
#: Event Grid accepts at most 1 MB per publish request (and per event).
#: https://learn.microsoft.com/azure/event-grid/quotas-limits
MAX_PUBLISH_REQUEST_BYTES = 1_048_576
#: Room for what Event Grid adds to an event before it writes it to a queue: ``topic``
#: (the topic's resource id, at most ~260 characters with a 90-character resource
#: group and a 50-character topic name) and ``metadataVersion``.
DELIVERY_RESERVE_BYTES = 400

EVENT_TYPE = "portway.message"
DATA_VERSION = "1"


@dataclass(frozen=True, slots=True)
class QueueText:
    """A message as a Storage Queue carries it: base64 text, and the id the handler sees."""

    id: str
    text: str

    @property
    def size(self) -> int:
        """Characters the queue counts (base64 is ASCII: one byte each)."""
        return len(self.text)


def _json(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def queue_text(message: OutgoingMessage, identifier: str) -> QueueText:
    """The base64 text of ``message``'s envelope, as ``send()`` puts it on the queue."""
    encoded = base64.b64encode(_json(envelope(message, identifier))).decode("ascii")
    return QueueText(identifier, encoded)


def topic_event(
    message: OutgoingMessage, identifier: str, topic: str, now: datetime | None = None
) -> dict[str, Any]:
    """The Event Grid event (Event Grid schema) that carries ``message`` on ``topic``."""
    moment = now or datetime.now(UTC)
    return {
        "id": identifier,
        "subject": f"portway/topics/{topic}",
        "eventType": EVENT_TYPE,
        "eventTime": moment.isoformat().replace("+00:00", "Z"),
        "dataVersion": DATA_VERSION,
        "data": envelope(message, identifier),
    }


def event_size(event: dict[str, Any]) -> int:
    """Bytes of ``event`` in the publish request (compact JSON)."""
    return len(_json(event))


def delivered_size(event: dict[str, Any]) -> int:
    """Characters of ``event`` once Event Grid has written it to a subscription's queue:
    base64 of its JSON with :data:`DELIVERY_RESERVE_BYTES` for the fields it adds."""
    raw = event_size(event) + DELIVERY_RESERVE_BYTES
    return 4 * ((raw + 2) // 3)
