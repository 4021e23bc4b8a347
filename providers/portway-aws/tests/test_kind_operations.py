"""The executor's per-kind operations for IAM roles, SNS topics and schedule groups, and
the error wrapping every kind shares, against a real moto server.

Queues, buckets and functions have their own files (``test_kinds_*.py``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from portway_aws.deploy.kinds import ApplyContext, operations
from portway_aws.deploy.kinds.errors import ResourceCalls
from portway_aws.deploy.resources import AwsResource, Kind, Observed
from portway_aws.naming import SPEC_TAG, Names
from portway_aws.session import AwsClients

from portway.errors import DeployError

NAMES = Names(app="demo", stage="test", account="123456789012", region="eu-west-1")
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@pytest.fixture
def context(moto: str) -> ApplyContext:
    return ApplyContext(AwsClients("eu-west-1"), NAMES, progress=lambda note: None)


def tag_dict(tags: list[dict[str, str]]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags}


def observed_of(resource: AwsResource, spec_hash: str | None = None) -> Observed:
    return Observed(resource.kind, resource.name, resource.arn, spec_hash)


def test_every_kind_has_its_operations() -> None:
    for kind in Kind:
        assert operations(kind).kind is kind


# -- iam:role ------------------------------------------------------------------------------


def role(policy_actions: list[str], trust: dict[str, Any] = TRUST) -> AwsResource:
    name = NAMES.role("transform")
    return AwsResource(
        Kind.IAM_ROLE,
        name,
        NAMES.role_arn(name),
        "function transform",
        {
            "path": NAMES.role_path,
            "assume_role_policy": trust,
            "policy": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": policy_actions, "Resource": "*"}],
            },
        },
    )


def test_role_is_created_with_its_path_trust_inline_policy_and_spec_hash(
    context: ApplyContext,
) -> None:
    resource = role(["sqs:SendMessage"])
    operations(Kind.IAM_ROLE).create(context, resource)

    iam = context.clients.iam
    (listed,) = iam.list_roles(PathPrefix=NAMES.role_path)["Roles"]
    assert listed["RoleName"] == resource.name
    assert listed["Arn"] == resource.arn
    assert listed["Path"] == NAMES.role_path
    # The planner reads the hash back from the listing, in exactly this form.
    assert listed["Description"] == f"portway spec {resource.spec_hash}"
    found = iam.get_role(RoleName=resource.name)["Role"]
    assert found["AssumeRolePolicyDocument"] == TRUST
    assert tag_dict(found["Tags"]) == NAMES.tags
    assert iam.list_role_policies(RoleName=resource.name)["PolicyNames"] == ["portway"]
    inline = iam.get_role_policy(RoleName=resource.name, PolicyName="portway")
    assert inline["PolicyDocument"] == resource.spec["policy"]


def test_role_create_converges_a_role_a_cut_short_deploy_left(context: ApplyContext) -> None:
    resource = role(["sqs:SendMessage"])
    iam = context.clients.iam
    iam.create_role(
        RoleName=resource.name, Path=NAMES.role_path, AssumeRolePolicyDocument=json.dumps({})
    )

    operations(Kind.IAM_ROLE).create(context, resource)

    found = iam.get_role(RoleName=resource.name)["Role"]
    assert found["AssumeRolePolicyDocument"] == TRUST
    assert found["Description"] == f"portway spec {resource.spec_hash}"
    assert tag_dict(found["Tags"]) == NAMES.tags
    inline = iam.get_role_policy(RoleName=resource.name, PolicyName="portway")
    assert inline["PolicyDocument"] == resource.spec["policy"]


def test_role_create_refuses_a_same_named_role_outside_portways_path(
    context: ApplyContext,
) -> None:
    resource = role(["sqs:SendMessage"])
    context.clients.iam.create_role(
        RoleName=resource.name, Path="/someone/", AssumeRolePolicyDocument=json.dumps(TRUST)
    )

    with pytest.raises(DeployError, match=r"exists with path '/someone/'.*not this deployment"):
        operations(Kind.IAM_ROLE).create(context, resource)


def test_role_update_replaces_trust_policy_inline_policy_and_hash(context: ApplyContext) -> None:
    before = role(["sqs:SendMessage"])
    operations(Kind.IAM_ROLE).create(context, before)
    scheduler_trust = {
        **TRUST,
        "Statement": [
            {**TRUST["Statement"][0], "Principal": {"Service": "scheduler.amazonaws.com"}}
        ],
    }
    after = role(["lambda:InvokeFunction"], scheduler_trust)

    operations(Kind.IAM_ROLE).update(context, after, observed_of(before, before.spec_hash))

    iam = context.clients.iam
    found = iam.get_role(RoleName=after.name)["Role"]
    assert found["AssumeRolePolicyDocument"] == scheduler_trust
    assert found["Description"] == f"portway spec {after.spec_hash}"
    inline = iam.get_role_policy(RoleName=after.name, PolicyName="portway")
    assert inline["PolicyDocument"] == after.spec["policy"]


def test_role_delete_removes_its_policies_then_the_role(context: ApplyContext) -> None:
    resource = role(["sqs:SendMessage"])
    operations(Kind.IAM_ROLE).create(context, resource)
    iam = context.clients.iam
    # A policy someone added by hand must not block the deletion.
    iam.put_role_policy(
        RoleName=resource.name,
        PolicyName="extra",
        PolicyDocument=json.dumps(resource.spec["policy"]),
    )

    operations(Kind.IAM_ROLE).delete(context, observed_of(resource))

    assert iam.list_roles(PathPrefix=NAMES.role_path)["Roles"] == []


def test_role_delete_of_a_role_already_gone_is_not_an_error(context: ApplyContext) -> None:
    operations(Kind.IAM_ROLE).delete(context, observed_of(role(["sqs:SendMessage"])))

    assert context.clients.calls[-1] == "iam.GetRole"


# -- sns:topic -------------------------------------------------------------------------------


def topic(name: str = "events", spec: dict[str, Any] | None = None) -> AwsResource:
    return AwsResource(
        Kind.SNS_TOPIC, NAMES.topic(name), NAMES.topic_arn(name), f"topic {name}", spec or {}
    )


def topic_tags(context: ApplyContext, arn: str) -> dict[str, str]:
    return tag_dict(context.clients.sns.list_tags_for_resource(ResourceArn=arn)["Tags"])


def test_topic_is_created_with_the_deployment_tags_and_spec_hash(context: ApplyContext) -> None:
    resource = topic()
    operations(Kind.SNS_TOPIC).create(context, resource)

    arns = [t["TopicArn"] for t in context.clients.sns.list_topics()["Topics"]]
    assert arns == [resource.arn]
    assert topic_tags(context, resource.arn) == {**NAMES.tags, SPEC_TAG: resource.spec_hash}


def test_topic_create_of_an_existing_topic_is_not_an_error(context: ApplyContext) -> None:
    operations(Kind.SNS_TOPIC).create(context, topic())
    operations(Kind.SNS_TOPIC).create(context, topic())

    assert len(context.clients.sns.list_topics()["Topics"]) == 1


def test_topic_update_stores_the_new_spec_hash(context: ApplyContext) -> None:
    before = topic()
    operations(Kind.SNS_TOPIC).create(context, before)
    after = topic(spec={"changed": True})

    operations(Kind.SNS_TOPIC).update(context, after, observed_of(before, before.spec_hash))

    assert topic_tags(context, after.arn)[SPEC_TAG] == after.spec_hash


def test_topic_delete_removes_it_and_a_second_delete_is_not_an_error(
    context: ApplyContext,
) -> None:
    resource = topic()
    operations(Kind.SNS_TOPIC).create(context, resource)

    operations(Kind.SNS_TOPIC).delete(context, observed_of(resource))
    operations(Kind.SNS_TOPIC).delete(context, observed_of(resource))

    assert context.clients.sns.list_topics()["Topics"] == []


# -- scheduler:group --------------------------------------------------------------------------


def group(spec: dict[str, Any] | None = None) -> AwsResource:
    return AwsResource(
        Kind.SCHEDULER_GROUP,
        NAMES.schedule_group,
        NAMES.schedule_group_arn(),
        "schedules",
        spec or {},
    )


def group_tags(context: ApplyContext) -> dict[str, str]:
    scheduler = context.clients.scheduler
    return tag_dict(
        scheduler.list_tags_for_resource(ResourceArn=NAMES.schedule_group_arn())["Tags"]
    )


def test_schedule_group_is_created_with_the_deployment_tags_and_spec_hash(
    context: ApplyContext,
) -> None:
    resource = group()
    operations(Kind.SCHEDULER_GROUP).create(context, resource)

    found = context.clients.scheduler.get_schedule_group(Name=resource.name)
    assert found["Arn"] == resource.arn
    assert group_tags(context) == {**NAMES.tags, SPEC_TAG: resource.spec_hash}


def test_schedule_group_update_stores_the_new_spec_hash(context: ApplyContext) -> None:
    before = group()
    operations(Kind.SCHEDULER_GROUP).create(context, before)
    after = group({"changed": True})

    operations(Kind.SCHEDULER_GROUP).update(context, after, observed_of(before, before.spec_hash))

    assert group_tags(context)[SPEC_TAG] == after.spec_hash


def test_schedule_group_delete_removes_it_and_its_schedules(context: ApplyContext) -> None:
    resource = group()
    operations(Kind.SCHEDULER_GROUP).create(context, resource)
    scheduler = context.clients.scheduler
    scheduler.create_schedule(
        Name="left-over",
        GroupName=resource.name,
        ScheduleExpression="rate(1 hour)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": NAMES.function_arn("tick"), "RoleArn": NAMES.role_arn("r")},
    )

    operations(Kind.SCHEDULER_GROUP).delete(context, observed_of(resource))

    assert scheduler.list_schedule_groups(NamePrefix=resource.name)["ScheduleGroups"] == []
    assert scheduler.list_schedules()["Schedules"] == []


def test_schedule_group_delete_of_a_group_already_gone_is_not_an_error(
    context: ApplyContext,
) -> None:
    operations(Kind.SCHEDULER_GROUP).delete(context, observed_of(group()))

    assert "scheduler.DeleteScheduleGroup" not in context.clients.calls


# -- errors ------------------------------------------------------------------------------------


def client_error(code: str, message: str, operation: str) -> ClientError:
    """botocore's own error, as a failed call raises it (moto enforces no permissions)."""
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def test_an_aws_error_names_the_resource_the_operation_and_the_code(
    context: ApplyContext,
) -> None:
    calls = ResourceCalls(Kind.SNS_TOPIC, "demo-test-events")
    with pytest.raises(DeployError) as raised:
        calls(context.clients.sns.get_topic_attributes, TopicArn=NAMES.topic_arn("missing"))

    assert str(raised.value).startswith(
        "sns:topic demo-test-events: GetTopicAttributes failed: NotFound: "
    )


