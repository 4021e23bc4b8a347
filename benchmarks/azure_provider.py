"""Azure provider figures, against an Azurite (Blob and Queue) started for the run.

(Not ``benchmarks/azure.py``: ``run.py`` imports its siblings with ``benchmarks/`` first on
``sys.path``, where a module named ``azure`` would hide the Azure SDK's namespace package.)

* data plane: portway's ``bucket.write`` / ``queue.send`` / ``topic.publish`` against the
  raw SDK call doing the same job on the same clients (``upload_blob`` with the content
  type, ``send_message`` of the base64 body a queue-triggered function can read, and
  ``EventGridPublisherClient.send`` of one Event Grid event to the Event Grid player),
  interleaved, median per call; the ratio is portway / raw (target <= 1.05);
* ``import portway_azure.shim`` in a fresh interpreter against a bare one (target <= 1.5x),
  and against one that imports ``azure.functions`` only: the Functions worker has that
  library loaded before it imports ``function_app.py`` (which imports it too), and it
  alone costs several bare interpreters (werkzeug), so the shim's own cost on a cold
  start is the second ratio;
* plan read calls for generated pipelines of 10 and 100 functions after they were
  deployed, and the mutating calls of a no-op redeploy (must be 0). No ARM emulator
  exists: :class:`~portway_azure.deploy.deployment.Deployment` runs with the azure-mgmt
  clients answered by :mod:`portway_azure.testing.arm_replay` (from what the first deploy
  sent) and a sender that counts each request; the record and lock are on Azurite. The
  JSON says so (``"control_plane"``).
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import (
    fresh_pipeline_module,
    generated_project,
    interleaved_ratios,
    interpreter_medians_ms,
)


def data_plane(calls: int, connection_string: str) -> dict[str, Any]:
    from azure.storage.blob import ContentSettings
    from portway_azure.clients import AzureClients, AzureResources
    from portway_azure.dataplane import AzureDataPlane
    from portway_azure.testing.event_grid import EventGridPlayer

    from portway import Pipeline
    from portway.dataplane import bind

    with EventGridPlayer(connection_string) as player:
        clients = AzureClients(connection_string=connection_string, event_grid_key=player.key)
        clients.blob_service.create_container("bench-data")
        clients.queue_service.create_queue("bench-jobs")
        clients.queue_service.create_queue("bench-news")
        player.subscribe("bench-news", "bench-news")
        resources = AzureResources(
            buckets={"data": "bench-data"},
            queues={"jobs": "bench-jobs"},
            topics={"news": player.endpoint("bench-news")},
        )
        plane = AzureDataPlane(clients, resources, stage="bench")
        app = Pipeline("bench")
        bucket, queue, topic = app.bucket("data"), app.queue("jobs"), app.topic("news")
        container, raw_queue = clients.container("bench-data"), clients.queue("bench-jobs")
        publisher = clients.event_grid(player.endpoint("bench-news"))
        body = b'{"key": "landing/2026/11/29/orders.csv", "rows": 1234}'
        content = ContentSettings(content_type="application/octet-stream")

        def raw_event() -> list[dict[str, Any]]:
            return [
                {
                    "id": uuid.uuid4().hex,
                    "subject": "bench",
                    "eventType": "bench",
                    "eventTime": datetime.now(UTC).isoformat(),
                    "dataVersion": "1",
                    "data": {"body": body.decode()},
                }
            ]

        pairs: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
            "container_write": (
                lambda: bucket.write("bench/object.json", body),
                lambda: container.upload_blob(
                    "bench/object.json", body, overwrite=True, content_settings=content
                ),
            ),
            "queue_send": (
                lambda: queue.send(body),
                lambda: raw_queue.send_message(
                    base64.b64encode(body).decode("ascii"), time_to_live=queue.retention
                ),
            ),
            "topic_publish": (
                lambda: topic.publish(body),
                lambda: publisher.send(raw_event()),
            ),
        }
        with bind(plane):
            return interleaved_ratios(pairs, calls)


def shim_import(runs: int) -> dict[str, Any]:
    host = "import azure.functions"
    medians = interpreter_medians_ms(
        {"bare": "pass", "functions": host, "shim": f"{host}; import portway_azure.shim"}, runs
    )
    bare_ms, functions_ms, shim_ms = medians["bare"], medians["functions"], medians["shim"]
    return {
        "runs": runs,
        "bare_interpreter_ms": round(bare_ms, 1),
        "import_azure_functions_ms": round(functions_ms, 1),
        "import_shim_ms": round(shim_ms, 1),
        "ratio_shim_to_bare": round(shim_ms / bare_ms, 2),
        "shim_added_ms": round(shim_ms - functions_ms, 1),
        "ratio_shim_to_azure_functions": round(shim_ms / functions_ms, 2),
    }


SUBSCRIPTION = "00000000-0000-0000-0000-00000000be7c"
CONTROL_PLANE = (
    "counted sender, no ARM emulator: the azure-mgmt clients run against "
    "portway_azure.testing.arm_replay, which answers each HTTP call from the resources "
    "earlier requests created; reads are ARM GETs (list calls, pages included) of one "
    "plan, mutating calls are requests handed to the sender (package uploads included); "
    "the record and lock are on Azurite (its reads are not counted here)"
)


def stage_toml(connection_string: str, resource_group: str) -> str:
    settings = {
        "subscription": SUBSCRIPTION,
        "resource_group": resource_group,
        "location": "westeurope",
        "connection_string": connection_string,
    }
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    return '\n[stages.bench]\nprovider = "azure"\n' + "\n".join(lines) + "\n"


def plan_calls(connection_string: str, sizes: tuple[int, ...]) -> dict[str, Any]:
    """Deploy a generated pipeline of each size, plan again (ARM reads), redeploy (requests)."""
    from portway_azure.deploy.arm import ArmSender
    from portway_azure.deploy.deployment import Deployment
    from portway_azure.testing.arm_replay import ArmReplay, CountingSender

    from portway.config import StageConfig, load_project
    from portway.loading import load_pipeline
    from portway.model import Pipeline

    figures: dict[str, Any] = {"control_plane": CONTROL_PLANE}
    workspace = Path(tempfile.mkdtemp(prefix="portway-bench-plan-"))
    try:
        for size in sizes:
            group = f"bench-plan-{size}-{uuid.uuid4().hex[:6]}"
            root = generated_project(
                workspace / f"p{size}", size, stage_toml(connection_string, group)
            )
            replay = ArmReplay()
            with fresh_pipeline_module(root):
                config = load_project(root)
                stage = config.stage("bench")
                pipeline = load_pipeline(config.app, config.root)

                def deployment(
                    stage: StageConfig = stage,
                    pipeline: Pipeline = pipeline,
                    replay: ArmReplay = replay,
                ) -> tuple[Deployment, CountingSender]:
                    clients = replay.clients(SUBSCRIPTION)
                    sender = CountingSender(ArmSender(clients))
                    run = Deployment(
                        pipeline.name,
                        stage,
                        pipeline,
                        arm=clients,
                        sender=sender,
                        progress=lambda _: None,
                    )
                    return run, sender

                first, first_sender = deployment()
                start = time.perf_counter()
                first.apply(first.plan())
                deploy_s = time.perf_counter() - start
                second, second_sender = deployment()
                second.archives = first.archives  # the same zips, as a second run builds them
                before = len(replay.log.reads)
                start = time.perf_counter()
                plan = second.plan()
                plan_s = time.perf_counter() - start
                reads = replay.log.reads[before:]
                if not plan.is_empty:
                    second.apply(plan)
                figures[f"functions_{size}"] = {
                    "resources": len(first.desired),
                    "app_groups": len(first.archives),
                    "first_deploy_s": round(deploy_s, 2),
                    "first_deploy_mutating_calls": len(first_sender.sent),
                    "plan_read_calls": len(reads),
                    # observe lists the role assignments of each identity (one per app
                    # group): the one read that grows with the functions here.
                    "plan_role_assignment_lists": sum(
                        path.lower().endswith("/roleassignments") for path in reads
                    ),
                    "plan_s": round(plan_s, 3),
                    "noop_redeploy_changes": len(plan.changes),
                    "noop_redeploy_mutating_calls": len(second_sender.sent),
                }
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    return figures


def azure_figures(
    *, calls: int = 200, import_runs: int = 20, plan_sizes: tuple[int, ...] = (10, 100)
) -> dict[str, Any]:
    """Start Azurite, measure, stop it; the figures as a JSON-able dict."""
    from portway_azure.testing.azurite import Azurite

    with Azurite() as azurite:
        return {
            "data_plane": data_plane(calls, azurite.connection_string),
            "shim_import": shim_import(import_runs),
            "plan": plan_calls(azurite.connection_string, plan_sizes),
        }


if __name__ == "__main__":
    print(json.dumps(azure_figures(), indent=2))
