"""The builtin ``local`` provider passes the checks every provider distribution passes."""

from __future__ import annotations

from portway.testing import ProviderPackageChecks


class TestLocalPackage(ProviderPackageChecks):
    provider = "local"
    factory = "portway.local.provider:LocalProvider"
