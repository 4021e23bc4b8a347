"""Deterministic naming helpers every provider's deploy shares.

Providers build physical names from the app, stage and resource names; where a cloud's
limit is shorter, :func:`fit` cuts the name and ends it with a stable hash of the whole,
so it stays unique and a second deploy finds the same resource. :func:`spec_hash`
fingerprints a resource's desired definition, which providers store with the resource
(a tag, a label, a description) so a plan compares one hash instead of every attribute.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

HASH_LENGTH = 8


def stable_hash(text: str, length: int = HASH_LENGTH) -> str:
    """The first ``length`` hex digits of SHA-256 of ``text``: the same on every run."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def fit(name: str, limit: int) -> str:
    """``name`` if it fits ``limit``, else cut with a stable hash of the whole at its end."""
    if len(name) <= limit:
        return name
    head = name[: limit - HASH_LENGTH - 1].rstrip("-")
    return f"{head}-{stable_hash(name)}"


def spec_hash(spec: Mapping[str, Any]) -> str:
    """A stable hash of a spec: canonical JSON, SHA-256, 16 hex digits."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]
