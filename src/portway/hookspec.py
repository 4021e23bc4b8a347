"""Every hook portway calls, in one place (as pytest keeps its ``hookspec.py``).

A distribution plugs in by naming a module in the ``portway`` entry-point group; that
module defines functions decorated with :data:`hookimpl` whose names are the hooks
below. The builtin ``local`` provider registers exactly this way. Hooks are grouped by
phase: discovery, validation, deployment, invocation.

Hooks are called with keyword arguments; an implementation may accept any subset of a
hook's parameters (pluggy passes only those it names).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from portway.capabilities import Capabilities
    from portway.model import Function, Pipeline
    from portway.providers import ProviderSpec
    from portway.validation import Finding

PROJECT = "portway"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- discovery -------------------------------------------------------------------------


@hookspec
def portway_providers() -> list[ProviderSpec]:
    """Declare the providers this distribution offers.

    Called once, when the provider registry is first needed (never at ``import
    portway``). Return a list of :class:`~portway.providers.ProviderSpec`: a name, the
    capabilities as data, and the dotted path of a factory that is imported only when
    the provider is used. Results of all plugins are merged; two plugins declaring the
    same name is an error that names both.
    """
    raise NotImplementedError


# -- validation ------------------------------------------------------------------------


@hookspec
def portway_validate(
    pipeline: Pipeline, provider: str, capabilities: Capabilities
) -> list[Finding]:
    """Return findings about ``pipeline`` on ``provider`` (policy rules, house style).

    Called by ``portway validate`` once per provider checked, after the builtin rules.
    ``capabilities`` are that provider's. Return ``[]`` when there is nothing to say.
    All results are collected.
    """
    raise NotImplementedError


# -- deployment ------------------------------------------------------------------------


@hookspec
def portway_plan_annotations(plan: Any, pipeline: Pipeline, stage: str) -> list[str]:
    """Return lines to show under ``portway plan`` (a cost estimate, a policy warning).

    Called after a provider has computed its plan, before it is displayed or applied.
    ``plan`` is the provider's frozen plan object. All results are collected, in
    registration order.
    """
    raise NotImplementedError


# -- invocation ------------------------------------------------------------------------


@hookspec
def portway_invocation(function: Function, events: list[Any]) -> Any:
    """Wrap each invocation of a user function (tracing, metrics, logging context).

    Implement it as a pluggy wrapper (``@hookimpl(wrapper=True)``) that ``yield``s:
    the runtimes call the handler innermost, and the wrapper sees its result or its
    exception. ``events`` are the neutral events of this invocation (one, or a batch).
    Runtimes call this hook only when some plugin implements it, so an unused hook
    costs nothing on the hot path.
    """
    raise NotImplementedError
