"""The Lambda entry point end to end: events from moto's real queues, side effects in moto.

Lambda cannot run in moto, so each test plays its event source: it receives from the
queue portway would own in front of the function, shapes the event as Lambda does
(:mod:`portway_aws.event_source`), calls ``handler(event, context)`` in this process with
the environment deploy sets, and checks the partial-batch response and what landed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from portway_aws import handler as shim
from portway_aws.event_source import sqs_event
from portway_aws.runtime_config import ResourceMap

from portway.errors import ConfigError
from portway.testing.imports import modules_imported_by

REGION = "eu-west-1"

PIPELINE = """
from pathlib import Path

from portway import BatchResult, HttpRequest, Message, ObjectEvent, Pipeline, ScheduleEvent

# Counts imports of this module: a container loads its pipeline once.
with Path(__file__).with_name("imports.log").open("a") as log:
    log.write("imported\\n")

app = Pipeline("shop")
landing = app.bucket("landing")
lake = app.bucket("lake")
jobs = app.queue("jobs")
loaded = app.topic("loaded")


@app.on_message(jobs, batch_size=10, uses=[lake.write()])
def transform(batch: list[Message]) -> BatchResult:
    failed = []
    for message in batch:
        order = message.json()
        if order.get("fail"):
            failed.append(message.id)
        else:
            lake.write(f"orders/{order['n']}.json", message.body)
    return BatchResult(failed)


@app.on_message(loaded, uses=[lake.write()])
def report(msg: Message) -> None:
    if msg.text() == "boom":
        raise ValueError("cannot report boom")
    lake.write(f"reports/{msg.id}.txt", msg.body)


@app.on_message(loaded)
def audit(msg: Message) -> None:
    lake.write("audit.txt", msg.body)  # lake.write() is not declared


@app.on_object_created(landing, suffix=".csv", uses=[landing.read(), jobs.send()])
def enqueue(event: ObjectEvent) -> None:
    if event.key.startswith("bad"):
        raise RuntimeError(f"refusing {event.key}")
    jobs.send({"key": event.key, "size": len(landing.read(event.key))})


@app.http("GET", "/status/{name}", uses=[lake.list()])
def status(req: HttpRequest) -> dict[str, object]:
    if req.path_params["name"] == "crash":
        raise RuntimeError("secret detail")
    return {"name": req.path_params["name"], "keys": lake.list("")}


@app.schedule("rate(15 minutes)", uses=[lake.write()])
def tick(event: ScheduleEvent) -> None:
    lake.write("ticks/last.txt", event.time.isoformat())
"""


@dataclass
class Deployment:
    """The shop pipeline as deploy would leave it in moto, and ways to feed its functions."""

    root: Path
    queues: dict[str, tuple[str, str]]  # name -> (url, arn)
    topic_arn: str
    monkeypatch: pytest.MonkeyPatch

    def invoke(self, function: str, event: Any) -> Any:
        self.monkeypatch.setenv("PORTWAY_FUNCTION", function)
        shim.reset()
        return shim.handler(event, Context())

    def poll(self, queue: str, count: int) -> dict[str, Any]:
        """Receive ``count`` messages of ``queue`` as one Lambda event."""
        url, arn = self.queues[queue]
        sqs = boto3.client("sqs")
        received: list[dict[str, Any]] = []
        for _ in range(20):
            response = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received.extend(response.get("Messages", []))
            if len(received) >= count:
                break
        assert len(received) == count
        return sqs_event(received, arn, REGION)

    def objects(self, bucket: str) -> dict[str, bytes]:
        s3 = boto3.client("s3")
        listed = s3.list_objects_v2(Bucket=f"shop-test-{bucket}").get("Contents", [])
        return {
            item["Key"]: s3.get_object(Bucket=f"shop-test-{bucket}", Key=item["Key"])["Body"].read()
            for item in listed
        }


class Context:
    """The attributes of Lambda's context object that portway reads."""

    aws_request_id = "req-0001"
    function_name = "shop-test-fn"


def failures(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


@pytest.fixture(autouse=True)
def isolated_modules() -> Iterator[None]:
    """Forget the pipeline module a test imported, and the shim's loaded function."""
    before = set(sys.modules)
    path = list(sys.path)
    shim.reset()
    yield
    shim.reset()
    for name in set(sys.modules) - before:
        if name == "shop_pipeline":
            del sys.modules[name]
    sys.path[:] = path


@pytest.fixture
def deployment(moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    (tmp_path / "shop_pipeline.py").write_text(textwrap.dedent(PIPELINE), encoding="utf-8")
    s3 = boto3.client("s3")
    sqs = boto3.client("sqs")
    sns = boto3.client("sns")
    for bucket in ("landing", "lake"):
        s3.create_bucket(
            Bucket=f"shop-test-{bucket}", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
    queues = {}
    for name in ("jobs", "report--in", "audit--in", "enqueue--in"):
        url = sqs.create_queue(QueueName=f"shop-test-{name}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        queues[name] = (url, attributes["Attributes"]["QueueArn"])
    topic_arn = sns.create_topic(Name="shop-test-loaded")["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queues["report--in"][1])
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queues["audit--in"][1],
        Attributes={"RawMessageDelivery": "true"},
    )
    s3.put_bucket_notification_configuration(
        Bucket="shop-test-landing",
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queues["enqueue--in"][1],
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".csv"}]}},
                }
            ]
        },
    )
    resources = ResourceMap(
        buckets={"landing": "shop-test-landing", "lake": "shop-test-lake"},
        queues={"jobs": queues["jobs"][0]},
        topics={"loaded": topic_arn},
    )
    monkeypatch.setenv("PORTWAY_APP", "shop_pipeline:app")
    monkeypatch.setenv("PORTWAY_STAGE", "test")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    for name, value in resources.to_environment().items():
        monkeypatch.setenv(name, value)
    return Deployment(tmp_path, queues, topic_arn, monkeypatch)


