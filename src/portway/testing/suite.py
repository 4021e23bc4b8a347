"""The conformance suite: portway's neutral semantics, written once, run on any provider.

A backend runs it with a fixture and an import (see ``docs/conformance.md``)::

    import pytest
    from portway.testing.suite import *  # noqa: F403

    @pytest.fixture(scope="session")
    def portway_harness():
        return NimbusHarness()

Each test needs the ``conformance`` fixture (the deployed pipeline,
:class:`~portway.testing.run.ConformanceRun`) and names the capabilities it needs; a
provider that lacks one gets the test skipped with the reason. Tests that wait for a
retry or a schedule feed their input when the deployment starts (``@feeds``), so their
waits overlap.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import datetime
from typing import Any

import pytest

from portway.capabilities import Feature
from portway.errors import InvalidKey, MessageTooLarge
from portway.payload import JSON, TEXT, message_size, outgoing
from portway.testing.conformance_pipeline import (
    FAIL_ALWAYS,
    FAIL_ONCE,
    FAILURE_TEXT,
    SCHEDULE,
    SCHEDULE_SECONDS,
    SUCCEED,
    TICKS,
    TRESPASS,
    batches,
    broadcasts,
    jobs,
    key_digest,
    results,
    uploads,
)
from portway.testing.requirements import requires
from portway.testing.run import ConformanceRun, feeds

__all__ = [
    "test_batch_handler_retries_only_the_messages_it_reports_failed",
    "test_every_message_of_a_batch_send_is_delivered",
    "test_failed_message_is_delivered_again_with_the_next_attempt_number",
    "test_http_function_sets_status_headers_and_body",
    "test_http_function_that_raises_answers_500",
    "test_http_request_reaches_its_function_with_path_query_headers_and_body",
    "test_message_goes_to_dead_letter_after_max_attempts_with_reason",
    "test_message_of_exactly_the_size_limit_is_delivered",
    "test_message_over_the_size_limit_is_refused_at_send",
    "test_object_created_event_names_the_bucket_the_decoded_key_and_the_size",
    "test_object_trigger_runs_only_for_keys_matching_its_prefix_and_suffix",
    "test_queue_message_is_delivered_with_its_id_body_and_attributes",
    "test_rate_schedule_fires_its_function",
    "test_text_and_binary_bodies_arrive_unchanged_with_their_content_type",
    "test_topic_message_reaches_every_subscriber",
    "test_undeclared_use_is_denied_inside_a_function",
    "test_unsafe_object_key_is_refused",
]


def body_of(seen: dict[str, Any]) -> bytes:
    return base64.b64decode(seen["body_base64"])


def attempts(records: dict[str, Any], message_id: str) -> set[int]:
    """The attempt numbers recorded for one message."""
    return {
        seen["attempt"] for key, seen in records.items() if key.startswith(f"{message_id}/attempt-")
    }


# -- delivery --------------------------------------------------------------------------


@requires(Feature.QUEUES)
def test_queue_message_is_delivered_with_its_id_body_and_attributes(
    conformance: ConformanceRun,
) -> None:
    case = conformance.new_case("delivery")
    body = {"text": "héllo", "numbers": [1, 2, 3]}
    attributes = {"case": case, "mode": SUCCEED, "colour": "blue"}
    with conformance.connect():
        message_id = jobs.send(body, attributes=attributes)
    records = conformance.wait_for_records(
        case, [f"{message_id}/attempt-1"], what=f"message {message_id} handled by 'work'"
    )
    seen = records[f"{message_id}/attempt-1"]
    assert seen["id"] == message_id
    assert json.loads(body_of(seen)) == body
    assert seen["attributes"] == attributes
    assert seen["content_type"] == JSON
    assert seen["attempt"] == 1


@requires(Feature.QUEUES)
def test_text_and_binary_bodies_arrive_unchanged_with_their_content_type(
    conformance: ConformanceRun,
) -> None:
    case = conformance.new_case("bodies")
    text = "naïve café, 日本語\n"
    binary = bytes(range(256))  # not UTF-8: must travel untouched
    with conformance.connect():
        attributes = {"case": case, "mode": SUCCEED}
        text_id = jobs.send(text, attributes=attributes)
        binary_id = jobs.send(binary, attributes=attributes)
    records = conformance.wait_for_records(
        case,
        [f"{text_id}/attempt-1", f"{binary_id}/attempt-1"],
        what="a text and a binary message handled by 'work'",
    )
    assert body_of(records[f"{text_id}/attempt-1"]).decode("utf-8") == text
    assert records[f"{text_id}/attempt-1"]["content_type"] == TEXT
    assert body_of(records[f"{binary_id}/attempt-1"]) == binary
    assert records[f"{binary_id}/attempt-1"]["content_type"] == "application/octet-stream"


@requires(Feature.QUEUES)
def test_every_message_of_a_batch_send_is_delivered(conformance: ConformanceRun) -> None:
    case = conformance.new_case("many")
    with conformance.connect():
        ids = jobs.send_batch(
            [{"n": n} for n in range(25)], attributes={"case": case, "mode": SUCCEED}
        )
    assert len(set(ids)) == 25, "send_batch returns one distinct id per message"
    records = conformance.wait_for_records(
        case, [f"{i}/attempt-1" for i in ids], what="25 messages sent at once, each handled"
    )
    assert sorted(json.loads(body_of(records[f"{i}/attempt-1"]))["n"] for i in ids) == list(
        range(25)
    )


# -- retries and dead letters ----------------------------------------------------------


def feed_redelivery(run: ConformanceRun) -> tuple[str, str]:
    case = run.new_case("redelivery")
    with run.connect():
        message_id = jobs.send({"retry": True}, attributes={"case": case, "mode": FAIL_ONCE})
    return case, message_id


@requires(Feature.QUEUES)
@feeds(feed_redelivery)
def test_failed_message_is_delivered_again_with_the_next_attempt_number(
    conformance: ConformanceRun,
) -> None:
    case, message_id = conformance.fed(feed_redelivery)
    records = conformance.wait_for_records(
        case,
        [f"{message_id}/attempt-1", f"{message_id}/attempt-2"],
        within=jobs.visibility_timeout,
        what=f"message {message_id} failed once, then delivered again",
    )
    assert records[f"{message_id}/attempt-2"]["attempt"] == 2
    assert records[f"{message_id}/attempt-2"]["id"] == message_id
    assert body_of(records[f"{message_id}/attempt-2"]) == body_of(
        records[f"{message_id}/attempt-1"]
    )


def feed_dead_letter(run: ConformanceRun) -> tuple[str, str, bytes]:
    case = run.new_case("dead-letter")
    body = b'{"doomed": true}'
    with run.connect():
        message_id = jobs.send(body, attributes={"case": case, "mode": FAIL_ALWAYS})
    return case, message_id, body


@requires(Feature.QUEUES, Feature.DEAD_LETTERS)
@feeds(feed_dead_letter)
def test_message_goes_to_dead_letter_after_max_attempts_with_reason(
    conformance: ConformanceRun,
) -> None:
    case, message_id, body = conformance.fed(feed_dead_letter)

    def dead_letter() -> Any:
        letters = conformance.harness.dead_letters(jobs.name)
        return next((d for d in letters if d.attributes.get("case") == case), None)

    letter = conformance.wait_for(
        dead_letter,
        within=jobs.max_attempts * jobs.visibility_timeout,
        what=f"message {message_id} in the dead letters of queue {jobs.name!r}",
    )
    assert letter.attempts == jobs.max_attempts
    assert letter.reason.startswith("RuntimeError: "), letter.reason
    assert FAILURE_TEXT in letter.reason
    assert letter.body == body
    assert attempts(conformance.records(case), message_id) == set(range(1, jobs.max_attempts + 1))


def feed_partial_batch(run: ConformanceRun) -> tuple[str, list[str], list[str]]:
    case = run.new_case("partial-batch")
    failing = {1, 4}
    with run.connect():
        ids = batches.send_batch(
            [{"n": n, "fail": n in failing} for n in range(6)], attributes={"case": case}
        )
    return case, [i for n, i in enumerate(ids) if n not in failing], [ids[n] for n in failing]


@requires(Feature.QUEUES, Feature.BATCHES, Feature.PARTIAL_BATCH_FAILURE)
@feeds(feed_partial_batch)
def test_batch_handler_retries_only_the_messages_it_reports_failed(
    conformance: ConformanceRun,
) -> None:
    case, succeeded, failed = conformance.fed(feed_partial_batch)
    records = conformance.wait_for_records(
        case,
        [f"{i}/attempt-2" for i in failed],
        within=batches.visibility_timeout,
        what="the messages 'work_batch' reported failed, delivered again",
    )
    for message_id in failed:
        assert attempts(records, message_id) == {1, 2}
    for message_id in succeeded:
        assert attempts(records, message_id) == {1}, "an acknowledged message came back"


# -- fan-out and objects -----------------------------------------------------------------


@requires(Feature.TOPICS)
def test_topic_message_reaches_every_subscriber(conformance: ConformanceRun) -> None:
    case = conformance.new_case("fan-out")
    with conformance.connect():
        broadcasts.publish({"case": case}, attributes={"case": case})
    records = conformance.wait_for_records(
        case,
        ["hear_first", "hear_second"],
        what="one published message received by both subscribers",
    )
    for subscriber in ("hear_first", "hear_second"):
        assert json.loads(body_of(records[subscriber])) == {"case": case}
        assert records[subscriber]["attributes"] == {"case": case}


@requires(Feature.BUCKETS, Feature.OBJECT_EVENTS)
def test_object_created_event_names_the_bucket_the_decoded_key_and_the_size(
    conformance: ConformanceRun,
) -> None:
    case = conformance.new_case("object")
    key = f"incoming/{case}/report é 1+2.csv"  # encoded in S3's notifications; decoded here
    data = b"a,b\n1,2\n"
    with conformance.connect():
        uploads.write(key, data)
    records = conformance.wait_for_records(
        case, [f"observed/{key_digest(key)}"], what=f"the object-created event of {key!r}"
    )
    seen = records[f"observed/{key_digest(key)}"]
    assert seen["bucket"] == uploads.name
    assert seen["key"] == key
    assert seen["size"] == len(data)


@requires(Feature.BUCKETS, Feature.OBJECT_EVENTS)
def test_object_trigger_runs_only_for_keys_matching_its_prefix_and_suffix(
    conformance: ConformanceRun,
) -> None:
    case = conformance.new_case("filters")
    matching = f"incoming/{case}/rows.csv"
    others = [
        f"incoming/{case}/notes.txt",  # wrong suffix
        f"incoming/{case}/rows.csv.bak",  # the suffix must end the key
        f"archive/{case}/rows.csv",  # wrong prefix
    ]
    with conformance.connect():
        for key in [*others, matching]:
            uploads.write(key, b"x")
    every = [f"observed/{key_digest(k)}" for k in [*others, matching]]
    # The unfiltered witness saw every event and the filtered function saw the match, so
    # events for the other keys, had they passed the filters, were due already.
    records = conformance.wait_for_records(
        case,
        [*every, f"ingested/{key_digest(matching)}"],
        what="every upload observed, and the matching one ingested",
    )
    ingested = sorted(seen["key"] for k, seen in records.items() if k.startswith("ingested/"))
    assert ingested == [matching]


# -- http ------------------------------------------------------------------------------


@requires(Feature.HTTP)
def test_http_request_reaches_its_function_with_path_query_headers_and_body(
    conformance: ConformanceRun,
) -> None:
    reply = conformance.harness.http(
        "POST",
        "/echo/ada?lang=en&empty=",
        body=b"hello",
        headers={"content-type": "text/plain", "X-Conformance": "yes"},
    )
    assert reply.status == 200, reply
    assert reply.headers.get("content-type", "").startswith(JSON)
    assert reply.json() == {
        "method": "POST",
        "path": "/echo/ada",
        "path_params": {"name": "ada"},
        "query": {"lang": "en", "empty": ""},
        "header": "yes",
        "body": "hello",
    }


@requires(Feature.HTTP)
def test_http_function_sets_status_headers_and_body(conformance: ConformanceRun) -> None:
    reply = conformance.harness.http("GET", "/status/202")
    assert reply.status == 202, reply
    assert reply.headers.get("x-conformance") == "set"
    assert reply.body == b"status 202"


@requires(Feature.HTTP)
def test_http_function_that_raises_answers_500(conformance: ConformanceRun) -> None:
    reply = conformance.harness.http("GET", "/fail")
    assert reply.status == 500, reply


# -- what is refused -----------------------------------------------------------------


@requires(Feature.QUEUES, Feature.PERMISSION_CHECKS)
def test_undeclared_use_is_denied_inside_a_function(conformance: ConformanceRun) -> None:
    case = conformance.new_case("trespass")
    with conformance.connect():
        jobs.send({}, attributes={"case": case, "mode": TRESPASS})
    outcome = conformance.wait_for_records(
        case, ["trespass"], what="'work' trying three uses it did not declare"
    )["trespass"]
    for use, result in outcome.items():
        assert result is not None, f"{use} was allowed without being declared"
        assert result["error"] == "PermissionDenied", result
        assert f"{use}()" in result["message"]
        assert "'work'" in result["message"]
    with conformance.connect():
        assert uploads.list(f"trespass/{case}") == []


@requires(Feature.QUEUES, Feature.TOPICS)
def test_message_over_the_size_limit_is_refused_at_send(conformance: ConformanceRun) -> None:
    limit = conformance.capabilities.max_message_bytes
    too_big = b"x" * (limit + 1)
    with conformance.connect():
        with pytest.raises(MessageTooLarge, match=r"jobs\.send\(\)"):
            jobs.send(too_big, attributes={"case": "refused"})
        with pytest.raises(MessageTooLarge):
            jobs.send_batch([b"small", too_big], attributes={"case": "refused"})
        with pytest.raises(MessageTooLarge, match=r"broadcasts\.publish\(\)"):
            broadcasts.publish(too_big)


@requires(Feature.QUEUES)
def test_message_of_exactly_the_size_limit_is_delivered(conformance: ConformanceRun) -> None:
    case = conformance.new_case("at-limit")
    attributes = {"case": case, "mode": SUCCEED}
    # The limit counts the body and the attributes' names and values, as SQS does.
    room = conformance.capabilities.max_message_bytes - message_size(outgoing(b"", attributes))
    body = b"y" * room
    with conformance.connect():
        message_id = jobs.send(body, attributes=attributes)
    seen = conformance.wait_for_records(
        case, [f"{message_id}/attempt-1"], what=f"a message of exactly {room:,} bytes handled"
    )[f"{message_id}/attempt-1"]
    assert seen["size"] == room
    assert seen["sha256"] == hashlib.sha256(body).hexdigest()


UNSAFE_KEYS = [
    "../escape",
    "a/../../escape",
    "/absolute",
    "a//b",
    "trailing/",
    "%2e%2e/escape",
    "back\\slash",
    "nul\x00byte",
    "",
]


@requires(Feature.BUCKETS)
@pytest.mark.parametrize("key", UNSAFE_KEYS, ids=repr)
def test_unsafe_object_key_is_refused(conformance: ConformanceRun, key: str) -> None:
    with conformance.connect():
        with pytest.raises(InvalidKey):
            results.write(key, b"x")
        with pytest.raises(InvalidKey):
            results.read(key)
        with pytest.raises(InvalidKey):
            results.delete(key)


# -- schedules (last: the longest wait) ------------------------------------------------


def feed_schedule(run: ConformanceRun) -> set[str]:
    """The ticks recorded before this run (none on a fresh deployment)."""
    with run.connect():
        return set(results.list(TICKS))


@requires(Feature.SCHEDULES)
@feeds(feed_schedule)
def test_rate_schedule_fires_its_function(conformance: ConformanceRun) -> None:
    before = conformance.fed(feed_schedule)

    def new_ticks() -> list[dict[str, Any]]:
        with conformance.connect():
            keys = [k for k in results.list(TICKS) if k not in before]
            return [json.loads(results.read(k)) for k in keys]

    # A rate's first tick is at most one interval after the deployment; allow two.
    due = conformance.started_at + 2 * SCHEDULE_SECONDS
    ticks = conformance.wait_for(
        new_ticks,
        within=max(0.0, due - time.time()),
        what=f"a tick of schedule {SCHEDULE!r} handled by 'tick'",
    )
    assert {t["schedule"] for t in ticks} == {SCHEDULE}
    for seen in ticks:
        assert datetime.fromisoformat(seen["time"]).tzinfo is not None
