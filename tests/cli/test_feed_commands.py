"""``portway send``, ``put``, ``invoke`` and ``dlq``: feeding a local stage by hand.

Each test runs the command as a user would (through the typer application) and then
looks at the stage as the pipeline would see it: through ``app.connect()`` for objects,
and through the stage's store for queued messages and dead letters.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from portway import ObjectEvent
from portway.cli.main import app as cli
from portway.cli.project import LoadedProject, load
from portway.events import event_from_json
from portway.local import messages
from portway.local.database import StageLayout, connect, transaction
from portway.local.messages import Delivery
from portway.payload import JSON, TEXT, outgoing

runner = CliRunner()

PIPELINE = """
from portway import BatchResult, HttpRequest, Message, ObjectEvent, Pipeline, ScheduleEvent

app = Pipeline("feed")
landing = app.bucket("landing")
lake = app.bucket("lake")
jobs = app.queue("jobs")
loaded = app.topic("loaded")
quiet = app.topic("quiet")


@app.schedule("rate(15 minutes)", uses=[lake.write()])
def pull(event: ScheduleEvent) -> None:
    lake.write("pulled.txt", event.schedule)


@app.on_object_created(landing, suffix=".csv", uses=[jobs.send()])
def enqueue(event: ObjectEvent) -> None:
    jobs.send({"key": event.key, "size": event.size})


@app.on_message(jobs, uses=[lake.write()])
def transform(message: Message) -> None:
    body = message.json()
    if body.get("fail"):
        raise ValueError("bad row 3")
    lake.write("out/" + body["key"], message.body)


@app.on_message(loaded)
def report(message: Message) -> None:
    pass


@app.on_message(loaded, batch_size=5, uses=[lake.write()])
def audit(batch: list[Message]) -> None:
    lake.write("audit.txt", str(len(batch)))


@app.http("POST", "/echo")
def echo(request: HttpRequest) -> dict:
    return {"method": request.method, "query": request.query, "body": request.json()}


@app.http("GET", "/boom")
def boom(request: HttpRequest) -> dict:
    raise RuntimeError("the server is on fire")


@app.schedule("rate(1 hour)")
def sneaky(event: ScheduleEvent) -> None:
    lake.write("sneaky.txt", "not declared")
"""

CONFIG = """
app = "pipeline:app"

[stages.dev]
provider = "local"

[stages.prod]
provider = "aws"
region = "eu-west-1"
"""

JOBS = "queue/jobs"
REPORT = "topic/loaded/report"
AUDIT = "topic/loaded/audit"
ENQUEUE = "bucket/landing/enqueue"


@pytest.fixture
def root(project: Callable[..., Path]) -> Path:
    return project(PIPELINE, config=CONFIG)


@pytest.fixture
def store(root: Path) -> Iterator[sqlite3.Connection]:
    """The dev stage's database, as the runtime would open it."""
    connection = connect(StageLayout(root / ".portway" / "dev"))
    yield connection
    connection.close()


@pytest.fixture
def loaded(root: Path) -> LoadedProject:
    return load(None)


def portway(*arguments: str, stdin: str | bytes | None = None):  # type: ignore[no-untyped-def]
    # A wide terminal, so that tables are not folded into the width of the test's.
    return runner.invoke(cli, list(arguments), input=stdin, env={"COLUMNS": "200"})


def waiting(store: sqlite3.Connection, channel: str) -> list[Delivery]:
    """Every message waiting on ``channel``, in order (claimed, so called once per test)."""
    with transaction(store):
        return messages.claim(
            store, channel, limit=10_000, visibility_timeout=60, max_attempts=100, now=4e9
        )


def read_object(loaded: LoadedProject, bucket: str, key: str) -> bytes:
    resource = loaded.pipeline.resource(bucket)
    with loaded.pipeline.connect(config=loaded.config):
        return resource.read(key)  # type: ignore[attr-defined, no-any-return]


def list_objects(loaded: LoadedProject, bucket: str) -> list[str]:
    resource = loaded.pipeline.resource(bucket)
    with loaded.pipeline.connect(config=loaded.config):
        return resource.list("")  # type: ignore[attr-defined, no-any-return]


