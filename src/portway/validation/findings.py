"""A finding: one thing ``portway validate`` has to say about one target."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """``error``: would not deploy or would behave differently; exit 1.
    ``warning``: runs, but not as on the other providers. ``info``: worth knowing."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    """``target`` names what it is about: ``function transform``, ``queue jobs``.

    ``provider`` is the provider checked, or ``"*"`` for a finding that holds on every
    provider. ``rule`` is a stable identifier (``batch-size``) for filtering.
    """

    provider: str
    target: str
    rule: str
    severity: Severity
    message: str

    def to_json(self) -> dict[str, str]:
        return {
            "provider": self.provider,
            "target": self.target,
            "rule": self.rule,
            "severity": str(self.severity),
            "message": self.message,
        }
