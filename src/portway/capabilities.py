"""What a provider can do, declared as data.

``portway validate`` reads these to say, before anything is deployed, what would not
run unchanged on a provider; the conformance suite reads ``features`` to decide which
tests apply. Every number comes from the provider's own documentation (cite it where
the provider declares it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal


def format_size(count: int) -> str:
    """``262144`` -> ``"256 KiB"``, ``10_000_000`` -> ``"10 MB"``: as the provider's docs say."""
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024), ("MB", 1_000_000), ("kB", 1000)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count:,} bytes"


class Feature(StrEnum):
    """A behaviour the conformance suite can test; a provider lists those it offers."""

    QUEUES = "queues"
    TOPICS = "topics"
    BUCKETS = "buckets"
    OBJECT_EVENTS = "object_events"
    SCHEDULES = "schedules"
    HTTP = "http"
    PUBLIC_HTTP = "public_http"
    BATCHES = "batches"
    PARTIAL_BATCH_FAILURE = "partial_batch_failure"
    DEAD_LETTERS = "dead_letters"
    PERMISSION_CHECKS = "permission_checks"


ALL_FEATURES = frozenset(Feature)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Limits and behaviours of one provider. Ranges are inclusive ``(low, high)``.

    ``max_message_bytes``: the largest body ``send()``/``publish()`` accepts (after any
    encoding the provider adds, e.g. base64 on Azure Storage Queues).
    ``batch_delivery``: ``"native"`` delivers up to ``max_batch_size`` messages per
    invocation; ``"one_at_a_time"`` delivers one (a batch handler gets a list of one).
    ``native_object_filters``: the object-created filters the provider applies itself;
    any other is applied in the runtime shim (the function still starts, then skips).
    ``rate_schedules``: ``"native"``, or ``"cron_exact"`` when a rate is translated to
    cron and only rates with an exact cron form are accepted.
    ``visibility_must_cover_timeout``: the provider refuses a queue trigger whose queue
    hides a message for less time than the function may run (AWS Lambda does).
    """

    max_message_bytes: int
    max_batch_size: int
    max_attempts: tuple[int, int]
    visibility_timeout: tuple[int, int]
    max_timeout: int
    max_http_timeout: int
    memory: tuple[int, int]
    batch_delivery: Literal["native", "one_at_a_time"] = "native"
    native_object_filters: frozenset[str] = frozenset({"prefix", "suffix"})
    rate_schedules: Literal["native", "cron_exact"] = "native"
    visibility_must_cover_timeout: bool = False
    features: frozenset[Feature] = field(default=ALL_FEATURES)
    notes: tuple[str, ...] = ()

    def supports(self, feature: Feature | str) -> bool:
        return Feature(feature) in self.features

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (sets become sorted lists, tuples lists)."""
        data = asdict(self)
        data["native_object_filters"] = sorted(self.native_object_filters)
        data["features"] = sorted(str(f) for f in self.features)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        return data
