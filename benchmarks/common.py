"""What the cloud benchmarks share: interleaved timing, cold-import timing, and the
generated pipelines of N functions that plan figures are measured on.

(Each figure is a ratio or a count measured in one run: see ``benchmarks/run.py``.)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: The module name generated pipelines are written as (``app = "pipeline:app"``).
PIPELINE_MODULE = "pipeline"


def timed_ms(call: Callable[[], Any]) -> float:
    """Wall time of one ``call()``, in milliseconds."""
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def interleaved_ratios(
    pairs: Mapping[str, tuple[Callable[[], Any], Callable[[], Any]]], calls: int
) -> dict[str, Any]:
    """For each ``name: (portway_call, raw_call)``, the median of ``calls`` timings of
    each, interleaved so machine load hits both alike, and ``ratio_<name>`` = portway / raw."""
    figures: dict[str, Any] = {"calls": calls}
    for name, (portway_call, raw_call) in pairs.items():
        portway_call(), raw_call()  # warm both paths
        ours, raw = [], []
        for _ in range(calls):
            ours.append(timed_ms(portway_call))
            raw.append(timed_ms(raw_call))
        ours_ms, raw_ms = statistics.median(ours), statistics.median(raw)
        figures[f"{name}_portway_ms"] = round(ours_ms, 3)
        figures[f"{name}_raw_ms"] = round(raw_ms, 3)
        figures[f"ratio_{name}"] = round(ours_ms / raw_ms, 3)
    return figures


def interpreter_medians_ms(codes: Mapping[str, str], runs: int) -> dict[str, float]:
    """Median wall time (ms) of a fresh interpreter running each ``name: code``, the
    codes interleaved ``runs`` times.

    Bytecode is compiled once, before measuring, into a private cache (as a deployed
    package ships it): with ``PYTHONDONTWRITEBYTECODE`` set, every start would otherwise
    recompile the sources and measure the compiler.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="portway-bench-pyc-")

    def wall(code: str) -> float:
        return timed_ms(lambda: subprocess.run([sys.executable, "-c", code], check=True, env=env))

    for code in codes.values():
        wall(code)
    times: dict[str, list[float]] = {name: [] for name in codes}
    for _ in range(runs):
        for name, code in codes.items():
            times[name].append(wall(code))
    return {name: statistics.median(values) for name, values in times.items()}


def shim_import(module: str, runs: int, label: str = "shim") -> dict[str, Any]:
    """``import <module>`` in a fresh interpreter against a bare one (``python -c pass``):
    ``import_<label>_ms`` and ``ratio_<label>_to_bare``."""
    medians = interpreter_medians_ms({"bare": "pass", label: f"import {module}"}, runs)
    bare_ms, shim_ms = medians["bare"], medians[label]
    return {
        "runs": runs,
        "bare_interpreter_ms": round(bare_ms, 1),
        f"import_{label}_ms": round(shim_ms, 1),
        f"ratio_{label}_to_bare": round(shim_ms / bare_ms, 2),
    }


def generated_project(root: Path, functions: int, stage_toml: str) -> Path:
    """A project at ``root`` whose pipeline ``bench-plan`` has ``functions`` functions,
    each on its own queue and writing one shared bucket, and whose ``portway.toml``
    has ``stage_toml`` (a ``[stages.NAME]`` table) after ``app = "pipeline:app"``."""
    lines = [
        "from portway import Message, Pipeline",
        'app = Pipeline("bench-plan")',
        'lake = app.bucket("lake")',
    ]
    for number in range(functions):
        lines += [
            f'q{number} = app.queue("queue-{number:03d}")',
            f"@app.on_message(q{number}, uses=[lake.write()])",
            f"def work_{number:03d}(msg: Message) -> None: ...",
        ]
    root.mkdir(parents=True)
    (root / f"{PIPELINE_MODULE}.py").write_text("\n".join(lines) + "\n")
    (root / "portway.toml").write_text(f'app = "{PIPELINE_MODULE}:app"\n{stage_toml}')
    return root


@contextmanager
def fresh_pipeline_module(root: Path) -> Iterator[None]:
    """Each generated project imports as ``pipeline``: forget the previous one before,
    and this one's folder on ``sys.path`` after."""
    sys.modules.pop(PIPELINE_MODULE, None)
    try:
        yield
    finally:
        sys.modules.pop(PIPELINE_MODULE, None)
        while str(root) in sys.path:
            sys.path.remove(str(root))
