"""One reproducible zip per Function App group, holding what the Functions host runs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from portway_azure.package import AppArchive, build_app_archives
from portway_azure.packaging.requirements import runtime_pins, satisfies
from portway_azure.testing.python_packages import install_pinned

import portway.testing.conformance_pipeline as conformance_pipeline
from portway.config import StageConfig, load_project
from portway.errors import DeployError
from portway.loading import load_pipeline
from portway.model import Pipeline

CONFIG = (
    'app = "conformance_pipeline:app"\n\n[stages.dev]\nprovider = "azure"\n'
    'subscription = "sub-id"\nresource_group = "data-rg"\nlocation = "westeurope"\n'
)

# Lists what the packaged function_app.py registers, in a fresh interpreter that sees
# only the unpacked zip and its installed requirements (as the host's worker does).
LIST_FUNCTIONS = r"""
import json, sys
sys.path[:0] = sys.argv[1:]
import function_app
found = {}
for function in function_app.app.get_functions():
    found[function.get_function_name()] = {
        "trigger": function.get_trigger().type,
        "bindings": [b.get_dict_repr() for b in function.get_bindings()],
        "handler": function.get_user_function().__name__,
    }
print(json.dumps(found, default=lambda value: getattr(value, "value", str(value))))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder holding the conformance pipeline (every kind of trigger)."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copyfile(conformance_pipeline.__file__, folder / "conformance_pipeline.py")
    (folder / "portway.toml").write_text(CONFIG, encoding="utf-8")
    (folder / "data").mkdir()
    (folder / "data" / "lookup.csv").write_text("a,b\n", encoding="utf-8")
    (folder / "tests").mkdir()
    (folder / "tests" / "test_pipeline.py").write_text("", encoding="utf-8")
    (folder / ".env").write_text("SECRET=1\n", encoding="utf-8")
    return folder


def loaded(project: Path) -> tuple[Pipeline, StageConfig]:
    stage = load_project(project).stage("dev")
    path = list(sys.path)
    try:
        return load_pipeline(stage.app, project), stage
    finally:
        sys.modules.pop("conformance_pipeline", None)
        sys.path[:] = path


def build(project: Path, output: Path) -> dict[str, AppArchive]:
    pipeline, stage = loaded(project)
    return {archive.group: archive for archive in build_app_archives(pipeline, stage, output)}


def names_in(archive: AppArchive) -> set[str]:
    with zipfile.ZipFile(archive.path) as opened:
        return set(opened.namelist())


def member(archive: AppArchive, name: str) -> bytes:
    with zipfile.ZipFile(archive.path) as opened:
        return opened.read(name)


def registered(archive: AppArchive, folder: Path) -> dict[str, Any]:
    root = folder / "root"
    with zipfile.ZipFile(archive.path) as opened:
        opened.extractall(root)
    packages = install_pinned(root / "requirements.txt", folder / "python_packages")
    finished = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LIST_FUNCTIONS, str(root), str(packages)],
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
    )
    assert finished.returncode == 0, finished.stderr
    found: dict[str, Any] = json.loads(finished.stdout)
    return found


def test_one_archive_per_app_group_named_for_it(project: Path, tmp_path: Path) -> None:
    archives = build(project, tmp_path / "out")
    assert sorted(archives) == [
        "echo",
        "hear-first",
        "hear-second",
        "ingest-csv",
        "observe-upload",
        "tick",
        "work",
        "work-batch",
    ]
    for group, archive in archives.items():
        assert archive.path == (tmp_path / "out" / f"{group}.zip").resolve()
        assert archive.size == archive.path.stat().st_size


def test_same_inputs_give_the_same_bytes(project: Path, tmp_path: Path) -> None:
    first = build(project, tmp_path / "first")
    second = build(project, tmp_path / "second")
    for group, archive in first.items():
        assert archive.path.read_bytes() == second[group].path.read_bytes()
        assert archive.sha256 == second[group].sha256
    assert len({a.sha256 for a in first.values()}) == len(first), "each app's zip differs"


def test_a_changed_project_file_changes_every_archive(project: Path, tmp_path: Path) -> None:
    before = build(project, tmp_path / "before")
    (project / "data" / "lookup.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    after = build(project, tmp_path / "after")
    assert all(before[g].sha256 != after[g].sha256 for g in before)


def test_archive_holds_generated_files_code_and_runtime_without_what_no_app_runs(
    project: Path, tmp_path: Path
) -> None:
    names = names_in(build(project, tmp_path / "out")["work"])
    assert {
        "function_app.py",
        "host.json",
        "requirements.txt",
        "conformance_pipeline.py",
        "portway.toml",
        "data/lookup.csv",
        "portway/__init__.py",
        "portway_azure/shim.py",
        "portway_azure/packaging/app_files.py",
    } <= names
    for left_out in ("tests/", ".env", "portway/cli/", "portway/local/", "portway/testing/"):
        assert not any(name.startswith(left_out) for name in names), left_out
    assert not any(name.startswith("portway_azure/testing/") for name in names)
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)