def one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# -- portway send ---------------------------------------------------------------------------


def test_send_puts_one_json_message_on_the_queue(root, store) -> None:
    result = portway("send", "jobs", '{"key": "a.csv"}')

    assert result.exit_code == 0, result.output
    assert result.stdout == "sent 1 message to queue jobs\n"
    [message] = waiting(store, JOBS)
    assert json.loads(message.body) == {"key": "a.csv"}
    assert message.content_type == JSON


def test_send_of_a_body_that_is_not_json_sends_it_as_text(root, store) -> None:
    result = portway("send", "jobs", "hello there")

    assert result.exit_code == 0, result.output
    [message] = waiting(store, JOBS)
    assert (message.body, message.content_type) == (b"hello there", TEXT)


def test_send_carries_the_attributes_given(root, store) -> None:
    result = portway(
        "send", "jobs", "{}", "--attribute", "origin=cli", "-a", "filter=a=b", "-a", "empty="
    )

    assert result.exit_code == 0, result.output
    [message] = waiting(store, JOBS)
    assert json.loads(message.attributes) == {"origin": "cli", "filter": "a=b", "empty": ""}


def test_send_with_an_attribute_without_equals_sends_nothing(root, store) -> None:
    result = portway("send", "jobs", "{}", "--attribute", "origin")

    assert result.exit_code == 1
    assert "--attribute 'origin': write NAME=VALUE" in one_line_error(result)
    assert waiting(store, JOBS) == []


def test_send_with_a_reserved_attribute_name_sends_nothing(root, store) -> None:
    result = portway("send", "jobs", "{}", "--attribute", "aws.trace=1")

    assert result.exit_code == 1
    assert "reserved by the clouds" in one_line_error(result)
    assert waiting(store, JOBS) == []


def test_send_to_a_topic_gives_every_subscriber_a_copy(root, store) -> None:
    result = portway("send", "loaded", '{"rows": 2}')

    assert result.exit_code == 0, result.output
    assert result.stdout == "sent 1 message to topic loaded\n"
    [for_report] = waiting(store, REPORT)
    [for_audit] = waiting(store, AUDIT)
    assert for_report.body == for_audit.body == b'{"rows":2}'
    assert for_report.id == for_audit.id


def test_send_to_a_topic_without_subscribers_is_accepted_and_dropped(root, store) -> None:
    result = portway("send", "quiet", "{}")

    assert result.exit_code == 0, result.output
    assert messages.pending_counts(store) == {}


def test_send_to_an_unknown_target_names_the_queues_and_topics(root) -> None:
    result = portway("send", "nope", "{}")

    assert result.exit_code == 1
    assert "pipeline 'feed' has no queue or topic 'nope' (it has: jobs, loaded, quiet)" in (
        one_line_error(result)
    )


def test_send_to_a_bucket_is_refused(root) -> None:
    result = portway("send", "landing", "{}")

    assert result.exit_code == 1
    assert "has no queue or topic 'landing'" in one_line_error(result)


def test_send_needs_a_message_or_a_file(root) -> None:
    result = portway("send", "jobs")

    assert result.exit_code == 1
    assert "give a MESSAGE or --file FILE" in one_line_error(result)


def test_send_refuses_both_a_message_and_a_file(root) -> None:
    (root / "m.jsonl").write_text("{}\n", encoding="utf-8")

    result = portway("send", "jobs", "{}", "--file", "m.jsonl")

    assert result.exit_code == 1
    assert "(one of them)" in one_line_error(result)


def test_send_of_a_message_over_the_size_limit_names_the_queue(root, store) -> None:
    result = portway("send", "jobs", "x" * (256 * 1024 + 1))

    assert result.exit_code == 1
    assert "jobs.send(): the message is 262,145 bytes" in one_line_error(result)
    assert waiting(store, JOBS) == []


def test_send_file_sends_one_message_per_line_in_order(root, store) -> None:
    (root / "m.jsonl").write_text('{"n": 1}\n\n[2]\n{"n": 3}\n', encoding="utf-8")

    result = portway("send", "jobs", "--file", "m.jsonl")

    assert result.exit_code == 0, result.output
    assert result.stdout == "sent 3 messages to queue jobs\n"
    assert [m.body for m in waiting(store, JOBS)] == [b'{"n":1}', b"[2]", b'{"n":3}']


