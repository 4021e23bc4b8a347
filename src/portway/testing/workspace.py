"""What every conformance harness does around the provider's own work.

A harness (:class:`~portway.testing.harness.Harness`) runs the conformance pipeline on
its provider. Whatever the provider, it works in a temporary folder of its own (the
project it deploys, the logs its players and workers write), may need a few
environment variables while it runs (fixed credentials for an emulator), sends HTTP
requests to a port on this machine where the deployed routes are served, and shows the
tails of its logs under a failed test. :class:`WorkspaceHarness` does these once;
:func:`copy_pipeline_module` puts the pipeline's module in the project it deploys.

Porting a harness: subclass :class:`WorkspaceHarness` instead of ``Harness``; set
``provider`` and ``workspace_prefix``; call ``super().__init__(keep=keep)``. In
``start``, :meth:`~WorkspaceHarness.open_workspace` (and
:meth:`~WorkspaceHarness.set_environment`), and set :attr:`~WorkspaceHarness.dataplane`;
in ``stop``, :meth:`~WorkspaceHarness.close_dataplane` then
:meth:`~WorkspaceHarness.close_workspace`; before ``start``, raise
:meth:`~WorkspaceHarness.not_started`. Build ``diagnostics`` on
:meth:`~WorkspaceHarness.log_tails` and ``http`` on :func:`request_local`. Delete the
``name`` and ``capabilities`` properties, ``connect``, and the copies of all these and
of ``copy_pipeline_module``.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from portway.errors import PortwayError
from portway.testing.harness import Harness, HttpReply, tail

if TYPE_CHECKING:
    from portway.capabilities import Capabilities
    from portway.dataplane import Binding, DataPlane


class HarnessError(PortwayError):
    """The pipeline could not be deployed or run by a harness (its logs attached)."""


class WorkspaceHarness(Harness):
    """A :class:`Harness` working in a temporary folder it owns.

    ``keep``: leave the folder behind after :meth:`close_workspace`, to inspect.
    :attr:`name` and :attr:`capabilities` are those of the registered provider
    :attr:`provider` (a subclass may override either).
    """

    #: The registered provider the harness runs (``"aws"``).
    provider: ClassVar[str] = ""
    #: How the temporary folder's name starts (``portway-aws-conformance-``).
    workspace_prefix: ClassVar[str] = "portway-conformance-"

    @property
    def name(self) -> str:
        return self.provider

    @property
    def capabilities(self) -> Capabilities:
        from portway.providers import registry

        return registry().spec(self.provider).capabilities

    def __init__(self, *, keep: bool = False) -> None:
        self.keep = keep
        self.folder: Path | None = None
        #: The deployed pipeline's data plane, set by ``start`` (``provider.connect``).
        self.dataplane: DataPlane | None = None
        self._saved_environment: dict[str, str | None] = {}

    def not_started(self) -> HarnessError:
        """The error a method raises when called before :meth:`start`."""
        return HarnessError(f"the {self.name} harness is not started: call start() first")

    @contextlib.contextmanager
    def connect(self) -> Iterator[Binding]:
        """Bind data-plane calls in the block to :attr:`dataplane`."""
        from portway.dataplane import bind

        if self.dataplane is None:
            raise self.not_started()
        with bind(self.dataplane) as binding:
            yield binding

    def close_dataplane(self) -> None:
        """Close :attr:`dataplane` (if it has ``close()``) and forget it."""
        close = getattr(self.dataplane, "close", None)
        if callable(close):
            close()
        self.dataplane = None

    def open_workspace(self) -> Path:
        """Create a fresh temporary folder, now :attr:`folder`, and return it."""
        self.folder = Path(tempfile.mkdtemp(prefix=self.workspace_prefix))
        return self.folder

    def set_environment(self, changes: Mapping[str, str | None]) -> None:
        """Set (``None``: unset) variables of this process until :meth:`close_workspace`."""
        for name, value in changes.items():
            self._saved_environment.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def close_workspace(self) -> None:
        """Restore the environment and remove the folder (unless ``keep``). Idempotent."""
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment = {}
        if self.folder is not None and not self.keep:
            shutil.rmtree(self.folder, ignore_errors=True)

    def log_tails(self, lines: int = 30, pattern: str = "*.log") -> list[str]:
        """``"<name>:\\n<last lines>"`` of each non-empty log in the folder, by name."""
        if self.folder is None:
            return []
        parts = []
        for path in sorted(self.folder.glob(pattern)):
            with contextlib.suppress(OSError):
                text = path.read_text(encoding="utf-8", errors="replace")
                if text.strip():
                    parts.append(f"{path.name}:\n{tail(text, lines)}")
        return parts

    def diagnostics(self) -> str:
        return "\n".join(self.log_tails())


def request_local(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> HttpReply:
    """Send one request to ``127.0.0.1:port``; the reply, whatever its status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return HttpReply(
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            response.read(),
        )
    finally:
        connection.close()


def copy_pipeline_module(app: str, project: Path) -> str:
    """Copy ``app``'s module into ``project`` as a top-level module; return the new ``app``.

    A provider's artifact leaves ``portway.testing`` out, so the conformance pipeline
    travels as the project's own code. The module must import only installed packages
    (the conformance pipeline imports public ``portway`` names only).
    """
    module, _, attribute = app.partition(":")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise HarnessError(f"cannot find the source file of {module!r} to deploy it")
    top_level = module.rpartition(".")[2]
    shutil.copyfile(spec.origin, project / f"{top_level}.py")
    return f"{top_level}:{attribute or 'app'}"
