"""The resource map a deployed function reads from its environment. Pure, no SDK.

Every provider tells a deployed function where its resources are the same way: one
environment variable (``PORTWAY_<PROVIDER>_RESOURCES``) holding compact JSON that
names, for each resource in the function's ``uses=[...]`` and trigger, its identity on
that cloud::

    {"buckets": {"lake": "shop-prod-lake-1a2b3c4d"},
     "queues": {"jobs": "<queue URL, topic path, queue name>"},
     "topics": {"loaded": "<topic ARN, topic path, endpoint>"}}

Keys are the pipeline's neutral names; a kind with no entry may be left out. Deploy
writes it with :meth:`ResourceMap.to_environment` (keys sorted: a redeploy diffs
clean); the handler shim reads it once per instance with
:meth:`ResourceMap.from_environment`. The variables every shim reads besides
(:data:`APP`, :data:`FUNCTION`, :data:`STAGE`) are named here too.

Porting a provider: subclass :class:`ResourceMap`, set :attr:`~ResourceMap.VARIABLE`,
add ``__slots__ = ()`` and the provider's named lookups (``def bucket(self, name):
return self.lookup("buckets", name)``); delete its parsing, validation, ``to_json`` and
``from_environment``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Self

from portway.errors import ConfigError

#: The pipeline as ``"module:attr"``, importable where the function runs.
APP = "PORTWAY_APP"
#: The portway function a deployed function runs, by its Python name.
FUNCTION = "PORTWAY_FUNCTION"
#: The stage name, named in error messages ("run 'portway deploy --stage prod'").
STAGE = "PORTWAY_STAGE"

SECTIONS = ("buckets", "queues", "topics")
_SINGULAR = {"buckets": "bucket", "queues": "queue", "topics": "topic"}


@dataclass(frozen=True, slots=True)
class ResourceMap:
    """Neutral resource names -> the cloud's identities, by kind.

    :meth:`lookup` raises :class:`~portway.errors.ConfigError` for a name the map lacks:
    the function was deployed without it (its uses changed since the last deploy).
    """

    #: The environment variable holding the map (a subclass names its provider's).
    VARIABLE: ClassVar[str] = "PORTWAY_RESOURCES"
    #: What the error messages tell the user to redeploy (``"function"``, ``"app"``).
    DEPLOYED_UNIT: ClassVar[str] = "function"

    buckets: Mapping[str, str] = field(default_factory=dict)
    queues: Mapping[str, str] = field(default_factory=dict)
    topics: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Parse the variable's value; :class:`ConfigError` saying what is malformed."""
        name = cls.VARIABLE
        try:
            document = json.loads(text)
        except ValueError as error:
            raise ConfigError(
                f"{name} is not JSON ({error}); redeploy the {cls.DEPLOYED_UNIT}"
            ) from None
        if not isinstance(document, dict):
            raise ConfigError(f"{name} must be a JSON object of {', '.join(SECTIONS)}")
        unknown = sorted(set(document) - set(SECTIONS))
        if unknown:
            raise ConfigError(f"{name} has unknown sections {unknown}; expected {SECTIONS}")
        sections: dict[str, dict[str, str]] = {}
        for kind in SECTIONS:
            section = document.get(kind, {})
            if not isinstance(section, dict) or not all(
                isinstance(key, str) and isinstance(value, str) and value
                for key, value in section.items()
            ):
                raise ConfigError(f"{name}: {kind!r} must map neutral names to non-empty strings")
            sections[kind] = dict(section)
        return cls(**sections)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Read :attr:`VARIABLE` from ``environ`` (default: the process's); absent: empty."""
        text = (os.environ if environ is None else environ).get(cls.VARIABLE)
        return cls() if text is None else cls.from_json(text)

    def to_json(self) -> str:
        """The compact JSON form, keys sorted, empty kinds left out."""
        document = {kind: dict(getattr(self, kind)) for kind in SECTIONS if getattr(self, kind)}
        return json.dumps(document, separators=(",", ":"), sort_keys=True)

    def to_environment(self) -> dict[str, str]:
        """``{VARIABLE: to_json()}``, to merge into a function's environment."""
        return {self.VARIABLE: self.to_json()}

    def lookup(self, section: str, name: str) -> str:
        """The identity of neutral resource ``name`` in ``section`` (``"queues"``)."""
        value = getattr(self, section).get(name)
        if value is None:
            raise ConfigError(
                f"{_SINGULAR[section]} {name!r} is not among the resources this "
                f"{self.DEPLOYED_UNIT} was deployed with ({self.VARIABLE}); redeploy with "
                f"'portway deploy' after changing its uses"
            )
        return str(value)
