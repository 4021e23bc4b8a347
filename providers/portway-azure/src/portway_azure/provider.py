"""The ``azure`` provider object, created on first use by the registry.

Deploy, the data-plane clients and the runtime arrive in later versions; until then the
base class refuses every operation with a message that names the provider.
"""

from __future__ import annotations

from portway.providers import Provider


class AzureProvider(Provider):
    """Runs a pipeline on Azure: Functions, Storage Queues, Blob Storage and Event Grid."""
