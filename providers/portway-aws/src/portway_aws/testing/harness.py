"""The AWS provider's conformance harness: deploy on moto, and play what moto does not run.

:meth:`AwsMotoHarness.start` writes a project in a temporary folder (the pipeline's
module copied in, a ``portway.toml`` with one aws stage pointed at a moto server) and
deploys it with :class:`~portway_aws.deploy.deployment.Deployment`, as ``portway
deploy`` does. moto then holds every queue, topic, bucket, function, event source
mapping, function URL and schedule, and delivers S3 and SNS notifications to SQS and
redrives to dead-letter queues; but it never runs a function nor fires a schedule. So
the harness plays Lambda and Scheduler, reading what to play from moto itself:

* each deployed function runs in a worker process from the zip deploy uploaded
  (:mod:`~portway_aws.testing.lambda_runner`);
* each event source mapping moto lists is polled with its batch size, the queue's
  visibility timeout and partial batch responses (:class:`~.pollers.QueuePoller`);
* each stored ``rate(...)`` schedule fires its target with its input
  (:class:`~.pollers.SchedulePlayer`);
* function URLs are served on a local port (:mod:`~.function_urls`).

Dead letters are read from the dead-letter queues without removing them. SQS keeps no
failure reason, so the reason of a dead letter is the last one the function logged for
that message (``portway: work: <id> failed: RuntimeError: ...``): what one reads from
CloudWatch Logs on AWS.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections import Counter
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from portway.model import Queue
from portway.model.triggers import HttpTrigger, MessageTrigger
from portway.testing.harness import DeadLetter, HttpReply
from portway.testing.workspace import (
    HarnessError,
    WorkspaceHarness,
    copy_pipeline_module,
    request_local,
)
from portway_aws.testing.moto import MotoServer, configured_endpoint

if TYPE_CHECKING:
    from portway.config import StageConfig
    from portway.model import Pipeline
    from portway_aws.deploy.deployment import Deployment
    from portway_aws.testing.function_urls import FunctionUrlServer
    from portway_aws.testing.lambda_runner import Invocation, LambdaWorker
    from portway_aws.testing.pollers import QueuePoller, SchedulePlayer

STAGE = "conformance"
REGION = "eu-west-1"
# moto takes any credentials; fixed ones keep the harness off the user's real account.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
_UNSET_WHILE_RUNNING = ("AWS_PROFILE",)
# What the handler shim logs for each failure (portway_aws.handler._log).
_FAILURE_LINE = re.compile(r"^portway: (?P<function>[^:]+): (?P<what>.+?) failed: (?P<reason>.+)$")
_JOIN_TIMEOUT = 5.0

__all__ = ["AwsMotoHarness", "HarnessError", "copy_pipeline_module"]


class AwsMotoHarness(WorkspaceHarness):
    """Deploys the pipeline on a moto server and plays Lambda and Scheduler against it.

    ``endpoint``: a running moto server to use (default: ``PORTWAY_AWS_CONFORMANCE_ENDPOINT``,
    else one the harness starts and stops). ``keep``: leave the temporary folder behind.
    """

    latency = 30.0
    poll_interval = 0.2
    provider = "aws"
    workspace_prefix = "portway-aws-conformance-"

    def __init__(self, *, endpoint: str | None = None, keep: bool = False) -> None:
        super().__init__(keep=keep)
        self.endpoint = endpoint
        self.deployment: Deployment | None = None
        self._pipeline: Pipeline | None = None
        self._stage: StageConfig | None = None
        self._moto: MotoServer | None = None
        self._workers: dict[str, LambdaWorker] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self._pollers: list[QueuePoller] = []
        self._schedules: dict[str, SchedulePlayer] = {}
        self._urls: FunctionUrlServer | None = None
        self._lock = threading.Lock()
        self._reasons: dict[str, str] = {}
        self._deliveries: Counter[str] = Counter()
        self._activity: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, app: str, pipeline: Pipeline) -> None:
        from portway.config import load_project
        from portway_aws.deploy.deployment import Deployment
        from portway_aws.session import AwsClients

        self._pipeline = pipeline
        self._reasons.clear()
        self._deliveries.clear()
        self._activity.clear()
        self.folder = self.open_workspace()
        self.set_environment({**CREDENTIALS, **dict.fromkeys(_UNSET_WHILE_RUNNING)})
        endpoint = self.endpoint or configured_endpoint()
        if endpoint is None:
            self._moto = MotoServer(self.folder / "moto.log")
            endpoint = self._moto.start()
        project = self.folder / "project"
        project.mkdir()
        module = copy_pipeline_module(app, project)
        (project / "portway.toml").write_text(
            f'app = "{module}"\n\n[stages.{STAGE}]\nprovider = "aws"\n'
            f'region = "{REGION}"\nendpoint_url = "{endpoint}"\n',
            encoding="utf-8",
        )
        self._stage = load_project(project).stage(STAGE)
        deploy_log = (self.folder / "deploy.log").open("a", encoding="utf-8")
        try:
            deployment = Deployment(
                pipeline.name,
                self._stage,
                pipeline,
                AwsClients.for_stage(self._stage),
                progress=lambda line: print(line, file=deploy_log, flush=True),
            )
            self.deployment = deployment
            deployment.apply(deployment.plan())
        except Exception as error:
            raise HarnessError(
                f"deploying the pipeline on moto ({endpoint}) failed: {error}\n{self.diagnostics()}"
            ) from error
        finally:
            deploy_log.close()
        self._play(deployment, endpoint)
        from portway.providers import registry

        self.dataplane = registry().provider("aws").connect(pipeline, self._stage)

    def _play(self, deployment: Deployment, endpoint: str) -> None:
        """Start a worker per function, then the pollers, schedules and function URLs."""
        from portway_aws.testing.function_urls import FunctionUrlServer, UrlFunction
        from portway_aws.testing.lambda_runner import (
            LambdaWorker,
            check_and_unpack,
            lambda_runtime_folder,
        )
        from portway_aws.testing.pollers import QueuePoller, SchedulePlayer

        assert self.folder is not None
        assert self._pipeline is not None
        aws, names = deployment.aws, deployment.names
        task_root = self.folder / "task"
        runtime = lambda_runtime_folder(self.folder / "lambda-runtime")
        by_arn: dict[str, str] = {}
        for function in self._pipeline.functions.values():
            physical = names.function(function.name)
            found = aws.lambda_.get_function(FunctionName=physical)["Configuration"]
            check_and_unpack(deployment.artifact.path, found["CodeSha256"], task_root)
            variables = dict((found.get("Environment") or {}).get("Variables", {}))
            log = (self.folder / f"lambda-{function.name}.log").open("ab")
            self._logs[function.name] = log
            worker = LambdaWorker(
                physical,
                task_root=task_root,
                runtime_folder=runtime,
                environment={
                    **variables,
                    **CREDENTIALS,
                    "AWS_REGION": aws.region,
                    "AWS_DEFAULT_REGION": aws.region,
                    "AWS_ENDPOINT_URL": endpoint,
                    "LANG": "C.UTF-8",
                    "TZ": "UTC",
                },
                timeout=int(found.get("Timeout", 3)),
                log=log,
            )
            worker.start()
            self._workers[function.name] = worker
            by_arn[found["FunctionArn"]] = function.name
        for function in self._pipeline.functions.values():
            for mapping in event_source_mappings(aws, names.function(function.name), function.name):
                poller = QueuePoller(
                    aws.sqs, mapping, self._workers[function.name], aws.region, self._observe
                )
                self._pollers.append(poller)
        for schedule in stored_schedules(aws, names.schedule_group):
            target = by_arn.get(str(schedule.get("Target", {}).get("Arn")))
            if target is not None:
                player = SchedulePlayer(target, schedule, self._workers[target], self._observe)
                self._schedules[target] = player
        served = []
        for function in self._pipeline.functions.values():
            if isinstance(function.trigger, HttpTrigger) and has_url(
                aws, names.function(function.name)
            ):
                served.append(
                    UrlFunction(function.name, function.trigger, self._workers[function.name])
                )
        if served:
            self._urls = FunctionUrlServer(served, self._observe)
            self._urls.start()
        for thread in [*self._pollers, *self._schedules.values()]:
            thread.start()

    def fire_schedule(self, function: str) -> Invocation:
        """Fire ``function``'s schedule now (moto never fires one); return the outcome."""
        return self._schedules[function].fire()

    def stop(self) -> None:
        threads: list[QueuePoller | SchedulePlayer] = [*self._pollers, *self._schedules.values()]
        for thread in threads:
            thread.stop()
        for thread in threads:
            thread.join(_JOIN_TIMEOUT)
        self._pollers, self._schedules = [], {}
        if self._urls is not None:
            self._urls.stop()
            self._urls = None
        for worker in self._workers.values():
            worker.stop()
        self._workers = {}
        for log in self._logs.values():
            log.close()
        self._logs = {}
        self.close_dataplane()
        if self._moto is not None:
            self._moto.stop()  # the deployment goes with it
            self._moto = None
        elif self.deployment is not None:
            with contextlib.suppress(Exception):  # best effort on a shared moto
                self.deployment.apply(self.deployment.plan_destroy(), destroy=True)
        self.deployment = None
        self.close_workspace()

    def diagnostics(self) -> str:
        if self.folder is None:
            return ""
        parts = []
        with self._lock:
            if self._activity:
                parts.append("invocations:\n" + "\n".join(self._activity[-40:]))
        parts.extend(self.log_tails(30))
        for poller in self._pollers:
            if poller.errors:
                parts.append(f"poller {poller.name}: " + "; ".join(poller.errors[-5:]))
        return "\n".join(parts)

    # -- what the functions did --------------------------------------------------------------

    def _observe(self, function: str, event: Mapping[str, Any], outcome: Invocation) -> None:
        """Count deliveries and keep each message's last failure reason, from the logs."""
        records = event.get("Records") if isinstance(event, Mapping) else None
        identifiers = [str(r.get("messageId")) for r in records or [] if isinstance(r, Mapping)]
        with self._lock:
            self._deliveries.update(identifiers)
            for line in outcome.logs.splitlines():
                match = _FAILURE_LINE.match(line)
                if match is not None:
                    self._reasons[match.group("what")] = match.group("reason")
            if outcome.error is not None:
                for identifier in identifiers:
                    self._reasons[identifier] = outcome.error
            summary = f"{function}: {len(identifiers)} record(s)" if records else function
            self._activity.append(f"{summary}: {outcome.error or 'ok'}")

    # -- data plane ------------------------------------------------------------------

    def dead_letters(self, source: str) -> list[DeadLetter]:
        from portway_aws import message_encoding, native_events
        from portway_aws.event_source import sqs_record

        deployment, pipeline = self._deployed()
        names, aws = deployment.names, deployment.aws
        trigger: MessageTrigger | None = None
        if isinstance(pipeline.resources.get(source), Queue):
            physical = names.dead_letter_queue(source)
        else:
            physical = names.trigger_dead_letter_queue(pipeline.function(source).name)
            found = pipeline.function(source).trigger
            trigger = found if isinstance(found, MessageTrigger) else None
        queue_url = aws.sqs.get_queue_url(QueueName=physical)["QueueUrl"]
        letters = []
        for message in peek(aws.sqs, queue_url):
            record = sqs_record(message, names.queue_arn(physical), aws.region)
            strings = {
                name: str(value.get("StringValue", ""))
                for name, value in message.get("MessageAttributes", {}).items()
            }
            if trigger is not None:
                neutral = native_events.message_of(record, trigger)
                identifier, body, attributes = neutral.id, neutral.body, dict(neutral.attributes)
            elif trigger is None and source in pipeline.resources:
                identifier = message["MessageId"]
                body, _ = message_encoding.decode(
                    message["Body"], strings.get(message_encoding.CONTENT_TYPE_ATTRIBUTE)
                )
                attributes = message_encoding.user_attributes(strings)
            else:  # an object trigger's letter: the S3 notification, as delivered
                identifier, body, attributes = message["MessageId"], message["Body"].encode(), {}
            with self._lock:
                delivered = self._deliveries.get(message["MessageId"])
                reason = self._reasons.get(identifier) or self._reasons.get(message["MessageId"])
            received = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
            letters.append(
                DeadLetter(
                    id=identifier,
                    body=body,
                    attributes=attributes,
                    attempts=delivered or received,
                    reason=reason or "unknown: no failure was logged for this message",
                )
            )
        return letters

    def _deployed(self) -> tuple[Deployment, Pipeline]:
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
        self._deployed()
        if self._urls is None:
            raise HarnessError("the pipeline has no function URL to serve")
        return request_local(self._urls.port, method, path, body=body, headers=headers)


