"""``lambda:function``: a portway function on Lambda, with its trigger's wiring.

The wiring lives and dies with the function: the event source mapping from its queue
(partial batch responses on), its function URL (and, when public, the resource policy
statements that let anyone call it), its EventBridge Scheduler schedule. Creating and
updating share one reconciliation of that wiring, so a create that finds a function left
by a deploy cut short converges it instead of failing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from portway.deploy.execute import settle
from portway.errors import DeployError
from portway_aws.deploy.kinds.errors import ResourceCalls, error_codes, error_message
from portway_aws.deploy.resources import Kind
from portway_aws.naming import SPEC_TAG

if TYPE_CHECKING:
    from portway_aws.deploy.kinds import ApplyContext
    from portway_aws.deploy.resources import AwsResource, Observed

#: Pauses between tries while a new IAM role propagates: IAM is eventually consistent,
#: and Lambda (or Scheduler) refuses a role it cannot assume yet. Ten tries, ~35 s.
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency
ROLE_RETRY_DELAYS: tuple[float, ...] = (1, 2, 3, 4, 5, 5, 5, 5, 5)
# An update runs asynchronously on AWS: wait for it (up to 3 minutes) before the next one.
_UPDATE_WAIT = {"Delay": 2, "MaxAttempts": 90}
_GONE = {"ResourceNotFoundException"}
#: The resource policy statements of a public function URL. Since October 2025 a new URL
#: needs both actions granted. https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html
PUBLIC_URL_STATEMENT = "portway-public-url"
PUBLIC_INVOKE_STATEMENT = "portway-public-url-invoke"
_PUBLIC_PERMISSIONS: dict[str, dict[str, Any]] = {
    PUBLIC_URL_STATEMENT: {
        "Action": "lambda:InvokeFunctionUrl",
        "Principal": "*",
        "FunctionUrlAuthType": "NONE",
    },
    PUBLIC_INVOKE_STATEMENT: {
        "Action": "lambda:InvokeFunction",
        "Principal": "*",
        "InvokedViaFunctionUrl": True,
    },
}


class _FunctionOperations:
    kind = Kind.LAMBDA_FUNCTION

    def create(self, context: ApplyContext, resource: AwsResource) -> None:
        lambda_ = context.clients.lambda_
        calls = ResourceCalls(self.kind, resource.name)
        spec = resource.spec
        created = _while_role_settles(
            context,
            calls,
            {"ResourceConflictException"},  # it exists: converge it below
            lambda_.create_function,
            FunctionName=resource.name,
            Code={"ZipFile": _code(context, resource)},
            Architectures=[spec["architecture"]],
            Tags={**context.names.tags, SPEC_TAG: resource.spec_hash},
            Publish=False,
            **_configuration(spec),
        )
        if created is None:
            _converge_function(context, calls, resource)
        _wire(context, calls, resource.name, resource.arn, spec)
        if created is None:
            _mark(context, calls, resource)

    def update(self, context: ApplyContext, resource: AwsResource, observed: Observed) -> None:
        calls = ResourceCalls(self.kind, resource.name)
        _converge_function(context, calls, resource)
        _wire(context, calls, resource.name, resource.arn, resource.spec)
        _mark(context, calls, resource)

    def delete(self, context: ApplyContext, observed: Observed) -> None:
        lambda_ = context.clients.lambda_
        calls = ResourceCalls(self.kind, observed.name)
        # Lambda keeps a deleted function's event source mappings: remove them first.
        _event_source(context, calls, observed.name, None)
        calls.unless(_GONE, lambda_.delete_function_url_config, FunctionName=observed.name)
        _schedule(context, calls, observed.arn, None)
        calls.unless(_GONE, lambda_.delete_function, FunctionName=observed.name)


# -- the function itself ---------------------------------------------------------------------


def _configuration(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "Role": spec["role_arn"],
        "Handler": spec["handler"],
        "Runtime": spec["runtime"],
        "Timeout": spec["timeout"],
        "MemorySize": spec["memory"],
        "Environment": {"Variables": dict(spec["environment"])},
    }


def _code(context: ApplyContext, resource: AwsResource) -> bytes:
    if context.code is None:
        raise DeployError(
            f"{resource.kind} {resource.name}: no code to upload (the deployment package "
            f"was not built); run portway deploy, which packages the app first"
        )
    return context.code


def _converge_function(context: ApplyContext, calls: ResourceCalls, resource: AwsResource) -> None:
    """Upload the code if its hash or architecture differs, then set what else differs."""
    lambda_ = context.clients.lambda_
    spec = resource.spec
    current = calls(lambda_.get_function, FunctionName=resource.name)["Configuration"]
    architectures = [spec["architecture"]]
    if current.get("CodeSha256") != spec["code_sha256"] or (
        current.get("Architectures", ["x86_64"]) != architectures
    ):
        calls(
            lambda_.update_function_code,
            FunctionName=resource.name,
            ZipFile=_code(context, resource),
            Architectures=architectures,
            Publish=False,
        )
        calls.wait(
            lambda_, "function_updated_v2", FunctionName=resource.name, WaiterConfig=_UPDATE_WAIT
        )
    wanted = _configuration(spec)
    found = {
        "Role": current.get("Role"),
        "Handler": current.get("Handler"),
        "Runtime": current.get("Runtime"),
        "Timeout": current.get("Timeout"),
        "MemorySize": current.get("MemorySize"),
        "Environment": {"Variables": (current.get("Environment") or {}).get("Variables", {})},
    }
    if found != wanted:
        _while_role_settles(
            context,
            calls,
            (),
            lambda_.update_function_configuration,
            FunctionName=resource.name,
            **wanted,
        )
        calls.wait(
            lambda_, "function_updated_v2", FunctionName=resource.name, WaiterConfig=_UPDATE_WAIT
        )


def _mark(context: ApplyContext, calls: ResourceCalls, resource: AwsResource) -> None:
    """Store the spec's hash, last: the function now matches it."""
    tags = {**context.names.tags, SPEC_TAG: resource.spec_hash}
    calls(context.clients.lambda_.tag_resource, Resource=resource.arn, Tags=tags)


