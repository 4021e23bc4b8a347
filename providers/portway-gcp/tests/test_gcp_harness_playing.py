"""What the harness plays besides functions: push delivery's last hop, and Cloud Scheduler.

The push relay sits between the Pub/Sub emulator's push and a function's server; it
adds the ``deliveryAttempt`` Pub/Sub sets on every push of a subscription with a
dead-letter policy (the emulator leaves it out), counting as the emulator counts, so
the dead letter's ``CloudPubSubDeadLetterSourceDeliveryCount`` agrees. Scheduler jobs
are called with the job's body and the headers Cloud Scheduler adds.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from portway_gcp.clients import GcpClients
from portway_gcp.testing.dead_letters import SOURCE_PUBLISH_TIME, peek
from portway_gcp.testing.emulators import EmulatorEndpoints
from portway_gcp.testing.push_relay import PushRelay, PushTarget, message_fingerprint
from portway_gcp.testing.scheduler import JobPlayer, StoredJob, next_runs, scheduler_headers

from portway.testing.harness import wait_for

PROJECT = "portway-test"


class Recorder:
    """A local HTTP server recording each request; answers ``statuses`` in turn, then 200."""

    def __init__(self, statuses: list[int]) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.statuses = list(statuses)
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                recorder.requests.append((self.command, self.path, dict(self.headers), body))
                status = recorder.statuses.pop(0) if recorder.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            do_POST = do_GET = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def relay() -> Iterator[PushRelay]:
    relay = PushRelay()
    relay.start()
    yield relay
    relay.stop()


def pushed_subscription(
    clients: GcpClients, name: str, endpoint: str, max_attempts: int
) -> tuple[str, str, str]:
    """A topic, its push subscription with a dead-letter policy, and the dead-letter pull
    subscription: their paths."""
    publisher, subscriber = clients.publisher, clients.subscriber
    topic = publisher.create_topic(name=f"projects/{PROJECT}/topics/{name}").name
    dead_topic = publisher.create_topic(name=f"{topic}-dlq").name
    dead = subscriber.create_subscription(
        request={"name": f"projects/{PROJECT}/subscriptions/{name}-dlq", "topic": dead_topic}
    ).name
    pushed = subscriber.create_subscription(
        request={
            "name": f"projects/{PROJECT}/subscriptions/{name}",
            "topic": topic,
            "ack_deadline_seconds": 10,
            "push_config": {"push_endpoint": endpoint},
            "dead_letter_policy": {
                "dead_letter_topic": dead_topic,
                "max_delivery_attempts": max_attempts,
            },
        }
    ).name
    return topic, pushed, dead


def test_each_push_carries_the_delivery_attempt_pubsub_counts(
    gcp_environment: EmulatorEndpoints, relay: PushRelay, unique_name: Callable[[str], str]
) -> None:
    target = Recorder([500, 503])
    try:
        relay.route("work", PushTarget(target.port, timeout=10))
        clients = GcpClients(PROJECT, "europe-west1", pubsub_endpoint=gcp_environment.pubsub)
        topic, _, _ = pushed_subscription(clients, unique_name("work"), relay.endpoint("work"), 5)
        message_id = clients.publisher.publish(topic, b"hello", case="c").result()
        wait_for(lambda: len(target.requests) >= 3, timeout=30, what="three pushes")
        bodies = [json.loads(body) for _, _, _, body in target.requests]
        assert [b["deliveryAttempt"] for b in bodies] == [1, 2, 3]
        assert {b["message"]["messageId"] for b in bodies} == {message_id}
        assert bodies[0]["message"]["attributes"] == {"case": "c"}
        assert [p.status for p in relay.pushes] == [500, 503, 200]
    finally:
        target.stop()


def test_a_dead_letter_counts_the_same_attempts_and_leads_back_to_its_message(
    gcp_environment: EmulatorEndpoints, relay: PushRelay, unique_name: Callable[[str], str]
) -> None:
    target = Recorder([500] * 5)
    try:
        relay.route("work", PushTarget(target.port, timeout=10))
        clients = GcpClients(PROJECT, "europe-west1", pubsub_endpoint=gcp_environment.pubsub)
        name = unique_name("doomed")
        topic, pushed, dead = pushed_subscription(clients, name, relay.endpoint("work"), 5)
        message_id = clients.publisher.publish(topic, b"doomed", case="d").result()
        (letter,) = wait_for(
            lambda: peek(clients.subscriber, dead), timeout=30, what="the dead letter"
        )
        assert letter.attempts == 5
        assert relay.attempts(name, message_id) == 5
        assert letter.data == b"doomed"
        fingerprint = message_fingerprint(
            base64.b64encode(letter.data).decode(),
            letter.attributes,
            letter.attributes[SOURCE_PUBLISH_TIME],
        )
        assert relay.original_id(name, fingerprint) == message_id
        assert len(peek(clients.subscriber, dead)) == 1, "peeking leaves the letter in place"
        assert pushed.endswith(name)
    finally:
        target.stop()


# -- Cloud Scheduler ---------------------------------------------------------------------------

JOB = StoredJob(
    name="projects/p/locations/europe-west1/jobs/shop-prod-tick",
    schedule="*/15 * * * *",
    time_zone="UTC",
    uri="https://europe-west1-p.cloudfunctions.net/shop-prod-tick",
    body=b'{"portway": "schedule", "schedule": "rate(15 minutes)"}',
    headers={"Content-Type": "application/json"},
)


def test_runs_fall_on_the_cron_times_of_the_jobs_time_zone() -> None:
    after = datetime(2026, 11, 29, 10, 7, tzinfo=UTC)
    assert next_runs(JOB, after, 2) == [
        datetime(2026, 11, 29, 10, 15, tzinfo=UTC),
        datetime(2026, 11, 29, 10, 30, tzinfo=UTC),
    ]
    paris = StoredJob(JOB.name, "0 9 * * *", "Europe/Paris", JOB.uri)
    assert next_runs(paris, after, 1) == [datetime(2026, 11, 30, 8, 0, tzinfo=UTC)]  # CET


def test_a_run_sends_the_jobs_body_and_the_headers_scheduler_adds() -> None:
    due = datetime(2026, 11, 29, 10, 15, tzinfo=UTC)
    headers = scheduler_headers(JOB, due)
    assert headers == {
        "Content-Type": "application/json",
        "User-Agent": "Google-Cloud-Scheduler",
        "X-CloudScheduler": "true",
        "X-CloudScheduler-JobName": "shop-prod-tick",
        "X-CloudScheduler-ScheduleTime": "2026-11-29T10:15:00.000000Z",
    }
    untyped = StoredJob(JOB.name, JOB.schedule, "UTC", JOB.uri, body=b"x")
    assert scheduler_headers(untyped, due)["Content-Type"] == "application/octet-stream"


def test_firing_a_job_calls_the_local_server_its_uri_maps_to() -> None:
    target = Recorder([])
    runs = []
    try:
        local = f"http://127.0.0.1:{target.port}"
        player = JobPlayer(JOB, lambda uri: local if uri == JOB.uri else None, observe=runs.append)
        run = player.fire(datetime(2026, 11, 29, 10, 15, tzinfo=UTC))
        assert run.status == 200
        assert runs == [run]
        ((method, path, headers, body),) = target.requests
        assert (method, path, body) == ("POST", "/", JOB.body)
        assert headers["X-CloudScheduler-ScheduleTime"] == "2026-11-29T10:15:00.000000Z"
        lost = JobPlayer(JOB, lambda uri: None).fire()
        assert lost.status == 0
        assert "no local server" in lost.error
    finally:
        target.stop()


def test_the_provider_offers_the_emulator_harness_unstarted() -> None:
    from portway_gcp.plugin import CAPABILITIES
    from portway_gcp.testing.harness import GcpEmulatorHarness

    from portway.providers import registry

    harness = registry().provider("gcp").conformance_harness()
    assert isinstance(harness, GcpEmulatorHarness)
    assert harness.name == "gcp"
    assert harness.capabilities == CAPABILITIES
    assert harness.folder is None, "creating the harness starts nothing"
