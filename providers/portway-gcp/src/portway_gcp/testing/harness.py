"""The GCP provider's conformance harness: deploy on Google's emulators, play what they lack.

:meth:`GcpEmulatorHarness.start` writes a project in a temporary folder (the pipeline's
module copied in, a ``portway.toml`` with one ``gcp`` stage on the emulators, naming
the calls they lack in ``emulator_skips``) and deploys it with
:class:`~portway_gcp.deploy.deployment.GcpDeployment`, as ``portway deploy`` does. The
Pub/Sub emulator then holds every topic and subscription and does the delivery itself:
real push requests, redelivery of what a function refused, dead-letter policies with
their attempt counts. The storage emulator holds the buckets; drongo the functions and
Scheduler jobs. What no emulator does, the harness plays, reading what to play from
what deploy created:

* each deployed function runs in a functions-framework server from the source zip
  deploy built, with the environment the Functions API reports
  (:mod:`~portway_gcp.testing.function_servers`);
* Cloud Run's routing: each push subscription deploy pointed at a function's URL is
  pointed at that function's local server instead (``modify_push_config``), through a
  relay adding the ``deliveryAttempt`` the emulator omits
  (:mod:`~portway_gcp.testing.push_relay`);
* Cloud Storage notifications: every object written through the storage front gets the
  ``OBJECT_FINALIZE`` messages of the notification configs deploy recorded
  (:mod:`~portway_gcp.testing.notifications`, :mod:`~portway_gcp.testing.storage_front`);
* Cloud Scheduler: each stored job calls its function at its cron times
  (:mod:`~portway_gcp.testing.scheduler`);
* HTTP: a request goes to the server of the function whose route matches it.

Dead letters are read from the dead-letter pull subscriptions, with the reason the
function logged (:mod:`~portway_gcp.testing.dead_letters`).
"""

from __future__ import annotations

import base64
import contextlib
import threading
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

from portway.model import Queue
from portway.model.triggers import HttpTrigger, MessageTrigger, ObjectCreatedTrigger
from portway.testing.harness import DeadLetter, HttpReply
from portway.testing.workspace import (
    HarnessError,
    WorkspaceHarness,
    copy_pipeline_module,
    request_local,
)

if TYPE_CHECKING:
    from pathlib import Path

    from portway.config import StageConfig
    from portway.model import Pipeline
    from portway_gcp.deploy.deployment import GcpDeployment
    from portway_gcp.testing.emulators import EmulatorEndpoints
    from portway_gcp.testing.function_servers import FunctionServer
    from portway_gcp.testing.notifications import NotificationPlayer
    from portway_gcp.testing.push_relay import PushRelay
    from portway_gcp.testing.scheduler import JobPlayer, Run
    from portway_gcp.testing.storage_front import StorageFront

PROJECT = "portway-conformance"
REGION = "europe-west1"
# Names the Pub/Sub and Cloud Storage service agents; any 12 digits do on emulators.
PROJECT_NUMBER = "123456789012"
_JOIN_TIMEOUT = 5.0

__all__ = ["GcpEmulatorHarness", "HarnessError", "copy_pipeline_module"]


class _Stoppable(Protocol):
    def stop(self) -> None: ...