def _while_role_settles(
    context: ApplyContext,
    calls: ResourceCalls,
    already: Collection[str],
    method: Callable[..., Any],
    /,
    **kwargs: Any,
) -> Any:
    """Call ``method``, trying again (bounded, :func:`portway.deploy.execute.settle`)
    while AWS cannot use a new role yet.

    Returns ``None`` when the call fails with one of the codes ``already``.
    """

    def attempt() -> Any:
        try:
            return method(**kwargs)
        except ClientError as error:
            if error_codes(error) & set(already):
                return None
            raise

    tries = len(ROLE_RETRY_DELAYS) + 1
    try:
        return settle(
            attempt,
            delays=ROLE_RETRY_DELAYS,
            passing=lambda error: isinstance(error, ClientError) and _role_not_ready(error),
            waiting=lambda number, tries: context.progress(
                f"{calls.kind} {calls.name}: waiting for its IAM role to be usable "
                f"(IAM is eventually consistent), try {number} of {tries}"
            ),
        )
    except ClientError as error:
        if not _role_not_ready(error):
            raise calls.failure(error, method) from None
        raise DeployError(
            f"{calls.failure(error, method)}; still refused after {tries} tries: check "
            f"that the role exists, that its trust policy names the service, and that "
            f"its policy grants what the message names"
        ) from None


def _role_not_ready(error: ClientError) -> bool:
    # Lambda: "The role defined for the function cannot be assumed by Lambda." or "The
    # provided execution role does not have permissions to call ReceiveMessage on SQS";
    # Scheduler: "The execution role you provide must allow AWS EventBridge Scheduler to
    # assume the role."
    codes = error_codes(error)
    return bool(codes & {"InvalidParameterValueException", "ValidationException"}) and (
        "role" in error_message(error).lower()
    )


# -- the wiring --------------------------------------------------------------------------------


def _wire(
    context: ApplyContext,
    calls: ResourceCalls,
    name: str,
    arn: str,
    spec: Mapping[str, Any],
) -> None:
    _event_source(context, calls, name, spec.get("event_source"))
    _url(context, calls, name, spec.get("url"))
    _schedule(context, calls, arn, spec.get("schedule"))


def _event_source(
    context: ApplyContext, calls: ResourceCalls, name: str, wanted: Mapping[str, Any] | None
) -> None:
    """One mapping from the spec's queue, partial batch responses on; no other."""
    lambda_ = context.clients.lambda_
    # Listed by name: moto 5.2.5 finds no mapping when given the function's ARN.
    mappings = calls.pages(
        lambda_,
        "list_event_source_mappings",
        "EventSourceMappings",
        unless=_GONE,
        FunctionName=name,
    )
    kept: dict[str, Any] | None = None
    for mapping in mappings:
        if wanted and kept is None and mapping.get("EventSourceArn") == wanted["queue_arn"]:
            kept = mapping
            continue
        calls.unless(_GONE, lambda_.delete_event_source_mapping, UUID=mapping["UUID"])
    if not wanted:
        return
    settings = {
        "BatchSize": wanted["batch_size"],
        "MaximumBatchingWindowInSeconds": wanted["window"],
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }
    if kept is None:
        # Lambda checks the role may read the queue: a new role's policy may lag too.
        _while_role_settles(
            context,
            calls,
            (),
            lambda_.create_event_source_mapping,
            EventSourceArn=wanted["queue_arn"],
            FunctionName=name,
            Enabled=True,
            **settings,
        )
    elif kept.get("State") in ("Disabled", "Disabling") or any(
        kept.get(key) != value for key, value in settings.items()
    ):
        calls(lambda_.update_event_source_mapping, UUID=kept["UUID"], Enabled=True, **settings)


