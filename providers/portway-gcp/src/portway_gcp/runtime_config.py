"""Where a deployed function's resources are, as its environment tells it. Pure, no SDK.

``portway deploy`` sets ``PORTWAY_GCP_RESOURCES`` on every function (see
:meth:`portway_gcp.naming.Names.resource_map`): compact JSON naming, for each resource
the function's ``uses=[...]`` and trigger name, its Google Cloud identity::

    {"buckets": {"lake": "shop-prod-lake-1a2b3c4d"},
     "queues": {"jobs": "projects/acme-data/topics/shop-prod-jobs"},
     "topics": {"loaded": "projects/acme-data/topics/shop-prod-loaded"}}

Bucket ids, and topic paths for queues and topics (a queue is sent to through its
topic). A kind with no entry may be left out. The runtime shim parses it once per
instance (:meth:`ResourceMap.from_environment`).
"""

from __future__ import annotations

from portway import runtime_resources

RESOURCES = "PORTWAY_GCP_RESOURCES"


class ResourceMap(runtime_resources.ResourceMap):
    """Neutral resource names -> Google Cloud identities (bucket id, topic path): the core's
    :class:`portway.runtime_resources.ResourceMap` (its parsing, and the
    :class:`~portway.errors.ConfigError` of a lookup the map lacks) with GCP's lookups."""

    __slots__ = ()
    VARIABLE = RESOURCES

    @property
    def project(self) -> str | None:
        """The project named by the topic paths (``projects/P/topics/T``), if any."""
        for path in (*self.queues.values(), *self.topics.values()):
            parts = path.split("/")
            if len(parts) == 4 and parts[0] == "projects" and parts[2] == "topics":
                return parts[1]
        return None

    def bucket(self, name: str) -> str:
        """The bucket id of neutral bucket ``name``."""
        return self.lookup("buckets", name)

    def queue_topic(self, name: str) -> str:
        """The topic path of neutral queue ``name``."""
        return self.lookup("queues", name)

    def topic(self, name: str) -> str:
        """The topic path of neutral topic ``name``."""
        return self.lookup("topics", name)
