"""Test helpers for provider authors: checks every provider distribution must pass.

A provider's test module subclasses :class:`ProviderPackageChecks` and names its
provider; pytest then runs every check against it::

    from portway.testing import ProviderPackageChecks

    class TestNimbusPackage(ProviderPackageChecks):
        provider = "nimbus"
        factory = "portway_nimbus.provider:NimbusProvider"

The behavioural conformance suite (delivery, retries, dead letters...) joins this
package with the local runtime.
"""

from __future__ import annotations

from portway.testing.package_checks import ProviderPackageChecks

__all__ = ["ProviderPackageChecks"]
