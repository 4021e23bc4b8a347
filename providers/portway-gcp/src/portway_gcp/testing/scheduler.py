"""Cloud Scheduler, played: a stored job calls its HTTP target at its cron times.

The emulated Scheduler API stores jobs but never runs them. A :class:`JobPlayer`
reads one stored job and calls its target as Cloud Scheduler does: at each time its
unix-cron ``schedule`` gives in its ``time_zone`` (the first one after the player
starts), with the job's method, body and headers, plus the headers Scheduler adds
(``User-Agent: Google-Cloud-Scheduler``, ``X-CloudScheduler``,
``X-CloudScheduler-JobName``, ``X-CloudScheduler-ScheduleTime`` and, for a body without
one, ``Content-Type: application/octet-stream``). :meth:`JobPlayer.fire` calls it now.

The target's URI is the deployed function's URL, which is not reachable here: the
harness maps it to the function's local server (``resolve``), which is Cloud Run's
routing being played. The OIDC token Scheduler would present is not (no instance here
checks one).
https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs#HttpTarget
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from croniter import croniter

REQUEST_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class StoredJob:
    """What a player reads of a Cloud Scheduler job with an HTTP target."""

    name: str  # projects/P/locations/R/jobs/J
    schedule: str  # unix-cron
    time_zone: str
    uri: str
    http_method: str = "POST"
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def job_id(self) -> str:
        return self.name.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class Run:
    """One call of a job's target and what it answered (``status`` 0: unreachable)."""

    job: str
    due: datetime
    status: int
    error: str = ""


def scheduler_headers(job: StoredJob, due: datetime) -> dict[str, str]:
    """The request headers of a run due at ``due``: the job's, then Scheduler's own."""
    headers = dict(job.headers)
    lowered = {name.lower() for name in headers}
    if job.body and "content-type" not in lowered:
        headers["Content-Type"] = "application/octet-stream"
    headers["User-Agent"] = "Google-Cloud-Scheduler"
    headers["X-CloudScheduler"] = "true"
    headers["X-CloudScheduler-JobName"] = job.job_id
    # RFC 3339 in UTC ("Zulu"), as for every unix-cron job.
    headers["X-CloudScheduler-ScheduleTime"] = due.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return headers


def next_runs(job: StoredJob, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` times ``job`` is due after ``after``, in UTC."""
    zone = ZoneInfo(job.time_zone or "UTC")
    times = croniter(job.schedule, after.astimezone(zone))
    return [times.get_next(datetime).astimezone(UTC) for _ in range(count)]


class JobPlayer(threading.Thread):
    """Calls one job's target at its cron times until stopped.

    ``resolve`` maps the job's URI to the URL that serves it here (or ``None``).
    ``observe`` is called with each :class:`Run`.
    """

    def __init__(
        self,
        job: StoredJob,
        resolve: Callable[[str], str | None],
        observe: Callable[[Run], None] = lambda run: None,
    ) -> None:
        super().__init__(name=f"scheduler-{job.job_id}", daemon=True)
        self.job = job
        self.resolve = resolve
        self.observe = observe
        self.stopping = threading.Event()

    def run(self) -> None:
        due = next_runs(self.job, datetime.now(UTC), 1)[0]
        while not self.stopping.wait(max(0.0, (due - datetime.now(UTC)).total_seconds())):
            self.fire(due)
            due = next_runs(self.job, due, 1)[0]

    def fire(self, due: datetime | None = None) -> Run:
        """Call the target once, now, for the run due at ``due`` (default: now)."""
        due = due or datetime.now(UTC)
        url = self.resolve(self.job.uri)
        if url is None:
            run = Run(self.job.job_id, due, 0, f"no local server for {self.job.uri}")
        else:
            run = self._call(url, due)
        self.observe(run)
        return run

    def _call(self, url: str, due: datetime) -> Run:
        split = urlsplit(url)
        target = (split.path or "/") + (f"?{split.query}" if split.query else "")
        connection = http.client.HTTPConnection(
            split.hostname or "127.0.0.1", split.port or 80, timeout=REQUEST_TIMEOUT
        )
        try:
            connection.request(
                self.job.http_method,
                target,
                body=self.job.body,
                headers=scheduler_headers(self.job, due),
            )
            response = connection.getresponse()
            response.read()
            return Run(self.job.job_id, due, response.status)
        except (OSError, http.client.HTTPException) as error:
            return Run(self.job.job_id, due, 0, f"{type(error).__name__}: {error}")
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopping.set()
