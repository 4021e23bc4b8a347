"""``pubsub:subscription``: a push subscription feeding a function, or the pull
subscription keeping a dead-letter topic's messages for ``portway dlq``.

A push subscription's endpoint is its function's URL, known once the function exists:
apply resolves ``push_to_function`` (the function's name) to it. Pub/Sub presents the
invoker account's OIDC token, with the URL as audience, as Cloud Run requires.
https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions
https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portway_gcp.deploy.resources import Kind
from portway_gcp.naming import SPEC_LABEL

if TYPE_CHECKING:
    from portway_gcp.deploy.kinds import ApplyContext
    from portway_gcp.deploy.observe import Observed
    from portway_gcp.deploy.resources import GcpResource

# Fields an update may change (the topic is part of the name: a new topic, a new name).
_UPDATABLE = ("ack_deadline_seconds", "message_retention_duration", "push_config")


def push_endpoint(context: ApplyContext, resource: GcpResource) -> str | None:
    push = resource.spec.get("push")
    return context.function_url(push["push_to_function"]) if push else None


def subscription_body(resource: GcpResource, endpoint: str | None) -> dict[str, Any]:
    """The ``Subscription`` message of ``resource``, pushing to ``endpoint`` if it pushes."""
    spec = resource.spec
    push: dict[str, Any] = {}
    if spec.get("push"):
        assert endpoint is not None, "a push subscription needs its function's URL"
        push = {
            "push_endpoint": endpoint,
            "oidc_token": {
                "service_account_email": spec["push"]["oidc_service_account_email"],
                "audience": endpoint,
            },
        }
    body: dict[str, Any] = {
        "name": resource.name,
        "topic": spec["topic"],
        "labels": {**spec["labels"], SPEC_LABEL: resource.spec_hash},
        "ack_deadline_seconds": spec["ack_deadline_seconds"],
        "message_retention_duration": {"seconds": spec["message_retention_seconds"]},
        "push_config": push,
    }
    if spec.get("expiration_policy") == "never":
        body["expiration_policy"] = {}  # no ttl: the subscription never expires
    dead_letters = spec.get("dead_letter_policy")
    if dead_letters:
        body["dead_letter_policy"] = {
            "dead_letter_topic": dead_letters["dead_letter_topic"],
            "max_delivery_attempts": dead_letters["max_delivery_attempts"],
        }
    return body


class _SubscriptionOperations:
    kind = Kind.PUBSUB_SUBSCRIPTION

    def create(self, context: ApplyContext, resource: GcpResource) -> None:
        from google.api_core import exceptions

        body = subscription_body(resource, push_endpoint(context, resource))
        created = context.calls(self.kind, resource.name).unless(
            (exceptions.AlreadyExists,),
            "pubsub.subscriptions.create",
            context.clients.subscriber.create_subscription,
            request=body,
        )
        if created is None:
            self._update(context, resource, body)

    def update(self, context: ApplyContext, resource: GcpResource, observed: Observed) -> None:
        self._update(
            context, resource, subscription_body(resource, push_endpoint(context, resource))
        )

    def _update(self, context: ApplyContext, resource: GcpResource, body: dict[str, Any]) -> None:
        paths = [*_UPDATABLE, "dead_letter_policy"]
        if not context.skip("pubsub-label-update", "pubsub.subscriptions.patch (labels)"):
            paths += ["labels", "expiration_policy"]
        context.calls(self.kind, resource.name).write(
            "pubsub.subscriptions.patch",
            context.clients.subscriber.update_subscription,
            request={"subscription": body, "update_mask": {"paths": paths}},
        )

    def delete(self, context: ApplyContext, observed: Observed) -> None:
        from google.api_core import exceptions

        context.calls(self.kind, observed.name).unless(
            (exceptions.NotFound,),
            "pubsub.subscriptions.delete",
            context.clients.subscriber.delete_subscription,
            request={"subscription": observed.name},
        )


OPERATIONS = _SubscriptionOperations()