def _url(
    context: ApplyContext, calls: ResourceCalls, name: str, wanted: Mapping[str, Any] | None
) -> None:
    """The function URL with the spec's auth type; public ones get their two statements."""
    lambda_ = context.clients.lambda_
    current = calls.unless(_GONE, lambda_.get_function_url_config, FunctionName=name)
    if wanted is None:
        if current is not None:
            calls.unless(_GONE, lambda_.delete_function_url_config, FunctionName=name)
    elif current is None:
        calls(lambda_.create_function_url_config, FunctionName=name, AuthType=wanted["auth_type"])
    elif current.get("AuthType") != wanted["auth_type"]:
        calls(lambda_.update_function_url_config, FunctionName=name, AuthType=wanted["auth_type"])
    public = wanted is not None and wanted["auth_type"] == "NONE"
    if current is None and not public:
        return  # no URL before, no public one now: no statement to add or remove
    present = _statements(calls, lambda_, name)
    for statement, permission in _PUBLIC_PERMISSIONS.items():
        if public and statement not in present:
            calls.unless(
                {"ResourceConflictException"},  # added meanwhile
                lambda_.add_permission,
                FunctionName=name,
                StatementId=statement,
                **permission,
            )
        elif not public and statement in present:
            calls.unless(_GONE, lambda_.remove_permission, FunctionName=name, StatementId=statement)


def _statements(calls: ResourceCalls, lambda_: Any, name: str) -> set[str]:
    """The statement ids of the function's resource policy."""
    found = calls.unless(_GONE, lambda_.get_policy, FunctionName=name)
    if found is None:
        return set()
    policy = json.loads(found["Policy"])
    return {str(statement.get("Sid")) for statement in policy.get("Statement", [])}


def _schedule(
    context: ApplyContext, calls: ResourceCalls, function_arn: str, wanted: Mapping[str, Any] | None
) -> None:
    """The spec's schedule targeting the function; no other schedule in the group targets it.

    Schedules are found by their target in the deployment's group: a function being
    deleted knows its ARN, not the neutral name its schedule was named after.
    """
    scheduler = context.clients.scheduler
    group = wanted["group"] if wanted else context.names.schedule_group
    listed = calls.pages(scheduler, "list_schedules", "Schedules", unless=_GONE, GroupName=group)
    kept: dict[str, Any] | None = None
    for schedule in listed:
        if schedule.get("Target", {}).get("Arn") != function_arn:
            continue
        if wanted and schedule.get("Name") == wanted["name"]:
            kept = schedule
            continue
        calls.unless(
            _GONE, scheduler.delete_schedule, Name=schedule["Name"], GroupName=schedule["GroupName"]
        )
    if not wanted:
        return
    settings = {
        "Name": wanted["name"],
        "GroupName": wanted["group"],
        "ScheduleExpression": wanted["expression"],
        # Cron expressions mean UTC, as on every portway provider.
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": function_arn, "RoleArn": wanted["role_arn"], "Input": _input(wanted)},
        "State": "ENABLED",
    }
    if kept is None:
        created = _while_role_settles(
            context, calls, {"ConflictException"}, scheduler.create_schedule, **settings
        )
        if created is not None:
            return
        # A schedule of that name targets something else (a renamed function): take it.
    else:
        current = calls(scheduler.get_schedule, Name=wanted["name"], GroupName=wanted["group"])
        if all(_same_setting(current.get(key), value) for key, value in settings.items()):
            return
    _while_role_settles(context, calls, (), scheduler.update_schedule, **settings)


def _same_setting(current: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict) and isinstance(current, dict):
        # AWS adds defaults of its own (the target's retry policy): compare what we set.
        return all(current.get(key) == value for key, value in wanted.items())
    return bool(current == wanted)


def _input(wanted: Mapping[str, Any]) -> str:
    """The event the schedule sends, as the JSON text Scheduler takes."""
    value = wanted.get("input", "{}")
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


OPERATIONS = _FunctionOperations()
