"""The Cloud Run functions source zip: what goes in, reproducible bytes, the merged
requirements, and an unpacked zip that serves requests with the packaged portway.

No network: Google's build installs the requirements; here the unpacked zip runs on this
environment's installed libraries, with the zip's own ``portway`` and ``portway_gcp``
first on the path.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from portway_gcp.deploy import desired
from portway_gcp.package import MAIN, SourceArchive, build_source_archive

from portway.config import StageConfig, load_project
from portway.errors import ConfigError, DeployError
from portway.loading import load_pipeline

MODULE = "gcp_packaged_pipeline"

PIPELINE = """\
from portway import HttpRequest, Message, Pipeline

from etl.transform import lookup

app = Pipeline("packaged")
jobs = app.queue("jobs")


@app.on_message(jobs, batch_size=10)
def transform(batch: list[Message]) -> None:
    print("transformed", [m.json() for m in batch], flush=True)


@app.http("GET", "/status")
def status(req: HttpRequest) -> dict[str, str]:
    import portway

    return {"lookup": lookup(), "portway": portway.__file__}
"""

TRANSFORM = """\
from pathlib import Path


def lookup() -> str:
    return (Path(__file__).parent / "lookup.csv").read_text()
"""

CONFIG = f'app = "{MODULE}:app"\n\n[stages.gcp]\nprovider = "gcp"\nproject = "p"\nregion = "r"\n'

Build = Callable[..., SourceArchive]


@pytest.fixture(autouse=True)
def isolated_modules() -> Iterator[None]:
    """Forget the pipeline modules a test imported (each test has its own project)."""
    path = list(sys.path)
    yield
    for name in [MODULE, "etl", "etl.transform", "dist", "dist.steps"]:
        sys.modules.pop(name, None)
    sys.path[:] = path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    files = {
        "portway.toml": CONFIG,
        f"{MODULE}.py": PIPELINE,
        "etl/__init__.py": "",
        "etl/transform.py": TRANSFORM,
        "etl/lookup.csv": "code,name\n1,one\n",
        ".env": "SECRET=1\n",
        ".git/config": "[core]\n",
        ".gcloudignore": "*.csv\n",
        "__pycache__/pipeline.cpython-311.pyc": "",
        "etl/__pycache__/transform.cpython-311.pyc": "",
        "etl/stale.pyc": "",
        ".portway/dev/portway.db": "",
        ".venv/pyvenv.cfg": "",
        "tests/test_pipeline.py": "",
        "dist/old.zip": "",
        "build/lib/pipeline.py": "",
        "node_modules/x/index.js": "",
        "env311/pyvenv.cfg": "",
        "env311/lib/site.py": "",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def stage_of(project: Path) -> StageConfig:
    return load_project(project).stage("gcp")


@pytest.fixture
def build(tmp_path: Path) -> Build:
    outputs = iter(range(1000))

    def build(project: Path, output: Path | None = None) -> SourceArchive:
        stage = stage_of(project)
        assert stage.root is not None
        pipeline = load_pipeline(stage.app, stage.root)
        target = output or tmp_path / "out" / f"source-{next(outputs)}.zip"
        return build_source_archive(pipeline, stage, target)

    return build


def names(archive: SourceArchive) -> list[str]:
    with zipfile.ZipFile(archive.path) as opened:
        return opened.namelist()


def read(archive: SourceArchive, name: str) -> str:
    with zipfile.ZipFile(archive.path) as opened:
        return opened.read(name).decode("utf-8")


def pinned(archive: SourceArchive) -> dict[str, str]:
    """The ``name==version`` lines of the zip's requirements.txt, by name."""
    lines = read(archive, "requirements.txt").splitlines()
    pins = [line.partition("==") for line in lines if "==" in line and not line.startswith("#")]
    return {name: version for name, _, version in pins}


# -- reproducible bytes -----------------------------------------------------------------


def test_same_inputs_give_the_same_bytes(project: Path, build: Build) -> None:
    first, second = build(project), build(project)
    assert first.path != second.path
    data = first.path.read_bytes()
    assert data == second.path.read_bytes()
    assert first.sha256 == second.sha256 == hashlib.sha256(data).hexdigest()
    assert first.size == len(data)


