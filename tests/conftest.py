"""Fixtures shared by the core tests."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from portway.providers import reset_registry

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "lake-to-warehouse"
_INSTALLED = (str(REPO / "src"), str(REPO / "providers"), sys.prefix, sys.base_prefix)


@pytest.fixture(autouse=True)
def _isolate_user_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Forget user modules (``pipeline``...) a test imported, and the registry it built.

    The CLI imports the project's module by name, as it does once per process in real
    use; tests load many different ``pipeline.py`` files in one process.
    """
    before = set(sys.modules)
    path = list(sys.path)
    monkeypatch.delenv("PORTWAY_STAGE", raising=False)
    reset_registry()
    yield
    for name in set(sys.modules) - before:
        file = getattr(sys.modules[name], "__file__", None) or ""
        if file and not file.startswith(_INSTALLED):
            del sys.modules[name]
    sys.path[:] = path
    reset_registry()


@pytest.fixture
def example_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example project, as the current folder."""
    monkeypatch.chdir(EXAMPLE)
    return EXAMPLE


LOCAL_CONFIG = 'app = "pipeline:app"\n\n[stages.dev]\nprovider = "local"\n'


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Write a project (``pipeline.py`` + ``portway.toml``) in a temporary folder and cd there.

    Call it as ``project(pipeline_source, config=LOCAL_CONFIG)``.
    """

    def write(pipeline: str, config: str = LOCAL_CONFIG) -> Path:
        (tmp_path / "pipeline.py").write_text(textwrap.dedent(pipeline), encoding="utf-8")
        (tmp_path / "portway.toml").write_text(config, encoding="utf-8")
        monkeypatch.chdir(tmp_path)
        return tmp_path

    return write
