"""The benchmark script runs and reports its figures (a smoke test, not a timing test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


def test_benchmark_prints_its_ratios_as_json() -> None:
    output = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--json",
            "--runs",
            "1",
            "--messages",
            "200",
            "--objects",
            "10",
            "--cloud-calls",
            "3",
            "--plan-sizes",
            "2,3",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    results = json.loads(output)
    figures = results["import"]
    assert figures["ratio_import_portway_to_bare"] > 0
    assert figures["importtime_portway_us_median"] > 0
    local = results["local_runtime"]
    assert local["ratio_batch1"] > 0
    assert local["ratio_batch10"] > 0
    assert local["object_events"] == 10
    assert 0 < local["object_write_to_handler_p50_ms"] <= local["object_write_to_handler_p99_ms"]
    dashboard = results["dashboard"]
    assert dashboard["without_ui_batch1_per_s"] > 0
    assert dashboard["with_ui_and_page_batch1_per_s"] > 0
    assert dashboard["ratio_with_ui_to_without"] > 0
    aws = results["aws"]
    assert aws["data_plane"]["ratio_queue_send"] > 0
    assert aws["handler_import"]["ratio_handler_to_bare"] > 0
    assert aws["plan"]["functions_3"]["noop_redeploy_mutating_calls"] == 0
    assert aws["plan"]["functions_3"]["plan_read_calls"] > 0
    for cloud in ("gcp", "azure"):
        figures = results[cloud]
        assert figures["data_plane"]["ratio_queue_send"] > 0, cloud
        assert figures["shim_import"]["ratio_shim_to_bare"] > 0, cloud
    gcp_plan = results["gcp"]["plan"]
    assert gcp_plan["functions_3"]["noop_redeploy_mutating_calls"] == 0
    assert gcp_plan["functions_3"]["plan_read_calls"] > 0
    assert gcp_plan["functions_2"]["plan_read_calls"] == gcp_plan["functions_3"]["plan_read_calls"]
    azure_plan = results["azure"]["plan"]
    assert azure_plan["control_plane"].startswith("counted sender, no ARM emulator")
    assert azure_plan["functions_3"]["noop_redeploy_mutating_calls"] == 0
    assert azure_plan["functions_3"]["plan_read_calls"] > 0
