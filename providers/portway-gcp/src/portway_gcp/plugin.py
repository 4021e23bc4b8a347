"""Entry point of the ``gcp`` provider (``[project.entry-points.portway]``).

Declares what Google Cloud offers as data, so ``portway validate`` and ``portway
providers`` work without the Google Cloud libraries installed. The provider object
(and, later, its client libraries) is imported only when a command needs it, through
``SPEC.factory``.
"""

from __future__ import annotations

from portway.capabilities import ALL_FEATURES, Capabilities
from portway.hookspec import hookimpl
from portway.providers import ProviderSpec, Setting
from portway_gcp.message_encoding import DECLARED_MAX_MESSAGE_BYTES

CAPABILITIES = Capabilities(
    # Pub/Sub refuses a publish request above 10 MB (decimal); a portway message (body,
    # attribute names and values) may use all of it but the 1,000 bytes the request adds
    # (see portway_gcp.message_encoding).
    # https://cloud.google.com/pubsub/quotas#resource_limits
    max_message_bytes=DECLARED_MAX_MESSAGE_BYTES,
    # A push subscription sends each message as its own HTTPS request, so a function
    # gets one message per invocation; a batch handler receives a list of one.
    # https://cloud.google.com/pubsub/docs/push
    max_batch_size=1,
    batch_delivery="one_at_a_time",
    # max_attempts is the dead-letter policy's maxDeliveryAttempts: "between 5 and 100".
    # https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions#DeadLetterPolicy
    max_attempts=(5, 100),
    # visibility_timeout is the subscription's ackDeadlineSeconds: 10 to 600 s. For push
    # delivery it is also the timeout of the request to the function.
    # https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions#Subscription
    visibility_timeout=(10, 600),
    # Cloud Run functions: at most 540 s for event-driven functions, 3,600 s for HTTP ones.
    # https://cloud.google.com/functions/docs/configuring/timeout
    max_timeout=540,
    max_http_timeout=3600,
    # Function memory: 128 MiB to 32 GiB.
    # https://cloud.google.com/functions/docs/configuring/memory
    memory=(128, 32_768),
    # A Cloud Storage notification filters object names by object_name_prefix only; a
    # suffix filter is applied by the runtime shim.
    # https://cloud.google.com/storage/docs/json_api/v1/notifications/insert
    native_object_filters=frozenset({"prefix"}),
    # Cloud Scheduler jobs are written in unix-cron (its Job.schedule also takes the
    # legacy English-like App Engine format, which portway does not use), so a rate is
    # accepted only when it has an exact cron form.
    # https://cloud.google.com/scheduler/docs/configuring/cron-job-schedules
    rate_schedules="cron_exact",
    # Pub/Sub does not refuse an ack deadline shorter than the function timeout: the
    # message is delivered again instead, which validate reports as a warning.
    visibility_must_cover_timeout=False,
    features=ALL_FEATURES,
    notes=(
        "Pub/Sub push delivers one message per invocation: a batch handler gets a list of one",
        "Cloud Storage notifications filter by prefix only: a suffix filter runs in the "
        "function, which still starts (and is billed) for every new object",
        "schedules are unix-cron: a rate must divide an hour or a day evenly",
        "event-driven functions run at most 540 s, HTTP functions 3,600 s",
    ),
)

SPEC = ProviderSpec(
    name="gcp",
    capabilities=CAPABILITIES,
    factory="portway_gcp.provider:GcpProvider",
    description="Google Cloud: Cloud Run functions, Pub/Sub, Cloud Storage and Cloud Scheduler",
    settings=(
        Setting("project", str, required=True, help="Google Cloud project ID, like acme-data"),
        Setting("region", str, required=True, help="Google Cloud region, like europe-west1"),
        Setting(
            "pubsub_endpoint",
            str,
            help="Pub/Sub emulator host:port (for tests; default: the Google API)",
        ),
        Setting(
            "storage_endpoint",
            str,
            help="Cloud Storage emulator URL (for tests; default: the Google API)",
        ),
        Setting(
            "api_endpoint",
            str,
            help="URL serving the Cloud Functions and Cloud Scheduler REST APIs (for tests)",
        ),
        Setting(
            "iam_endpoint",
            str,
            help="IAM Admin emulator host:port, gRPC (for tests; default: the Google API)",
        ),
        Setting(
            "project_number",
            str,
            help="the project's number, naming its service agents (default: looked up)",
        ),
        Setting(
            "emulator_skips",
            list,
            help="calls the stage's emulators lack, skipped by deploy (emulator stages only)",
        ),
    ),
)


@hookimpl
def portway_providers() -> list[ProviderSpec]:
    """Declare the ``gcp`` provider (see :func:`portway.hookspec.portway_providers`)."""
    return [SPEC]
