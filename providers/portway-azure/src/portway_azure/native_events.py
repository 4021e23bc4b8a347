"""Native Azure Functions inputs -> portway's neutral events. Pure: no storage SDK, no I/O.

What reaches a portway function on Azure, by trigger (see :mod:`portway_azure.packaging`):

* queue: a Storage Queue message. Storage Queue messages carry a body and no
  attributes, so portway wraps each message in its **envelope**, a JSON object::

      {"portway": 1, "id": "<message id>", "body": "<text, or base64>",
       "content_type": "application/json", "attributes": {"k": "v"}}

  ``content_type`` follows the ``portway-content-type`` convention of the other
  providers: it ends in ``;base64`` when ``body`` is base64-encoded (any body that is
  not UTF-8 text). ``id`` and ``attributes`` are optional. The Azure data plane
  (``send()``) will write exactly this (:func:`envelope`). A body that is not an
  envelope (a message portway did not send) is handed on as text, typed binary.
* topic: an Event Grid event (Event Grid schema) that the topic's subscription
  delivered to the function's trigger queue; its ``data`` is the envelope above.
* object created: an Event Grid ``Microsoft.Storage.BlobCreated`` event of the stage's
  storage account, delivered to the trigger queue; ``subject`` is
  ``/blobServices/default/containers/<container>/blobs/<key>``. Event Grid applies the
  prefix and suffix filters itself; they are checked again here (cheap) so a shared or
  misconfigured subscription never runs the handler on a key it did not ask for.

A message that cannot be read raises :class:`MalformedMessage` with the reason.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from portway.events import Message, ObjectEvent
from portway.model.triggers import MessageTrigger, ObjectCreatedTrigger
from portway.payload import BINARY, OutgoingMessage
from portway_azure import naming

SOURCE = "/portway/azure"
ENVELOPE_VERSION = 1
BASE64_MARK = ";base64"
BLOB_CREATED = "Microsoft.Storage.BlobCreated"
_BLOB_SUBJECT = "/blobServices/default/containers/"


class MalformedMessage(ValueError):
    """A queue message is not of the shape the function's trigger receives."""


def envelope(message: OutgoingMessage, identifier: str) -> dict[str, Any]:
    """The envelope of ``message`` (see the module docstring): what ``send()`` will write."""
    content_type = message.content_type
    try:
        body = message.body.decode("utf-8")
    except UnicodeDecodeError:
        body = base64.b64encode(message.body).decode("ascii")
        content_type += BASE64_MARK
    document: dict[str, Any] = {
        "portway": ENVELOPE_VERSION,
        "id": identifier,
        "body": body,
        "content_type": content_type,
    }
    if message.attributes:
        document["attributes"] = dict(message.attributes)
    return document


def message_of(
    body: bytes, trigger: MessageTrigger, *, identifier: str, attempt: int, time: datetime | None
) -> Message:
    """The neutral message of one queue message of a queue or topic trigger."""
    source = f"{SOURCE}/{trigger.source.kind}s/{trigger.source.name}"
    document = _json(body)
    if trigger.source.kind == "topic" and isinstance(document, dict) and "eventType" in document:
        data = document.get("data")
        if not _is_envelope(data):
            raise MalformedMessage(
                f"the Event Grid event {document.get('id')!r} carries no portway envelope"
            )
        assert isinstance(data, dict)
        time = _time(document.get("eventTime")) or time
        return _from_envelope(data, identifier, attempt, time, source, raw=document)
    if _is_envelope(document):
        assert isinstance(document, dict)
        return _from_envelope(document, identifier, attempt, time, source, raw=document)
    return Message(
        id=identifier,
        source=source,
        time=time or datetime.now(UTC),
        body=body,
        attempt=attempt,
        content_type=BINARY,
        raw=body,
    )


def object_events_of(body: bytes, trigger: ObjectCreatedTrigger) -> list[ObjectEvent]:
    """The object-created event in one queue message holding an Event Grid event.

    Other event types (``BlobDeleted``...) and keys outside the trigger's filters give no
    event. A blob of another container than the trigger's bucket is malformed: the
    subscription is wired to the wrong queue.
    """
    document = _json(body)
    if not isinstance(document, dict) or "subject" not in document:
        raise MalformedMessage("the message is not an Event Grid event (no subject)")
    if document.get("eventType", document.get("type")) != BLOB_CREATED:
        return []
    subject = document["subject"]
    container, marker, key = (
        subject.removeprefix(_BLOB_SUBJECT).partition("/blobs/")
        if isinstance(subject, str) and subject.startswith(_BLOB_SUBJECT)
        else ("", "", "")
    )
    if not marker or not key:
        raise MalformedMessage(f"the BlobCreated subject {subject!r} names no blob")
    expected = container_of(trigger.bucket.name)
    if container != expected:
        raise MalformedMessage(
            f"the blob is in container {container!r}, but the trigger watches bucket "
            f"{trigger.bucket.name!r} (container {expected!r})"
        )
    if not trigger.matches(key):
        return []
    data = document.get("data")
    data = data if isinstance(data, Mapping) else {}
    size = data.get("contentLength", 0)
    return [
        ObjectEvent(
            id=str(document.get("id") or subject),
            source=f"{SOURCE}/buckets/{trigger.bucket.name}",
            time=_time(document.get("eventTime", document.get("time"))) or datetime.now(UTC),
            bucket=trigger.bucket.name,
            key=key,
            size=size if isinstance(size, int) else 0,
            etag=str(data.get("eTag", "")),
            raw=document,
        )
    ]


def container_of(bucket: str) -> str:
    """The container of ``bucket`` (:func:`portway_azure.naming.container_name`)."""
    return naming.container_name(bucket)


def _from_envelope(
    document: Mapping[str, Any],
    identifier: str,
    attempt: int,
    time: datetime | None,
    source: str,
    *,
    raw: object,
) -> Message:
    text = document.get("body", "")
    content_type = document.get("content_type", BINARY)
    attributes = document.get("attributes", {})
    if not isinstance(text, str) or not isinstance(content_type, str):
        raise MalformedMessage("the portway envelope's body and content_type must be strings")
    if not isinstance(attributes, dict) or not all(
        isinstance(value, str) for value in attributes.values()
    ):
        raise MalformedMessage("the portway envelope's attributes must map names to strings")
    if content_type.endswith(BASE64_MARK):
        try:
            data = base64.b64decode(text.encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error, ValueError) as error:
            raise MalformedMessage(f"the body is marked base64 but is not ({error})") from None
        content_type = content_type.removesuffix(BASE64_MARK)
    else:
        data = text.encode("utf-8", errors="surrogatepass")
    envelope_id = document.get("id")
    return Message(
        id=envelope_id if isinstance(envelope_id, str) and envelope_id else identifier,
        source=source,
        time=time or datetime.now(UTC),
        body=data,
        attributes=dict(attributes),
        attempt=attempt,
        content_type=content_type,
        raw=raw,
    )


def _is_envelope(document: object) -> bool:
    return isinstance(document, dict) and document.get("portway") == ENVELOPE_VERSION


def _json(body: bytes) -> object:
    """``body`` parsed as JSON, or ``None`` when it is not JSON (a plain message)."""
    if not body.lstrip().startswith(b"{"):
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
