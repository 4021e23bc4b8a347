"""Requests of the Event Grid kinds: topics, the data account's system topic, and the
event subscriptions that fill each trigger queue, through azure-mgmt-eventgrid."""

from __future__ import annotations

from portway_azure.deploy import marks
from portway_azure.deploy.requests import ArmRequest, KindRequests, Resolved, in_group
from portway_azure.deploy.resources import AzureResource, Kind, Observed
from portway_azure.naming import Names


def _topic(resource: AzureResource, names: Names, _: Resolved) -> list[ArmRequest]:
    from azure.mgmt.eventgrid.models import Topic

    body = Topic(
        location=resource.spec["location"],
        tags=marks.tags(names, resource.spec_hash),
        input_schema=resource.spec["input_schema"],
        # Publishers authenticate with Microsoft Entra (EventGrid Data Sender on the
        # topic), never with an access key that would bypass the role.
        disable_local_auth=True,
    )
    arguments = in_group(names, ("topic_name", resource.name))
    return [ArmRequest("eventgrid.topics.begin_create_or_update", arguments, "topic_info", body)]


def _delete_topic(found: Observed, names: Names) -> list[ArmRequest]:
    return [
        ArmRequest("eventgrid.topics.begin_delete", in_group(names, ("topic_name", found.name)))
    ]


def _system_topic(resource: AzureResource, names: Names, _: Resolved) -> list[ArmRequest]:
    from azure.mgmt.eventgrid.models import SystemTopic

    spec = resource.spec
    body = SystemTopic(
        location=spec["location"],
        tags=marks.tags(names, resource.spec_hash),
        source=spec["source"],
        topic_type=spec["topic_type"],
    )
    arguments = in_group(names, ("system_topic_name", resource.name))
    return [
        ArmRequest(
            "eventgrid.system_topics.begin_create_or_update", arguments, "system_topic_info", body
        )
    ]


def _delete_system_topic(found: Observed, names: Names) -> list[ArmRequest]:
    arguments = in_group(names, ("system_topic_name", found.name))
    return [ArmRequest("eventgrid.system_topics.begin_delete", arguments)]


def _subscription(resource: AzureResource, names: Names, _: Resolved) -> list[ArmRequest]:
    from azure.mgmt.eventgrid.models import (
        EventSubscription,
        EventSubscriptionFilter,
        RetryPolicy,
        StorageQueueEventSubscriptionDestination,
    )

    spec = resource.spec
    body = EventSubscription(
        destination=StorageQueueEventSubscriptionDestination(
            resource_id=spec["account_id"],
            queue_name=spec["queue"],
            queue_message_time_to_live_in_seconds=spec["queue_message_ttl"],
        ),
        filter=EventSubscriptionFilter(
            included_event_types=spec["included_event_types"] or None,
            subject_begins_with=spec["subject_begins_with"] or None,
            subject_ends_with=spec["subject_ends_with"] or None,
            # Object keys are case-sensitive, as on the other providers.
            is_subject_case_sensitive=True,
        ),
        labels=marks.labels(names, resource.spec_hash),
        event_delivery_schema="EventGridSchema",
        retry_policy=RetryPolicy(
            max_delivery_attempts=spec["max_delivery_attempts"],
            event_time_to_live_in_minutes=spec["event_ttl_minutes"],
        ),
    )
    return [
        ArmRequest(
            f"{_subscriptions(spec['source'])}.begin_create_or_update",
            _subscription_arguments(names, spec["source"], resource.parent, resource.name),
            "event_subscription_info",
            body,
        )
    ]


def _subscriptions(source: str) -> str:
    if source == "topic":
        return "eventgrid.topic_event_subscriptions"
    return "eventgrid.system_topic_event_subscriptions"


def _subscription_arguments(
    names: Names, source: str, topic: str, name: str
) -> tuple[tuple[str, str], ...]:
    parent = "topic_name" if source == "topic" else "system_topic_name"
    return in_group(names, (parent, topic), ("event_subscription_name", name))


def _delete_subscription(found: Observed, names: Names) -> list[ArmRequest]:
    source = found.details.get("source", "topic")
    arguments = _subscription_arguments(names, source, found.parent, found.name)
    return [ArmRequest(f"{_subscriptions(source)}.begin_delete", arguments)]


REQUESTS = {
    Kind.EVENTGRID_TOPIC: KindRequests(_topic, _delete_topic),
    Kind.EVENTGRID_SYSTEM_TOPIC: KindRequests(_system_topic, _delete_system_topic),
    Kind.EVENT_SUBSCRIPTION: KindRequests(_subscription, _delete_subscription),
}
