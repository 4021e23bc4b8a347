"""Fixtures of portway-aws's tests: a real moto server, started once per session.

Adapters are tested over the wire against ``moto_server`` (pinned in the workspace's
dev dependencies), never against a hand-written fake of boto3. The server starts on a
free port; with ``CI=true`` a missing ``moto_server`` fails the run instead of skipping.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator

import pytest
from portway_aws.testing.moto import MotoServer, moto_server_executable

REGION = "eu-west-1"
# moto accepts any credentials; fixed ones keep every test off the user's real profile.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a moto server running for the whole session."""
    if moto_server_executable() is None:
        message = "moto_server is not installed: run 'make test' (it installs moto[server])"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto_server.log")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def moto(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A moto server emptied for this test, with boto3 pointed at it by the environment.

    Sets fixed credentials, the region and ``AWS_ENDPOINT_URL`` (boto3 reads it for
    every service), so code under test needs no endpoint argument.
    """
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    return moto_endpoint
