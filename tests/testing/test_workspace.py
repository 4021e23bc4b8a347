"""WorkspaceHarness: the folder, environment, logs and HTTP every harness shares."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portway.testing.harness import DeadLetter, HttpReply
from portway.testing.workspace import (
    HarnessError,
    WorkspaceHarness,
    copy_pipeline_module,
    request_local,
)


class BareHarness(WorkspaceHarness):
    """Only the workspace: the provider-specific methods are not used here."""

    provider = "local"
    workspace_prefix = "portway-bare-"

    def start(self, app: str, pipeline: Any) -> None:
        self.open_workspace()

    def dead_letters(self, source: str) -> list[DeadLetter]:
        return []

    def http(self, method: str, path: str, **_: Any) -> HttpReply:
        raise NotImplementedError

    def stop(self) -> None:
        self.close_workspace()


def test_name_and_capabilities_are_the_registered_providers() -> None:
    from portway.providers import registry

    harness = BareHarness()
    assert harness.name == "local"
    assert harness.capabilities == registry().spec("local").capabilities


class Closing:
    """A data plane's stand-in: only binding and closing are exercised here."""

    closed = False

    def close(self) -> None:
        self.closed = True


def test_connect_binds_the_data_plane_start_set_and_refuses_before() -> None:
    from portway.dataplane import current

    harness = BareHarness()
    with pytest.raises(HarnessError, match="the local harness is not started"), harness.connect():
        pass
    plane = Closing()
    harness.dataplane = plane  # type: ignore[assignment]
    with harness.connect() as binding:
        assert current("test").clients is plane
        assert binding.clients is plane
    harness.close_dataplane()
    assert plane.closed
    assert harness.dataplane is None


def test_the_workspace_is_a_fresh_folder_removed_at_close() -> None:
    harness = BareHarness()
    folder = harness.open_workspace()
    assert folder.is_dir()
    assert folder.name.startswith("portway-bare-")
    (folder / "deploy.log").write_text("deployed\n")
    harness.close_workspace()
    assert not folder.exists()
    harness.close_workspace()  # twice is fine


def test_keep_leaves_the_folder_to_inspect() -> None:
    harness = BareHarness(keep=True)
    folder = harness.open_workspace()
    harness.close_workspace()
    assert folder.is_dir()
    folder.rmdir()


def test_environment_changes_last_until_close(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTWAY_TEST_PROFILE", "mine")
    monkeypatch.delenv("PORTWAY_TEST_KEY", raising=False)
    harness = BareHarness()
    harness.open_workspace()
    harness.set_environment({"PORTWAY_TEST_PROFILE": None, "PORTWAY_TEST_KEY": "testing"})
    harness.set_environment({"PORTWAY_TEST_KEY": "again"})  # the first saved value wins
    assert "PORTWAY_TEST_PROFILE" not in os.environ
    assert os.environ["PORTWAY_TEST_KEY"] == "again"
    harness.close_workspace()
    assert os.environ["PORTWAY_TEST_PROFILE"] == "mine"
    assert "PORTWAY_TEST_KEY" not in os.environ


def test_diagnostics_show_the_tail_of_each_non_empty_log() -> None:
    harness = BareHarness()
    assert harness.diagnostics() == ""
    folder = harness.open_workspace()
    (folder / "b.log").write_text("".join(f"line {n}\n" for n in range(100)))
    (folder / "a.log").write_text("started\n")
    (folder / "empty.log").write_text("  \n")
    (folder / "notes.txt").write_text("not a log\n")
    try:
        tails = harness.log_tails(lines=2)
        assert tails == ["a.log:\nstarted", "b.log:\nline 98\nline 99"]
        assert harness.diagnostics().startswith("a.log:\nstarted\nb.log:\n")
    finally:
        harness.close_workspace()


class Echo(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(418)
        self.send_header("X-Seen", self.headers.get("X-Token", ""))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_local_request_returns_the_reply_whatever_its_status(echo_port: int) -> None:
    reply = request_local(echo_port, "POST", "/x?y=1", body=b"hi", headers={"X-Token": "t"})
    assert reply.status == 418
    assert reply.headers["x-seen"] == "t"
    assert reply.body == b"hi"


def test_the_pipeline_module_is_copied_as_a_top_level_module(tmp_path: Path) -> None:
    app = copy_pipeline_module("portway.testing.conformance_pipeline:app", tmp_path)
    assert app == "conformance_pipeline:app"
    assert (tmp_path / "conformance_pipeline.py").read_text().startswith('"""')
    assert copy_pipeline_module("portway.testing.conformance_pipeline", tmp_path).endswith(":app")


def test_a_module_without_a_source_file_cannot_be_copied(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="cannot find the source file of 'no_such_module'"):
        copy_pipeline_module("no_such_module:app", tmp_path)
