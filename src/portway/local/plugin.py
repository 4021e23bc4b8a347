"""Entry point of the builtin ``local`` provider (``[project.entry-points.portway]``)."""

from __future__ import annotations

from portway.capabilities import ALL_FEATURES, Capabilities
from portway.hookspec import hookimpl
from portway.providers import ProviderSpec, Setting

# The local provider enforces the same ceilings as the strictest common cloud setting
# it mirrors (SQS's 256 KiB message, 10-message receive), so a pipeline that runs here
# does not discover a size limit only once deployed.
CAPABILITIES = Capabilities(
    max_message_bytes=256 * 1024,
    max_batch_size=10,
    max_attempts=(1, 1000),
    visibility_timeout=(1, 43_200),
    max_timeout=3600,
    max_http_timeout=3600,
    memory=(128, 32_768),
    native_object_filters=frozenset({"prefix", "suffix"}),
    rate_schedules="native",
    features=ALL_FEATURES,
    notes=("runs on this machine: SQLite queues and topics, folders for buckets",),
)

SPEC = ProviderSpec(
    name="local",
    capabilities=CAPABILITIES,
    factory="portway.local.provider:LocalProvider",
    description="embedded runtime on this machine (SQLite + folders under .portway/)",
    settings=(
        Setting("path", str, help="where the stage's state lives (default .portway/<stage>)"),
        Setting("port", int, help="port of the local HTTP server (default 8000)"),
        Setting("workers", int, help="worker processes (default: one per core)"),
        Setting(
            "sync",
            str,
            help="'normal' (survives a killed process, the default) or 'full' (every "
            "commit and object write reaches the disk)",
        ),
        Setting(
            "otel",
            bool,
            help="export `portway run`'s spans to OpenTelemetry over OTLP/HTTP (needs "
            "portway[otel]; the OTEL_EXPORTER_OTLP_* variables set the endpoint)",
        ),
    ),
)


@hookimpl
def portway_providers() -> list[ProviderSpec]:
    return [SPEC]
