"""AWS provider figures, against a moto server started for the run.

* data plane: portway's ``bucket.write`` / ``queue.send`` / ``topic.publish`` against the
  raw boto3 call doing the same job (``put_object``, ``send_message``, ``publish``) on the
  same server, interleaved, median per call; the ratio is portway / raw (target <= 1.05);
* ``import portway_aws.handler`` in a fresh interpreter against a bare one (target <= 1.5x);
* plan read calls for generated pipelines of 10 and 100 functions after they were
  deployed (reads must grow with kinds, not counts), and the mutating calls of a no-op
  redeploy (must be 0).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import (
    fresh_pipeline_module,
    generated_project,
    interleaved_ratios,
    shim_import,
)

REGION = "eu-west-1"
READ_ONLY = re.compile(r"\.(Get|List|Describe|Head)[A-Za-z]*$")


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server for the run, with boto3 pointed at it by the environment."""
    from portway_aws.testing.moto import MotoServer

    server = MotoServer(Path(tempfile.mkdtemp(prefix="portway-bench-moto-")) / "moto.log")
    endpoint = server.start()
    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
        }
    )
    try:
        yield endpoint
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()


def data_plane(calls: int) -> dict[str, Any]:
    import boto3
    from portway_aws.dataplane import AwsDataPlane, shared_client
    from portway_aws.runtime_config import ResourceMap

    from portway import Pipeline
    from portway.dataplane import bind

    s3, sqs, sns = (
        shared_client(s, region=REGION, endpoint_url=None, profile=None)
        for s in ("s3", "sqs", "sns")
    )
    location = {"LocationConstraint": REGION}
    s3.create_bucket(Bucket="bench-bucket", CreateBucketConfiguration=location)
    queue_url = sqs.create_queue(QueueName="bench-queue")["QueueUrl"]
    topic_arn = sns.create_topic(Name="bench-topic")["TopicArn"]
    app = Pipeline("bench")
    bucket, queue, topic = app.bucket("data"), app.queue("jobs"), app.topic("news")
    resources = ResourceMap(
        buckets={"data": "bench-bucket"}, queues={"jobs": queue_url}, topics={"news": topic_arn}
    )
    clients = AwsDataPlane(resources, region=REGION)
    assert boto3  # the raw calls use the very clients portway shares
    body = b'{"key": "landing/2026/11/29/orders.csv", "rows": 1234}'
    pairs = {
        "bucket_write": (
            lambda: bucket.write("bench/object.json", body),
            lambda: s3.put_object(
                Bucket="bench-bucket",
                Key="bench/object.json",
                Body=body,
                ContentType="application/octet-stream",
            ),
        ),
        "queue_send": (
            lambda: queue.send(body),
            lambda: sqs.send_message(QueueUrl=queue_url, MessageBody=body.decode()),
        ),
        "topic_publish": (
            lambda: topic.publish(body),
            lambda: sns.publish(TopicArn=topic_arn, Message=body.decode()),
        ),
    }
    with bind(clients):
        return interleaved_ratios(pairs, calls)


def stage_toml(endpoint: str) -> str:
    return textwrap.dedent(
        f"""
        [stages.bench]
        provider = "aws"
        region = "{REGION}"
        endpoint_url = "{endpoint}"
        """
    )


def plan_calls(endpoint: str, sizes: tuple[int, ...]) -> dict[str, Any]:
    from portway_aws.deploy.deployment import Deployment
    from portway_aws.session import AwsClients

    from portway.config import StageConfig, load_project
    from portway.loading import load_pipeline
    from portway.model import Pipeline

    figures: dict[str, Any] = {}
    workspace = Path(tempfile.mkdtemp(prefix="portway-bench-plan-"))
    try:
        for size in sizes:
            urllib.request.urlopen(
                urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
            ).close()
            root = generated_project(workspace / f"p{size}", size, stage_toml(endpoint))
            with fresh_pipeline_module(root):
                config = load_project(root)
                pipeline = load_pipeline(config.app, config.root)
                stage = config.stage("bench")

                def deployment(
                    stage: StageConfig = stage, pipeline: Pipeline = pipeline
                ) -> Deployment:
                    clients = AwsClients.for_stage(stage)
                    return Deployment(pipeline.name, stage, pipeline, clients, lambda _: None)

                first = deployment()
                start = time.perf_counter()
                first.apply(first.plan())
                deploy_s = time.perf_counter() - start
                second = deployment()
                start = time.perf_counter()
                plan = second.plan()
                plan_s = time.perf_counter() - start
                if not plan.is_empty:
                    second.apply(plan)
                reads = [c for c in second.aws.calls if READ_ONLY.search(c)]
                figures[f"functions_{size}"] = {
                    "resources": len(first.desired),
                    "first_deploy_s": round(deploy_s, 2),
                    "plan_read_calls": len(reads),
                    "plan_s": round(plan_s, 3),
                    "noop_redeploy_changes": len(plan.changes),
                    "noop_redeploy_mutating_calls": len(second.aws.calls) - len(reads),
                }
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    return figures


def aws_figures(
    *, calls: int = 200, import_runs: int = 20, plan_sizes: tuple[int, ...] = (10, 100)
) -> dict[str, Any]:
    with moto_server() as endpoint:
        return {
            "data_plane": data_plane(calls),
            "handler_import": shim_import("portway_aws.handler", import_runs, label="handler"),
            "plan": plan_calls(endpoint, plan_sizes),
        }


if __name__ == "__main__":
    import json

    print(json.dumps(aws_figures(), indent=2))
