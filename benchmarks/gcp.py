"""Google Cloud provider figures, against Google's emulators started for the run.

* data plane: portway's ``bucket.write`` / ``queue.send`` / ``topic.publish`` against the
  raw client call doing the same job on the same emulators with the very clients portway
  shares (``blob.upload_from_string``, ``publisher.publish(...).result()`` with the same
  attributes), interleaved, median per call; the ratio is portway / raw (target <= 1.05);
* ``import portway_gcp.main`` (the runtime shim) in a fresh interpreter against a bare
  one (target <= 1.5x).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PROJECT = "portway-bench"
REGION = "europe-west1"


@contextmanager
def emulators() -> Iterator[tuple[str, str]]:
    """Pub/Sub and Cloud Storage emulators for the run: ``(pubsub host:port, storage URL)``."""
    from portway_gcp.testing.emulators import PubSubEmulator, StorageEmulator

    logs = Path(tempfile.mkdtemp(prefix="portway-bench-gcp-"))
    pubsub, storage = PubSubEmulator(logs / "pubsub.log"), StorageEmulator(logs / "storage.log")
    try:
        yield pubsub.start(), storage.start()
    finally:
        pubsub.stop()
        storage.stop()


def _timed_ms(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def data_plane(calls: int, pubsub_endpoint: str, storage_endpoint: str) -> dict[str, Any]:
    from portway_gcp.clients import GcpClients
    from portway_gcp.dataplane import GcpDataPlane
    from portway_gcp.message_encoding import CONTENT_TYPE_ATTRIBUTE
    from portway_gcp.runtime_config import ResourceMap

    from portway import Pipeline
    from portway.dataplane import bind
    from portway.payload import BINARY

    clients = GcpClients(
        PROJECT, REGION, pubsub_endpoint=pubsub_endpoint, storage_endpoint=storage_endpoint
    )
    storage, publisher = clients.storage, clients.publisher
    storage.create_bucket("bench-bucket")
    queue_topic = f"projects/{PROJECT}/topics/bench-queue"
    topic_path = f"projects/{PROJECT}/topics/bench-topic"
    publisher.create_topic(name=queue_topic)
    publisher.create_topic(name=topic_path)
    app = Pipeline("bench")
    bucket, queue, topic = app.bucket("data"), app.queue("jobs"), app.topic("news")
    resources = ResourceMap(
        buckets={"data": "bench-bucket"}, queues={"jobs": queue_topic}, topics={"news": topic_path}
    )
    plane = GcpDataPlane(resources, clients)
    body = b'{"key": "landing/2026/11/29/orders.csv", "rows": 1234}'
    attributes = {CONTENT_TYPE_ATTRIBUTE: BINARY}
    pairs = {
        "bucket_write": (
            lambda: bucket.write("bench/object.json", body),
            lambda: (
                storage.bucket("bench-bucket")
                .blob("bench/object.json")
                .upload_from_string(body, content_type=BINARY)
            ),
        ),
        "queue_send": (
            lambda: queue.send(body),
            lambda: publisher.publish(queue_topic, body, **attributes).result(),
        ),
        "topic_publish": (
            lambda: topic.publish(body),
            lambda: publisher.publish(topic_path, body, **attributes).result(),
        ),
    }
    figures: dict[str, Any] = {"calls": calls}
    with bind(plane):
        for name, (portway_call, raw_call) in pairs.items():
            portway_call(), raw_call()  # warm both paths
            ours, raw = [], []
            for _ in range(calls):  # interleaved, so machine load hits both alike
                ours.append(_timed_ms(portway_call))
                raw.append(_timed_ms(raw_call))
            ours_ms, raw_ms = statistics.median(ours), statistics.median(raw)
            figures[f"{name}_portway_ms"] = round(ours_ms, 3)
            figures[f"{name}_raw_ms"] = round(raw_ms, 3)
            figures[f"ratio_{name}"] = round(ours_ms / raw_ms, 3)
    return figures


def shim_import(runs: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="portway-bench-pyc-")

    def wall(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        return time.perf_counter() - start

    wall("import portway_gcp.main")  # compile once into the private cache
    bare, shim = [], []
    for _ in range(runs):
        bare.append(wall("pass"))
        shim.append(wall("import portway_gcp.main"))
    bare_ms, shim_ms = statistics.median(bare) * 1000, statistics.median(shim) * 1000
    return {
        "runs": runs,
        "bare_interpreter_ms": round(bare_ms, 1),
        "import_shim_ms": round(shim_ms, 1),
        "ratio_shim_to_bare": round(shim_ms / bare_ms, 2),
    }


def gcp_figures(calls: int = 200, import_runs: int = 20) -> dict[str, Any]:
    """Data-plane ratios on the emulators, and the shim's import time against a bare start."""
    with emulators() as (pubsub_endpoint, storage_endpoint):
        return {
            "data_plane": data_plane(calls, pubsub_endpoint, storage_endpoint),
            "shim_import": shim_import(import_runs),
        }


if __name__ == "__main__":
    import json

    print(json.dumps(gcp_figures(), indent=2))
