"""The deploy record and the stage lock, over the wire, with Cloud Storage's preconditions.

gcp-storage-emulator accepts ``ifGenerationMatch`` without enforcing it (DESIGN §5), so
these tests talk to it through :class:`PreconditionProxy`: a small HTTP proxy that
applies the rule as Cloud Storage documents it before forwarding the request
unchanged: a request carrying ``ifGenerationMatch`` (query) or
``x-goog-if-generation-match`` (header) gets ``412 Precondition Failed`` unless the
value equals the object's live generation, ``0`` meaning "no live object".
https://cloud.google.com/storage/docs/request-preconditions
So the real SDK's requests are checked, as sent, against the documented rule.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from portway_gcp.clients import GcpClients
from portway_gcp.deploy import record as records
from portway_gcp.deploy.deployment import GcpDeployment
from portway_gcp.deploy.kinds import SKIPS
from portway_gcp.deploy.record import GcsRecordStore, deploy_record, stage_records
from portway_gcp.deploy.resources import GcpResource, Kind
from portway_gcp.naming import Names
from portway_gcp.package import SourceArchive

from portway import Pipeline
from portway.config import StageConfig
from portway.deploy.execute import CallLog
from portway.deploy.record import Record, StageRecords
from portway.errors import DeployError
from portway.testing.record_store import check_record_store

TOPIC = GcpResource(Kind.PUBSUB_TOPIC, "projects/p/topics/demo-x-jobs", "queue jobs", {"a": 1})
_OBJECT = __import__("re").compile(r"/b/(?P<bucket>[^/?]+)/o/(?P<name>[^?]+)")
_UPLOAD = __import__("re").compile(r"/upload/storage/v1/b/(?P<bucket>[^/?]+)/o")


class PreconditionProxy:
    """Forwards to ``upstream`` (the storage emulator), enforcing ``ifGenerationMatch``.

    Requests are handled one at a time, so the check and the write it guards are atomic
    for the proxy's clients, as they are on Cloud Storage.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.refused = 0
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with lock:
                    status, headers, payload = proxy.handle(
                        self.command, self.path, dict(self.headers), body
                    )
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in {"transfer-encoding", "connection", "content-length"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        wanted = query.get("ifGenerationMatch", [None])[0] or _header(
            headers, "x-goog-if-generation-match"
        )
        if wanted is not None:
            target = _target(path, headers, body)
            if target is not None and int(wanted) != self._generation(*target):
                self.refused += 1
                error = {
                    "error": {
                        "code": 412,
                        "message": "At least one of the pre-conditions you specified did not hold.",
                        "errors": [{"reason": "conditionNotMet", "domain": "global"}],
                    }
                }
                return 412, {"Content-Type": "application/json"}, json.dumps(error).encode()
        return self._forward(method, path, headers, body)

    def _generation(self, bucket: str, name: str) -> int:
        quoted = urllib.parse.quote(name, safe="")
        url = f"{self.upstream}/storage/v1/b/{bucket}/o/{quoted}"
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                return int(json.loads(answer.read())["generation"])
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return 0
            raise

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            self.upstream + path,
            data=body if body or method in {"POST", "PUT", "PATCH"} else None,
            method=method,
            headers={k: v for k, v in headers.items() if k.lower() != "host"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _target(path: str, headers: dict[str, str], body: bytes) -> tuple[str, str] | None:
    """``(bucket, object)`` a request is about: from its path, or from the metadata part
    of a multipart upload (the SDK's uploads of small objects)."""
    plain = urllib.parse.urlsplit(path).path
    upload = _UPLOAD.search(plain)
    if upload:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        if "name" in query:
            return upload["bucket"], query["name"][0]
        content_type = _header(headers, "content-type") or ""
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        for part in message.iter_parts():
            payload = part.get_payload(decode=True)
            if part.get_content_type() == "application/json" and isinstance(payload, bytes):
                return upload["bucket"], str(json.loads(payload)["name"])
        return None
    found = _OBJECT.search(plain)
    return (found["bucket"], urllib.parse.unquote(found["name"])) if found else None


@pytest.fixture
def proxy(storage_emulator: str) -> Iterator[PreconditionProxy]:
    running = PreconditionProxy(storage_emulator)
    yield running
    running.stop()


@pytest.fixture
def names(unique_name: Any) -> Names:
    # The state bucket is named by the project: a project per test keeps them apart.
    return Names("demo", "test", unique_name("proj"), "europe-west1")


@pytest.fixture
def storage(proxy: PreconditionProxy, names: Names, gcp_environment: Any) -> Any:
    client = GcpClients(names.project, names.region, storage_endpoint=proxy.endpoint).storage
    records.ensure_state_bucket(client, names, CallLog())
    return client


@pytest.fixture
def stage(storage: Any, names: Names) -> StageRecords:
    return stage_records(storage, names, CallLog())


def test_the_state_bucket_is_versioned_uniform_and_labelled(storage: Any, names: Names) -> None:
    bucket = storage.get_bucket(names.state_bucket)
    assert bucket.versioning_enabled is True
    assert bucket.labels == {"portway-managed": "state"}
    log = CallLog()
    records.ensure_state_bucket(storage, names, log)  # a second call changes nothing
    assert log.writes == []


def test_the_gcs_store_keeps_the_record_store_contract_under_gcs_preconditions(
    storage: Any, names: Names, proxy: PreconditionProxy
) -> None:
    store = GcsRecordStore(storage, names.state_bucket, CallLog())
    check_record_store(store, "deployments/demo/contract.json")
    assert proxy.refused == 2  # the create over an existing object, the stale replace
    assert store.removal("x") == f"gcloud storage rm gs://{names.state_bucket}/x"


def test_a_record_round_trips_with_its_generation(stage: StageRecords, names: Names) -> None:
    assert stage.read() is None
    written = deploy_record(names, [TOPIC])
    stage.write(written, None)
    read = stage.read()
    assert read is not None
    assert read.version is not None
    assert int(read.version) > 0  # the generation, as a string
    assert read.resources == written.resources
    assert read.resources[0].neutral == "queue jobs"


def test_a_record_changed_since_it_was_read_is_not_overwritten(
    stage: StageRecords, names: Names, proxy: PreconditionProxy
) -> None:
    first = deploy_record(names, [TOPIC])
    stage.write(first, None)
    seen = stage.read()
    other = Record("demo", "test", (), "2026-11-29T10:00:00+00:00")
    stage.write(other, seen)  # another deploy, in between
    with pytest.raises(DeployError, match="changed while this deploy ran"):
        stage.write(first, seen)
    assert proxy.refused == 1
    kept = stage.read()
    assert kept is not None
    assert kept.resources == ()


def test_the_emulator_alone_does_not_enforce_generations(
    storage_emulator: str, names: Names, gcp_environment: Any
) -> None:
    # Why the proxy exists: straight to the emulator, a stale generation is accepted.
    direct = GcpClients(names.project, names.region, storage_endpoint=storage_emulator).storage
    records.ensure_state_bucket(direct, names, CallLog())
    stage = stage_records(direct, names, CallLog())
    first = deploy_record(names, [])
    stage.write(first, None)
    stage.write(first, None)  # would be a 412 on GCS


def test_the_second_deploy_of_a_stage_is_refused_naming_the_gcloud_removal(
    storage: Any, stage: StageRecords, names: Names
) -> None:
    with stage.locked("deploy"):
        with pytest.raises(DeployError, match=r"locked by deploy from .* \(pid \d+\)") as error:
            stage_records(storage, names, CallLog()).acquire("destroy")
        assert f"gcloud storage rm gs://{names.state_bucket}/locks/demo/test.json" in str(
            error.value
        )
    stage.acquire("deploy")  # free again
    stage.release()


def _dead_holder() -> dict[str, Any]:
    """A lock holder of this machine whose process has exited: a killed deploy."""
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        "operation": "deploy",
        "host": socket.gethostname(),
        "pid": int(gone.stdout),
        "since": "2026-11-29T00:00:00+00:00",
    }


def test_a_lock_left_by_a_killed_deploy_on_this_machine_is_taken_over(
    storage: Any, stage: StageRecords, names: Names
) -> None:
    holder = _dead_holder()
    blob = storage.bucket(names.state_bucket).blob("locks/demo/test.json")
    blob.upload_from_string(json.dumps(holder))
    stage.acquire("deploy")
    assert json.loads(blob.download_as_bytes())["pid"] != holder["pid"]
    stage.release()


def test_of_two_deploys_taking_over_a_dead_lock_only_the_first_holds_it(
    storage: Any, names: Names, proxy: PreconditionProxy
) -> None:
    blob = storage.bucket(names.state_bucket).blob("locks/demo/test.json")
    blob.upload_from_string(json.dumps(_dead_holder()))
    late = GcsRecordStore(storage, names.state_bucket, CallLog())
    assert late.read("locks/demo/test.json") is not None  # it saw the dead holder...
    first = stage_records(storage, names, CallLog())
    first.acquire("deploy")  # ...but another deploy took the lock over first
    late.delete("locks/demo/test.json")  # removes only the generation it saw: refused (412)
    assert json.loads(blob.download_as_bytes())["pid"] == os.getpid()
    first.release()


def test_a_second_concurrent_deploy_fails_clearly_and_changes_nothing(
    proxy: PreconditionProxy,
    gcp_stage: StageConfig,
    unique_name: Any,
    tmp_path: Path,
) -> None:
    settings = {
        **gcp_stage.settings,
        "project": unique_name("proj"),
        "project_number": "42",
        "storage_endpoint": proxy.endpoint,
        "emulator_skips": sorted(SKIPS),
    }
    stage = StageConfig("test", "gcp", settings, root=tmp_path, app="pipeline:app")
    pipeline = Pipeline("small")

    @pipeline.http("GET", "/status")
    def status(request: Any) -> dict[str, str]:
        return {}

    zipped = tmp_path / "source.zip"
    zipped.write_bytes(b"PK\x05\x06" + bytes(18))
    source = SourceArchive(zipped, "cd" * 32, zipped.stat().st_size)
    first = GcpDeployment("small", stage, pipeline, progress=lambda _: None, source=source)
    second = GcpDeployment("small", stage, pipeline, progress=lambda _: None, source=source)
    plan = second.plan()
    records.ensure_state_bucket(first.gcp.storage, first.names, CallLog())
    refused = pytest.raises(DeployError, match="stage 'test' of 'small' is locked by deploy")
    with first.records.locked("deploy"), refused:  # the first deploy runs
        second.apply(plan)
    assert [w for w in second.log.writes if not w.startswith("storage.")] == []
    assert GcpDeployment("small", stage, pipeline, source=source).plan() == plan


def test_releasing_leaves_a_lock_another_deploy_took_over(
    storage: Any, stage: StageRecords, names: Names
) -> None:
    stage.acquire("deploy")
    blob = storage.bucket(names.state_bucket).blob("locks/demo/test.json")
    blob.upload_from_string(b'{"operation": "deploy", "host": "elsewhere", "pid": 1}')
    stage.release()  # our generation is gone: theirs is left
    assert storage.bucket(names.state_bucket).get_blob("locks/demo/test.json") is not None
    stage.release()  # no generation known now: removed
    assert storage.bucket(names.state_bucket).get_blob("locks/demo/test.json") is None
