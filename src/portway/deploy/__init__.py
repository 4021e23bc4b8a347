"""Deployment as pure stages: desired -> observe -> plan -> apply -> record.

This package holds the provider-neutral pieces: the frozen :class:`Plan` a provider's
planner returns and the executors' contract. Providers implement the stages for their
resources (see each provider's ``deploy`` package).
"""

from __future__ import annotations

from portway.deploy.plan import Change, ChangeKind, Plan

__all__ = ["Change", "ChangeKind", "Plan"]
