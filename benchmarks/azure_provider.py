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
  start is the second ratio.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from common import interleaved_ratios, interpreter_medians_ms


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


def azure_figures(calls: int = 200, import_runs: int = 20) -> dict[str, Any]:
    """Start Azurite, measure, stop it; the figures as a JSON-able dict."""
    from portway_azure.testing.azurite import Azurite

    with Azurite() as azurite:
        return {
            "data_plane": data_plane(calls, azurite.connection_string),
            "shim_import": shim_import(import_runs),
        }


if __name__ == "__main__":
    import json

    print(json.dumps(azure_figures(), indent=2))