def test_entries_are_sorted_files_with_fixed_time_mode_and_compression(
    project: Path, build: Build
) -> None:
    script = project / "etl" / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o775)
    (project / f"{MODULE}.py").chmod(0o600)
    with zipfile.ZipFile(build(project).path) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == sorted(info.filename for info in infos)
    assert not [info.filename for info in infos if info.is_dir()]
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.compress_type for info in infos} == {zipfile.ZIP_DEFLATED}
    assert {info.extra for info in infos} == {b""}
    modes = {info.filename: info.external_attr >> 16 for info in infos}
    assert modes["etl/run.sh"] == 0o100755
    assert modes[f"{MODULE}.py"] == modes["main.py"] == modes["requirements.txt"] == 0o100644
    assert set(modes.values()) <= {0o100644, 0o100755}


def test_touching_a_file_keeps_the_digest(project: Path, build: Build) -> None:
    before = build(project)
    os.utime(project / f"{MODULE}.py", (1_900_000_000, 1_900_000_000))
    assert build(project).sha256 == before.sha256


def test_changing_a_file_or_a_requirement_changes_the_digest(project: Path, build: Build) -> None:
    before = build(project)
    (project / "etl" / "lookup.csv").write_text("code,name\n1,uno\n")
    after_data = build(project)
    (project / "requirements.txt").write_text("purepkg==1.0\n")
    after_requirements = build(project)
    assert len({before.sha256, after_data.sha256, after_requirements.sha256}) == 3


# -- what goes in -----------------------------------------------------------------------


def test_project_code_and_data_go_in_and_the_rest_stays_out(project: Path, build: Build) -> None:
    entries = names(build(project))
    for name in (f"{MODULE}.py", "portway.toml", "etl/__init__.py", "etl/transform.py"):
        assert name in entries
    assert "etl/lookup.csv" in entries
    hidden = (".env", ".git/", ".gcloudignore", ".portway/", ".venv/")
    bytecode = ("__pycache__/", "etl/__pycache__/", "etl/stale.pyc")
    not_code = ("tests/", "dist/", "build/", "node_modules/", "env311/")
    assert not [n for n in entries if n.startswith(hidden + bytecode + not_code)]


def test_portway_and_the_shim_go_in_without_cli_local_testing_or_bytecode(
    project: Path, build: Build
) -> None:
    entries = names(build(project))
    for module in ("loading", "dataplane", "invocation", "events", "keys", "config"):
        assert f"portway/{module}.py" in entries
    for module in ("__init__", "main", "native_events", "naming"):
        assert f"portway_gcp/{module}.py" in entries
    left_out = ("portway/cli/", "portway/local/", "portway/testing/", "portway/__main__.py")
    assert not [n for n in entries if n.startswith((*left_out, "portway_gcp/testing/"))]
    assert not [n for n in entries if n.endswith(".pyc") or "__pycache__" in n]


def test_root_main_exposes_the_entry_point_deploy_names(project: Path, build: Build) -> None:
    archive = build(project)
    assert read(archive, "main.py").encode() == MAIN
    assert f"import {desired.ENTRY_POINT}" in read(archive, "main.py")


def test_runtime_requirements_are_pinned_to_the_installed_versions(
    project: Path, build: Build
) -> None:
    pins = pinned(build(project))
    for name in ("croniter", "google-cloud-pubsub", "google-cloud-storage", "protobuf"):
        assert pins[name] == importlib.metadata.version(name)
    assert pins["functions-framework"] == importlib.metadata.version("functions-framework")
    # The CLI's, the registry's, the local provider's and deploy's own needs stay out.
    assert not {"pluggy", "typer", "rich", "watchfiles", "google-cloud-functions"} & set(pins)
    assert not {"portway", "portway-gcp"} & set(pins)
    assert list(pins) == sorted(pins)


# -- the project's requirements ---------------------------------------------------------


def test_project_requirements_follow_the_pins_and_fold_into_them(
    project: Path, build: Build
) -> None:
    storage = importlib.metadata.version("google-cloud-storage")
    (project / "requirements.txt").write_text(
        "# what the transform needs\n"
        "pandas==2.2.2  # data frames\n"
        "google-cloud-storage[tracing]>=2 \\\n"
        "    ; python_version >= '3.8'\n"
        "--extra-index-url https://example.org/simple\n"
        "winonly==1.0 ; sys_platform == 'win32'\n"
    )
    text = read(build(project), "requirements.txt")
    lines = text.splitlines()
    assert f"google-cloud-storage[tracing]=={storage}" in lines
    assert lines[lines.index("# From the project's requirements.txt:") + 1 :] == [
        "pandas==2.2.2",
        f"# google-cloud-storage[tracing]>=2     ; python_version >= '3.8'  (line 3: "
        f"google-cloud-storage=={storage} satisfies it)",
        "--extra-index-url https://example.org/simple",
        "winonly==1.0 ; sys_platform == 'win32'",
    ]


