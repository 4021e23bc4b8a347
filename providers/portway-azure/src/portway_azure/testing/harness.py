"""The Azure provider's conformance harness: the packaged apps on Azurite, the host played.

Azurite holds Blob Storage and Storage Queues, but there is no Functions host, no Event
Grid and no ARM to deploy to. :meth:`AzuriteHarness.start` therefore does what deploy
and Azure would do, from what deploy itself computes:

* the data-plane resources of :func:`~portway_azure.deploy.desired.desired_resources`
  (containers, queues, poison queues, trigger queues) are created in Azurite (emptied
  when a previous run left them);
* Event Grid is played by :class:`~portway_azure.testing.event_grid.EventGridPlayer`: a
  topic per Event Grid topic, the storage system topic, and a subscription per desired
  event subscription (its queue and ``subjectBeginsWith`` / ``subjectEndsWith`` /
  event type filters); every blob written to a watched container becomes a
  ``BlobCreated`` event (:mod:`~portway_azure.testing.blob_watcher`);
* every app group's zip is built by :func:`~portway_azure.package.build_app_archives`,
  exactly as deploy uploads it, unpacked, its ``requirements.txt`` installed from this
  machine (:mod:`~portway_azure.testing.python_packages`), and run by a worker process
  (:mod:`~portway_azure.testing.functions_worker`) with the group's app settings from
  the desired Function App, pointed at Azurite and the player;
* the host is played from each worker's index of ``app.get_functions()`` and the
  group's ``host.json``: queue listeners, timers, HTTP routes with a key per app
  (:mod:`~portway_azure.testing.host`, :mod:`~portway_azure.testing.http_host`).

Dead letters are read from the poison queues, left in place; their attempts and
reasons are those the listener saw (Storage Queues keep no failure reason).
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import zipfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import unquote

from portway.model import MessageTrigger, Queue
from portway.testing.harness import DeadLetter, HttpReply
from portway.testing.workspace import (
    HarnessError,
    WorkspaceHarness,
    copy_pipeline_module,
    request_local,
)
from portway_azure.testing.app_settings import app_environment
from portway_azure.testing.azurite_storage import create_storage, remove_storage
from portway_azure.testing.functions_worker import Invocation

if TYPE_CHECKING:
    from portway.config import StageConfig
    from portway.model import Pipeline
    from portway_azure.deploy.resources import AzureResource
    from portway_azure.naming import Names
    from portway_azure.testing.azurite import Azurite
    from portway_azure.testing.blob_watcher import BlobWatcher
    from portway_azure.testing.event_grid import EventGridPlayer
    from portway_azure.testing.functions_worker import AppWorker
    from portway_azure.testing.host import QueueListener, TimerPlayer
    from portway_azure.testing.http_host import HttpHost

STAGE = "conformance"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "portway-conformance-rg"
LOCATION = "westeurope"
_JOIN_TIMEOUT = 5.0

__all__ = ["AzuriteHarness", "HarnessError"]


class AzuriteHarness(WorkspaceHarness):
    """Runs the packaged Function Apps against Azurite, playing the host and Event Grid.

    ``connection_string``: a running Azurite to use (the tests' session one); without
    it the harness starts its own Azurite and stops it after. ``keep``: leave the
    temporary folder (zips, unpacked apps, logs) behind. The folder, the data plane's
    binding, the log tails and local HTTP are the core's
    (:class:`~portway.testing.workspace.WorkspaceHarness`).
    """

    provider = "azure"
    workspace_prefix = "portway-azure-conformance-"
    latency = 30.0
    poll_interval = 0.2

    def __init__(self, *, connection_string: str | None = None, keep: bool = False) -> None:
        super().__init__(keep=keep)
        self.connection_string = connection_string
        self._pipeline: Pipeline | None = None
        self._stage: StageConfig | None = None
        self._names: Names | None = None
        self._azurite: Azurite | None = None
        self._connection: str | None = None
        self._player: EventGridPlayer | None = None
        self._workers: list[AppWorker] = []
        self._logs: list[IO[bytes]] = []
        self._listeners: dict[str, QueueListener] = {}  # by poison queue name
        self._timers: dict[str, TimerPlayer] = {}
        self._watcher: BlobWatcher | None = None
        self._http: HttpHost | None = None
        self._created: list[tuple[str, str]] = []
        self._clients: list[Any] = []  # storage service clients of the played host
        self._lock = threading.Lock()
        self._activity: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, app: str, pipeline: Pipeline) -> None:
        from portway.config import load_project
        from portway_azure.naming import names_for_stage

        self._pipeline = pipeline
        self._activity.clear()
        folder = self.open_workspace()
        connection = self.connection_string
        if connection is None:
            from portway_azure.testing.azurite import Azurite

            self._azurite = Azurite()
            connection = self._azurite.start().connection_string
        self._connection = connection
        project = folder / "project"
        project.mkdir()
        module = copy_pipeline_module(app, project)
        (project / "portway.toml").write_text(
            f'app = "{module}"\n\n[stages.{STAGE}]\nprovider = "azure"\n'
            f'subscription = "{SUBSCRIPTION}"\nresource_group = "{RESOURCE_GROUP}"\n'
            f'location = "{LOCATION}"\nconnection_string = "{connection}"\n',
            encoding="utf-8",
        )
        stage = self._stage = load_project(project).stage(STAGE)
        names = self._names = names_for_stage(pipeline.name, stage)
        try:
            self._deploy(pipeline, stage, names, connection)
        except Exception as error:
            raise HarnessError(
                f"setting the pipeline up on Azurite failed: {error}\n{self.diagnostics()}"
            ) from error

    def _deploy(
        self, pipeline: Pipeline, stage: StageConfig, names: Names, connection: str
    ) -> None:
        from portway_azure.dataplane import connect_pipeline
        from portway_azure.deploy.desired import data_plane_resources, desired_resources
        from portway_azure.deploy.resources import Kind
        from portway_azure.testing.event_grid import EventGridPlayer

        resources = desired_resources(pipeline, names, app=stage.app)
        self._created = create_storage(data_plane_resources(resources, names), connection)
        player = self._player = EventGridPlayer(
            connection, subscription_id=names.subscription, resource_group=names.resource_group
        ).start()
        endpoints: dict[str, str] = {}
        watched: list[str] = []
        for resource in resources:
            if resource.kind is Kind.EVENTGRID_TOPIC:
                endpoints[_neutral_name(resource)] = player.add_topic(resource.name)
            elif resource.kind is Kind.EVENTGRID_SYSTEM_TOPIC:
                player.add_storage_topic(resource.name, names.storage_account)
            elif resource.kind is Kind.EVENT_SUBSCRIPTION:
                spec = resource.spec
                player.subscribe(
                    resource.parent,
                    str(spec["queue"]),
                    subject_begins_with=str(spec.get("subject_begins_with", "")),
                    subject_ends_with=str(spec.get("subject_ends_with", "")),
                    included_event_types=tuple(spec.get("included_event_types", ())),
                )
                if spec.get("source") == "system-topic":
                    watched.append(_container_of(str(spec.get("subject_begins_with", ""))))
        apps = {r.name: r.spec for r in resources if r.kind is Kind.FUNCTION_APP}
        self._play(pipeline, stage, names, connection, endpoints, apps)
        if watched:
            self._watch(sorted(set(watched)), names.storage_system_topic)
        self.dataplane = connect_pipeline(
            pipeline, stage, topic_endpoints=endpoints, event_grid_key=player.key, environ={}
        )

    def _play(
        self,
        pipeline: Pipeline,
        stage: StageConfig,
        names: Names,
        connection: str,
        endpoints: Mapping[str, str],
        apps: Mapping[str, Mapping[str, Any]],
    ) -> None:
        """Build and unpack every app's zip, start its worker, then play its triggers."""
        from azure.storage.queue import QueueServiceClient

        from portway_azure.clients import AzureResources
        from portway_azure.package import build_app_archives
        from portway_azure.testing.functions_worker import AppWorker
        from portway_azure.testing.host import QueueListener, QueueSettings, TimerPlayer, seconds_of
        from portway_azure.testing.http_host import HttpHost, new_key, route_of
        from portway_azure.testing.python_packages import install_pinned

        assert self.folder is not None
        assert self._player is not None
        every = AzureResources.for_pipeline(pipeline, names, topic_endpoints=endpoints)
        routes = []
        prepared: list[tuple[AppWorker, dict[str, str], QueueSettings]] = []
        for archive in build_app_archives(pipeline, stage, self.folder / "zips"):
            root = self.folder / "apps" / archive.group
            with zipfile.ZipFile(archive.path) as opened:
                opened.extractall(root)
            packages = install_pinned(root / "requirements.txt", self.folder / "python_packages")
            host = json.loads((root / "host.json").read_text(encoding="utf-8"))
            site = names.function_app(archive.group)
            if site not in apps:
                raise HarnessError(
                    f"app group {archive.group!r} was packaged, but the desired resources "
                    f"hold no Function App {site!r} for it"
                )
            environment = app_environment(
                apps[site],
                connection=connection,
                player=self._player,
                every=every,
            )
            log = (self.folder / f"app-{archive.group}.log").open("ab")
            self._logs.append(log)
            worker = AppWorker(
                archive.group,
                root=root,
                packages=packages,
                environment=environment,
                timeout=seconds_of(str(host.get("functionTimeout", "00:30:00"))),
                log=log,
            )
            self._workers.append(worker)
            prepared.append((worker, environment, QueueSettings.from_host_json(host)))
        # Every worker imports its app at once: a cold start each, in parallel.
        with ThreadPoolExecutor(max_workers=len(prepared) or 1) as pool:
            indexes = list(pool.map(lambda entry: entry[0].start(), prepared))
        for (worker, environment, settings), index in zip(prepared, indexes, strict=True):
            key = new_key()
            for name, function in index.items():
                trigger = function.trigger
                if trigger["type"] == "queueTrigger":
                    service = QueueServiceClient.from_connection_string(
                        environment[str(trigger["connection"])]
                    )
                    self._clients.append(service)
                    queue = str(trigger["queueName"])
                    listener = QueueListener(
                        name,
                        service.get_queue_client(queue),
                        service.get_queue_client(f"{queue}-poison"),
                        settings,
                        worker,
                        self._observe,
                    )
                    self._listeners[f"{queue}-poison"] = listener
                elif trigger["type"] == "timerTrigger":
                    self._timers[name] = TimerPlayer(
                        name, str(trigger["schedule"]), worker, self._observe
                    )
                elif trigger["type"] == "httpTrigger":
                    routes.append(route_of(name, dict(trigger), worker, key))
        if routes:
            self._http = HttpHost(routes, self._observe)
            self._http.start()
        for thread in [*self._listeners.values(), *self._timers.values()]:
            thread.start()

    def _watch(self, containers: list[str], system_topic: str) -> None:
        from azure.storage.blob import BlobServiceClient

        from portway_azure.testing.blob_watcher import BlobWatcher

        assert self._connection is not None
        assert self._player is not None
        player = self._player
        service = BlobServiceClient.from_connection_string(self._connection)
        self._clients.append(service)
        watcher = self._watcher = BlobWatcher(
            [service.get_container_client(c) for c in containers],
            lambda container, key: player.blob_created(system_topic, container, key),
        )
        watcher.start()
        watcher.ready.wait(30)

    def fire_schedule(self, function: str) -> Invocation:
        """Fire ``function``'s timer now; return the outcome."""
        return self._timers[function].fire()

    def stop(self) -> None:
        threads: list[Any] = [*self._listeners.values(), *self._timers.values()]
        if self._watcher is not None:
            threads.append(self._watcher)
        for thread in threads:
            thread.stop()
        for thread in threads:
            if thread.is_alive():
                thread.join(_JOIN_TIMEOUT)
        self._listeners, self._timers, self._watcher = {}, {}, None
        for client in self._clients:
            client.close()
        self._clients = []
        if self._http is not None:
            self._http.stop()
            self._http = None
        if self._workers:
            with ThreadPoolExecutor(max_workers=len(self._workers)) as pool:
                list(pool.map(lambda worker: worker.stop(), self._workers))
        self._workers = []
        for log in self._logs:
            log.close()
        self._logs = []
        if self._player is not None:
            self._player.stop()
            self._player = None
        self.close_dataplane()
        if self._azurite is not None:
            self._azurite.stop()  # its data goes with it
            self._azurite = None
        elif self._connection is not None:
            remove_storage(self._created, self._connection)  # leave a shared Azurite as found
        self._created = []
        self._pipeline = self._stage = self._names = self._connection = None
        self.close_workspace()

    def diagnostics(self) -> str:
        if self.folder is None:
            return ""
        parts = []
        with self._lock:
            if self._activity:
                parts.append("invocations:\n" + "\n".join(self._activity[-40:]))
        parts.extend(self.log_tails())
        for listener in self._listeners.values():
            if listener.errors:
                parts.append(f"listener {listener.name}: " + "; ".join(listener.errors[-5:]))
        if self._watcher is not None and self._watcher.errors:
            parts.append("blob watcher: " + "; ".join(self._watcher.errors[-5:]))
        if self._player is not None and self._player.failures:
            failed = [f"{d.subscription.queue}: {why}" for d, why in self._player.failures[-5:]]
            parts.append("event grid deliveries failed: " + "; ".join(failed))
        return "\n".join(parts)

    def _observe(self, function: str, what: str, outcome: Invocation) -> None:
        with self._lock:
            self._activity.append(f"{function}: {what}: {outcome.error or 'ok'}")

    # -- data plane ------------------------------------------------------------------

    def dead_letters(self, source: str) -> list[DeadLetter]:
        from azure.core.exceptions import ResourceNotFoundError
        from azure.storage.queue import QueueClient

        from portway_azure import native_events

        pipeline, names = self._deployed()
        resource = pipeline.resources.get(source)
        if isinstance(resource, Queue):
            poison = names.poison_queue(source)
            consumers = [
                f.trigger
                for f in pipeline.functions.values()
                if isinstance(f.trigger, MessageTrigger) and f.trigger.source is resource
            ]
            trigger = consumers[0] if consumers else None
        else:
            function = pipeline.function(source)
            poison = names.trigger_poison_queue(function.name)
            trigger = function.trigger if isinstance(function.trigger, MessageTrigger) else None
        assert self._connection is not None
        client = QueueClient.from_connection_string(self._connection, poison)
        try:
            messages = list(client.peek_messages(max_messages=32))
        except ResourceNotFoundError:
            return []  # the host creates a poison queue when it first poisons a message
        finally:
            client.close()
        listener = self._listeners.get(poison)
        letters = []
        for message in messages:
            content = str(message.content or "")
            body = _base64_or_text(content)
            identifier, attributes = str(message.id), {}
            if trigger is not None:
                with contextlib.suppress(native_events.MalformedMessage):
                    neutral = native_events.message_of(
                        body, trigger, identifier=identifier, attempt=1, time=None
                    )
                    identifier, body, attributes = (
                        neutral.id,
                        neutral.body,
                        dict(neutral.attributes),
                    )
            seen = listener.poisoned_as(content) if listener is not None else []
            letters.append(
                DeadLetter(
                    id=identifier,
                    body=body,
                    attributes=attributes,
                    attempts=seen[-1].attempts if seen else 0,
                    reason=seen[-1].reason if seen else "unknown: not poisoned by this run",
                )
            )
        return letters

    def _deployed(self) -> tuple[Pipeline, Names]:
        if self._pipeline is None or self._names is None:
            raise self.not_started()
        return self._pipeline, self._names

    def http(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> HttpReply:
        from portway_azure.testing.http_host import KEY_HEADER

        self._deployed()
        if self._http is None:
            raise HarnessError("the pipeline has no HTTP function to serve")
        sent = dict(headers or {})
        found = self._http.find(method, unquote(path.split("?", 1)[0]))
        if found is not None and found[0].auth_level != "anonymous":
            sent[KEY_HEADER] = found[0].key  # what a caller holding the function key sends
        return request_local(self._http.port, method, path, body=body, headers=sent)


def _neutral_name(resource: AzureResource) -> str:
    """The neutral name of a desired Event Grid topic (its ``neutral``: ``topic <name>``)."""
    return resource.neutral.removeprefix("topic ").strip()


def _container_of(subject_begins_with: str) -> str:
    """``/blobServices/default/containers/<container>/blobs/...`` -> ``<container>``."""
    return subject_begins_with.split("/containers/", 1)[1].split("/", 1)[0]


def _base64_or_text(content: str) -> bytes:
    try:
        return base64.b64decode(content, validate=True)
    except ValueError:
        return content.encode("utf-8")
