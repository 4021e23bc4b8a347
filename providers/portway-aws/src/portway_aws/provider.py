"""The ``aws`` provider object, created on first use by the registry.

Deploy, the data-plane clients and the runtime arrive in later versions; until then the
base class refuses every operation with a message that names the provider.
"""

from __future__ import annotations

from portway.providers import Provider


class AwsProvider(Provider):
    """Runs a pipeline on AWS: Lambda, SQS, SNS, S3 and EventBridge Scheduler."""
