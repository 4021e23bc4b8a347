"""Where a deployed function's resources are, as its environment tells it. Pure, no SDK.

``portway deploy`` sets ``PORTWAY_GCP_RESOURCES`` on every function (see
:func:`portway_gcp.deploy.desired.resource_map`): compact JSON naming, for each resource
the function's ``uses=[...]`` and trigger name, its Google Cloud identity::

    {"buckets": {"lake": "shop-prod-lake-1a2b3c4d"},
     "queues": {"jobs": "projects/acme-data/topics/shop-prod-jobs"},
     "topics": {"loaded": "projects/acme-data/topics/shop-prod-loaded"}}

Bucket ids, and topic paths for queues and topics (a queue is sent to through its
topic). A kind with no entry may be left out. The runtime shim parses it once per
instance (:meth:`ResourceMap.from_environment`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from portway.errors import ConfigError

RESOURCES = "PORTWAY_GCP_RESOURCES"

_KINDS = ("buckets", "queues", "topics")


@dataclass(frozen=True, slots=True)
class ResourceMap:
    """Neutral resource names -> Google Cloud identities (bucket id, topic path).

    Lookups raise :class:`~portway.errors.ConfigError` for a name the map lacks: the
    function was deployed without it (its uses changed since the last deploy).
    """

    buckets: Mapping[str, str] = field(default_factory=dict)
    queues: Mapping[str, str] = field(default_factory=dict)
    topics: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str) -> ResourceMap:
        """Parse the ``PORTWAY_GCP_RESOURCES`` value; :class:`ConfigError` if malformed."""
        try:
            document = json.loads(text)
        except ValueError as error:
            raise ConfigError(f"{RESOURCES} is not JSON ({error}); redeploy the function") from None
        if not isinstance(document, dict):
            raise ConfigError(f"{RESOURCES} must be a JSON object of {', '.join(_KINDS)}")
        unknown = sorted(set(document) - set(_KINDS))
        if unknown:
            raise ConfigError(f"{RESOURCES} has unknown sections {unknown}; expected {_KINDS}")
        sections: dict[str, dict[str, str]] = {}
        for kind in _KINDS:
            section = document.get(kind, {})
            if not isinstance(section, dict) or not all(
                isinstance(name, str) and isinstance(value, str) and value
                for name, value in section.items()
            ):
                raise ConfigError(
                    f"{RESOURCES}: {kind!r} must map neutral names to non-empty strings"
                )
            sections[kind] = dict(section)
        return cls(**sections)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ResourceMap:
        """Read ``PORTWAY_GCP_RESOURCES`` (an absent variable is an empty map)."""
        environ = os.environ if environ is None else environ
        text = environ.get(RESOURCES)
        return cls() if text is None else cls.from_json(text)

    def to_json(self) -> str:
        """The compact JSON form, keys sorted (the form deploy writes)."""
        document = {kind: dict(getattr(self, kind)) for kind in _KINDS if getattr(self, kind)}
        return json.dumps(document, separators=(",", ":"), sort_keys=True)

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
        return self._lookup("buckets", "bucket", name)

    def queue_topic(self, name: str) -> str:
        """The topic path of neutral queue ``name``."""
        return self._lookup("queues", "queue", name)

    def topic(self, name: str) -> str:
        """The topic path of neutral topic ``name``."""
        return self._lookup("topics", "topic", name)

    def _lookup(self, section: str, kind: str, name: str) -> str:
        value = getattr(self, section).get(name)
        if value is None:
            raise ConfigError(
                f"{kind} {name!r} is not among the resources this function was deployed "
                f"with ({RESOURCES}); redeploy with 'portway deploy' after changing its uses"
            )
        return str(value)