def test_send_file_sends_a_json_string_line_as_text_as_jobs_send_would(root, store) -> None:
    (root / "m.jsonl").write_text('"two"\n', encoding="utf-8")

    portway("send", "jobs", "--file", "m.jsonl")

    [message] = waiting(store, JOBS)
    assert (message.body, message.content_type) == (b"two", TEXT)


def test_send_file_reads_stdin_for_a_dash(root, store) -> None:
    result = portway("send", "jobs", "-f", "-", stdin='{"n": 1}\n{"n": 2}\n')

    assert result.exit_code == 0, result.output
    assert [m.body for m in waiting(store, JOBS)] == [b'{"n":1}', b'{"n":2}']


def test_send_file_gives_every_message_the_attributes(root, store) -> None:
    (root / "m.jsonl").write_text("1\n2\n", encoding="utf-8")

    portway("send", "jobs", "--file", "m.jsonl", "-a", "batch=b1")

    assert [json.loads(m.attributes) for m in waiting(store, JOBS)] == [{"batch": "b1"}] * 2


def test_send_file_of_many_lines_sends_them_all(root, store) -> None:
    (root / "m.jsonl").write_text("".join(f"{n}\n" for n in range(1234)), encoding="utf-8")

    result = portway("send", "jobs", "--file", "m.jsonl")

    assert result.exit_code == 0, result.output
    assert [int(m.body) for m in waiting(store, JOBS)] == list(range(1234))


def test_send_file_with_a_bad_line_names_it_and_sends_nothing(root, store) -> None:
    (root / "m.jsonl").write_text('{"n": 1}\n{"n": 2}\n{"n": oops}\n{"n": 4}\n', encoding="utf-8")

    result = portway("send", "jobs", "--file", "m.jsonl")

    assert result.exit_code == 1
    error = one_line_error(result)
    assert "m.jsonl, line 3: not JSON" in error
    assert "nothing was sent" in error
    assert waiting(store, JOBS) == []


