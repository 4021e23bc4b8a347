"""``import portway`` stays light: no cloud SDK, no plugin scan, no CLI machinery.

Every cold start of a deployed function pays for these imports, so they are checked in
a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from portway.testing.imports import cloud_sdk_modules, modules_imported_by

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lake-to-warehouse"
HEAVY = ("boto3", "botocore", "google.cloud", "azure", "pluggy", "typer", "rich", "croniter")


def modules_after(code: str, cwd: Path | None = None) -> set[str]:
    return modules_imported_by(code, cwd=cwd)


def heavy(modules: set[str]) -> list[str]:
    return cloud_sdk_modules(modules, HEAVY)


def test_import_portway_loads_no_cloud_sdk_and_scans_no_entry_points() -> None:
    modules = modules_after("import portway")
    assert heavy(modules) == []
    assert "portway.providers" not in modules
    assert "importlib.metadata" not in modules


def test_importing_the_example_pipeline_stays_light() -> None:
    modules = modules_after("import pipeline", cwd=EXAMPLE)
    assert heavy(modules) == []


def test_a_cron_schedule_loads_croniter_only_when_declared() -> None:
    modules = modules_after(
        "from portway import Pipeline\n"
        "app = Pipeline('nightly')\n"
        "@app.schedule('cron(0 3 * * *)')\n"
        "def run(event): ...\n"
    )
    assert "croniter" in modules
    assert "boto3" not in modules


def test_loading_a_pipeline_leaves_traceback_and_pathlib_until_an_import_fails() -> None:
    # Every handler shim calls load_pipeline on a cold start.
    modules = modules_after("import portway.loading")
    assert "portway.loading" in modules
    assert "traceback" not in modules
    assert "pathlib" not in modules


def test_the_object_key_rule_imports_url_parsing_only_when_a_key_is_checked() -> None:
    modules = modules_after("import portway.keys")
    assert "portway.keys" in modules
    assert "urllib.parse" not in modules


def test_import_portway_leaves_base64_to_the_cloudevents_json_form() -> None:
    modules = modules_after("import portway")
    assert "portway.events" in modules
    assert "base64" not in modules


def test_patterns_only_some_pipelines_need_are_compiled_on_first_use() -> None:
    # Compiling a pattern costs a cold start 25-170 us; these are compiled by the first
    # check that needs one (a message attribute, an object key, a cron schedule, an
    # environment variable, an http route), never by the import.
    probe = textwrap.dedent(
        """
        import json
        from portway import Pipeline, keys, payload
        from portway.model import checks, schedules
        lazy = [payload._attribute_name, keys._control, keys._drive, schedules._cron,
                schedules._cron_field, checks._env_name, checks._path_segment]
        app = Pipeline("nightly")
        @app.schedule("rate(1 day)")
        def tick(event): ...
        before = [f.cache_info().currsize for f in lazy]
        payload.check_attributes({"origin": "ftp"})
        keys.check_key("a/b.csv", bucket="lake")
        @app.schedule("cron(0 3 * * *)")
        def nightly(event): ...
        @app.http("GET", "/items/{item_id}", environment={"MODE": "x"})
        def item(request): ...
        after = [f.cache_info().currsize for f in lazy]
        print(json.dumps([before, after]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    before, after = json.loads(result.stdout)
    assert before == [0] * 7
    assert after == [1] * 7


def test_import_portway_leaves_tracebacks_paths_urls_threads_and_logging_to_first_use() -> None:
    modules = modules_after("import portway")
    assert "portway.model" in modules
    for name in ("traceback", "pathlib", "urllib.parse", "threading", "logging", "uuid"):
        assert name not in modules, name