def test_host_json_carries_the_groups_queue_settings(project: Path, tmp_path: Path) -> None:
    archives = build(project, tmp_path / "out")
    queues = json.loads(member(archives["work"], "host.json"))["extensions"]["queues"]
    assert queues == {
        "batchSize": 1,
        "newBatchThreshold": 0,
        "maxDequeueCount": 5,
        "visibilityTimeout": "00:00:10",
        "maxPollingInterval": "00:00:10",
        "messageEncoding": "base64",
    }
    assert (
        json.loads(member(archives["work-batch"], "host.json"))["extensions"]["queues"]["batchSize"]
        == 10
    )
    assert "queues" not in json.loads(member(archives["echo"], "host.json"))["extensions"]


def test_packaged_queue_function_app_registers_its_trigger(project: Path, tmp_path: Path) -> None:
    archives = build(project, tmp_path / "out")
    assert registered(archives["work"], tmp_path / "work") == {
        "work": {
            "trigger": "queueTrigger",
            "bindings": [
                {
                    "direction": 0,
                    "type": "queueTrigger",
                    "name": "message",
                    "queueName": "q-jobs",
                    "connection": "PORTWAY_STORAGE",
                }
            ],
            "handler": "handle_work",
        }
    }
    topic = registered(archives["hear-first"], tmp_path / "hear")["hear_first"]
    assert topic["bindings"][0]["queueName"] == "t-hear-first"


def test_packaged_http_and_timer_apps_register_routes_and_schedules(
    project: Path, tmp_path: Path
) -> None:
    archives = build(project, tmp_path / "out")
    http = registered(archives["echo"], tmp_path / "echo")
    assert sorted(http) == ["echo", "fail", "status"]
    trigger = http["echo"]["bindings"][0]
    assert (trigger["type"], trigger["route"], trigger["methods"], trigger["authLevel"]) == (
        "httpTrigger",
        "echo/{name}",
        ["POST"],
        "function",
    )
    # The worker passes bindings by name: the trigger's is the handler's parameter.
    assert trigger["name"] == "request"
    timer = registered(archives["tick"], tmp_path / "tick")["tick"]
    assert timer["trigger"] == "timerTrigger"
    assert timer["bindings"][0]["schedule"] == "0 * * * * *"
    assert timer["bindings"][0]["name"] == "timer"


def test_requirements_pin_the_runtime_to_the_installed_versions(
    project: Path, tmp_path: Path
) -> None:
    text = member(build(project, tmp_path / "out")["work"], "requirements.txt").decode()
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    pins = runtime_pins()
    assert lines == [pins[name] for name in sorted(pins)]
    for name in ("azure-functions", "azure-storage-queue", "azure-core", "croniter"):
        assert pins[name].startswith(f"{name}==")


def test_project_requirements_are_merged_into_the_pins(project: Path, tmp_path: Path) -> None:
    core = runtime_pins()["azure-core"].partition("==")[2]
    (project / "requirements.txt").write_text(
        f"# ours\nAzure_Core>={core}\nsome-library==1.0  # for the loader\n--index-url https://example.org/simple\n",
        encoding="utf-8",
    )
    text = member(build(project, tmp_path / "out")["tick"], "requirements.txt").decode()
    lines = text.splitlines()
    assert f"azure-core=={core}" in lines
    assert not any(line.lower().startswith("azure_core") for line in lines)
    assert lines[-2:] == ["some-library==1.0", "--index-url https://example.org/simple"]


def test_a_hash_checked_project_pin_equal_to_the_runtime_pin_is_no_conflict(
    project: Path, tmp_path: Path
) -> None:
    pin = runtime_pins()["croniter"]
    (project / "requirements.txt").write_text(f"{pin} --hash=sha256:{'0' * 64}\n", encoding="utf-8")
    text = member(build(project, tmp_path / "out")["tick"], "requirements.txt").decode()
    assert text.splitlines().count(pin) == 1


def test_project_requirement_conflicting_with_a_pin_is_reported(
    project: Path, tmp_path: Path
) -> None:
    (project / "requirements.txt").write_text("azure-storage-queue<12\n", encoding="utf-8")
    pin = runtime_pins()["azure-storage-queue"]
    expected = re.escape(f"line 1: 'azure-storage-queue<12' conflicts with {pin}")
    with pytest.raises(DeployError, match=expected):
        build(project, tmp_path / "out")


def test_project_file_named_like_a_generated_one_is_refused(project: Path, tmp_path: Path) -> None:
    (project / "host.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DeployError, match=r"'host\.json' comes from both the project folder"):
        build(project, tmp_path / "out")


def test_output_inside_the_project_is_refused(project: Path) -> None:
    with pytest.raises(DeployError, match="inside the project folder"):
        build(project, project / "dist-zips")
    build(project, project / ".portway" / "build")  # left out of the project: allowed


@pytest.mark.parametrize(
    ("version", "clause", "expected"),
    [
        ("1.41.0", ">=1.30", True),
        ("1.41.0", "<1.30", False),
        ("1.41.0", "==1.41", True),
        ("1.41.0", "==1.*", True),
        ("1.41.0", "!=1.41.0", False),
        ("1.41.0", "~=1.38", True),
        ("1.41.0", "~=1.38.1", False),
        ("1.41.0", ">=1.0rc1", False),  # not a plain release: reported, not guessed
    ],
)
def test_specifier_clauses_are_checked_against_the_pinned_version(
    version: str, clause: str, expected: bool
) -> None:
    assert satisfies(version, clause) is expected
