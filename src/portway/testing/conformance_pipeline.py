"""The pipeline the conformance suite deploys: every trigger, each handler a witness.

Handlers do what a message or a key tells them (succeed, fail once, always fail, try
an undeclared use) and *record what they saw* as JSON objects in the ``results``
bucket, under ``<case>/...``. A test sends its input with a fresh case id and reads the
records back through the ordinary data plane, which works the same on every provider.

The case id travels in the message attributes (``case``) or as the second segment of
an uploaded key (``incoming/<case>/a.csv``). Settings are the smallest every provider
accepts (10 s visibility timeout, 5 attempts), so retries are as quick as they can be
anywhere, and each function's ``timeout`` fits within its queue's visibility timeout
(AWS requires it).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

from portway import (
    BatchResult,
    HttpRequest,
    HttpResponse,
    Message,
    ObjectEvent,
    Pipeline,
    ScheduleEvent,
)

APP = "portway.testing.conformance_pipeline:app"
SCHEDULE = "rate(1 minute)"
SCHEDULE_SECONDS = 60
RECEIVED_PREFIX = "incoming/"
RECEIVED_SUFFIX = ".csv"
TICKS = "ticks/"
# Bodies up to this size are recorded whole; larger ones by size and digest.
RECORDED_BODY_BYTES = 64 * 1024

app = Pipeline("conformance")

results = app.bucket("results")
uploads = app.bucket("uploads")
jobs = app.queue("jobs", visibility_timeout=10, max_attempts=5)
batches = app.queue("batches", visibility_timeout=10, max_attempts=5)
broadcasts = app.topic("broadcasts")

# Modes a message to `jobs` carries in its `mode` attribute.
SUCCEED = "succeed"
FAIL_ONCE = "fail-once"
FAIL_ALWAYS = "fail-always"
TRESPASS = "trespass"
FAILURE_TEXT = "conformance: failing on purpose"


def record(key: str, document: dict[str, Any]) -> None:
    """Store one observation (a JSON object) at ``key`` of the results bucket."""
    results.write(key, json.dumps(document, sort_keys=True))


def message_seen(message: Message) -> dict[str, Any]:
    seen = {
        "id": message.id,
        "attempt": message.attempt,
        "attributes": dict(message.attributes),
        "size": len(message.body),
        "sha256": hashlib.sha256(message.body).hexdigest(),
        "content_type": message.content_type,
    }
    if len(message.body) <= RECORDED_BODY_BYTES:
        seen["body_base64"] = base64.b64encode(message.body).decode("ascii")
    return seen


def key_digest(key: str) -> str:
    """A short, always-valid result key segment standing for an arbitrary object key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


# -- queues ----------------------------------------------------------------------------


@app.on_message(jobs, timeout=10, uses=[results.write()])
def work(message: Message) -> None:
    """Record each delivery, then behave as the message's ``mode`` attribute says."""
    case = message.attributes["case"]
    mode = message.attributes.get("mode", SUCCEED)
    if mode == TRESPASS:
        record(f"{case}/trespass", trespass(case))
        return
    record(f"{case}/{message.id}/attempt-{message.attempt}", message_seen(message))
    if mode == FAIL_ONCE and message.attempt == 1:
        raise RuntimeError(f"{FAILURE_TEXT} on the first attempt ({case})")
    if mode == FAIL_ALWAYS:
        raise RuntimeError(f"{FAILURE_TEXT} ({case})")


def trespass(case: str) -> dict[str, Any]:
    """Try uses ``work`` did not declare; return what each attempt raised (or None)."""
    attempts: dict[str, Callable[[], object]] = {
        "uploads.write": lambda: uploads.write(f"trespass/{case}", b"should not exist"),
        "results.read": lambda: results.read(f"{case}/trespass"),
        "broadcasts.publish": lambda: broadcasts.publish({"case": case}),
    }
    outcome: dict[str, Any] = {}
    for label, attempt in attempts.items():
        try:
            attempt()
        except Exception as error:
            outcome[label] = {"error": type(error).__name__, "message": str(error)}
        else:
            outcome[label] = None
    return outcome


@app.on_message(batches, batch_size=10, timeout=10, uses=[results.write()])
def work_batch(batch: list[Message]) -> BatchResult:
    """Record each message; report those whose body says ``"fail": true`` failed, once."""
    failed = []
    for message in batch:
        case = message.attributes["case"]
        seen = message_seen(message) | {"batch_size": len(batch)}
        record(f"{case}/{message.id}/attempt-{message.attempt}", seen)
        if message.json().get("fail") and message.attempt == 1:
            failed.append(message.id)
    return BatchResult(failed=failed)


# -- topic fan-out -------------------------------------------------------------------


@app.on_message(broadcasts, timeout=10, uses=[results.write()])
def hear_first(message: Message) -> None:
    record(f"{message.attributes['case']}/hear_first", message_seen(message))


@app.on_message(broadcasts, timeout=10, uses=[results.write()])
def hear_second(message: Message) -> None:
    record(f"{message.attributes['case']}/hear_second", message_seen(message))


# -- objects ---------------------------------------------------------------------------


def object_seen(event: ObjectEvent) -> dict[str, Any]:
    return {"bucket": event.bucket, "key": event.key, "size": event.size, "etag": event.etag}


def case_of(key: str) -> str:
    """The case id of an uploaded key: its second segment (``area/<case>/name``)."""
    return key.split("/")[1]


@app.on_object_created(uploads, timeout=10, uses=[results.write()])
def observe_upload(event: ObjectEvent) -> None:
    """Every object created in ``uploads``: the witness that events were produced."""
    record(f"{case_of(event.key)}/observed/{key_digest(event.key)}", object_seen(event))


@app.on_object_created(
    uploads, prefix=RECEIVED_PREFIX, suffix=RECEIVED_SUFFIX, timeout=10, uses=[results.write()]
)
def ingest_csv(event: ObjectEvent) -> None:
    """Only ``incoming/...csv`` objects: the filters under test."""
    record(f"{case_of(event.key)}/ingested/{key_digest(event.key)}", object_seen(event))


# -- schedules -------------------------------------------------------------------------


@app.schedule(SCHEDULE, timeout=10, uses=[results.write()])
def tick(event: ScheduleEvent) -> None:
    record(
        f"{TICKS}{event.id}",
        {"schedule": event.schedule, "time": event.time.isoformat(), "id": event.id},
    )


# -- http ------------------------------------------------------------------------------


@app.http("POST", "/echo/{name}", timeout=10)
def echo(request: HttpRequest) -> dict[str, Any]:
    """Answer with what the function received."""
    return {
        "method": request.method,
        "path": request.path,
        "path_params": dict(request.path_params),
        "query": dict(request.query),
        "header": request.headers.get("x-conformance"),
        "body": request.text(),
    }


@app.http("GET", "/status/{code}", timeout=10)
def status(request: HttpRequest) -> HttpResponse:
    """Answer with the status the path names, a header and a text body."""
    code = int(request.path_params["code"])
    return HttpResponse(f"status {code}", status=code, headers={"x-conformance": "set"})


@app.http("GET", "/fail", timeout=10)
def fail(request: HttpRequest) -> None:
    raise RuntimeError(FAILURE_TEXT)
