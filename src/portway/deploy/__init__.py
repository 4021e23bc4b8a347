"""Deployment as pure stages: desired -> observe -> plan -> apply -> record.

This package holds the provider-neutral pieces, which every provider uses:

* :mod:`~portway.deploy.plan`: the frozen :class:`Plan` of :class:`Change` objects.
* :mod:`~portway.deploy.names`: deterministic names and spec hashes.
* :mod:`~portway.deploy.reconcile`: the planner, ``(desired, observed, record) -> Plan``.
* :mod:`~portway.deploy.execute`: the executor loop, progress, retries, the call log.
* :mod:`~portway.deploy.record`: the deploy record and the stage lock over a
  provider's :class:`~portway.deploy.record.RecordStore`.
* :mod:`~portway.deploy.archive`: reproducible zips.

Providers implement the rest for their resources: the desired resources, observation,
the per-kind operations and a record store (see each provider's ``deploy`` package;
each core module's docstring says what a provider keeps and what it deletes).
"""

from __future__ import annotations

from portway.deploy.plan import Change, ChangeKind, Plan

__all__ = ["Change", "ChangeKind", "Plan"]
