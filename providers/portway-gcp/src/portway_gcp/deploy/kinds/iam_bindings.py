"""``iam:bindings``: the role bindings portway adds to one resource's IAM policy.

Read-modify-write, on the resource itself (a bucket, a topic, a subscription, a
function's Cloud Run service), never on the project: read the policy, remove the
bindings portway added before and no longer wants (the record's), add the wanted ones
(:mod:`portway_gcp.iam` computes them), keep every other binding and every conditional
binding as found, and write it back with the ``etag`` read, so a concurrent change makes
the write fail instead of being lost. A policy that already holds exactly that is not
written. https://cloud.google.com/iam/docs/policies#etag
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portway_gcp.deploy.resources import Kind

if TYPE_CHECKING:
    from portway_gcp.deploy.kinds import ApplyContext
    from portway_gcp.deploy.kinds.calls import ResourceCalls
    from portway_gcp.deploy.observe import Observed
    from portway_gcp.deploy.resources import GcpResource

Pair = tuple[str, str]  # (role, member)
#: Cloud Run admin API v2 (the function's service): getIamPolicy / setIamPolicy.
#: https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services/setIamPolicy
RUN_API = "https://run.googleapis.com/v2"


def pairs(bindings: Iterable[Mapping[str, str]]) -> set[Pair]:
    return {(b["role"], b["member"]) for b in bindings}


def merge(
    bindings: Sequence[Mapping[str, Any]], remove: set[Pair], add: set[Pair]
) -> list[dict[str, Any]] | None:
    """``bindings`` (``{"role", "members", "condition"?}``) without ``remove``, with
    ``add``; ``None`` when that changes nothing. Conditional bindings are kept as found."""
    current: dict[str, list[str]] = {}
    kept: list[dict[str, Any]] = []
    for binding in bindings:
        if binding.get("condition"):
            kept.append(dict(binding))
            continue
        current.setdefault(str(binding["role"]), []).extend(binding.get("members", ()))
    before = {(role, member) for role, members in current.items() for member in members}
    after = (before - remove) | add
    if after == before:
        return None
    roles: dict[str, list[str]] = {}
    for role, member in sorted(after):
        roles.setdefault(role, []).append(member)
    return kept + [{"role": role, "members": members} for role, members in sorted(roles.items())]


@dataclass(frozen=True, slots=True)
class PolicyTarget:
    """How to read and write the IAM policy of one resource (by its kind of name)."""

    path: str
    context: ApplyContext
    calls: ResourceCalls

    @property
    def gap(self) -> str | None:
        """The emulator gap covering this resource's IAM calls, if any."""
        if "/services/" in self.path:
            return "function-iam"
        if self.path.startswith("projects/_/buckets/"):
            return None
        return "pubsub-iam"

    def rewrite(self, remove: set[Pair], add: set[Pair]) -> None:
        if self.path.startswith("projects/_/buckets/"):
            self._bucket(remove, add)
        elif "/services/" in self.path:
            self._run_service(remove, add)
        else:
            self._pubsub(remove, add)

    def _read(self, operation: str, method: Any, /, *args: Any, **kwargs: Any) -> Any:
        """The policy, or ``None`` when the resource is gone (and its policy with it)."""
        from google.api_core import exceptions

        return self.calls.unless(
            (exceptions.NotFound,), operation, method, *args, mutating=False, **kwargs
        )

    def _bucket(self, remove: set[Pair], add: set[Pair]) -> None:
        bucket = self.context.clients.storage.bucket(self.path.rsplit("/", 1)[1])
        # Version 3 reads conditional bindings too, so they are written back unchanged.
        policy = self._read(
            "storage.buckets.getIamPolicy", bucket.get_iam_policy, requested_policy_version=3
        )
        if policy is None:
            return
        merged = merge(
            [{**b, "members": sorted(b.get("members", ()))} for b in policy.bindings],
            remove,
            add,
        )
        if merged is None:
            return
        policy.bindings = [{**b, "members": set(b["members"])} for b in merged]
        self.calls.settling("storage.buckets.setIamPolicy", bucket.set_iam_policy, policy)

    def _pubsub(self, remove: set[Pair], add: set[Pair]) -> None:
        clients = self.context.clients
        client = clients.subscriber if "/subscriptions/" in self.path else clients.publisher
        policy = self._read(
            "pubsub.getIamPolicy", client.get_iam_policy, request={"resource": self.path}
        )
        if policy is None:
            return
        written = pubsub_policy(policy, remove, add)
        if written is None:
            return
        self.calls.settling(
            "pubsub.setIamPolicy",
            client.set_iam_policy,
            request={"resource": self.path, "policy": written},
        )

    def _run_service(self, remove: set[Pair], add: set[Pair]) -> None:
        from google.auth.transport.requests import AuthorizedSession

        credentials = self.context.clients.google_credentials()
        session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        url = f"{RUN_API}/{self.path}"
        policy = self._read(
            "run.services.getIamPolicy", _json, session, "GET", f"{url}:getIamPolicy"
        )
        if policy is None:
            return
        body = run_policy_request(policy, remove, add)
        if body is None:
            return
        self.calls.settling(
            "run.services.setIamPolicy", _json, session, "POST", f"{url}:setIamPolicy", body
        )