class GcpEmulatorHarness(WorkspaceHarness):
    """Deploys the pipeline on Google's emulators and plays Cloud Run, GCS notifications
    and Cloud Scheduler against them.

    ``endpoints``: running emulators to use (each start deploys a stage of its own
    there); by default the harness starts its own and stops them after. ``keep``:
    leave the temporary folder (logs, project, unpacked source) behind.
    """

    latency = 30.0
    poll_interval = 0.2
    provider = "gcp"
    workspace_prefix = "portway-gcp-conformance-"

    def __init__(self, *, endpoints: EmulatorEndpoints | None = None, keep: bool = False) -> None:
        super().__init__(keep=keep)
        self.endpoints = endpoints
        self.deployment: GcpDeployment | None = None
        self.stage: StageConfig | None = None
        self.servers: dict[str, FunctionServer] = {}
        self._pipeline: Pipeline | None = None
        self._emulators: list[_Stoppable] = []
        self._front: StorageFront | None = None
        self._relay: PushRelay | None = None
        self._notifications: NotificationPlayer | None = None
        self._jobs: dict[str, JobPlayer] = {}
        self._runs: list[Run] = []
        self._pushed: list[str] = []  # subscription paths re-pointed at the relay
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, app: str, pipeline: Pipeline) -> None:
        from portway.config import load_project
        from portway_gcp.deploy.deployment import GcpDeployment
        from portway_gcp.deploy.kinds import SKIPS
        from portway_gcp.testing.push_relay import PushRelay
        from portway_gcp.testing.storage_front import StorageFront

        self._pipeline = pipeline
        self.folder = self.open_workspace()
        endpoints = self.endpoints or self._start_emulators(self.folder)
        # Every Cloud Storage client (deploy, this data plane, the functions) goes through
        # the front, so each object written is seen and notified, whoever writes it.
        self._front = StorageFront(endpoints.storage, self._object_finalized)
        self._front.start()
        self._relay = PushRelay()
        self._relay.start()
        project = self.folder / "project"
        project.mkdir()
        module = copy_pipeline_module(app, project)
        # A stage of its own per start: emulators shared by a session may hold an
        # earlier one (hex digits cannot spell the "google" Cloud Storage refuses).
        stage_name = f"conf-{uuid.uuid4().hex[:8]}"
        settings = {
            **endpoints.stage_settings(PROJECT, REGION),
            "storage_endpoint": self._front.endpoint,
            "project_number": PROJECT_NUMBER,
        }
        lines = [f'app = "{module}"', "", f"[stages.{stage_name}]", 'provider = "gcp"']
        lines += [f'{key} = "{value}"' for key, value in settings.items()]
        lines.append("emulator_skips = [" + ", ".join(f'"{s}"' for s in sorted(SKIPS)) + "]")
        (project / "portway.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.stage = load_project(project).stage(stage_name)
        deploy_log = (self.folder / "deploy.log").open("a", encoding="utf-8")
        try:
            deployment = GcpDeployment(
                pipeline.name,
                self.stage,
                pipeline,
                progress=lambda line: print(line, file=deploy_log, flush=True),
            )
            self.deployment = deployment
            deployment.apply(deployment.plan())
        except Exception as error:
            raise HarnessError(
                f"deploying the pipeline on the emulators failed: {error}\n{self.diagnostics()}"
            ) from error
        finally:
            deploy_log.close()
        self._play(deployment, endpoints)
        from portway.providers import registry

        self.dataplane = registry().provider("gcp").connect(pipeline, self.stage)

    def _start_emulators(self, folder: Path) -> EmulatorEndpoints:
        """Start the three emulators at once (the Pub/Sub one takes seconds)."""
        from portway_gcp.testing.emulators import (
            DrongoServer,
            EmulatorEndpoints,
            PubSubEmulator,
            StorageEmulator,
        )

        pubsub = PubSubEmulator(folder / "pubsub-emulator.log")
        storage = StorageEmulator(folder / "storage-emulator.log")
        drongo = DrongoServer(folder / "drongo.log")
        self._emulators = [pubsub, storage, drongo]
        with ThreadPoolExecutor(max_workers=3) as pool:
            started = [pool.submit(emulator.start) for emulator in (pubsub, storage, drongo)]
            for future in started:
                future.result()
        return EmulatorEndpoints(
            pubsub.endpoint, storage.endpoint, drongo.endpoint, drongo.iam_endpoint
        )

    def _play(self, deployment: GcpDeployment, endpoints: EmulatorEndpoints) -> None:
        """Serve every function, then route pushes, notifications and schedules to them."""
        from portway_gcp.testing import playing

        assert self.folder is not None
        assert self._relay is not None
        assert self._front is not None
        assert self._pipeline is not None
        deployed = playing.deployed_functions(deployment, self._pipeline)
        self.servers = playing.serve_functions(
            deployment,
            deployed,
            folder=self.folder,
            environment={
                "PUBSUB_EMULATOR_HOST": endpoints.pubsub,
                "STORAGE_EMULATOR_HOST": self._front.endpoint,
            },
        )
        by_url = {found.url: name for name, found in deployed.items()}
        self._pushed = playing.route_pushes(deployment, by_url, self.servers, self._relay)
        self._notifications = playing.notification_player(deployment)
        self._jobs = playing.job_players(deployment, by_url, self.servers, self._observe_run)
        for player in self._jobs.values():
            player.start()

    def _object_finalized(self, resource: Mapping[str, object]) -> None:
        player = self._notifications
        if player is not None:
            player.object_finalized(resource)

    def _observe_run(self, run: Run) -> None:
        with self._lock:
            self._runs.append(run)

    def fire_schedule(self, function: str) -> Run:
        """Run ``function``'s Scheduler job now (the emulator never runs one)."""
        return self._jobs[function].fire()

    def stop(self) -> None:
        from portway_gcp.testing import playing
        from portway_gcp.testing.function_servers import stop_servers

        for player in self._jobs.values():
            player.stop()
        for player in self._jobs.values():
            player.join(_JOIN_TIMEOUT)
        self._jobs = {}
        if self.deployment is not None and self._pushed and not self._emulators:
            # Shared emulators outlive this run: stop their pushes to the relay going away.
            with contextlib.suppress(Exception):
                playing.stop_pushes(self.deployment, self._pushed)
        self._pushed = []
        stop_servers(self.servers.values())
        self.servers = {}
        for service in (self._relay, self._front):
            if service is not None:
                service.stop()
        self._relay = self._front = None
        self._notifications = None
        self.close_dataplane()
        self.deployment = None
        for emulator in reversed(self._emulators):
            with contextlib.suppress(Exception):
                emulator.stop()
        self._emulators = []
        self.close_workspace()

    def diagnostics(self) -> str:
        if self.folder is None:
            return ""
        parts = []
        if self._relay is not None:
            pushes = [
                f"{p.function}: message {p.message_id} attempt {p.attempt} -> {p.status}"
                for p in self._relay.pushes[-40:]
            ]
            if pushes:
                parts.append("pushes:\n" + "\n".join(pushes))
            if self._relay.errors:
                parts.append("push relay: " + "; ".join(self._relay.errors[-5:]))
        if self._front is not None and self._front.errors:
            parts.append("storage front: " + "; ".join(self._front.errors[-5:]))
        if self._notifications is not None and self._notifications.errors:
            parts.append("notifications: " + "; ".join(self._notifications.errors[-5:]))
        with self._lock:
            runs = [f"{r.job} due {r.due.isoformat()}: {r.status} {r.error}" for r in self._runs]
        if runs:
            parts.append("scheduler runs:\n" + "\n".join(runs[-10:]))
        parts.extend(self.log_tails(30))
        return "\n".join(parts)

    # -- data plane ------------------------------------------------------------------

    def dead_letters(self, source: str) -> list[DeadLetter]:
        from portway_gcp import native_events
        from portway_gcp.testing.dead_letters import SOURCE_PUBLISH_TIME, failure_reasons, peek
        from portway_gcp.testing.push_relay import DEAD_LETTER_ATTRIBUTE_PREFIX, message_fingerprint

        deployment, pipeline = self._deployed()
        assert self._relay is not None
        names = deployment.names
        if isinstance(pipeline.resources.get(source), Queue):
            consumers = [
                f.name
                for f in pipeline.functions.values()
                if isinstance(f.trigger, MessageTrigger) and f.trigger.source.name == source
            ]
            subscription = names.queue_subscription(source)
            dead_letter_subscription = names.dead_letter_subscription(source)
        else:
            function = pipeline.function(source)
            consumers = [function.name]
            subscription = names.trigger_subscription(function.name)
            dead_letter_subscription = names.trigger_dead_letter_subscription(function.name)
        object_trigger = any(
            isinstance(pipeline.function(c).trigger, ObjectCreatedTrigger) for c in consumers
        )
        lines: list[str] = []
        for consumer in consumers:
            server = self.servers.get(consumer)
            if server is not None:
                with contextlib.suppress(OSError):
                    lines += server.log_path.read_text(
                        encoding="utf-8", errors="replace"
                    ).splitlines()
        reasons = failure_reasons(lines)
        letters = []
        path = names.subscription_path(dead_letter_subscription)
        for pulled in peek(deployment.gcp.subscriber, path):
            fingerprint = message_fingerprint(
                base64.b64encode(pulled.data).decode("ascii"),
                pulled.attributes,
                pulled.attributes.get(SOURCE_PUBLISH_TIME, ""),
            )
            identifier = self._relay.original_id(subscription, fingerprint) or pulled.message_id
            kept = {
                k: v
                for k, v in pulled.attributes.items()
                if not k.startswith(DEAD_LETTER_ATTRIBUTE_PREFIX)
            }
            if object_trigger:  # the Cloud Storage notification, as delivered
                body, attributes = pulled.data, kept
            else:
                content_type = kept.pop(native_events.CONTENT_TYPE_ATTRIBUTE, None)
                body, _ = native_events.decode_body(pulled.data, content_type)
                attributes = kept
            reason = next(
                (reasons[(c, identifier)] for c in consumers if (c, identifier) in reasons),
                "unknown: no failure was logged for this message",
            )
            letters.append(DeadLetter(identifier, body, attributes, pulled.attempts, reason))
        return letters

    def _deployed(self) -> tuple[GcpDeployment, Pipeline]:
        if self.deployment is None or self._pipeline is None:
            raise self.not_started()
        return self.deployment, self._pipeline

    def http(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> HttpReply:
        from urllib.parse import urlsplit

        _, pipeline = self._deployed()
        route = urlsplit(path).path
        on_path = [
            (f.name, f.trigger)
            for f in pipeline.functions.values()
            if isinstance(f.trigger, HttpTrigger) and f.trigger.match(route) is not None
        ]
        # Each route is a function with its own URL; one on the same path answers 405.
        chosen = next(
            (name for name, trigger in on_path if trigger.method == method.upper()),
            on_path[0][0] if on_path else None,
        )
        if chosen is None or chosen not in self.servers:
            return HttpReply(
                404, {"content-type": "text/plain"}, b"no function serves " + route.encode()
            )
        # Cloud Run checks a private function's identity token at its front end, which is
        # not played: the local server answers every caller (the invoker bindings deploy
        # makes are tested with the deploy).
        server = self.servers[chosen]
        return request_local(server.port, method, path, body=body, headers=headers)