def test_send_file_with_a_line_over_the_size_limit_names_it_and_sends_nothing(root, store) -> None:
    lines = [json.dumps({"n": n}) for n in range(600)]
    lines[550] = json.dumps("x" * (256 * 1024 + 1))
    (root / "m.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = portway("send", "jobs", "--file", "m.jsonl")

    assert result.exit_code == 1
    error = one_line_error(result)
    assert "m.jsonl, line 551: jobs.send(): the message is 262,145 bytes" in error
    assert error.endswith("; nothing was sent")
    assert waiting(store, JOBS) == []


def test_send_file_that_is_not_utf8_sends_nothing(root, store) -> None:
    (root / "m.jsonl").write_bytes(b'{"n": 1}\n\xff\xfe\n')

    result = portway("send", "jobs", "--file", "m.jsonl")

    assert result.exit_code == 1
    assert "m.jsonl: not UTF-8 (byte 9); nothing was sent" in one_line_error(result)
    assert waiting(store, JOBS) == []


def test_send_file_without_a_message_is_refused(root) -> None:
    (root / "m.jsonl").write_text("\n  \n", encoding="utf-8")

    result = portway("send", "jobs", "--file", "m.jsonl")

    assert result.exit_code == 1
    assert "m.jsonl: no message in it" in one_line_error(result)


def test_send_file_that_does_not_exist_says_so(root) -> None:
    result = portway("send", "jobs", "--file", "missing.jsonl")

    assert result.exit_code == 1
    assert "cannot read missing.jsonl: No such file or directory" in one_line_error(result)


# -- portway put ----------------------------------------------------------------------------


def test_put_stores_the_file_at_the_key(root, loaded) -> None:
    (root / "orders.csv").write_bytes(b"id,total\n1,9.5\n")

    result = portway("put", "landing", "2026/orders.csv", "orders.csv")

    assert result.exit_code == 0, result.output
    assert result.stdout == "put 15 bytes at landing/2026/orders.csv\n"
    assert read_object(loaded, "landing", "2026/orders.csv") == b"id,total\n1,9.5\n"


def test_put_reads_stdin_for_a_dash(root, loaded) -> None:
    result = portway("put", "landing", "notes.txt", "-", stdin=b"from stdin")

    assert result.exit_code == 0, result.output
    assert read_object(loaded, "landing", "notes.txt") == b"from stdin"


def test_put_fires_the_object_created_trigger(root, store) -> None:
    (root / "a.csv").write_bytes(b"id\n")

    portway("put", "landing", "in/a.csv", "a.csv")

    [delivery] = waiting(store, ENQUEUE)
    event = event_from_json(delivery.body)
    assert isinstance(event, ObjectEvent)
    assert (event.bucket, event.key, event.size) == ("landing", "in/a.csv", 3)


def test_put_of_a_key_the_filter_leaves_out_fires_nothing(root, store) -> None:
    result = portway("put", "landing", "notes.txt", "-", stdin=b"x")

    assert result.exit_code == 0, result.output
    assert messages.pending_counts(store) == {}


@pytest.mark.parametrize("key", ["../escape.csv", "a//b.csv", "%2e%2e%2fescape.csv", "/abs.csv"])
def test_put_of_an_invalid_key_is_one_line_error_and_stores_nothing(root, loaded, key) -> None:
    result = portway("put", "landing", key, "-", stdin=b"x")

    assert result.exit_code == 1
    assert f"bucket 'landing': key {key!r} is refused" in one_line_error(result)
    assert list_objects(loaded, "landing") == []
    assert not (root / ".portway" / "dev" / "buckets" / "escape.csv").exists()


def test_put_under_an_existing_object_is_one_line_error(root) -> None:
    portway("put", "landing", "a", "-", stdin=b"x")

    result = portway("put", "landing", "a/b.csv", "-", stdin=b"y")

    assert result.exit_code == 1
    assert "'a' is an object" in one_line_error(result)


def test_put_into_an_unknown_bucket_names_the_buckets(root) -> None:
    result = portway("put", "nope", "a.csv", "-", stdin=b"x")

    assert result.exit_code == 1
    assert "has no bucket 'nope' (it has: landing, lake)" in one_line_error(result)


def test_put_of_a_file_that_does_not_exist_says_so(root) -> None:
    result = portway("put", "landing", "a.csv", "missing.csv")

    assert result.exit_code == 1
    assert "cannot read missing.csv" in one_line_error(result)


# -- portway invoke -------------------------------------------------------------------------


def test_invoke_runs_a_scheduled_function_now(root, loaded) -> None:
    result = portway("invoke", "pull")

    assert result.exit_code == 0, result.output
    assert read_object(loaded, "lake", "pulled.txt") == b"rate(15 minutes)"


def test_invoke_gives_an_object_function_the_key_of_the_event(root, store) -> None:
    result = portway("invoke", "enqueue", "--event", '{"key": "in/a.csv", "size": 12}')

    assert result.exit_code == 0, result.output
    [message] = waiting(store, JOBS)
    assert json.loads(message.body) == {"key": "in/a.csv", "size": 12}


def test_invoke_of_an_object_function_without_a_key_says_what_to_pass(root) -> None:
    result = portway("invoke", "enqueue")

    assert result.exit_code == 1
    assert """pass --event '{"key": "path/file.csv"}'""" in one_line_error(result)


@pytest.mark.parametrize("size", ['"big"', "null", "-1", "1.5"])
def test_invoke_of_an_object_function_with_a_bad_size_is_one_line_error(root, size) -> None:
    result = portway("invoke", "enqueue", "--event", f'{{"key": "a.csv", "size": {size}}}')

    assert result.exit_code == 1
    assert "--event: size must be a whole number of bytes" in one_line_error(result)


def test_invoke_gives_a_message_function_the_event_as_its_body(root, loaded) -> None:
    result = portway("invoke", "transform", "--event", '{"key": "a.csv"}')

    assert result.exit_code == 0, result.output
    assert read_object(loaded, "lake", "out/a.csv") == b'{"key":"a.csv"}'


def test_invoke_gives_a_batch_function_a_batch_of_one(root, loaded) -> None:
    result = portway("invoke", "audit", "--event", '{"rows": 1}')

    assert result.exit_code == 0, result.output
    assert read_object(loaded, "lake", "audit.txt") == b"1"


def test_invoke_of_a_message_function_without_a_body_says_what_to_pass(root) -> None:
    result = portway("invoke", "transform")

    assert result.exit_code == 1
    assert "takes messages from 'jobs': pass the body as --event JSON" in one_line_error(result)


def test_invoke_of_a_message_handler_that_raises_exits_1_with_the_reason(root) -> None:
    result = portway("invoke", "transform", "--event", '{"key": "a.csv", "fail": true}')

    assert result.exit_code == 1
    assert "transform failed: ValueError: bad row 3" in one_line_error(result)


def test_invoke_of_an_http_function_prints_the_status_and_the_body(root) -> None:
    event = json.dumps({"query": {"page": "2"}, "body": {"x": 1}})

    result = portway("invoke", "echo", "--event", event)

    assert result.exit_code == 0, result.output
    status, _, body = result.stdout.strip().partition(" ")
    assert status == "200"
    assert json.loads(body) == {"method": "POST", "query": {"page": "2"}, "body": {"x": 1}}


@pytest.mark.parametrize("event", ['{"headers": 3}', '{"query": [1]}'])
def test_invoke_of_an_http_function_with_malformed_parts_is_one_line_error(root, event) -> None:
    result = portway("invoke", "echo", "--event", event)

    assert result.exit_code == 1
    assert "must be a JSON object of names to values" in one_line_error(result)


def test_invoke_of_an_http_handler_that_raises_exits_1_with_the_reason(root) -> None:
    result = portway("invoke", "boom")

    assert result.exit_code == 1
    assert "boom failed: RuntimeError: the server is on fire" in one_line_error(result)


def test_invoke_of_a_handler_using_an_undeclared_resource_is_permission_denied(
    root, loaded
) -> None:
    result = portway("invoke", "sneaky")

    assert result.exit_code == 1
    error = one_line_error(result)
    assert "sneaky failed: PermissionDenied: function 'sneaky' used lake.write()" in error
    assert list_objects(loaded, "lake") == []


def test_invoke_accepts_a_full_cloudevent(root, store) -> None:
    event = ObjectEvent(id="e-1", bucket="landing", key="from/event.csv", size=7)

    result = portway("invoke", "enqueue", "--event", event.to_json())

    assert result.exit_code == 0, result.output
    [message] = waiting(store, JOBS)
    assert json.loads(message.body) == {"key": "from/event.csv", "size": 7}


def test_invoke_with_an_event_that_is_not_json_says_so(root) -> None:
    result = portway("invoke", "transform", "--event", "{oops")

    assert result.exit_code == 1
    assert "--event is not JSON" in one_line_error(result)


def test_invoke_of_an_unknown_function_names_the_functions(root) -> None:
    result = portway("invoke", "nope")

    assert result.exit_code == 1
    error = one_line_error(result)
    assert "pipeline 'feed' has no function 'nope'" in error
    assert "pull, enqueue, transform" in error


# -- portway dlq ----------------------------------------------------------------------------


def dead_letter(
    store: sqlite3.Connection, channel: str, body: object, reason: str, *, now: float = 1e9
) -> None:
    """Put a message on ``channel`` and fail its only attempt with ``reason``."""
    with transaction(store):
        messages.enqueue(store, [(channel, outgoing(body))], now)
        [delivery] = messages.claim(
            store, channel, limit=1, visibility_timeout=30, max_attempts=1, now=now
        )
        assert messages.fail(store, delivery, reason, max_attempts=1, now=now + 1)


def test_dlq_list_says_when_there_are_no_dead_letters(root, store) -> None:
    result = portway("dlq", "list")

    assert result.exit_code == 0, result.output
    assert result.stdout == "no dead letters in any queue\n"


def test_dlq_list_of_a_queue_without_dead_letters_names_its_dead_letter_queue(root, store) -> None:
    result = portway("dlq", "list", "jobs")

    assert result.exit_code == 0, result.output
    assert result.stdout == "no dead letters in jobs-dlq\n"


def test_dlq_list_shows_each_dead_letter_with_its_reason(root, store) -> None:
    dead_letter(store, JOBS, {"key": "a.csv"}, "ValueError: bad row 3")
    dead_letter(store, REPORT, "hi", "KeyError: 'rows'")

    result = portway("dlq", "list")

    assert result.exit_code == 0, result.output
    assert "2 dead letter(s)" in result.stdout
    assert "jobs-dlq" in result.stdout
    assert "ValueError: bad row 3" in result.stdout
    assert "KeyError: 'rows'" in result.stdout


def test_dlq_list_json_gives_every_field(root, store) -> None:
    dead_letter(store, JOBS, {"key": "a.csv"}, "ValueError: bad row 3", now=1e9)

    result = portway("dlq", "list", "--json")

    assert result.exit_code == 0, result.output
    [letter] = json.loads(result.stdout)
    assert letter["queue"] == "jobs-dlq"
    assert letter["channel"] == JOBS
    assert letter["reason"] == "ValueError: bad row 3"
    assert letter["attempts"] == 1
    assert letter["failed_at"] == 1e9 + 1
    assert letter["body"] == '{"key":"a.csv"}'
    assert letter["content_type"] == JSON


def test_dlq_list_of_one_queue_shows_only_its_dead_letters(root, store) -> None:
    dead_letter(store, JOBS, "job", "ValueError: job")
    dead_letter(store, REPORT, "report", "ValueError: report")

    result = portway("dlq", "list", "report", "--json")

    assert result.exit_code == 0, result.output
    assert [(d["queue"], d["body"]) for d in json.loads(result.stdout)] == [
        ("topic/loaded/report-dlq", "report")
    ]


def test_dlq_list_limit_caps_the_letters_per_queue(root, store) -> None:
    for n in range(3):
        dead_letter(store, JOBS, n, "ValueError: no")

    result = portway("dlq", "list", "jobs", "--json", "--limit", "2")

    assert [d["body"] for d in json.loads(result.stdout)] == ["0", "1"]


def test_dlq_list_of_an_unknown_queue_lists_what_exists(root) -> None:
    result = portway("dlq", "list", "nope")

    assert result.exit_code == 1
    error = one_line_error(result)
    assert "has no queue or consuming function 'nope'" in error
    assert "jobs" in error


def test_dlq_redrive_moves_dead_letters_back_with_attempts_reset(root, store) -> None:
    dead_letter(store, JOBS, "one", "ValueError: 1")
    dead_letter(store, JOBS, "two", "ValueError: 2")

    result = portway("dlq", "redrive", "jobs")

    assert result.exit_code == 0, result.output
    assert result.stdout == "moved 2 messages from jobs-dlq back to jobs\n"
    assert messages.dead_letters(store) == []
    assert [(m.body, m.attempt) for m in waiting(store, JOBS)] == [(b"one", 1), (b"two", 1)]


def test_dlq_redrive_accepts_the_dead_letter_queue_name(root, store) -> None:
    dead_letter(store, JOBS, "one", "ValueError: 1")

    result = portway("dlq", "redrive", "jobs-dlq")

    assert result.stdout == "moved 1 message from jobs-dlq back to jobs\n"


def test_dlq_redrive_of_a_subscription_is_named_by_its_function(root, store) -> None:
    dead_letter(store, REPORT, "r", "ValueError: r")
    dead_letter(store, AUDIT, "a", "ValueError: a")

    result = portway("dlq", "redrive", "report")

    assert result.stdout == "moved 1 message from topic/loaded/report-dlq back to report\n"
    assert [m.body for m in waiting(store, REPORT)] == [b"r"]
    assert [d.channel for d in messages.dead_letters(store)] == [AUDIT]


def test_dlq_redrive_with_nothing_to_move_says_so(root, store) -> None:
    result = portway("dlq", "redrive", "jobs")

    assert result.exit_code == 0, result.output
    assert result.stdout == "moved 0 messages from jobs-dlq back to jobs\n"


def test_dlq_on_a_stage_that_is_not_local_exits_2(root) -> None:
    result = portway("dlq", "list", "--stage", "prod")

    assert result.exit_code == 2
    assert "portway dlq list works on a local stage; stage 'prod' uses provider 'aws'" in (
        one_line_error(result)
    )
