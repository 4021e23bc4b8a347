"""The deploy record and the stage lock, on moto's S3 (which enforces conditional writes)."""

from __future__ import annotations

import json
import subprocess
import sys

import boto3
import pytest
from portway_aws.deploy import record as records
from portway_aws.deploy.record import S3RecordStore, deploy_record, stage_records
from portway_aws.deploy.resources import AwsResource, Kind
from portway_aws.naming import Names
from portway_aws.session import AwsClients

from portway.deploy.record import Record, StageRecords, record_key
from portway.errors import DeployError
from portway.testing.record_store import check_record_store

NAMES = Names("demo", "test", "123456789012", "eu-west-1")
QUEUE = AwsResource(Kind.SQS_QUEUE, "demo-test-jobs", "arn:jobs", "queue jobs", {"a": 1})


@pytest.fixture
def clients(moto: str) -> AwsClients:
    clients = AwsClients("eu-west-1")
    records.ensure_state_bucket(clients, NAMES)
    return clients


@pytest.fixture
def stage(clients: AwsClients) -> StageRecords:
    return stage_records(clients, NAMES)


def test_the_state_bucket_is_private_and_versioned(clients: AwsClients) -> None:
    s3 = boto3.client("s3")
    assert s3.get_bucket_versioning(Bucket=NAMES.state_bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=NAMES.state_bucket)
    assert all(block["PublicAccessBlockConfiguration"].values())
    records.ensure_state_bucket(clients, NAMES)  # a second call changes nothing


def test_a_record_round_trips_with_its_etag_and_arns(stage: StageRecords) -> None:
    assert stage.read() is None
    written = deploy_record(NAMES, [QUEUE])
    stage.write(written, None)
    read = stage.read()
    assert read is not None
    assert read.version
    assert read.resources == written.resources
    assert read.resources[0].neutral == "queue jobs"
    assert read.resources[0].extra == {"arn": "arn:jobs"}
    key = record_key("demo", "test")
    stored = boto3.client("s3").get_object(Bucket=NAMES.state_bucket, Key=key)
    assert json.loads(stored["Body"].read())["resources"][0]["arn"] == "arn:jobs"


def test_a_record_changed_since_it_was_read_is_not_overwritten(stage: StageRecords) -> None:
    first = deploy_record(NAMES, [QUEUE])
    stage.write(first, None)
    seen = stage.read()
    # Another deploy writes a record of its own in between.
    other = Record("demo", "test", (), "2026-11-29T10:00:00+00:00")
    stage.write(other, seen)
    with pytest.raises(DeployError, match="changed while this deploy ran"):
        stage.write(first, seen)


def test_a_first_record_is_not_written_over_one_that_appeared(stage: StageRecords) -> None:
    first = deploy_record(NAMES, [])
    stage.write(first, None)
    with pytest.raises(DeployError, match="changed while this deploy ran"):
        stage.write(first, None)


def test_the_second_deploy_of_a_stage_is_refused_naming_the_holder(stage: StageRecords) -> None:
    stage.acquire("deploy")
    try:
        with pytest.raises(DeployError, match=r"locked by deploy from .* \(pid \d+\)") as error:
            stage.acquire("destroy")
        assert f"aws s3 rm s3://{NAMES.state_bucket}/locks/demo/test.json" in str(error.value)
    finally:
        stage.release()
    stage.acquire("deploy")  # free again
    stage.release()


def test_a_lock_left_by_a_killed_deploy_on_this_machine_is_taken_over(
    stage: StageRecords,
) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    import socket

    holder = {
        "operation": "deploy",
        "host": socket.gethostname(),
        "pid": int(gone.stdout),
        "since": "2026-11-29T00:00:00+00:00",
    }
    boto3.client("s3").put_object(
        Bucket=NAMES.state_bucket, Key="locks/demo/test.json", Body=json.dumps(holder)
    )
    stage.acquire("deploy")
    body = boto3.client("s3").get_object(Bucket=NAMES.state_bucket, Key="locks/demo/test.json")
    assert json.loads(body["Body"].read())["pid"] != holder["pid"]
    stage.release()


def test_the_s3_store_keeps_the_record_store_contract(clients: AwsClients) -> None:
    check_record_store(S3RecordStore(clients, NAMES.state_bucket), "deployments/demo/c.json")