def test_a_requirement_that_excludes_a_pinned_version_names_file_line_and_fix(
    project: Path, build: Build
) -> None:
    requests = importlib.metadata.version("requests")
    (project / "requirements.txt").write_text("pandas\nrequests<2\n")
    with pytest.raises(DeployError) as raised:
        build(project)
    message = str(raised.value)
    assert f"{project / 'requirements.txt'}, line 2: 'requests<2' conflicts with " in message
    assert f"requests=={requests}" in message
    assert f"allow {requests} in that line, or install the version you need" in message


def test_requiring_portway_itself_is_refused(project: Path, build: Build) -> None:
    (project / "requirements.txt").write_text("portway-gcp>=0.1\n")
    with pytest.raises(DeployError, match=r"line 1: 'portway-gcp>=0.1'.*remove the line"):
        build(project)


def test_hash_checking_is_refused(project: Path, build: Build) -> None:
    (project / "requirements.txt").write_text("pandas==2.2.2 --hash=sha256:00\n")
    with pytest.raises(DeployError, match=r"line 1: .*hash checking.*remove the hashes"):
        build(project)


def test_an_unreadable_requirement_line_names_it(project: Path, build: Build) -> None:
    (project / "requirements.txt").write_text("pandas\nrequests=>2\n")
    with pytest.raises(DeployError, match=r"line 2: 'requests=>2' is not a requirement pip"):
        build(project)


