"""Ranges every pipeline must keep to, whatever its provider.

``max_attempts`` and ``batch_size`` are held to the *portable* range, the one every
builtin provider applies natively: Pub/Sub's dead-letter policy takes 5..100 delivery
attempts, and 10 is the most one receive call returns on SQS. The other ranges are
outer bounds; a provider with a narrower one (Lambda's 900 s timeout, Pub/Sub's 600 s
ack deadline) reports it through ``portway validate``.
"""

from __future__ import annotations

MAX_ATTEMPTS = (5, 100)
BATCH_SIZE = (1, 10)
MAX_BATCHING_WINDOW = (0, 300)
VISIBILITY_TIMEOUT = (10, 43_200)
RETENTION = (600, 7 * 24 * 3600)
TIMEOUT = (1, 3600)
MEMORY = (128, 32_768)
MAX_KEY_FILTER_BYTES = 1024

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_VISIBILITY_TIMEOUT = 30
DEFAULT_RETENTION = 4 * 24 * 3600
DEFAULT_TIMEOUT = 30  # no longer than the default visibility timeout
DEFAULT_MEMORY = 256