def event_source_mappings(aws: Any, physical: str, function: str) -> list[Any]:
    """The enabled SQS event source mappings moto stores for the function ``physical``."""
    from portway_aws.testing.pollers import EventSourceMapping

    found = []
    # Listed by name: moto 5.2 finds no mapping when given the function's ARN.
    listed = aws.lambda_.list_event_source_mappings(FunctionName=physical)
    for mapping in listed.get("EventSourceMappings", []):
        arn = str(mapping.get("EventSourceArn", ""))
        if not arn.startswith("arn:aws:sqs:") or mapping.get("State") in ("Disabled", "Disabling"):
            continue
        queue_url = aws.sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
        # The harness takes the mapping over: moto's own, on each send, receives a batch
        # and tries to run the function in Docker, counting a receive per message sent
        # (so messages reached the dead-letter queue unseen). Disabled, moto leaves the
        # queue to the harness's poller.
        aws.lambda_.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
        found.append(
            EventSourceMapping(
                function=function,
                queue_url=queue_url,
                queue_arn=arn,
                batch_size=int(mapping.get("BatchSize", 10)),
                batching_window=int(mapping.get("MaximumBatchingWindowInSeconds", 0)),
                report_batch_item_failures="ReportBatchItemFailures"
                in mapping.get("FunctionResponseTypes", []),
            )
        )
    return found


