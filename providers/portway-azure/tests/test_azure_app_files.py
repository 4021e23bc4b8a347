"""The generated files of a Function App group: host.json and function_app.py."""

from __future__ import annotations

import ast
import dataclasses

import pytest
from portway_azure.grouping import AppGroup, group_functions, group_of
from portway_azure.naming import Names
from portway_azure.packaging import function_app_py, host_json
from portway_azure.packaging.app_files import timespan

from portway import HttpRequest, Message, Pipeline
from portway.errors import ValidationError

NAMES = Names("lake-to-warehouse", "prod", "sub-id", "data-rg", "westeurope")


def group(pipeline: Pipeline, function: str) -> AppGroup:
    return group_of(group_functions(pipeline), function)


def registrations(source: str) -> dict[str, list[str]]:
    """Each generated function's name -> its decorators, as source text."""
    tree = ast.parse(compile(source, "function_app.py", "exec", ast.PyCF_ONLY_AST))
    return {
        node.name: [ast.unparse(decorator) for decorator in node.decorator_list]
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }


def test_host_json_of_a_queue_consumer_maps_batch_attempts_and_visibility(
    example: Pipeline,
) -> None:
    assert host_json(group(example, "transform")) == {
        "version": "2.0",
        "functionTimeout": "00:00:30",
        "extensionBundle": {
            "id": "Microsoft.Azure.Functions.ExtensionBundle",
            "version": "[4.*, 5.0.0)",
        },
        "logging": {"logLevel": {"default": "Information"}},
        "extensions": {
            "http": {"routePrefix": ""},
            "queues": {
                "batchSize": 10,
                "newBatchThreshold": 0,
                "maxDequeueCount": 5,
                "visibilityTimeout": "00:00:30",
                "maxPollingInterval": "00:00:10",
                "messageEncoding": "base64",
            },
        },
    }


def test_topic_and_object_consumers_take_one_message_at_a_time_with_core_defaults(
    example: Pipeline,
) -> None:
    for function in ("enqueue", "report"):
        queues = host_json(group(example, function))["extensions"]["queues"]
        assert (queues["batchSize"], queues["maxDequeueCount"]) == (1, 5)
        assert queues["visibilityTimeout"] == "00:00:30"


def test_http_and_timer_groups_have_no_queue_settings(example: Pipeline) -> None:
    for function in ("pull_ftp", "status"):
        assert host_json(group(example, function))["extensions"] == {"http": {"routePrefix": ""}}


def test_queue_settings_follow_the_group(example: Pipeline) -> None:
    changed = dataclasses.replace(
        group(example, "transform"),
        batch_size=32,
        max_dequeue_count=2,
        visibility_timeout=7 * 24 * 3600,
        function_timeout=3600,
    )
    host = host_json(changed)
    assert host["functionTimeout"] == "01:00:00"
    queues = host["extensions"]["queues"]
    assert (queues["batchSize"], queues["maxDequeueCount"]) == (32, 2)
    assert queues["visibilityTimeout"] == "7.00:00:00"


def test_batch_size_above_what_host_json_allows_is_refused(example: Pipeline) -> None:
    with pytest.raises(ValidationError, match=r"batch size 33 is outside the 1\.\.32"):
        host_json(dataclasses.replace(group(example, "transform"), batch_size=33))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "00:00:00"), (59, "00:00:59"), (3661, "01:01:01"), (86400 + 61, "1.00:01:01")],
)
def test_timespan_is_dotnet_format(seconds: int, text: str) -> None:
    assert timespan(seconds) == text


def test_every_group_of_the_example_compiles_and_registers_its_functions(
    example: Pipeline,
) -> None:
    for app_group in group_functions(example):
        found = registrations(function_app_py(example, app_group, NAMES, "pipeline:app"))
        assert sorted(found) == sorted(f"handle_{name}" for name in app_group.functions)


def test_queue_trigger_reads_the_declared_queue(example: Pipeline) -> None:
    source = function_app_py(example, group(example, "transform"), NAMES, "pipeline:app")
    assert registrations(source) == {
        "handle_transform": [
            "app.function_name(name='transform')",
            "app.queue_trigger(arg_name='message', queue_name='q-transform-jobs', "
            "connection='PORTWAY_STORAGE')",
        ]
    }
    assert 'shim.queue_message("transform", message)' in source


