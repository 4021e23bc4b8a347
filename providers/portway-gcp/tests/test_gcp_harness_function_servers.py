"""The harness serves a function from its source zip with functions-framework, as Cloud Run does.

Each server is a real ``functions-framework`` process: the zip's own code runs (its
folder comes first on the path), with the environment the function was deployed with,
and stopping a server leaves no process behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from portway_gcp.testing.function_servers import (
    FunctionServer,
    FunctionServerError,
    start_servers,
    stop_servers,
    unpack_source,
)

MAIN = """
import os, sys, json
import portway

def handle(request):
    document = {
        "mark": portway.MARK,
        "variable": os.environ.get("DEPLOYED_VARIABLE"),
        "service": os.environ.get("K_SERVICE"),
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "path": request.path,
    }
    return json.dumps(document), 200, {"content-type": "application/json"}
"""


def source_zip(folder: Path, files: dict[str, str]) -> tuple[Path, str]:
    """A source zip holding ``files``; returns its path and SHA-256."""
    path = folder / "source.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """An unpacked zip whose ``portway`` shadows the installed one."""
    path, digest = source_zip(
        tmp_path, {"main.py": MAIN, "portway/__init__.py": 'MARK = "from the zip"\n'}
    )
    return unpack_source(path, digest, tmp_path / "unpacked")


def get(url: str) -> tuple[int, dict[str, object]]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return int(response.status), json.loads(response.read())


def server(source: Path, tmp_path: Path, name: str, variable: str) -> FunctionServer:
    return FunctionServer(
        name,
        source=source,
        entry_point="handle",
        environment={"DEPLOYED_VARIABLE": variable},
        log_path=tmp_path / f"{name}.log",
    )


def test_unpacking_refuses_a_zip_that_is_not_the_deployed_one(tmp_path: Path) -> None:
    path, _ = source_zip(tmp_path, {"main.py": MAIN})
    with pytest.raises(FunctionServerError, match="SHA-256"):
        unpack_source(path, "0" * 64, tmp_path / "unpacked")


def test_unpacking_refuses_a_zip_without_main_py(tmp_path: Path) -> None:
    path, digest = source_zip(tmp_path, {"handler.py": MAIN})
    with pytest.raises(FunctionServerError, match=r"no main\.py"):
        unpack_source(path, digest, tmp_path / "unpacked")


def test_servers_run_the_zip_code_with_their_deployed_environment(
    source: Path, tmp_path: Path
) -> None:
    first = server(source, tmp_path, "first", "one")
    second = server(source, tmp_path, "second", "two")
    start_servers([first, second])
    try:
        status, seen = get(f"{first.url}/anything")
        assert status == 200
        assert seen["mark"] == "from the zip"  # not the installed portway
        assert seen["variable"] == "one"
        assert seen["service"] == "first"
        assert seen["cwd"] == str(source)
        assert seen["path"] == "/anything"
        assert get(second.url)[1]["variable"] == "two"
    finally:
        stop_servers([first, second])


def test_a_stopped_server_leaves_no_process_and_closes_its_port(
    source: Path, tmp_path: Path
) -> None:
    only = server(source, tmp_path, "only", "x")
    start_servers([only])
    worker = int(str(get(only.url)[1]["pid"]))  # gunicorn's worker, a child of the server
    only.stop()
    assert not only.running
    with pytest.raises(urllib.error.URLError):
        get(only.url)
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)


def test_a_server_that_cannot_import_its_source_fails_with_its_log_and_stops_the_rest(
    tmp_path: Path, source: Path
) -> None:
    path, digest = source_zip(tmp_path, {"main.py": "import no_such_module\n"})
    broken_source = unpack_source(path, digest, tmp_path / "broken")
    healthy = server(source, tmp_path, "healthy", "x")
    broken = server(broken_source, tmp_path, "broken", "x")
    with pytest.raises(FunctionServerError, match="no_such_module") as failure:
        start_servers([healthy, broken], timeout=60)
    assert "'broken' exited" in str(failure.value)
    assert not healthy.running
