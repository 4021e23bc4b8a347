"""What the harness plays, read from what deploy created on the emulators.

Each function reads the deployment (the Functions API on drongo, the subscriptions of
the Pub/Sub emulator, the Scheduler jobs, the deploy record) and sets up one part of the
platform the emulators lack. Deploy wiring is checked on the way: a push subscription
or a job calling a URL that is no deployed function's fails the start, as it would
fail every delivery on Google Cloud.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from portway.errors import PortwayError
from portway.model.triggers import MessageTrigger, ObjectCreatedTrigger

if TYPE_CHECKING:
    from portway.model import Pipeline
    from portway_gcp.deploy.deployment import GcpDeployment
    from portway_gcp.testing.function_servers import FunctionServer
    from portway_gcp.testing.notifications import NotificationPlayer
    from portway_gcp.testing.push_relay import PushRelay
    from portway_gcp.testing.scheduler import JobPlayer, Run


class PlayError(PortwayError):
    """What deploy created cannot be played (a wiring mistake, or a source mismatch)."""


@dataclass(frozen=True, slots=True)
class DeployedFunction:
    """What the Functions API reports of one deployed function."""

    name: str  # projects/P/locations/R/functions/F
    url: str
    entry_point: str
    environment: Mapping[str, str]
    labels: Mapping[str, str]


def deployed_functions(
    deployment: GcpDeployment, pipeline: Pipeline
) -> dict[str, DeployedFunction]:
    """Portway function name -> what the Functions API holds for it."""
    found = {}
    for function in pipeline.functions.values():
        path = deployment.names.function_path(function.name)
        resource = deployment.gcp.functions.get_function(request={"name": path})
        found[function.name] = DeployedFunction(
            name=path,
            url=resource.url or resource.service_config.uri,
            entry_point=resource.build_config.entry_point,
            environment=dict(resource.service_config.environment_variables),
            labels=dict(resource.labels),
        )
    return found


def serve_functions(
    deployment: GcpDeployment,
    deployed: Mapping[str, DeployedFunction],
    *,
    folder: Path,
    environment: Mapping[str, str],
) -> dict[str, FunctionServer]:
    """Start a server per function from deploy's source zip; return them once all answer.

    The emulators keep no uploaded source (``function-source-upload`` is skipped), so
    the zip is the one deploy built, tied to each function by the source digest deploy
    labelled it with. ``environment``: the emulators' variables, added to each
    function's deployed ones (a deployed variable of the same name wins).
    """
    from portway_gcp.deploy.observe import SOURCE_DIGITS, SOURCE_LABEL
    from portway_gcp.testing.function_servers import (
        FunctionServer,
        start_servers,
        unpack_source,
    )

    artifact = deployment.artifact
    for name, function in deployed.items():
        label = function.labels.get(SOURCE_LABEL, "")
        if label != artifact.sha256[:SOURCE_DIGITS]:
            raise PlayError(
                f"function {name!r} was deployed from source {label!r}, not from the zip "
                f"{artifact.path} ({artifact.sha256[:SOURCE_DIGITS]}): deploy again"
            )
    source = unpack_source(artifact.path, artifact.sha256, folder / "source")
    servers = {
        name: FunctionServer(
            name,
            source=source,
            entry_point=function.entry_point,
            environment={
                **environment,
                # The project a client library finds through the metadata server on
                # Cloud Run; no metadata server is probed here.
                "GOOGLE_CLOUD_PROJECT": deployment.names.project,
                "NO_GCE_CHECK": "true",
                **function.environment,
            },
            log_path=folder / f"function-{name}.log",
            service=function.name.rsplit("/", 1)[-1],
        )
        for name, function in deployed.items()
    }
    start_servers(servers.values())
    return servers


def route_pushes(
    deployment: GcpDeployment,
    by_url: Mapping[str, str],
    servers: Mapping[str, FunctionServer],
    relay: PushRelay,
) -> list[str]:
    """Point each push subscription of the deployment at its function's local server.

    The subscription keeps everything deploy gave it (ack deadline, dead-letter policy,
    OIDC token) but the endpoint: the function's URL becomes the relay's path for that
    function, Cloud Run's routing played. Returns the subscriptions re-pointed.
    """
    from portway_gcp.testing.push_relay import PushTarget

    names = deployment.names
    subscriber = deployment.gcp.subscriber
    prefix = names.subscription_path(f"{names.prefix}-")
    pushed = []
    listed = subscriber.list_subscriptions(request={"project": f"projects/{names.project}"})
    for subscription in listed:
        endpoint = subscription.push_config.push_endpoint
        if not subscription.name.startswith(prefix) or not endpoint:
            continue
        function = by_url.get(endpoint)
        if function is None:
            raise PlayError(
                f"subscription {subscription.name} pushes to {endpoint}, which is no "
                f"deployed function's URL"
            )
        timeout = float(subscription.ack_deadline_seconds or 10)
        relay.route(function, PushTarget(servers[function].port, timeout))
        config = type(subscription.push_config).to_dict(subscription.push_config)
        config["push_endpoint"] = relay.endpoint(function)
        subscriber.modify_push_config(
            request={"subscription": subscription.name, "push_config": config}
        )
        pushed.append(subscription.name)
    fed = set(relay.targets)
    wanted = {
        f.name
        for f in deployment.pipeline.functions.values()  # type: ignore[union-attr]
        if isinstance(f.trigger, MessageTrigger | ObjectCreatedTrigger)
    }
    if wanted - fed:
        raise PlayError(
            "no push subscription delivers to function(s) " + ", ".join(sorted(wanted - fed))
        )
    return pushed


def stop_pushes(deployment: GcpDeployment, subscriptions: list[str]) -> None:
    """Make ``subscriptions`` pull subscriptions (an empty push config): nothing pushes
    to a relay that is going away; their messages stay."""
    for name in subscriptions:
        deployment.gcp.subscriber.modify_push_config(
            request={"subscription": name, "push_config": {}}, timeout=10, retry=None
        )


def notification_player(deployment: GcpDeployment) -> NotificationPlayer:
    """The bucket notifications deploy recorded, played on each object written.

    Neither storage emulator keeps notification configs (``storage-notifications`` is
    skipped), so they are read from the deploy record, which lists what deploy would
    have created (Cloud Storage gives a config its id; the topic's id stands for it).
    """
    from portway_gcp.deploy.resources import Kind
    from portway_gcp.testing.notifications import NotificationConfig, NotificationPlayer

    record = deployment.records.read()
    configs = []
    for resource in record.resources if record is not None else ():
        if resource.kind != Kind.STORAGE_NOTIFICATION:
            continue
        spec = resource.spec
        configs.append(
            NotificationConfig(
                id=resource.name.rsplit("/", 1)[-1],
                bucket=str(spec["bucket"]).rsplit("/", 1)[-1],
                topic=str(spec["topic"]),
                object_name_prefix=str(spec.get("object_name_prefix") or ""),
                event_types=tuple(spec.get("event_types") or ()),
                payload_format=str(spec.get("payload_format") or "JSON_API_V1"),
            )
        )
    return NotificationPlayer(deployment.gcp.publisher, configs)


def job_players(
    deployment: GcpDeployment,
    by_url: Mapping[str, str],
    servers: Mapping[str, FunctionServer],
    observe: Callable[[Run], None],
) -> dict[str, JobPlayer]:
    """Portway function name -> a player of the Scheduler job calling it (not started)."""
    from portway_gcp.testing.scheduler import JobPlayer, StoredJob

    names = deployment.names
    prefix = f"{names.location_path}/jobs/{names.prefix}-"
    players = {}
    for job in deployment.gcp.scheduler.list_jobs(request={"parent": names.location_path}):
        if not job.name.startswith(prefix) or job.state.name == "PAUSED":
            continue
        target = job.http_target
        function = by_url.get(target.uri)
        if function is None:
            raise PlayError(f"job {job.name} calls {target.uri}, no deployed function's URL")
        local = servers[function].url
        stored = StoredJob(
            name=job.name,
            schedule=job.schedule,
            time_zone=job.time_zone or "UTC",
            uri=target.uri,
            http_method=target.http_method.name,
            body=bytes(target.body),
            headers=dict(target.headers),
        )
        players[function] = JobPlayer(stored, _resolver(target.uri, local), observe)
    return players


def _resolver(deployed: str, local: str) -> Callable[[str], str | None]:
    def resolve(uri: str) -> str | None:
        return local + uri.removeprefix(deployed) if uri.startswith(deployed) else None

    return resolve