def pubsub_policy(policy: Any, remove: set[Pair], add: set[Pair]) -> Any:
    """The ``google.iam.v1.Policy`` to write back on a topic or subscription (``None``:
    nothing changes): same version and etag, conditional bindings as found."""
    from google.iam.v1 import policy_pb2  # type: ignore[import-untyped]

    found = [
        {"role": b.role, "members": list(b.members), "condition": b.condition.expression}
        for b in policy.bindings
    ]
    merged = merge(found, remove, add)
    if merged is None:
        return None
    written = policy_pb2.Policy(version=policy.version, etag=policy.etag)
    for binding in merged:
        if not binding.get("condition"):
            written.bindings.add(role=binding["role"], members=binding["members"])
    for kept in policy.bindings:
        if kept.condition.expression:
            written.bindings.append(kept)
    return written


def run_policy_request(
    policy: Mapping[str, Any], remove: set[Pair], add: set[Pair]
) -> dict[str, Any] | None:
    """The body of Cloud Run's ``setIamPolicy`` for ``policy`` as read (JSON), or ``None``
    when nothing changes; its ``etag`` makes a concurrent change fail the write."""
    merged = merge(policy.get("bindings", []), remove, add)
    if merged is None:
        return None
    return {"policy": {**policy, "bindings": merged}}


def _json(session: Any, method: str, url: str, body: Mapping[str, Any] | None = None) -> Any:
    """One Cloud Run admin call; Google's error answer raised as its api_core exception."""
    from google.api_core import exceptions

    response = session.request(method, url, json=body)
    if response.status_code >= 400:
        raise exceptions.from_http_response(response)  # type: ignore[no-untyped-call]
    return response.json()


class _BindingsOperations:
    kind = Kind.IAM_BINDINGS

    def create(self, context: ApplyContext, resource: GcpResource) -> None:
        self._rewrite(context, resource.name, set(), pairs(resource.spec["bindings"]))

    def update(self, context: ApplyContext, resource: GcpResource, observed: Observed) -> None:
        before = pairs(observed.attributes.get("spec", {}).get("bindings", []))
        self._rewrite(context, resource.name, before, pairs(resource.spec["bindings"]))

    def delete(self, context: ApplyContext, observed: Observed) -> None:
        before = pairs(observed.attributes.get("spec", {}).get("bindings", []))
        self._rewrite(context, observed.name, before, set())

    def _rewrite(self, context: ApplyContext, path: str, remove: set[Pair], add: set[Pair]) -> None:
        target = PolicyTarget(path, context, context.calls(self.kind, path))
        if target.gap is not None and context.skip(target.gap, f"setIamPolicy {path}"):
            return
        target.rewrite(remove, add)


OPERATIONS = _BindingsOperations()
