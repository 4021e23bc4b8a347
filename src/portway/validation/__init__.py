"""Portability findings: what would not run unchanged on a provider.

:func:`validate` runs the builtin rules (:mod:`portway.validation.rules`, registered as
a plugin like any other) and every plugin's ``portway_validate`` hook against each
provider's declared capabilities.
"""

from __future__ import annotations

from portway.validation.findings import Finding, Severity
from portway.validation.runner import validate

__all__ = ["Finding", "Severity", "validate"]
