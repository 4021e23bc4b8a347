"""``lambda:function`` operations against a real moto server: the function, its code and
configuration, and the wiring that lives and dies with it (event source mapping, function
URL and its public statements, schedule)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from typing import Any

import pytest
from portway_aws.deploy.kinds import ApplyContext, lambda_functions, operations
from portway_aws.deploy.resources import AwsResource, Kind, Observed
from portway_aws.naming import SPEC_TAG, Names
from portway_aws.session import AwsClients

from portway.errors import DeployError

NAMES = Names(app="demo", stage="test", account="123456789012", region="eu-west-1")
FUNCTION = NAMES.function("transform")
FUNCTION_ARN = NAMES.function_arn("transform")
ROLE_ARN = NAMES.role_arn(NAMES.role("transform"))
SCHEDULER_ROLE_ARN = NAMES.role_arn(NAMES.scheduler_role)
JOBS_ARN = NAMES.queue_arn(NAMES.queue("jobs"))
OTHER_ARN = NAMES.queue_arn(NAMES.queue("other"))
OPERATIONS = operations(Kind.LAMBDA_FUNCTION)
MUTATING = ("Create", "Update", "Put", "Delete", "Add", "Remove", "Tag", "Untag", "Publish")


def package(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


def sha256(code: bytes) -> str:
    """As Lambda reports it: base64 of the SHA-256 digest."""
    return base64.b64encode(hashlib.sha256(code).digest()).decode("ascii")


CODE = package("def handle(event, context):\n    return 1\n")
NEW_CODE = package("def handle(event, context):\n    return 2\n")


@pytest.fixture
def notes() -> list[str]:
    return []


@pytest.fixture
def context(moto: str, notes: list[str]) -> ApplyContext:
    """The roles and queues a function refers to exist (they rank before functions)."""
    clients = AwsClients("eu-west-1")
    trust = {"Version": "2012-10-17", "Statement": []}
    for role_name in (NAMES.role("transform"), NAMES.scheduler_role):
        clients.iam.create_role(
            RoleName=role_name, Path=NAMES.role_path, AssumeRolePolicyDocument=json.dumps(trust)
        )
    for queue in ("jobs", "other"):
        clients.sqs.create_queue(QueueName=NAMES.queue(queue))
    clients.scheduler.create_schedule_group(Name=NAMES.schedule_group)
    return ApplyContext(clients, NAMES, code=CODE, progress=notes.append)


def function(code: bytes = CODE, **changes: Any) -> AwsResource:
    spec: dict[str, Any] = {
        "role_arn": ROLE_ARN,
        "handler": "portway_aws.handler.handle",
        "runtime": "python3.12",
        "architecture": "arm64",
        "timeout": 30,
        "memory": 256,
        "environment": {"PORTWAY_APP": "pipeline:app"},
        "code_sha256": sha256(code),
        "event_source": None,
        "url": None,
        "schedule": None,
        **changes,
    }
    return AwsResource(Kind.LAMBDA_FUNCTION, FUNCTION, FUNCTION_ARN, "function transform", spec)


def schedule(expression: str = "cron(0 6 * * ? *)") -> dict[str, str]:
    return {
        "group": NAMES.schedule_group,
        "name": NAMES.schedule("transform"),
        "expression": expression,
        "role_arn": SCHEDULER_ROLE_ARN,
        "input": '{"portway":"schedule","time":"<aws.scheduler.scheduled-time>"}',
    }


def observed_of(resource: AwsResource) -> Observed:
    return Observed(resource.kind, resource.name, resource.arn, resource.spec_hash)


def mappings(context: ApplyContext) -> list[dict[str, Any]]:
    found = context.clients.lambda_.list_event_source_mappings(FunctionName=FUNCTION)
    return list(found["EventSourceMappings"])


def statements(context: ApplyContext) -> dict[str, dict[str, Any]]:
    try:
        policy = context.clients.lambda_.get_policy(FunctionName=FUNCTION)["Policy"]
    except context.clients.lambda_.exceptions.ResourceNotFoundException:
        return {}
    return {s["Sid"]: s for s in json.loads(policy)["Statement"]}


def schedules(context: ApplyContext) -> list[dict[str, Any]]:
    found = context.clients.scheduler.list_schedules(GroupName=NAMES.schedule_group)
    return list(found["Schedules"])


def mutating_calls(context: ApplyContext) -> list[str]:
    return [c for c in context.clients.calls if c.split(".")[1].startswith(MUTATING)]


def test_function_is_created_with_its_configuration_code_and_tags(context: ApplyContext) -> None:
    resource = function()
    OPERATIONS.create(context, resource)

    found = context.clients.lambda_.get_function(FunctionName=FUNCTION)
    configuration = found["Configuration"]
    assert configuration["FunctionArn"] == FUNCTION_ARN
    assert configuration["Role"] == ROLE_ARN
    assert configuration["Handler"] == "portway_aws.handler.handle"
    assert configuration["Runtime"] == "python3.12"
    assert configuration["Architectures"] == ["arm64"]
    assert configuration["Timeout"] == 30
    assert configuration["MemorySize"] == 256
    assert configuration["Environment"]["Variables"] == {"PORTWAY_APP": "pipeline:app"}
    assert configuration["CodeSha256"] == resource.spec["code_sha256"]
    assert found["Tags"] == {**NAMES.tags, SPEC_TAG: resource.spec_hash}


def test_create_without_a_package_says_so_and_creates_nothing(context: ApplyContext) -> None:
    without_code = ApplyContext(context.clients, NAMES, code=None)

    with pytest.raises(DeployError, match=rf"^lambda:function {FUNCTION}: no code to upload"):
        OPERATIONS.create(without_code, function())

    assert context.clients.lambda_.list_functions()["Functions"] == []


def test_queue_trigger_is_an_event_source_mapping_reporting_batch_item_failures(
    context: ApplyContext,
) -> None:
    OPERATIONS.create(
        context, function(event_source={"queue_arn": JOBS_ARN, "batch_size": 10, "window": 5})
    )

    (mapping,) = mappings(context)
    assert mapping["EventSourceArn"] == JOBS_ARN
    assert mapping["FunctionArn"] == FUNCTION_ARN
    assert mapping["BatchSize"] == 10
    assert mapping["MaximumBatchingWindowInSeconds"] == 5
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["State"] == "Enabled"


def test_public_url_lets_anyone_call_it_through_the_url_only(context: ApplyContext) -> None:
    OPERATIONS.create(context, function(url={"auth_type": "NONE"}))

    url = context.clients.lambda_.get_function_url_config(FunctionName=FUNCTION)
    assert url["AuthType"] == "NONE"
    found = statements(context)
    assert set(found) == {"portway-public-url", "portway-public-url-invoke"}
    assert found["portway-public-url"]["Action"] == "lambda:InvokeFunctionUrl"
    assert found["portway-public-url"]["Principal"] == "*"
    assert found["portway-public-url"]["FunctionUrlAuthType"] == "NONE"
    assert found["portway-public-url-invoke"]["Action"] == "lambda:InvokeFunction"
    assert found["portway-public-url-invoke"]["InvokedViaFunctionUrl"] is True


def test_private_url_grants_nobody(context: ApplyContext) -> None:
    OPERATIONS.create(context, function(url={"auth_type": "AWS_IAM"}))

    url = context.clients.lambda_.get_function_url_config(FunctionName=FUNCTION)
    assert url["AuthType"] == "AWS_IAM"
    assert statements(context) == {}


def test_schedule_targets_the_function_on_time_in_utc(context: ApplyContext) -> None:
    wanted = schedule()
    OPERATIONS.create(context, function(schedule=wanted))

    found = context.clients.scheduler.get_schedule(Name=wanted["name"], GroupName=wanted["group"])
    assert found["ScheduleExpression"] == "cron(0 6 * * ? *)"
    assert found["ScheduleExpressionTimezone"] == "UTC"
    assert found["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert found["State"] == "ENABLED"
    assert found["Target"]["Arn"] == FUNCTION_ARN
    assert found["Target"]["RoleArn"] == SCHEDULER_ROLE_ARN
    assert found["Target"]["Input"] == wanted["input"]


def test_create_retries_while_the_role_cannot_be_assumed_then_gives_up(
    context: ApplyContext, notes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lambda_functions, "ROLE_RETRY_DELAYS", (0, 0))
    unknown_role = NAMES.role_arn("not-yet-propagated")

    with pytest.raises(DeployError, match=r"still refused after 3 tries") as raised:
        OPERATIONS.create(context, function(role_arn=unknown_role))

    assert str(raised.value).startswith(f"lambda:function {FUNCTION}: CreateFunction failed: ")
    assert len(notes) == 2
    assert all("waiting for its IAM role" in note for note in notes)
    assert context.clients.calls.count("lambda.CreateFunction") == 3


def test_create_converges_a_function_a_cut_short_deploy_left(context: ApplyContext) -> None:
    context.clients.lambda_.create_function(
        FunctionName=FUNCTION,
        Role=ROLE_ARN,
        Handler="old.handle",
        Runtime="python3.11",
        # The same architecture: moto 5.2.5 ignores Architectures in UpdateFunctionCode.
        Architectures=["arm64"],
        Code={"ZipFile": NEW_CODE},
    )
    resource = function(url={"auth_type": "NONE"})

    OPERATIONS.create(context, resource)

    found = context.clients.lambda_.get_function(FunctionName=FUNCTION)
    assert found["Configuration"]["Handler"] == "portway_aws.handler.handle"
    assert found["Configuration"]["CodeSha256"] == sha256(CODE)
    assert found["Configuration"]["Runtime"] == "python3.12"
    assert found["Tags"][SPEC_TAG] == resource.spec_hash
    assert set(statements(context)) == {"portway-public-url", "portway-public-url-invoke"}


def test_update_uploads_the_code_when_its_hash_differs(context: ApplyContext) -> None:
    before = function()
    OPERATIONS.create(context, before)
    after = function(code=NEW_CODE)

    OPERATIONS.update(ApplyContext(context.clients, NAMES, NEW_CODE), after, observed_of(before))

    found = context.clients.lambda_.get_function(FunctionName=FUNCTION)
    assert found["Configuration"]["CodeSha256"] == sha256(NEW_CODE)
    assert found["Tags"][SPEC_TAG] == after.spec_hash


def test_update_with_unchanged_code_and_settings_only_marks_the_function(
    context: ApplyContext,
) -> None:
    before = function(
        event_source={"queue_arn": JOBS_ARN, "batch_size": 10, "window": 5},
        url={"auth_type": "NONE"},
        schedule=schedule(),
    )
    OPERATIONS.create(context, before)
    context.clients.calls.clear()

    OPERATIONS.update(context, before, observed_of(before))

    assert mutating_calls(context) == ["lambda.TagResource"]


def test_update_sets_the_configuration_that_changed(context: ApplyContext) -> None:
    before = function()
    OPERATIONS.create(context, before)
    after = function(timeout=120, memory=1024, environment={"PORTWAY_APP": "other:app"})

    OPERATIONS.update(context, after, observed_of(before))

    configuration = context.clients.lambda_.get_function(FunctionName=FUNCTION)["Configuration"]
    assert configuration["Timeout"] == 120
    assert configuration["MemorySize"] == 1024
    assert configuration["Environment"]["Variables"] == {"PORTWAY_APP": "other:app"}
    assert "lambda.UpdateFunctionCode" not in context.clients.calls


def test_update_changes_the_batch_size_of_the_same_mapping(context: ApplyContext) -> None:
    before = function(event_source={"queue_arn": JOBS_ARN, "batch_size": 10, "window": 5})
    OPERATIONS.create(context, before)
    (original,) = mappings(context)
    after = function(event_source={"queue_arn": JOBS_ARN, "batch_size": 100, "window": 20})

    OPERATIONS.update(context, after, observed_of(before))

    (mapping,) = mappings(context)
    assert mapping["UUID"] == original["UUID"]
    assert mapping["BatchSize"] == 100
    assert mapping["MaximumBatchingWindowInSeconds"] == 20


def test_update_moves_the_mapping_to_the_new_queue(context: ApplyContext) -> None:
    before = function(event_source={"queue_arn": JOBS_ARN, "batch_size": 10, "window": 0})
    OPERATIONS.create(context, before)
    after = function(event_source={"queue_arn": OTHER_ARN, "batch_size": 10, "window": 0})

    OPERATIONS.update(context, after, observed_of(before))

    assert [m["EventSourceArn"] for m in mappings(context)] == [OTHER_ARN]


def test_update_from_public_to_private_url_withdraws_the_public_statements(
    context: ApplyContext,
) -> None:
    before = function(url={"auth_type": "NONE"})
    OPERATIONS.create(context, before)

    OPERATIONS.update(context, function(url={"auth_type": "AWS_IAM"}), observed_of(before))

    url = context.clients.lambda_.get_function_url_config(FunctionName=FUNCTION)
    assert url["AuthType"] == "AWS_IAM"
    assert statements(context) == {}


def test_update_without_url_removes_it(context: ApplyContext) -> None:
    before = function(url={"auth_type": "NONE"})
    OPERATIONS.create(context, before)

    OPERATIONS.update(context, function(), observed_of(before))

    with pytest.raises(context.clients.lambda_.exceptions.ResourceNotFoundException):
        context.clients.lambda_.get_function_url_config(FunctionName=FUNCTION)
    assert statements(context) == {}


def test_update_changes_the_schedule_expression(context: ApplyContext) -> None:
    before = function(schedule=schedule())
    OPERATIONS.create(context, before)

    OPERATIONS.update(context, function(schedule=schedule("rate(5 minutes)")), observed_of(before))

    wanted = schedule()
    found = context.clients.scheduler.get_schedule(Name=wanted["name"], GroupName=wanted["group"])
    assert found["ScheduleExpression"] == "rate(5 minutes)"


def test_update_without_schedule_removes_it(context: ApplyContext) -> None:
    before = function(schedule=schedule())
    OPERATIONS.create(context, before)

    OPERATIONS.update(context, function(), observed_of(before))

    assert schedules(context) == []


def test_delete_removes_the_mapping_url_schedule_and_function(context: ApplyContext) -> None:
    resource = function(
        event_source={"queue_arn": JOBS_ARN, "batch_size": 10, "window": 0},
        url={"auth_type": "NONE"},
        schedule=schedule(),
    )
    OPERATIONS.create(context, resource)

    OPERATIONS.delete(context, observed_of(resource))

    assert context.clients.lambda_.list_functions()["Functions"] == []
    assert mappings(context) == []
    assert schedules(context) == []


def test_delete_of_a_function_already_gone_is_not_an_error(context: ApplyContext) -> None:
    OPERATIONS.delete(context, observed_of(function()))

    assert "lambda.DeleteFunction" in context.clients.calls
