"""What makes a function run: a schedule, an object created, a message, an HTTP request."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import ClassVar

from portway.model.resources import Bucket, Queue, Resource, Topic
from portway.model.schedules import Schedule


@dataclass(frozen=True, slots=True)
class ScheduleTrigger:
    """Run on a schedule (``rate(...)`` or 5-field ``cron(...)``, UTC)."""

    kind: ClassVar[str] = "schedule"
    schedule: Schedule

    @property
    def resource(self) -> Resource | None:
        return None

    def describe(self) -> str:
        return self.schedule.expression


@dataclass(frozen=True, slots=True)
class ObjectCreatedTrigger:
    """Run once per object created in ``bucket`` whose key matches ``prefix`` and ``suffix``."""

    kind: ClassVar[str] = "object_created"
    bucket: Bucket
    prefix: str = ""
    suffix: str = ""

    @property
    def resource(self) -> Resource | None:
        return self.bucket

    def matches(self, key: str) -> bool:
        """True when ``key`` passes both filters."""
        return key.startswith(self.prefix) and key.endswith(self.suffix)

    def describe(self) -> str:
        parts = ["object created"]
        if self.prefix:
            parts.append(f"prefix {self.prefix}")
        if self.suffix:
            parts.append(f"suffix {self.suffix}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class MessageTrigger:
    """Run for messages of a queue, or for a subscription of a topic.

    ``batch_size``: at most this many messages per invocation.
    ``max_batching_window``: seconds to wait for a fuller batch (0: deliver at once).
    """

    kind: ClassVar[str] = "message"
    source: Queue | Topic
    batch_size: int = 1
    max_batching_window: int = 0

    @property
    def resource(self) -> Resource | None:
        return self.source

    def describe(self) -> str:
        label = f"batch {self.batch_size}"
        if self.max_batching_window:
            label += f", window {self.max_batching_window}s"
        return label


@dataclass(frozen=True, slots=True)
class HttpTrigger:
    """Run for HTTP requests to ``method path``. Private unless ``public``."""

    kind: ClassVar[str] = "http"
    method: str
    path: str
    public: bool = False

    @property
    def resource(self) -> Resource | None:
        return None

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters when ``path`` (percent-decoded) is this route's, else ``None``."""
        found = path_pattern(self.path).fullmatch(path)
        return None if found is None else found.groupdict()

    def describe(self) -> str:
        return f"{self.route} ({'public' if self.public else 'authenticated'})"


Trigger = ScheduleTrigger | ObjectCreatedTrigger | MessageTrigger | HttpTrigger


@functools.lru_cache(maxsize=256)
def path_pattern(path: str) -> re.Pattern[str]:
    """The pattern of a route path, shared by every provider's HTTP shim.

    Each ``{name}`` segment captures one path segment (no ``/``) as parameter ``name``;
    the rest matches literally, and a trailing ``/`` is optional.
    """
    regex = "".join(
        f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part)
        for part in re.split(r"(\{[^}]*\})", path.rstrip("/") or "/")
    )
    return re.compile(regex + "/?")
