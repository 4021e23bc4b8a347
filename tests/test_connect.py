"""``with app.connect(stage=...)``: a script reaches a stage's resources through its provider."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from portway import NotBound, NotSupported, Pipeline
from portway.capabilities import Capabilities
from portway.config import StageConfig, load_project
from portway.dataplane import DataPlane
from portway.hookspec import hookimpl
from portway.model import Bucket, Queue, Topic
from portway.payload import OutgoingMessage
from portway.providers import Provider, ProviderSpec, registry

CAPS = Capabilities(
    max_message_bytes=1024,
    max_batch_size=10,
    max_attempts=(1, 10),
    visibility_timeout=(1, 60),
    max_timeout=60,
    max_http_timeout=60,
    memory=(128, 1024),
)


class MemoryDataPlane:
    """A portway DataPlane kept in dicts, as a provider written for this test."""

    def __init__(self, stage: StageConfig) -> None:
        self.stage = stage
        self.objects: dict[tuple[str, str], bytes] = {}
        self.sent: list[tuple[str, bytes]] = []
        self.closed = False

    def read_object(self, bucket: Bucket, key: str) -> bytes:
        return self.objects[(bucket.name, key)]

    def write_object(self, bucket: Bucket, key: str, data: bytes, content_type: str) -> None:
        self.objects[(bucket.name, key)] = data

    def list_objects(self, bucket: Bucket, prefix: str) -> list[str]:
        return sorted(k for b, k in self.objects if b == bucket.name and k.startswith(prefix))

    def delete_object(self, bucket: Bucket, key: str) -> None:
        self.objects.pop((bucket.name, key), None)

    def send_messages(self, queue: Queue, messages: Sequence[OutgoingMessage]) -> list[str]:
        self.sent.extend((queue.name, m.body) for m in messages)
        return [str(len(self.sent))]

    def publish_messages(self, topic: Topic, messages: Sequence[OutgoingMessage]) -> list[str]:
        return self.send_messages(topic, messages)  # type: ignore[arg-type]

    def close(self) -> None:
        self.closed = True


class MemoryProvider(Provider):
    last: MemoryDataPlane | None = None

    def connect(self, pipeline: Pipeline, stage: StageConfig) -> DataPlane:
        MemoryProvider.last = MemoryDataPlane(stage)
        return MemoryProvider.last


class MemoryPlugin:
    @hookimpl
    def portway_providers(self) -> list[ProviderSpec]:
        return [
            ProviderSpec("memory", CAPS, f"{__name__}:MemoryProvider"),
            ProviderSpec("bare", CAPS, "portway.providers:Provider"),
        ]


CONFIG = """
app = "pipeline:app"

[stages.dev]
provider = "local"

[stages.scratch]
provider = "memory"

[stages.bare]
provider = "bare"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "portway.toml").write_text(CONFIG, encoding="utf-8")
    registry().register(MemoryPlugin(), name="memory")
    return tmp_path


def test_connect_binds_the_stage_provider_clients_for_the_block(config: Path) -> None:
    app = Pipeline("scripts")
    lake = app.bucket("lake")
    with app.connect(stage="scratch", directory=config):
        lake.write("a.csv", "x,y\n")
        assert lake.read("a.csv") == b"x,y\n"
        assert lake.list("") == ["a.csv"]
    assert MemoryProvider.last is not None
    assert MemoryProvider.last.stage.name == "scratch"
    assert MemoryProvider.last.closed
    with pytest.raises(NotBound):
        lake.read("a.csv")


def test_connect_allows_every_use_since_no_function_runs(config: Path) -> None:
    app = Pipeline("scripts")
    jobs = app.queue("jobs")
    with app.connect(stage="scratch", config=load_project(config)):
        jobs.send({"n": 1})
    assert MemoryProvider.last is not None
    assert MemoryProvider.last.sent == [("jobs", b'{"n":1}')]


def test_connect_follows_portway_stage(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTWAY_STAGE", "scratch")
    app = Pipeline("scripts")
    with app.connect(directory=config) as binding:
        assert isinstance(binding.clients, MemoryDataPlane)


def test_connect_to_a_provider_without_clients_says_so(config: Path) -> None:
    app = Pipeline("scripts")
    with (
        pytest.raises(NotSupported, match="provider 'bare' does not offer data-plane clients"),
        app.connect(stage="bare", directory=config),
    ):
        pass
