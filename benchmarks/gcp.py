"""Google Cloud provider figures, against Google's emulators started for the run.

* data plane: portway's ``bucket.write`` / ``queue.send`` / ``topic.publish`` against the
  raw client call doing the same job on the same emulators with the very clients portway
  shares (``blob.upload_from_string``, ``publisher.publish(...).result()`` with the same
  attributes), interleaved, median per call; the ratio is portway / raw (target <= 1.05);
* ``import portway_gcp.main`` (the runtime shim) in a fresh interpreter against a bare
  one (target <= 1.5x);
* plan read calls for generated pipelines of 10 and 100 functions after they were
  deployed on the emulators (Pub/Sub, gcp-storage-emulator, drongo with its IAM Admin
  emulator) through :class:`~portway_gcp.deploy.deployment.GcpDeployment` (reads must
  grow with kinds, not counts), and the mutating calls of a no-op redeploy (must be 0).
  The stage names every ``emulator_skips`` gap; the calls skipped for them are counted
  as mutating calls (they would be made on Google Cloud) and reported on their own.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common import fresh_pipeline_module, generated_project, interleaved_ratios, shim_import

if TYPE_CHECKING:
    from portway_gcp.testing.emulators import EmulatorEndpoints

PROJECT = "portway-bench"
REGION = "europe-west1"


@contextmanager
def emulators() -> Iterator[EmulatorEndpoints]:
    """Pub/Sub, Cloud Storage and drongo (Cloud Functions v2, Scheduler, IAM Admin)
    emulators for the run, on free ports."""
    from portway_gcp.testing.emulators import (
        DrongoServer,
        EmulatorEndpoints,
        PubSubEmulator,
        StorageEmulator,
    )

    logs = Path(tempfile.mkdtemp(prefix="portway-bench-gcp-"))
    pubsub, storage = PubSubEmulator(logs / "pubsub.log"), StorageEmulator(logs / "storage.log")
    drongo = DrongoServer(logs / "drongo.log")
    try:
        started = (pubsub.start(), storage.start(), drongo.start())
        yield EmulatorEndpoints(*started, drongo.iam_endpoint)
    finally:
        for emulator in (pubsub, storage, drongo):
            emulator.stop()


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
    with bind(plane):
        return interleaved_ratios(pairs, calls)


def stage_toml(endpoints: EmulatorEndpoints, project: str) -> str:
    """A ``bench`` stage on the emulators, naming every call they lack (``emulator_skips``)."""
    from portway_gcp.deploy.kinds import SKIPS

    settings = {
        **endpoints.stage_settings(project, REGION),
        # A fixed number: the service agents' emails need one, and the storage
        # emulator has no project to look it up from.
        "project_number": "123456789012",
    }
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    lines.append(f"emulator_skips = {json.dumps(sorted(SKIPS))}")
    return '\n[stages.bench]\nprovider = "gcp"\n' + "\n".join(lines) + "\n"


def _skipped(calls: list[str]) -> int:
    return sum(1 for call in calls if call.endswith("(skipped: emulator)"))


def plan_calls(endpoints: EmulatorEndpoints, sizes: tuple[int, ...]) -> dict[str, Any]:
    """Deploy a generated pipeline of each size, plan again (reads), redeploy (writes)."""
    from portway_gcp.deploy.deployment import GcpDeployment
    from portway_gcp.deploy.kinds import SKIPS

    from portway.config import load_project
    from portway.loading import load_pipeline

    figures: dict[str, Any] = {"emulator_skips": len(SKIPS)}
    workspace = Path(tempfile.mkdtemp(prefix="portway-bench-plan-"))
    try:
        for size in sizes:
            # A project of its own per size: Pub/Sub, drongo and bucket names are per project.
            project = f"bench-plan-{size}-{uuid.uuid4().hex[:6]}"
            root = generated_project(workspace / f"p{size}", size, stage_toml(endpoints, project))
            with fresh_pipeline_module(root):
                config = load_project(root)
                stage = config.stage("bench")
                pipeline = load_pipeline(config.app, config.root)
                first = GcpDeployment(pipeline.name, stage, pipeline, progress=lambda _: None)
                start = time.perf_counter()
                first.apply(first.plan())
                deploy_s = time.perf_counter() - start
                # A second run, as a second `portway deploy` makes it (the zip is the same).
                second = GcpDeployment(
                    pipeline.name, stage, pipeline, progress=lambda _: None, source=first.artifact
                )
                start = time.perf_counter()
                plan = second.plan()
                plan_s = time.perf_counter() - start
                reads = len(second.log.reads)
                if not plan.is_empty:
                    second.apply(plan)
                figures[f"functions_{size}"] = {
                    "resources": len(first.desired),
                    "first_deploy_s": round(deploy_s, 2),
                    "first_deploy_mutating_calls": len(first.log.writes),
                    "first_deploy_skipped_calls": _skipped(first.log.writes),
                    "plan_read_calls": reads,
                    "plan_s": round(plan_s, 3),
                    "noop_redeploy_changes": len(plan.changes),
                    "noop_redeploy_mutating_calls": len(second.log.writes),
                    "noop_redeploy_skipped_calls": _skipped(second.log.writes),
                }
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    return figures


def gcp_figures(
    *, calls: int = 200, import_runs: int = 20, plan_sizes: tuple[int, ...] = (10, 100)
) -> dict[str, Any]:
    """Data-plane ratios on the emulators, the shim's import time against a bare start,
    and the calls of a plan and a no-op redeploy for each of ``plan_sizes`` functions."""
    with emulators() as endpoints:
        return {
            "data_plane": data_plane(calls, endpoints.pubsub, endpoints.storage),
            "shim_import": shim_import("portway_gcp.main", import_runs),
            "plan": plan_calls(endpoints, plan_sizes),
        }


if __name__ == "__main__":
    print(json.dumps(gcp_figures(), indent=2))
