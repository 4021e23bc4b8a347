"""Data-plane calls in handler code reach the bound provider, checked against uses.

``InMemoryDataPlane`` implements portway's own :class:`~portway.dataplane.DataPlane`
protocol (not a cloud SDK) and records what reached it, so these tests see exactly what
a provider receives: the neutral resource, the encoded body and its content type.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from portway import Bucket, Message, NotBound, PermissionDenied, Pipeline, Queue, Topic
from portway.dataplane import bind
from portway.payload import OutgoingMessage


@dataclass
class InMemoryDataPlane:
    """Objects in a dict; sent and published messages in lists."""

    objects: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    sent: list[tuple[str, OutgoingMessage]] = field(default_factory=list)
    published: list[tuple[str, OutgoingMessage]] = field(default_factory=list)
    send_calls: int = 0

    def read_object(self, bucket: Bucket, key: str) -> bytes:
        return self.objects[bucket.name, key][0]

    def write_object(self, bucket: Bucket, key: str, data: bytes, content_type: str) -> None:
        self.objects[bucket.name, key] = (data, content_type)

    def list_objects(self, bucket: Bucket, prefix: str) -> list[str]:
        return sorted(k for b, k in self.objects if b == bucket.name and k.startswith(prefix))

    def delete_object(self, bucket: Bucket, key: str) -> None:
        self.objects.pop((bucket.name, key), None)

    def send_messages(self, queue: Queue, messages: Sequence[OutgoingMessage]) -> list[str]:
        self.send_calls += 1
        first = len(self.sent)
        self.sent.extend((queue.name, m) for m in messages)
        return [f"{queue.name}-{n}" for n in range(first, len(self.sent))]

    def publish_messages(self, topic: Topic, messages: Sequence[OutgoingMessage]) -> list[str]:
        first = len(self.published)
        self.published.extend((topic.name, m) for m in messages)
        return [f"{topic.name}-{n}" for n in range(first, len(self.published))]


@pytest.fixture
def app() -> Pipeline:
    return Pipeline("dataplane")


@pytest.fixture
def lake(app: Pipeline) -> Bucket:
    return app.bucket("lake")


@pytest.fixture
def jobs(app: Pipeline) -> Queue:
    return app.queue("jobs")


@pytest.fixture
def loaded(app: Pipeline) -> Topic:
    return app.topic("loaded")


@pytest.fixture
def clients() -> InMemoryDataPlane:
    return InMemoryDataPlane()


# -- outside a binding ------------------------------------------------------------------------


def test_read_outside_a_binding_raises_not_bound_pointing_at_app_connect(lake):
    with pytest.raises(NotBound) as caught:
        lake.read("2026/a.csv")

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("lake.read('2026/a.csv') was called outside a handler")
    assert "with app.connect(stage=...):" in message


def test_send_outside_a_binding_raises_not_bound(jobs):
    with pytest.raises(
        NotBound, match=r"^jobs\.send\(\.\.\.\) was called outside a handler.*app\.connect"
    ):
        jobs.send({"key": "a.csv"})


def test_publish_outside_a_binding_raises_not_bound(loaded):
    with pytest.raises(NotBound, match=r"^loaded\.publish\(\.\.\.\) .*app\.connect"):
        loaded.publish("done")


def test_calls_are_not_bound_again_after_the_binding_block(lake, clients):
    with bind(clients):
        lake.write("a.txt", "x")

    with pytest.raises(NotBound):
        lake.read("a.txt")


def test_declaring_a_use_needs_no_binding(lake):
    assert str(lake.read()) == "lake.read()"


# -- buckets ------------------------------------------------------------------------------


def test_write_of_a_str_stores_utf8_text(lake, clients):
    with bind(clients):
        lake.write("notes/a.txt", "café")

    assert clients.objects["lake", "notes/a.txt"] == ("café".encode(), "text/plain; charset=utf-8")


def test_write_of_bytes_stores_them_as_they_are(lake, clients):
    with bind(clients):
        lake.write("raw/a.bin", b"\x00\xff")

    assert clients.objects["lake", "raw/a.bin"] == (b"\x00\xff", "application/octet-stream")


def test_write_with_a_content_type_keeps_it(lake, clients):
    with bind(clients):
        lake.write("clean/a.jsonl", '{"a": 1}\n', content_type="application/x-ndjson")

    assert clients.objects["lake", "clean/a.jsonl"] == (b'{"a": 1}\n', "application/x-ndjson")


def test_write_of_a_dict_raises_type_error_naming_its_type(lake, clients):
    with bind(clients), pytest.raises(TypeError) as caught:
        lake.write("a.json", {"a": 1})  # type: ignore[arg-type]

    assert str(caught.value) == "lake.write('a.json', ...): data must be bytes or str, not dict"
    assert clients.objects == {}


def test_read_returns_the_stored_bytes(lake, clients):
    clients.objects["lake", "a.csv"] = (b"id,name\n1,x\n", "text/csv")

    with bind(clients):
        data = lake.read("a.csv")

    assert data == b"id,name\n1,x\n"


def test_list_returns_the_keys_under_a_prefix(lake, clients):
    with bind(clients):
        lake.write("clean/b.jsonl", "b")
        lake.write("clean/a.jsonl", "a")
        lake.write("raw/c.csv", "c")

        assert lake.list("clean/") == ["clean/a.jsonl", "clean/b.jsonl"]


def test_list_with_an_empty_prefix_returns_every_key(lake, clients):
    with bind(clients):
        lake.write("b", "b")
        lake.write("a", "a")

        assert lake.list("") == ["a", "b"]


def test_delete_removes_the_object(lake, clients):
    with bind(clients):
        lake.write("a.csv", "x")
        lake.delete("a.csv")

        assert lake.list("") == []


# -- queues and topics ----------------------------------------------------------------------


def test_send_of_a_dict_sends_compact_json_and_returns_the_id(jobs, clients):
    with bind(clients):
        message_id = jobs.send({"key": "in/a.csv", "rows": [1, 2]})

    assert message_id == "jobs-0"
    assert clients.sent == [
        ("jobs", OutgoingMessage(b'{"key":"in/a.csv","rows":[1,2]}', "application/json", {}))
    ]


def test_send_keeps_non_ascii_json_as_utf8(jobs, clients):
    with bind(clients):
        jobs.send({"city": "Zürich"})

    assert clients.sent[0][1].body == '{"city":"Zürich"}'.encode()


def test_send_of_a_str_sends_utf8_text(jobs, clients):
    with bind(clients):
        jobs.send("café")

    assert clients.sent == [("jobs", OutgoingMessage("café".encode(), "text/plain; charset=utf-8"))]


def test_send_of_bytes_sends_them_as_they_are(jobs, clients):
    with bind(clients):
        jobs.send(b"\x00\x01")

    assert clients.sent == [("jobs", OutgoingMessage(b"\x00\x01", "application/octet-stream"))]


def test_send_carries_string_attributes(jobs, clients):
    with bind(clients):
        jobs.send("x", attributes={"origin": "enqueue"})

    assert clients.sent[0][1].attributes == {"origin": "enqueue"}


def test_send_with_an_attribute_value_that_is_not_a_str_raises_type_error(jobs, clients):
    with bind(clients), pytest.raises(TypeError) as caught:
        jobs.send("x", attributes={"rows": 3})  # type: ignore[dict-item]

    assert str(caught.value) == (
        "message attribute 'rows': keys and values must be str, got str -> int"
    )
    assert clients.sent == []


def test_send_with_an_attribute_key_that_is_not_a_str_raises_type_error(jobs, clients):
    with bind(clients), pytest.raises(TypeError, match="got int -> str"):
        jobs.send("x", attributes={1: "one"})  # type: ignore[dict-item]


def test_send_of_a_body_that_is_not_json_serialisable_raises_type_error(jobs, clients):
    with (
        bind(clients),
        pytest.raises(
            TypeError, match="a message body must be bytes, str or JSON-serialisable; set is not"
        ),
    ):
        jobs.send({1, 2})


def test_send_batch_sends_every_message_in_one_call(jobs, clients):
    with bind(clients):
        ids = jobs.send_batch([{"n": 1}, "two", b"3"], attributes={"batch": "b1"})

    assert ids == ["jobs-0", "jobs-1", "jobs-2"]
    assert clients.send_calls == 1
    assert [m for _, m in clients.sent] == [
        OutgoingMessage(b'{"n":1}', "application/json", {"batch": "b1"}),
        OutgoingMessage(b"two", "text/plain; charset=utf-8", {"batch": "b1"}),
        OutgoingMessage(b"3", "application/octet-stream", {"batch": "b1"}),
    ]


def test_send_batch_of_nothing_sends_nothing(jobs, clients):
    with bind(clients):
        ids = jobs.send_batch([])

    assert ids == []
    assert clients.send_calls == 0


def test_send_batch_of_a_single_str_raises_type_error(jobs, clients):
    with bind(clients), pytest.raises(TypeError) as caught:
        jobs.send_batch("hello")

    assert str(caught.value) == (
        "jobs.send_batch() takes a list of bodies, not one str; "
        "use jobs.send(body) for a single message"
    )
    assert clients.sent == []


def test_send_batch_of_bytes_raises_type_error(jobs, clients):
    with bind(clients), pytest.raises(TypeError, match="not one bytes"):
        jobs.send_batch(b"hello")


def test_publish_of_a_dict_publishes_compact_json_and_returns_the_id(loaded, clients):
    with bind(clients):
        message_id = loaded.publish({"key": "clean/a.jsonl", "rows": 2}, attributes={"a": "b"})

    assert message_id == "loaded-0"
    assert clients.published == [
        (
            "loaded",
            OutgoingMessage(b'{"key":"clean/a.jsonl","rows":2}', "application/json", {"a": "b"}),
        )
    ]


def test_innermost_binding_wins(lake):
    outer, inner = InMemoryDataPlane(), InMemoryDataPlane()

    with bind(outer):
        with bind(inner):
            lake.write("a.txt", "inner")
        lake.write("b.txt", "outer")

    assert list(inner.objects) == [("lake", "a.txt")]
    assert list(outer.objects) == [("lake", "b.txt")]


# -- permissions ---------------------------------------------------------------------------


def test_use_the_function_did_not_declare_raises_permission_denied(app, lake, jobs, clients):
    @app.on_message(jobs, uses=[lake.read()])
    def transform(msg: Message) -> None:
        lake.write("clean/a.jsonl", msg.body)

    with (
        bind(clients, function=app.function("transform")),
        pytest.raises(PermissionDenied) as caught,
    ):
        transform(Message(id="m1", body=b"x"))

    assert str(caught.value) == (
        "function 'transform' used lake.write() without declaring it: "
        "add lake.write() to uses=[...] in its decorator"
    )
    assert clients.objects == {}


def test_send_the_function_did_not_declare_raises_permission_denied(app, jobs, loaded, clients):
    @app.on_message(loaded)
    def report(msg: Message) -> None:
        jobs.send("again")

    with (
        bind(clients, function=app.function("report")),
        pytest.raises(PermissionDenied, match=r"function 'report' used jobs\.send\(\)"),
    ):
        report(Message(id="m1", body=b"x"))

    assert clients.sent == []


def test_use_the_function_declared_passes(app, lake, jobs, clients):
    @app.on_message(jobs, uses=[lake.write()])
    def transform(msg: Message) -> None:
        lake.write("clean/a.jsonl", msg.body)

    with bind(clients, function=app.function("transform")):
        transform(Message(id="m1", body=b"x"))

    assert clients.objects == {("lake", "clean/a.jsonl"): (b"x", "application/octet-stream")}


def test_binding_without_a_function_allows_every_use(lake, clients):
    with bind(clients) as binding:
        lake.write("a.txt", "x")
        lake.delete("a.txt")

    assert binding.function is None
    assert clients.objects == {}
