"""The benchmark script runs and reports its figures (a smoke test, not a timing test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


def test_benchmark_prints_the_import_ratios_as_json() -> None:
    output = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", "--runs", "1"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    figures = json.loads(output)["import"]
    assert figures["ratio_import_portway_to_bare"] > 0
    assert figures["importtime_portway_us_median"] > 0
