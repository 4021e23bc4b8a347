"""The plan: what a deploy or destroy would change, as frozen data.

A provider's planner is a pure function ``(desired, observed) -> Plan``; ``portway
plan`` displays it, ``portway deploy`` hands it to an executor. An empty plan means
nothing to do, and a second deploy with no change must produce one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ChangeKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Change:
    """One change to one provider resource.

    ``resource_type`` is the provider's own (``aws:sqs:queue``); ``name`` its
    provider-side name; ``neutral`` the pipeline resource or function it serves;
    ``details`` what differs, for display (``{"visibility_timeout": [30, 60]}``).
    """

    kind: ChangeKind
    resource_type: str
    name: str
    neutral: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    """The ordered changes of one deploy or destroy of ``app`` on ``stage``."""

    app: str
    stage: str
    provider: str
    changes: tuple[Change, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "stage": self.stage,
            "provider": self.provider,
            "changes": [
                {
                    "kind": str(c.kind),
                    "resource_type": c.resource_type,
                    "name": c.name,
                    "neutral": c.neutral,
                    "details": dict(c.details),
                }
                for c in self.changes
            ],
        }
