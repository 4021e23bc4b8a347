"""``portway conformance --provider NAME``: the suite against an installed provider."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from portway.cli.main import app
from portway.hookspec import hookimpl
from portway.local.plugin import CAPABILITIES
from portway.providers import Provider, ProviderSpec, registry

runner = CliRunner()


def test_conformance_runs_the_suite_on_the_local_provider(tmp_path: Path) -> None:
    # A subset keeps this test short; tests/local/test_conformance_local.py runs it all.
    command = [sys.executable, "-m", "portway", "conformance", "--provider", "local"]
    command += ["-k", "delivered_with_its_id or status_headers or unsafe", "-v"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "portway conformance: provider 'local'" in result.stdout
    assert "test_queue_message_is_delivered_with_its_id_body_and_attributes PASSED" in (
        result.stdout
    )
    assert "11 passed" in result.stdout
    assert list(tmp_path.iterdir()) == [], "the run leaves nothing in the current folder"


def test_conformance_exits_with_pytests_code_when_no_test_matches(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "portway", "conformance", "-p", "local", "-k", "nothing"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert result.returncode == 5, result.stdout + result.stderr  # pytest: no tests ran


def test_conformance_of_a_provider_not_installed_is_one_line() -> None:
    result = runner.invoke(app, ["conformance", "--provider", "nimbus"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "provider 'nimbus' is not installed" in result.stderr


class HarnesslessProvider(Provider):
    """A provider that offers no conformance harness (the default)."""


class HarnesslessPlugin:
    @hookimpl
    def portway_providers(self) -> list[ProviderSpec]:
        return [ProviderSpec("harnessless", CAPABILITIES, f"{__name__}:HarnesslessProvider")]


def test_conformance_of_a_provider_without_a_harness_says_so_and_exits_2() -> None:
    registry().register(HarnesslessPlugin(), name="harnessless")
    result = runner.invoke(app, ["conformance", "--provider", "harnessless"])
    assert result.exit_code == 2
    assert "provider 'harnessless' does not offer a conformance harness" in result.stderr


def test_conformance_without_pytest_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "pytest" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    result = runner.invoke(app, ["conformance", "--provider", "local"])
    assert result.exit_code == 2
    assert "pip install 'portway[testing]'" in result.stderr
