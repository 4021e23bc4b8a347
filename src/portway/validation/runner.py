"""Run the validation hooks for one or more providers and collect the findings."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from portway.model import Pipeline
from portway.providers import KNOWN_DISTRIBUTIONS, Registry
from portway.validation.findings import Finding, Severity

_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def validate(pipeline: Pipeline, providers: Iterable[str], registry: Registry) -> list[Finding]:
    """Findings for ``pipeline`` on each named provider, errors first, without repeats.

    A finding that every checked provider reports alike is reported once with
    provider ``"*"``.
    """
    names = list(dict.fromkeys(providers))
    found: list[Finding] = []
    for name in names:
        capabilities = registry.spec(name).capabilities
        for result in registry.manager.hook.portway_validate(
            pipeline=pipeline, provider=name, capabilities=capabilities
        ):
            found.extend(result or ())
    found = _merge_common(found, len(names))
    found.extend(_unknown_option_providers(pipeline, registry))
    return sorted(found, key=lambda f: (_ORDER[f.severity], f.target, f.rule, f.provider))


def _unknown_option_providers(pipeline: Pipeline, registry: Registry) -> list[Finding]:
    """``options={"asw": ...}``: a key no provider reads is most likely a typo."""
    known = set(registry.specs()) | set(KNOWN_DISTRIBUTIONS)
    findings = []
    for function in pipeline.functions.values():
        for key in function.options:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                findings.append(
                    Finding(
                        "*",
                        f"function {function.name}",
                        "unknown-option-provider",
                        Severity.WARNING,
                        f"options[{key!r}]{hint}: no installed or builtin provider is "
                        f"called {key!r}, so these options are never read",
                    )
                )
    return findings


def _merge_common(findings: list[Finding], provider_count: int) -> list[Finding]:
    """Collapse findings reported identically for every provider into one ``"*"``."""
    if provider_count < 2:
        return list(dict.fromkeys(findings))
    groups: dict[tuple[str, str, Severity, str], set[str]] = {}
    for f in findings:
        groups.setdefault((f.target, f.rule, f.severity, f.message), set()).add(f.provider)
    merged: list[Finding] = []
    for (target, rule, severity, message), providers in groups.items():
        if "*" in providers or len(providers) == provider_count:
            merged.append(Finding("*", target, rule, severity, message))
        else:
            merged.extend(Finding(p, target, rule, severity, message) for p in sorted(providers))
    return merged