@pytest.mark.parametrize("function", ["enqueue", "report"])
def test_object_and_topic_triggers_read_their_trigger_queue(
    example: Pipeline, function: str
) -> None:
    source = function_app_py(example, group(example, function), NAMES, "pipeline:app")
    assert registrations(source)[f"handle_{function}"][1] == (
        f"app.queue_trigger(arg_name='message', queue_name='t-{function}', "
        "connection='PORTWAY_STORAGE')"
    )


def test_rate_schedule_becomes_an_ncrontab_timer(example: Pipeline) -> None:
    source = function_app_py(example, group(example, "pull_ftp"), NAMES, "pipeline:app")
    assert registrations(source) == {
        "handle_pull_ftp": [
            "app.function_name(name='pull_ftp')",
            "app.timer_trigger(schedule='0 */15 * * * *', arg_name='timer', run_on_startup=False)",
        ]
    }
    assert 'shim.timer("pull_ftp", timer)' in source


def test_private_route_needs_a_function_key(example: Pipeline) -> None:
    source = function_app_py(example, group(example, "status"), NAMES, "pipeline:app")
    assert registrations(source) == {
        "handle_status": [
            "app.function_name(name='status')",
            "app.route(route='status', trigger_arg_name='request', methods=['GET'], "
            "auth_level=func.AuthLevel.FUNCTION)",
        ]
    }
    assert 'return shim.http("status", request)' in source


def routes() -> Pipeline:
    app = Pipeline("shop")

    @app.http("GET", "/orders/{order_id}/lines/", public=True)
    def get_lines(request: HttpRequest) -> object:
        return []

    return app


def reserved_route() -> Pipeline:
    app = Pipeline("shop")

    @app.http("POST", "/admin/reset")
    def reset(request: HttpRequest) -> object:
        return {}

    return app


def test_public_route_is_anonymous_and_keeps_its_path_parameters() -> None:
    app = routes()
    names = Names("shop", "prod", "sub-id", "data-rg", "westeurope")
    source = function_app_py(app, group(app, "get_lines"), names, "shop:app")
    assert registrations(source)["handle_get_lines"][1] == (
        "app.route(route='orders/{order_id}/lines', trigger_arg_name='request', "
        "methods=['GET'], "
        "auth_level=func.AuthLevel.ANONYMOUS)"
    )


def test_route_the_functions_host_reserves_is_refused() -> None:
    app = reserved_route()
    names = Names("shop", "prod", "sub-id", "data-rg", "westeurope")
    with pytest.raises(ValidationError, match="'/admin', which the Azure Functions host"):
        function_app_py(app, group(app, "reset"), names, "shop:app")


def test_competing_consumers_in_one_group_register_side_by_side() -> None:
    app = Pipeline("shop")
    jobs = app.queue("jobs")

    @app.on_message(jobs)
    def work_a(message: Message) -> None: ...

    @app.on_message(jobs)
    def work_b(message: Message) -> None: ...

    names = Names("shop", "prod", "sub-id", "data-rg", "westeurope")
    (only,) = group_functions(app)
    found = registrations(function_app_py(app, only, names, "shop:app"))
    assert list(found) == ["handle_work_a", "handle_work_b"]
    assert all("queue_name='q-jobs'" in decorators[1] for decorators in found.values())


def test_generated_file_is_the_same_for_the_same_inputs(example: Pipeline) -> None:
    for app_group in group_functions(example):
        first = function_app_py(example, app_group, NAMES, "pipeline:app")
        assert function_app_py(example, app_group, NAMES, "pipeline:app") == first


def test_pipeline_reference_that_is_not_module_attribute_is_refused(example: Pipeline) -> None:
    with pytest.raises(ValidationError, match="is not 'module:attribute'"):
        function_app_py(example, group(example, "status"), NAMES, "x'); import os; ('")


def test_pipeline_reference_is_recorded_for_the_shim(example: Pipeline) -> None:
    source = function_app_py(example, group(example, "status"), NAMES, "jobs.etl:app")
    assert 'shim.configure("jobs.etl:app")' in source
