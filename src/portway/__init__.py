"""portway: one event-driven pipeline in Python, run locally or on any cloud.

``import portway`` is kept light on purpose (every cold start of a deployed function
pays for it): it imports the model and the events, and no provider, no cloud SDK and
no entry-point scan. Providers are found on first use (:mod:`portway.providers`).
"""

from __future__ import annotations

from portway.errors import (
    ConfigError,
    DeployError,
    InvalidKey,
    MessageTooLarge,
    NotBound,
    NotSupported,
    PermissionDenied,
    PortwayError,
    ProviderNotFound,
    ValidationError,
)
from portway.events import (
    BatchResult,
    Event,
    HttpRequest,
    HttpResponse,
    Message,
    ObjectEvent,
    ScheduleEvent,
)
from portway.model import Bucket, Function, Pipeline, Queue, Topic, Use

__version__ = "0.1.0"

__all__ = [
    "BatchResult",
    "Bucket",
    "ConfigError",
    "DeployError",
    "Event",
    "Function",
    "HttpRequest",
    "HttpResponse",
    "InvalidKey",
    "Message",
    "MessageTooLarge",
    "NotBound",
    "NotSupported",
    "ObjectEvent",
    "PermissionDenied",
    "Pipeline",
    "PortwayError",
    "ProviderNotFound",
    "Queue",
    "ScheduleEvent",
    "Topic",
    "Use",
    "ValidationError",
    "__version__",
]