def test_access_denied_says_which_permission_the_deploying_identity_lacks(
    context: ApplyContext,
) -> None:
    calls = ResourceCalls(Kind.S3_BUCKET, "demo-test-raw")
    error = client_error("AccessDenied", "Access Denied", "PutBucketNotificationConfiguration")

    message = str(calls.failure(error, context.clients.s3.put_bucket_notification_configuration))

    assert message.startswith(
        "s3:bucket demo-test-raw: PutBucketNotificationConfiguration failed: AccessDenied: "
    )
    assert "lacks the permission s3:PutBucketNotification" in message


def test_access_denied_repeats_the_permission_aws_names(context: ApplyContext) -> None:
    calls = ResourceCalls(Kind.LAMBDA_FUNCTION, "demo-test-transform")
    error = client_error(
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: iam:PassRole "
        "on resource: arn:aws:iam::123456789012:role/portway/demo/test/demo-test-transform",
        "CreateFunction",
    )

    message = str(calls.failure(error, context.clients.lambda_.create_function))

    assert "lacks the permission iam:PassRole" in message


def test_expired_credentials_say_to_refresh_them(context: ApplyContext) -> None:
    calls = ResourceCalls(Kind.SQS_QUEUE, "demo-test-jobs")
    error = client_error(
        "ExpiredToken", "The security token included in the request is expired", "CreateQueue"
    )

    assert "refresh them" in str(calls.failure(error, context.clients.sqs.create_queue))