def test_requirements_that_cannot_be_read_name_the_file(project: Path, build: Build) -> None:
    (project / "requirements.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(DeployError, match=r"requirements\.txt is not UTF-8 text.*save it as"):
        build(project)
    (project / "requirements.txt").unlink()
    (project / "requirements.txt").mkdir()
    with pytest.raises(DeployError, match=r"cannot read .*requirements\.txt: Is a directory"):
        build(project)


def test_an_included_requirements_file_must_be_in_the_zip(project: Path, build: Build) -> None:
    (project / "requirements.txt").write_text("-r requirements/base.txt\n")
    with pytest.raises(ConfigError, match=r"includes requirements/base\.txt, which is not in"):
        build(project)
    (project / "requirements" / "base.txt").parent.mkdir()
    (project / "requirements" / "base.txt").write_text("pandas\n")
    archive = build(project)
    assert "requirements/base.txt" in names(archive)
    assert "-r requirements/base.txt" in read(archive, "requirements.txt").splitlines()


# -- refusals at the boundary -----------------------------------------------------------


def test_a_project_main_py_is_refused_with_the_fix(project: Path, build: Build) -> None:
    (project / "main.py").write_text("print('mine')\n")
    with pytest.raises(DeployError, match=r"'main\.py' comes from both the project.*rename"):
        build(project)


def test_a_missing_app_module_names_the_config(project: Path, tmp_path: Path) -> None:
    stage = stage_of(project)
    assert stage.root is not None
    pipeline = load_pipeline(stage.app, stage.root)
    (project / f"{MODULE}.py").rename(project / ".hidden.py")
    with pytest.raises(ConfigError, match=rf"no module '{MODULE}'.*check 'app' in portway\.toml"):
        build_source_archive(pipeline, stage, tmp_path / "source.zip")


def test_a_handler_in_a_left_out_folder_is_refused(project: Path, build: Build) -> None:
    (project / "dist" / "steps.py").write_text(
        "from portway import ScheduleEvent\n\ndef tick(event: ScheduleEvent) -> None: ...\n"
    )
    (project / "dist" / "__init__.py").write_text("")
    (project / f"{MODULE}.py").write_text(
        PIPELINE + "\nfrom dist.steps import tick\n\napp.schedule('rate(1 hour)')(tick)\n"
    )
    with pytest.raises(ConfigError, match=r"'tick' is defined in dist/steps\.py, which"):
        build(project)


def test_a_stage_without_a_project_folder_is_refused(project: Path, tmp_path: Path) -> None:
    stage = stage_of(project)
    assert stage.root is not None
    pipeline = load_pipeline(stage.app, stage.root)
    with pytest.raises(ConfigError, match=r"stage 'gcp' has no project folder"):
        build_source_archive(pipeline, StageConfig("gcp", "gcp"), tmp_path / "source.zip")


def test_output_inside_the_project_is_refused_unless_left_out(project: Path, build: Build) -> None:
    with pytest.raises(DeployError, match=r"inside the project folder"):
        build(project, project / "source.zip")
    archive = build(project, project / ".portway" / "build" / "source.zip")
    assert not [n for n in names(archive) if n.endswith("source.zip")]


# -- the unpacked zip serves --------------------------------------------------------------


def _environment(unpacked: Path, function: str) -> dict[str, str]:
    """What deploy sets, with the unpacked zip first on the path (before this venv's)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PORTWAY_")}
    environment.update(
        PYTHONPATH=str(unpacked),
        PORTWAY_APP=f"{MODULE}:app",
        PORTWAY_FUNCTION=function,
        PORTWAY_STAGE="gcp",
        PORTWAY_GCP_RESOURCES="{}",
    )
    return environment


@pytest.fixture
def unpacked(project: Path, build: Build, tmp_path: Path) -> Path:
    folder = tmp_path / "workspace"
    with zipfile.ZipFile(build(project).path) as archive:
        archive.extractall(folder)
    return folder


def test_unpacked_zip_imports_main_and_handles_requests_with_its_own_portway(
    unpacked: Path,
) -> None:
    script = textwrap.dedent(
        """
        import base64, json, sys
        from werkzeug.test import EnvironBuilder
        from werkzeug.wrappers import Request

        import main, portway, portway_gcp

        def call(**request):
            body, status, _headers = main.handle(Request(EnvironBuilder(**request).get_environ()))
            return status, body.decode()

        if sys.argv[1] == "status":
            result = call(method="GET", path="/status")
        else:
            message = {"data": base64.b64encode(b'{"n": 1}').decode(), "attributes":
                {"portway-content-type": "application/json"}, "messageId": "1",
                "publishTime": "2021-02-26T19:13:55.749Z"}
            push = {"message": message, "subscription": "projects/p/subscriptions/s"}
            result = call(method="POST", data=json.dumps(push), content_type="application/json")
        files = [main.__file__, portway.__file__, portway_gcp.__file__]
        print(json.dumps({"result": result, "files": files}))
        """
    )
    reports = {}
    for function in ("status", "transform"):
        finished = subprocess.run(
            [sys.executable, "-c", script, function],
            cwd=unpacked,  # Cloud Run functions runs in the source folder
            env=_environment(unpacked, function),
            capture_output=True,
            text=True,
            check=False,
        )
        assert finished.returncode == 0, finished.stderr
        reports[function] = json.loads(finished.stdout.splitlines()[-1])
        assert all(Path(f).is_relative_to(unpacked) for f in reports[function]["files"])
    status, body = reports["status"]["result"]
    assert status == 200
    assert json.loads(body) == {
        "lookup": "code,name\n1,one\n",
        "portway": str(unpacked / "portway" / "__init__.py"),
    }
    assert reports["transform"]["result"] == [200, ""]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_functions_framework_serves_the_unpacked_zip(unpacked: Path, tmp_path: Path) -> None:
    """As Cloud Run functions does: functions-framework with main.py and target handle."""
    framework = Path(sys.executable).with_name("functions-framework")
    if not framework.exists():
        pytest.fail(f"functions-framework is not installed beside {sys.executable}")
    port = _free_port()
    command = [str(framework), "--source", str(unpacked / "main.py"), "--target", "handle"]
    log = tmp_path / "functions-framework.log"
    with log.open("wb") as stream:
        server = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            cwd=unpacked,
            env=_environment(unpacked, "status"),
            stdout=stream,
            stderr=stream,
        )
    try:
        answer = _get_when_up(f"http://127.0.0.1:{port}/status", server, log)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert answer["portway"] == str(unpacked / "portway" / "__init__.py")


def _get_when_up(url: str, server: subprocess.Popen[bytes], log: Path) -> dict[str, str]:
    """GET ``url`` once the server listens: polled with a 30 s deadline."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return dict(json.loads(response.read()))
        except (urllib.error.URLError, ConnectionError):
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"functions-framework did not serve {url}: {log.read_text()}"
                ) from None
            time.sleep(0.1)


def test_the_example_builds_byte_identical_twice(tmp_path: Path) -> None:
    example = Path(__file__).parents[3] / "examples" / "lake-to-warehouse"
    stage = load_project(example).stage("gcp")
    assert stage.root is not None
    pipeline = load_pipeline(stage.app, stage.root)
    try:
        first = build_source_archive(pipeline, stage, tmp_path / "first.zip")
        second = build_source_archive(pipeline, stage, tmp_path / "second.zip")
    finally:
        sys.modules.pop("pipeline", None)
    assert first.path.read_bytes() == second.path.read_bytes()
    entries = names(first)
    assert {"main.py", "requirements.txt", "pipeline.py", "portway.toml"} <= set(entries)
    assert first.sha256 == hashlib.sha256(second.path.read_bytes()).hexdigest()
