"""The app settings of a Function App on Azurite: what deploy writes, pointed at the harness."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portway_azure.clients import AzureResources
    from portway_azure.testing.event_grid import EventGridPlayer

#: App settings that reach Azure's storage through an identity; on Azurite the
#: connection string in ``PORTWAY_STORAGE`` replaces them.
_IDENTITY_SETTINGS = ("AzureWebJobsStorage__", "PORTWAY_STORAGE__")


def app_environment(
    spec: Mapping[str, Any], *, connection: str, player: EventGridPlayer, every: AzureResources
) -> dict[str, str]:
    """The app settings deploy gives an app (its desired Function App ``spec``), pointed
    at Azurite and the Event Grid player.

    The settings that reach storage through an identity give way to the connection
    string in ``PORTWAY_STORAGE``; ``PORTWAY_AZURE_RESOURCES`` is what apply would
    resolve (Event Grid topic names become the player's endpoints), or ``every``
    resource of the pipeline when the spec has no such entry.
    """
    from portway_azure.clients import EVENT_GRID_KEY, RESOURCES, STORAGE, AzureResources

    settings = {
        str(key): str(value)
        for key, value in dict(spec.get("app_settings", {})).items()
        if not str(key).startswith(_IDENTITY_SETTINGS)
    }
    resources = every
    resolved = dict(spec.get("resolve", {})).get(RESOURCES)
    if isinstance(resolved, Mapping):
        resources = AzureResources(
            buckets=dict(resolved.get("buckets", {})),
            queues=dict(resolved.get("queues", {})),
            topics={
                neutral: player.endpoint(str(topic))
                for neutral, topic in dict(resolved.get("topics", {})).items()
            },
        )
    return settings | {
        STORAGE: connection,
        RESOURCES: resources.to_json(),
        EVENT_GRID_KEY: player.key,
        "LANG": "C.UTF-8",
        "TZ": "UTC",
    }
