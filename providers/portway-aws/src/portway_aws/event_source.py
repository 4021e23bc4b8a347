"""What Lambda's SQS event source mapping hands a function, built from received messages.

Lambda polls a queue and invokes the function with ``{"Records": [...]}``, each record
the received SQS message in the event's own spelling (``messageId``, ``body``,
``attributes``, ``messageAttributes`` with ``stringValue``...). Where Lambda cannot run
(moto stores functions but never invokes them), tests and the conformance harness play
the poller: they receive from the emulator's queue and build the event with
:func:`sqs_event`, exactly as Lambda shapes it.

https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#example-standard-queue-message-event
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """The Lambda record of one message from ``ReceiveMessage`` (with all attributes)."""
    attributes = {}
    for name, value in message.get("MessageAttributes", {}).items():
        attribute: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }
        if "StringValue" in value:
            attribute["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            attribute["binaryValue"] = value["BinaryValue"]
        attributes[name] = attribute
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def sqs_event(messages: Iterable[Mapping[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event of one invocation for ``messages``, received together."""
    return {"Records": [sqs_record(message, queue_arn, region) for message in messages]}
