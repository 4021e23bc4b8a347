"""A function: a user callable, the trigger that runs it, and what it may use."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from portway.model import limits
from portway.model.resources import Use
from portway.model.triggers import Trigger


@dataclass(frozen=True, slots=True)
class Function:
    """One deployable unit.

    ``name`` is the Python-friendly name (``pull_ftp``) used on the command line;
    ``resource_name`` (``pull-ftp``) is the portable form providers build names from.
    ``batch`` is true when the handler takes a ``list`` of events (declared in its
    signature); otherwise it is called once per event.
    ``timeout`` is in seconds, ``memory`` in MiB.
    """

    name: str
    app: str
    handler: Callable[..., Any] = field(compare=False, repr=False)
    trigger: Trigger
    uses: tuple[Use, ...] = ()
    batch: bool = False
    timeout: int = limits.DEFAULT_TIMEOUT
    memory: int = limits.DEFAULT_MEMORY
    environment: Mapping[str, str] = field(default_factory=dict, compare=False)
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False)

    @property
    def resource_name(self) -> str:
        return self.name.replace("_", "-")

    @property
    def entry_point(self) -> str:
        """``module:qualname`` of the handler, for providers' shims."""
        return f"{self.handler.__module__}:{self.handler.__qualname__}"
