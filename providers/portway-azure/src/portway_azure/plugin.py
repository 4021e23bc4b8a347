"""Entry point of the ``azure`` provider (``[project.entry-points.portway]``).

Declares what Azure offers as data, so ``portway validate`` and ``portway providers``
work without the Azure SDK installed. The provider object (and, later, its SDK) is
imported only when a command needs it, through ``SPEC.factory``.
"""

from __future__ import annotations

from portway.capabilities import ALL_FEATURES, Capabilities
from portway.hookspec import hookimpl
from portway.providers import ProviderSpec, Setting

CAPABILITIES = Capabilities(
    # A Storage Queue message may be 64 KiB once encoded, and the Functions queue trigger
    # reads base64 by default (host.json messageEncoding), which spends 4 encoded bytes
    # on every 3 of body: 65,536 encoded bytes hold 49,152. Of those, 1 KiB stays for
    # portway's JSON envelope (id, content type, attribute quoting: at most 175 bytes)
    # and, on a topic, the Event Grid event around it with the fields Event Grid adds on
    # delivery, so a message within 47 KiB always fits once sent
    # (portway_azure.message_encoding).
    # https://learn.microsoft.com/en-us/rest/api/storageservices/put-message
    # https://learn.microsoft.com/en-us/azure/azure-functions/functions-bindings-storage-queue#host-json
    max_message_bytes=47 * 1024,
    # host.json batchSize (at most 32) is how many messages the runtime "retrieves
    # simultaneously and processes in parallel": each message is its own invocation,
    # so a batch handler receives a list of one.
    # https://learn.microsoft.com/en-us/azure/azure-functions/functions-bindings-storage-queue#host-json
    max_batch_size=1,
    batch_delivery="one_at_a_time",
    # max_attempts is host.json maxDequeueCount (then the message moves to
    # <queue>-poison). The host refuses a value below 1 and documents no upper bound
    # but its 32-bit integer.
    # https://learn.microsoft.com/en-us/azure/azure-functions/functions-bindings-storage-queue#host-json
    # https://learn.microsoft.com/en-us/dotnet/api/microsoft.azure.webjobs.host.queuesoptions.maxdequeuecount
    max_attempts=(1, 2**31 - 1),
    # visibility_timeout is host.json visibilityTimeout, the time a failed message stays
    # hidden before its next attempt; a message's visibility timeout is "larger than or
    # equal to 0, and can't be larger than 7 days".
    # https://learn.microsoft.com/en-us/rest/api/storageservices/update-message
    visibility_timeout=(0, 7 * 24 * 3600),
    # Flex Consumption enforces no maximum timeout (default 30 min), but a running
    # execution gets only 60 min of grace when the app scales in, so portway caps it
    # there. An HTTP trigger must respond within 230 s, the Azure Load Balancer's idle
    # timeout, whatever the function timeout.
    # https://learn.microsoft.com/en-us/azure/azure-functions/functions-scale#timeout
    max_timeout=3600,
    max_http_timeout=230,
    # Flex Consumption instances come in 512, 2,048 and 4,096 MB. A declared memory is
    # rounded up to the next instance size (validate notes it for less than 512); only
    # more than 4,096 cannot run.
    # https://learn.microsoft.com/en-us/azure/azure-functions/flex-consumption-plan#instance-memory
    memory=(512, 4096),
    # Event Grid filters BlobCreated events with subjectBeginsWith (prefix) and
    # subjectEndsWith (suffix).
    # https://learn.microsoft.com/en-us/azure/event-grid/subscription-creation-schema
    native_object_filters=frozenset({"prefix", "suffix"}),
    # Timer triggers take NCRONTAB; a TimeSpan schedule "can be used only for a function
    # app that runs on an App Service Plan", which Flex Consumption is not.
    # https://learn.microsoft.com/en-us/azure/azure-functions/functions-bindings-timer
    rate_schedules="cron_exact",
    # Storage Queues never refuse a trigger for its timeout: a slow message is delivered
    # again, which validate reports as a warning.
    visibility_must_cover_timeout=False,
    features=ALL_FEATURES,
    notes=(
        "Storage Queue messages are base64-encoded: 64 KiB on the wire is 47 KiB of body "
        "and attributes, once portway's envelope is in",
        "the Functions host runs one message per invocation (up to 32 in parallel): "
        "a batch handler gets a list of one",
        "HTTP functions must respond within 230 s (the Azure Load Balancer idle timeout)",
        "memory is rounded up to a Flex Consumption instance size: 512, 2048 or 4096 MB",
        "schedules are NCRONTAB: a rate must divide an hour or a day evenly",
    ),
)

SPEC = ProviderSpec(
    name="azure",
    capabilities=CAPABILITIES,
    factory="portway_azure.provider:AzureProvider",
    description="Azure: Functions (Flex Consumption), Storage Queues, Blob Storage, Event Grid",
    settings=(
        Setting("subscription", str, required=True, help="Azure subscription ID"),
        Setting("resource_group", str, required=True, help="resource group, like data-rg"),
        Setting("location", str, required=True, help="Azure region, like westeurope"),
        Setting(
            "connection_string",
            str,
            help="storage connection string (a local Azurite, for tests; default: identity)",
        ),
    ),
)


@hookimpl
def portway_providers() -> list[ProviderSpec]:
    """Declare the ``azure`` provider (see :func:`portway.hookspec.portway_providers`)."""
    return [SPEC]
