"""portway benchmarks: each figure is a ratio against a baseline measured in the same run.

The machines are shared and noisy, so absolute times mislead; ratios and medians over
many runs in one process are what to compare between commits.

Figures:

* ``import``: wall time of a fresh interpreter that runs ``import portway`` (and, as a
  handler shim will, imports the example pipeline) against a bare interpreter
  (``python -c pass``); plus CPython's own ``-X importtime`` total for ``portway``.
  Bytecode is compiled once, before measuring, into a private cache (as a deployed
  package ships it): with ``PYTHONDONTWRITEBYTECODE`` set, as on these machines, every
  start would otherwise recompile portway's sources and measure the compiler.

* ``local_runtime``: the local provider's throughput against a raw SQLite claim+ack
  loop, batch 1 and 10, and object-write -> handler-start latency (see
  ``benchmarks/local_runtime.py``).

* ``dashboard``: ``portway run --ui`` with a page connected (reading the live figures)
  against ``portway run`` without it, side by side, batch 1 (target ratio >= 0.9; see
  ``benchmarks/dashboard.py``).

* ``aws``: on a moto server started for the run, the AWS data plane against raw boto3
  calls, the handler shim's import against a bare interpreter, and the read calls of a
  plan and the mutating calls of a no-op redeploy for 10 and 100 functions (see
  ``benchmarks/aws.py``).

* ``gcp``: on Google's Pub/Sub emulator and gcp-storage-emulator started for the run, the
  GCP data plane against raw client calls, and the runtime shim's import against a bare
  interpreter (see ``benchmarks/gcp.py``).

* ``azure``: on Azurite (and the Event Grid player) started for the run, the Azure data
  plane against raw SDK calls, and the runtime shim's import against a bare interpreter
  and against ``azure.functions`` alone (see ``benchmarks/azure_provider.py``; not
  ``azure.py``, which would hide the Azure SDK's ``azure`` package on ``sys.path``).

Usage: ``python benchmarks/run.py [--json] [--runs N] [--messages N] [--objects N]
[--cloud-calls N] [--plan-sizes 10,100]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "lake-to-warehouse"


_CACHE = tempfile.mkdtemp(prefix="portway-bench-pyc-")
_ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONPYCACHEPREFIX": _CACHE,
}


def _wall(code: str, runs: int, cwd: Path | None = None) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=cwd, env=_ENV)
        times.append(time.perf_counter() - start)
    return times


def _importtime_total_us(module: str) -> int:
    """CPython's cumulative ``-X importtime`` figure for ``module``, in microseconds."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        check=True,
        capture_output=True,
        text=True,
        env=_ENV,
    )
    for line in reversed(result.stderr.splitlines()):
        fields = [part.strip() for part in line.split("|")]
        if len(fields) == 3 and fields[2] == module:
            return int(fields[1])
    raise RuntimeError(f"no importtime line for {module}")


def import_cost(runs: int) -> dict[str, Any]:
    _wall("import portway", 1)  # compile the bytecode once, into the private cache
    _wall("import pipeline", 1, cwd=EXAMPLE)
    # Interleave the three measurements so load on the machine hits them alike.
    bare, core, example = [], [], []
    for _ in range(runs):
        bare += _wall("pass", 1)
        core += _wall("import portway", 1)
        example += _wall("import pipeline", 1, cwd=EXAMPLE)
    bare_ms = statistics.median(bare) * 1000
    core_ms = statistics.median(core) * 1000
    example_ms = statistics.median(example) * 1000
    totals = sorted(_importtime_total_us("portway") for _ in range(5))
    return {
        "runs": runs,
        "bare_interpreter_ms": round(bare_ms, 1),
        "import_portway_ms": round(core_ms, 1),
        "import_example_pipeline_ms": round(example_ms, 1),
        "import_portway_added_ms": round(core_ms - bare_ms, 1),
        "ratio_import_portway_to_bare": round(core_ms / bare_ms, 2),
        "ratio_example_to_bare": round(example_ms / bare_ms, 2),
        "importtime_portway_us_median": totals[len(totals) // 2],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--runs", type=int, default=20, help="interpreter starts per figure")
    parser.add_argument("--messages", type=int, default=5000, help="messages per throughput run")
    parser.add_argument("--objects", type=int, default=200, help="object writes for latency")
    parser.add_argument(
        "--cloud-calls", type=int, default=200, help="cloud data-plane calls per figure"
    )
    parser.add_argument(
        "--plan-sizes", default="10,100", help="pipeline sizes (functions) for plan read calls"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from aws import aws_figures
    from azure_provider import azure_figures
    from dashboard import dashboard_cost
    from gcp import gcp_figures
    from local_runtime import local_runtime

    sizes = tuple(int(size) for size in args.plan_sizes.split(","))
    results = {
        "python": sys.version.split()[0],
        "import": import_cost(args.runs),
        "local_runtime": local_runtime(args.messages, args.objects),
        "dashboard": dashboard_cost(args.messages),
        "aws": aws_figures(calls=args.cloud_calls, import_runs=args.runs, plan_sizes=sizes),
        "gcp": gcp_figures(calls=args.cloud_calls, import_runs=args.runs, plan_sizes=sizes),
        "azure": azure_figures(calls=args.cloud_calls, import_runs=args.runs, plan_sizes=sizes),
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, figures in results.items():
        print(name, figures)


if __name__ == "__main__":
    main()
