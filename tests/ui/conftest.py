"""Fixtures of the dashboard's tests: one ``portway run --ui`` shared by a module's tests.

The run is the real thing (tests/local/conftest.py's ``LocalRun``, loaded by path as
the test folders are not packages): the tests talk to it over HTTP as a page does.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

_spec = importlib.util.spec_from_file_location(
    "portway_tests_local_conftest", Path(__file__).parent.parent / "local" / "conftest.py"
)
assert _spec is not None
assert _spec.loader is not None
local_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(local_conftest)
LocalRun = local_conftest.LocalRun
wait_until = local_conftest._wait_until

PIPELINE = """
from portway import Message, ObjectEvent, Pipeline

app = Pipeline("dash")
drop = app.bucket("drop")
poison = app.queue("poison")


@app.on_object_created(drop, suffix=".csv")
def landed(event: ObjectEvent) -> None:
    record("landed", event.key)


@app.on_message(poison)
def explode(msg: Message) -> None:
    if msg.text().startswith("ok"):
        record("explode", msg.text())
        return
    raise ValueError("cannot digest this message")
"""


@dataclass
class Dashboard:
    """The dashboard of a running ``portway run --ui``."""

    run: Any
    url: str

    @property
    def port(self) -> int:
        return int(urlsplit(self.url).port or 0)

    @property
    def token(self) -> str:
        return urlsplit(self.url).query.removeprefix("token=")

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        token: bool = True,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request to ``/_portway<path>`` (``?token=`` added unless ``token=False``)."""
        target = "/_portway" + path
        if token:
            target += ("&" if "?" in target else "?") + "token=" + self.token
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, target, body=body, headers=headers or {})
            response = connection.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            connection.close()

    def json(self, path: str, **options: Any) -> tuple[int, Any]:
        status, _, body = self.request("GET", path, **options)
        return status, json.loads(body)

    def redrive(
        self, channel: str, ids: list[str] | None, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {
            "content-type": "application/json",
            "x-portway-token": self.token if token is None else token,
        }
        body = json.dumps({"channel": channel, "ids": ids}).encode()
        status, _, answer = self.request(
            "POST", "/api/dlq/redrive", headers=headers, body=body, token=False
        )
        return status, json.loads(answer)


def start_dashboard(root: Path, source: str = PIPELINE) -> Dashboard:
    (root / "pipeline.py").write_text(
        local_conftest.RECORDER + textwrap.dedent(source), encoding="utf-8"
    )
    (root / "portway.toml").write_text(local_conftest.STAGE_CONFIG, encoding="utf-8")
    run = LocalRun(root).start("--ui", "--port", "0")
    found: list[str] = []

    def printed() -> bool:
        match = re.search(r"dashboard: (http://\S+)", run.output())
        if match:
            found.append(match.group(1))
        return bool(match)

    wait_until(printed, 30, "the dashboard's URL")
    return Dashboard(run, found[0])


@pytest.fixture(name="start_dashboard")
def start_dashboard_fixture() -> Callable[..., Dashboard]:
    """``start_dashboard(root, source)``: start ``portway run --ui`` of ``source`` in ``root``."""
    return start_dashboard


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[[Callable[[], object], float, str], None]:
    return wait_until


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """``portway run --ui`` of a small pipeline (a bucket trigger, a poison queue)."""
    started = start_dashboard(tmp_path_factory.mktemp("dashboard"))
    yield started
    started.run.stop()
