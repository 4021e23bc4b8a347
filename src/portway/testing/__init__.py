"""Test helpers for provider authors: package checks and the conformance suite.

A provider's test module subclasses :class:`ProviderPackageChecks` and names its
provider; pytest then runs every check against it::

    from portway.testing import ProviderPackageChecks

    class TestNimbusPackage(ProviderPackageChecks):
        provider = "nimbus"
        factory = "portway_nimbus.provider:NimbusProvider"

The behavioural conformance suite (:mod:`portway.testing.suite`: delivery, retries,
dead letters, fan-out, object filters, schedules, HTTP, what is refused) runs against
any provider through a :class:`Harness`; a backend runs it with a session fixture
``portway_harness`` and ``from portway.testing.suite import *``. See
``docs/conformance.md``.

Names are imported on first use: the pytest plugin (:mod:`portway.testing.plugin`) is
loaded by every pytest session and must stay cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portway.testing.harness import DeadLetter, Harness, HttpReply, wait_for
    from portway.testing.local_harness import LocalHarness
    from portway.testing.package_checks import ProviderPackageChecks
    from portway.testing.requirements import Requirement, at_least, requires, unmet
    from portway.testing.run import ConformanceRun, feeds

__all__ = [
    "ConformanceRun",
    "DeadLetter",
    "Harness",
    "HttpReply",
    "LocalHarness",
    "ProviderPackageChecks",
    "Requirement",
    "at_least",
    "feeds",
    "requires",
    "unmet",
    "wait_for",
]

_HOMES = {
    "ConformanceRun": "run",
    "DeadLetter": "harness",
    "Harness": "harness",
    "HttpReply": "harness",
    "LocalHarness": "local_harness",
    "ProviderPackageChecks": "package_checks",
    "Requirement": "requirements",
    "at_least": "requirements",
    "feeds": "run",
    "requires": "requirements",
    "unmet": "requirements",
    "wait_for": "harness",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'portway.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(f"portway.testing.{home}"), name)