def stored_schedules(aws: Any, group: str) -> list[dict[str, Any]]:
    """Every schedule of ``group``, read whole (``get_schedule``: target, input, expression)."""
    schedules = []
    for page in aws.scheduler.get_paginator("list_schedules").paginate(GroupName=group):
        for summary in page.get("Schedules", []):
            if summary.get("State") == "DISABLED":
                continue
            schedules.append(aws.scheduler.get_schedule(Name=summary["Name"], GroupName=group))
    return schedules


def has_url(aws: Any, physical: str) -> bool:
    """Whether moto stores a function URL configuration for ``physical``."""
    try:
        aws.lambda_.get_function_url_config(FunctionName=physical)
    except aws.lambda_.exceptions.ResourceNotFoundException:
        return False
    return True


def peek(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message of the queue, oldest first, left in it (visible again at once)."""
    seen: dict[str, dict[str, Any]] = {}
    try:
        while True:
            received = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=30,  # hidden while paging, so each is read once
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            fresh = [m for m in received if m["MessageId"] not in seen]
            if not fresh:
                break
            seen.update((m["MessageId"], m) for m in fresh)
    finally:
        handles = [m["ReceiptHandle"] for m in seen.values()]
        for start in range(0, len(handles), 10):
            sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": h, "VisibilityTimeout": 0}
                    for n, h in enumerate(handles[start : start + 10])
                ],
            )
    return sorted(seen.values(), key=lambda m: int(m["Attributes"].get("SentTimestamp", 0)))