def send(deployment: Deployment, queue: str, body: str, **attributes: str) -> str:
    response = boto3.client("sqs").send_message(
        QueueUrl=deployment.queues[queue][0],
        MessageBody=body,
        MessageAttributes={
            "portway-content-type": {"DataType": "String", "StringValue": "application/json"},
            **{k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        },
    )
    return str(response["MessageId"])


# -- queues -----------------------------------------------------------------------------------


def test_a_batch_handler_reports_only_the_messages_it_failed(deployment: Deployment) -> None:
    send(deployment, "jobs", '{"n": 1}')
    failing = send(deployment, "jobs", '{"n": 2, "fail": true}')
    send(deployment, "jobs", '{"n": 3}')

    response = deployment.invoke("transform", deployment.poll("jobs", 3))

    assert failures(response) == [failing]
    assert deployment.objects("lake") == {
        "orders/1.json": b'{"n": 1}',
        "orders/3.json": b'{"n": 3}',
    }


def test_a_malformed_record_fails_alone_with_its_reason_logged(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    send(deployment, "jobs", '{"n": 1}')
    broken = boto3.client("sqs").send_message(
        QueueUrl=deployment.queues["jobs"][0],
        MessageBody="%%% not base64",
        MessageAttributes={
            "portway-content-type": {"DataType": "String", "StringValue": "x;base64"}
        },
    )["MessageId"]

    response = deployment.invoke("transform", deployment.poll("jobs", 2))

    assert failures(response) == [broken]
    assert list(deployment.objects("lake")) == ["orders/1.json"]
    assert (
        f"portway: transform: {broken} failed: MalformedRecord: SQS record {broken}: "
        f"the body is marked base64 but is not" in capsys.readouterr().err
    )


def test_a_batch_with_no_failure_returns_an_empty_failure_list(deployment: Deployment) -> None:
    send(deployment, "jobs", '{"n": 7}')

    assert deployment.invoke("transform", deployment.poll("jobs", 1)) == {"batchItemFailures": []}


# -- topics ------------------------------------------------------------------------------------


def test_a_topic_subscriber_fails_the_sqs_record_of_the_message_it_raised_on(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    sns = boto3.client("sns")
    good = sns.publish(TopicArn=deployment.topic_arn, Message="fine")["MessageId"]
    bad = sns.publish(TopicArn=deployment.topic_arn, Message="boom")["MessageId"]
    event = deployment.poll("report--in", 2)
    sqs_id_of = {json.loads(r["body"])["MessageId"]: r["messageId"] for r in event["Records"]}

    response = deployment.invoke("report", event)

    # The neutral id is SNS's; the failure names the SQS record that carried it.
    assert failures(response) == [sqs_id_of[bad]]
    assert deployment.objects("lake") == {f"reports/{good}.txt": b"fine"}
    assert f"portway: report: {bad} failed: ValueError: cannot report boom" in (
        capsys.readouterr().err
    )


def test_an_undeclared_use_fails_the_message_with_permission_denied(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("sns").publish(TopicArn=deployment.topic_arn, Message="x")
    event = deployment.poll("audit--in", 1)

    response = deployment.invoke("audit", event)

    assert failures(response) == [event["Records"][0]["messageId"]]
    assert deployment.objects("lake") == {}
    assert (
        "PermissionDenied: function 'audit' used lake.write() without declaring it"
        in capsys.readouterr().err
    )


# -- objects -----------------------------------------------------------------------------------


def test_object_events_run_the_handler_and_fail_only_the_record_that_raised(
    deployment: Deployment,
) -> None:
    s3 = boto3.client("s3")
    s3.put_object(Bucket="shop-test-landing", Key="in/a b.csv", Body=b"a,b\n1,2\n")
    s3.put_object(Bucket="shop-test-landing", Key="bad.csv", Body=b"x")
    s3.put_object(Bucket="shop-test-landing", Key="skip.json", Body=b"{}")  # filtered by S3
    event = deployment.poll("enqueue--in", 3)  # s3:TestEvent first, then the two .csv
    bad_record = next(r["messageId"] for r in event["Records"] if "bad.csv" in r["body"])

    response = deployment.invoke("enqueue", event)

    assert failures(response) == [bad_record]
    [sent] = deployment.poll("jobs", 1)["Records"]
    assert json.loads(sent["body"]) == {"key": "in/a b.csv", "size": 8}


# -- schedules and HTTP --------------------------------------------------------------------------


def test_a_schedule_runs_its_function_once_at_the_time_it_was_due(
    deployment: Deployment,
) -> None:
    event = {"portway": "schedule", "schedule": "rate(15 minutes)", "time": "2026-11-25T10:15:00Z"}

    assert deployment.invoke("tick", event) is None

    assert deployment.objects("lake") == {"ticks/last.txt": b"2026-11-25T10:15:00+00:00"}


def function_url_event(path: str, method: str = "GET") -> dict[str, Any]:
    return {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"accept": "application/json"},
        "requestContext": {
            "http": {"method": method, "path": path},
            "requestId": "r-1",
            "timeEpoch": 1795600000000,
        },
        "isBase64Encoded": False,
    }


def test_an_http_function_answers_through_the_function_url(deployment: Deployment) -> None:
    boto3.client("s3").put_object(Bucket="shop-test-lake", Key="k.txt", Body=b"x")

    response = deployment.invoke("status", function_url_event("/status/shop"))

    assert response["statusCode"] == 200
    assert response["headers"] == {"content-type": "application/json"}
    assert json.loads(response["body"]) == {"name": "shop", "keys": ["k.txt"]}
    assert response["isBase64Encoded"] is False


def test_an_http_handler_error_is_a_500_without_details_and_a_logged_traceback(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    response = deployment.invoke("status", function_url_event("/status/crash"))

    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"error": "internal error"}
    assert "secret detail" not in response["body"]
    logged = capsys.readouterr().err
    assert "portway: status: r-1 failed: RuntimeError: secret detail" in logged
    assert "Traceback (most recent call last)" in logged


def test_an_http_path_outside_the_route_is_a_404(deployment: Deployment) -> None:
    response = deployment.invoke("status", function_url_event("/elsewhere"))

    assert response["statusCode"] == 404


# -- loading -------------------------------------------------------------------------------------


def test_the_pipeline_is_loaded_once_per_container(deployment: Deployment) -> None:
    deployment.monkeypatch.setenv("PORTWAY_FUNCTION", "status")
    for _ in range(3):
        shim.handler(function_url_event("/status/a"), Context())

    assert (deployment.root / "imports.log").read_text() == "imported\n"


def test_an_unknown_function_name_is_a_config_error_naming_it(deployment: Deployment) -> None:
    with pytest.raises(ConfigError, match=r"PORTWAY_FUNCTION='nope': .*has no function 'nope'"):
        deployment.invoke("nope", {})


def test_a_missing_environment_contract_is_a_config_error(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PORTWAY_APP")

    with pytest.raises(ConfigError, match="lacks PORTWAY_APP in its environment"):
        deployment.invoke("status", {})


# -- import cost ---------------------------------------------------------------------------------


def test_importing_the_shim_imports_no_cloud_sdk_and_scans_no_entry_points() -> None:
    probe = textwrap.dedent(
        """
        import sys
        started_with = set(sys.modules)  # less what site's .pth files load at start-up
        import importlib.metadata, json
        calls = []
        original = importlib.metadata.entry_points
        def counted(*args, **kwargs):
            calls.append(args)
            return original(*args, **kwargs)
        importlib.metadata.entry_points = counted
        import portway_aws.handler
        imported = sorted(set(sys.modules) - started_with)
        print(json.dumps({"modules": imported, "entry_point_calls": len(calls)}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", probe],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(result.stdout)
    imported = set(report["modules"])
    # -X importtime lists every module imported, one per line, on stderr.
    timed = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}

    assert "portway_aws.handler" in imported
    assert "portway_aws.handler" in timed
    for heavy in ("boto3", "botocore", "google", "azure", "pluggy", "portway.providers"):
        assert heavy not in imported
        assert heavy not in timed
    assert not any(name.startswith(("boto3.", "botocore.", "google.", "azure.")) for name in timed)
    assert report["entry_point_calls"] == 0


def test_importing_the_shim_leaves_traceback_and_pathlib_until_they_are_needed() -> None:
    # Every cold start pays for what the shim imports; traceback is only needed when an
    # http handler fails, pathlib only when the pipeline's import fails.
    imported = modules_imported_by("import portway_aws.handler")

    assert "portway_aws.handler" in imported
    assert "traceback" not in imported
    assert "pathlib" not in imported


def test_importing_the_shim_leaves_url_parsing_to_object_and_http_functions() -> None:
    imported = modules_imported_by("import portway_aws.handler")

    assert "portway_aws.native_events" in imported
    assert "urllib.parse" not in imported


def test_importing_the_shim_leaves_base64_to_binary_bodies() -> None:
    imported = modules_imported_by("import portway_aws.handler")

    assert "portway_aws.message_encoding" in imported
    assert "base64" not in imported


def test_importing_the_shim_does_not_import_threading() -> None:
    # boto3 imports it with the first client; a cold start that makes no call never does.
    imported = modules_imported_by("import portway_aws.handler")

    assert "portway_aws.dataplane" in imported
    assert "threading" not in imported
