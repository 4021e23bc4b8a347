"""What a conformance test needs from a provider, and why a test is skipped.

As SQLAlchemy's ``SuiteRequirements`` gate its dialect suite: each test names what it
needs (``@requires(Feature.DEAD_LETTERS)``), and a provider that does not declare it
(its :class:`~portway.capabilities.Capabilities`) gets the test *skipped with the
reason*, never passed. A harness may also name features it cannot exercise
(:attr:`~portway.testing.harness.Harness.untestable`), with its own reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from portway.capabilities import Feature

if TYPE_CHECKING:
    import pytest

    from portway.capabilities import Capabilities

MARKER = "portway_requires"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One thing a test needs. ``unmet`` returns why a provider falls short, or ``None``."""

    description: str
    check: Callable[[Capabilities], str | None]
    feature: Feature | None = None

    def unmet(
        self,
        provider: str,
        capabilities: Capabilities,
        untestable: Mapping[Feature, str] | None = None,
    ) -> str | None:
        """Why ``provider`` cannot run a test needing this, or ``None`` if it can."""
        shortfall = self.check(capabilities)
        if shortfall is not None:
            return f"provider {provider!r} {shortfall}"
        if self.feature is not None and untestable and self.feature in untestable:
            return (
                f"provider {provider!r}: feature {str(self.feature)!r} is not testable by "
                f"its harness: {untestable[self.feature]}"
            )
        return None


def feature(needed: Feature | str) -> Requirement:
    """The provider declares ``needed`` in its capabilities' ``features``."""
    wanted = Feature(needed)

    def check(capabilities: Capabilities) -> str | None:
        if capabilities.supports(wanted):
            return None
        return f"does not declare feature {str(wanted)!r}"

    return Requirement(f"feature {str(wanted)!r}", check, wanted)


def at_least(limit: str, minimum: int) -> Requirement:
    """The provider's capability ``limit`` (a number, like ``max_batch_size``) is >= ``minimum``."""

    def check(capabilities: Capabilities) -> str | None:
        value = getattr(capabilities, limit)
        if value >= minimum:
            return None
        return f"declares {limit} = {value}, the test needs at least {minimum}"

    return Requirement(f"{limit} >= {minimum}", check)


def requirement(needed: Requirement | Feature | str) -> Requirement:
    return needed if isinstance(needed, Requirement) else feature(needed)


def requires(*needed: Requirement | Feature | str) -> pytest.MarkDecorator:
    """Mark a test as needing every one of ``needed`` (features or :func:`at_least`)."""
    import pytest

    marker: pytest.MarkDecorator = getattr(pytest.mark, MARKER)
    return marker.with_args(*(requirement(n) for n in needed))


def unmet(
    needed: Iterable[Requirement | Feature | str],
    provider: str,
    capabilities: Capabilities,
    untestable: Mapping[Feature, str] | None = None,
) -> list[str]:
    """The reasons ``provider`` cannot run a test that needs ``needed`` (empty: it can)."""
    reasons = (requirement(n).unmet(provider, capabilities, untestable) for n in needed)
    return [reason for reason in reasons if reason is not None]
