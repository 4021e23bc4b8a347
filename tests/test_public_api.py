"""The public names of ``portway`` are pinned: adding or removing one is a decision."""

from __future__ import annotations

import portway

PUBLIC = [
    "BatchResult",
    "Bucket",
    "ConfigError",
    "DeployError",
    "Event",
    "Function",
    "HttpRequest",
    "HttpResponse",
    "InvalidKey",
    "MessageTooLarge",
    "Message",
    "NotBound",
    "NotSupported",
    "ObjectEvent",
    "PermissionDenied",
    "Pipeline",
    "PortwayError",
    "ProviderNotFound",
    "Queue",
    "ScheduleEvent",
    "Topic",
    "Use",
    "ValidationError",
    "__version__",
]


def test_public_names_are_pinned() -> None:
    assert sorted(portway.__all__) == sorted(PUBLIC)


def test_every_public_name_exists() -> None:
    missing = [name for name in portway.__all__ if not hasattr(portway, name)]
    assert missing == []


def test_every_error_is_a_portway_error() -> None:
    errors = [
        getattr(portway, n)
        for n in PUBLIC
        if n.endswith(("Error", "Denied", "Bound", "Key", "Supported", "NotFound"))
    ]
    assert errors
    assert all(issubclass(e, portway.PortwayError) for e in errors)
