"""Every error portway raises on purpose.

One root, :class:`PortwayError`, and a few precise subclasses. Each message names the
thing at fault (pipeline, resource, function, file, key) and, where there is one, the fix.
The command line prints ``str(error)`` as one line and exits non-zero; a user never sees
a traceback for a mistake of theirs.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DeployError",
    "InvalidKey",
    "MessageTooLarge",
    "NotBound",
    "NotSupported",
    "PermissionDenied",
    "PortwayError",
    "ProviderNotFound",
    "ValidationError",
]


class PortwayError(Exception):
    """Root of every error portway raises on purpose."""


class ValidationError(PortwayError, ValueError):
    """A pipeline definition breaks a rule (raised at declaration time)."""


class ConfigError(PortwayError):
    """``portway.toml`` / ``[tool.portway]`` is missing, unreadable or wrong."""


class ProviderNotFound(ConfigError):
    """A stage or a command names a provider that is not installed."""


class DeployError(PortwayError):
    """Planning, applying or recording a deployment failed."""


class PermissionDenied(PortwayError):
    """A function touched a resource in a way its ``uses=[...]`` did not declare."""


class NotBound(PortwayError):
    """A data-plane call was made outside a handler and outside ``app.connect()``."""


class InvalidKey(PortwayError, ValueError):
    """An object key is not safe or not portable (traversal, control characters, length)."""


class MessageTooLarge(PortwayError, ValueError):
    """A message is larger than the provider of the stage accepts (refused at ``send()``)."""


class NotSupported(PortwayError):
    """The provider, or this version of portway, does not offer what was asked."""
