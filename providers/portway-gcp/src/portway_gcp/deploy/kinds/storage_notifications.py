"""``storage:notification``: a bucket's ``OBJECT_FINALIZE`` notification into a trigger's topic.

Cloud Storage gives a notification config its id itself, so portway knows one by the
topic it publishes to (one topic per trigger): creating lists the bucket's configs first
and keeps an identical one; a changed one is replaced (configs cannot be updated);
deleting removes the configs of that bucket publishing to that topic. The suffix filter
is not Cloud Storage's (it filters by prefix only): the runtime shim applies it.
https://cloud.google.com/storage/docs/json_api/v1/notifications
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from portway_gcp.deploy.resources import Kind

if TYPE_CHECKING:
    from portway_gcp.deploy.kinds import ApplyContext
    from portway_gcp.deploy.kinds.calls import ResourceCalls
    from portway_gcp.deploy.observe import Observed
    from portway_gcp.deploy.resources import GcpResource

GAP = "storage-notifications"


def notification(storage: Any, spec: Mapping[str, Any]) -> Any:
    """The SDK's ``BucketNotification`` for ``spec`` (not yet created)."""
    _, project, _, topic_id = str(spec["topic"]).split("/")
    bucket = storage.bucket(str(spec["bucket"]).rsplit("/", 1)[1])
    return bucket.notification(
        topic_name=topic_id,
        topic_project=project,
        event_types=list(spec["event_types"]),
        blob_name_prefix=spec.get("object_name_prefix") or None,
        payload_format=spec["payload_format"],
    )


def _same(found: Any, wanted: Any) -> bool:
    return bool(
        found.topic_name == wanted.topic_name
        and found.topic_project == wanted.topic_project
        and sorted(found.event_types or []) == sorted(wanted.event_types or [])
        and (found.blob_name_prefix or None) == (wanted.blob_name_prefix or None)
        and found.payload_format == wanted.payload_format
    )


class _NotificationOperations:
    kind = Kind.STORAGE_NOTIFICATION

    def create(self, context: ApplyContext, resource: GcpResource) -> None:
        if context.skip(GAP, f"storage.notifications.insert {resource.name}"):
            return
        calls = context.calls(self.kind, resource.name)
        wanted = notification(context.clients.storage, resource.spec)
        for found in self._to_topic(calls, wanted):
            if _same(found, wanted):
                return
            calls.write("storage.notifications.delete", found.delete)
        calls.settling("storage.notifications.insert", wanted.create)

    def update(self, context: ApplyContext, resource: GcpResource, observed: Observed) -> None:
        self.create(context, resource)

    def delete(self, context: ApplyContext, observed: Observed) -> None:
        from google.api_core import exceptions

        if context.skip(GAP, f"storage.notifications.delete {observed.name}"):
            return
        spec = observed.attributes.get("spec", {})
        calls = context.calls(self.kind, observed.name)
        wanted = notification(context.clients.storage, spec)
        for found in self._to_topic(calls, wanted):
            calls.unless((exceptions.NotFound,), "storage.notifications.delete", found.delete)

    def _to_topic(self, calls: ResourceCalls, wanted: Any) -> list[Any]:
        """The bucket's notification configs publishing to ``wanted``'s topic."""
        from google.api_core import exceptions

        listed = calls.unless(
            (exceptions.NotFound,),
            "storage.notifications.list",
            lambda: list(wanted.bucket.list_notifications()),
            mutating=False,
        )
        return [
            found
            for found in listed or []
            if found.topic_name == wanted.topic_name and found.topic_project == wanted.topic_project
        ]


OPERATIONS = _NotificationOperations()
