"""The local provider object, created on first use by the registry.

Its durable store and runtime (``portway run``) are built on top of this class; until
then it declares its capabilities and refuses every operation with a clear message.
"""

from __future__ import annotations

from portway.providers import Provider


class LocalProvider(Provider):
    """Runs a pipeline on this machine. Deploy-style operations are not needed here."""
