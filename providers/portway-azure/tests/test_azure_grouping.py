"""Function App groups: functions share an app only when everything Azure sets per app
is equal (identity from uses and trigger queues, host.json queue settings, timeout,
memory, app settings)."""

from __future__ import annotations

import pytest
from portway_azure.grouping import (
    AppGroup,
    ProcessedQueue,
    group_functions,
    group_of,
    instance_memory,
)

from portway import HttpRequest, Message, Pipeline, ScheduleEvent
from portway.errors import ValidationError
from portway.model import Action, Bucket, Queue


def shop() -> Pipeline:
    """Two HTTP functions with the same uses, and two consumers of one queue."""
    app = Pipeline("shop")
    orders = app.bucket("orders")
    jobs = app.queue("jobs")

    @app.http("GET", "/orders", uses=[orders.list(), orders.read()])
    def list_orders(request: HttpRequest) -> object:
        return []

    @app.http("GET", "/orders/{id}", uses=[orders.read(), orders.list()])
    def get_order(request: HttpRequest) -> object:
        return {}

    @app.on_message(jobs, batch_size=5, uses=[orders.write()])
    def work_a(message: Message) -> None: ...

    @app.on_message(jobs, batch_size=5, uses=[orders.write()])
    def work_b(message: Message) -> None: ...

    return app


def functions_by_group(pipeline: Pipeline) -> dict[str, tuple[str, ...]]:
    return {group.name: group.functions for group in group_functions(pipeline)}


def test_example_gets_one_group_per_function_since_their_uses_differ(example: Pipeline) -> None:
    assert functions_by_group(example) == {
        "enqueue": ("enqueue",),
        "pull-ftp": ("pull_ftp",),
        "report": ("report",),
        "status": ("status",),
        "transform": ("transform",),
    }


def test_example_groups_carry_the_host_json_settings_of_their_trigger(example: Pipeline) -> None:
    groups = group_functions(example)
    transform = group_of(groups, "transform")
    assert transform == AppGroup(
        name="transform",
        functions=("transform",),
        uses=frozenset(
            {
                (example.resource("landing"), Action.READ),
                (example.resource("lake"), Action.WRITE),
                (example.resource("loaded"), Action.PUBLISH),
            }
        ),
        processes=frozenset({ProcessedQueue("queue", "transform-jobs")}),
        batch_size=10,
        max_dequeue_count=5,
        visibility_timeout=30,
        function_timeout=30,
        instance_memory=512,
        environment=(),
    )
    report = group_of(groups, "report")
    assert report.processes == frozenset({ProcessedQueue("trigger", "report")})
    assert (report.batch_size, report.max_dequeue_count, report.visibility_timeout) == (1, 5, 30)
    status = group_of(groups, "status")
    assert status.processes == frozenset()
    assert (status.batch_size, status.max_dequeue_count, status.visibility_timeout) == (
        None,
        None,
        None,
    )


def test_functions_with_the_same_uses_and_trigger_settings_share_a_group() -> None:
    assert functions_by_group(shop()) == {
        "get-order": ("get_order", "list_orders"),
        "work-a": ("work_a", "work_b"),
    }


def test_different_batch_sizes_split_a_group() -> None:
    app = shop()
    jobs, orders = app.resource("jobs"), app.resource("orders")
    assert isinstance(jobs, Queue)
    assert isinstance(orders, Bucket)

    @app.on_message(jobs, batch_size=10, uses=[orders.write()])
    def work_c(message: Message) -> None: ...

    assert functions_by_group(app)["work-c"] == ("work_c",)
    assert functions_by_group(app)["work-a"] == ("work_a", "work_b")


def test_different_max_attempts_or_visibility_split_consumers_of_different_queues() -> None:
    app = Pipeline("shop")
    fast = app.queue("fast", max_attempts=5)
    slow = app.queue("slow", max_attempts=10, visibility_timeout=120)

    @app.on_message(fast)
    def on_fast(message: Message) -> None: ...

    @app.on_message(slow)
    def on_slow(message: Message) -> None: ...

    groups = group_functions(app)
    assert [(g.name, g.max_dequeue_count, g.visibility_timeout) for g in groups] == [
        ("on-fast", 5, 30),
        ("on-slow", 10, 120),
    ]


def test_consumers_of_different_queues_never_share_an_identity() -> None:
    app = Pipeline("shop")
    first, second = app.queue("first"), app.queue("second")

    @app.on_message(first)
    def on_first(message: Message) -> None: ...

    @app.on_message(second)
    def on_second(message: Message) -> None: ...

    assert functions_by_group(app) == {"on-first": ("on_first",), "on-second": ("on_second",)}


def test_different_timeouts_memory_or_environment_split_a_group() -> None:
    app = Pipeline("shop")

    @app.schedule("rate(1 hour)")
    def base(event: ScheduleEvent) -> None: ...

    @app.schedule("rate(1 hour)", timeout=60)
    def slower(event: ScheduleEvent) -> None: ...

    @app.schedule("rate(1 hour)", memory=1024)
    def bigger(event: ScheduleEvent) -> None: ...

    @app.schedule("rate(1 hour)", environment={"MODE": "x"})
    def configured(event: ScheduleEvent) -> None: ...

    @app.schedule("rate(2 hours)", memory=300)
    def same_instance(event: ScheduleEvent) -> None: ...

    assert functions_by_group(app) == {
        "base": ("base", "same_instance"),
        "bigger": ("bigger",),
        "configured": ("configured",),
        "slower": ("slower",),
    }


def test_memory_rounds_up_to_a_flex_consumption_instance_size() -> None:
    app = Pipeline("shop")

    @app.schedule("rate(1 hour)", memory=2049)
    def big(event: ScheduleEvent) -> None: ...

    assert instance_memory(app.function("big")) == 4096


def test_memory_beyond_the_largest_instance_is_refused() -> None:
    app = Pipeline("shop")

    @app.schedule("rate(1 hour)", memory=8192)
    def huge(event: ScheduleEvent) -> None: ...

    with pytest.raises(ValidationError, match=r"'huge'.*4096"):
        group_functions(app)


def test_group_names_are_deterministic() -> None:
    assert group_functions(shop()) == group_functions(shop())


def test_adding_a_function_with_different_uses_renames_no_group() -> None:
    before = functions_by_group(shop())
    app = shop()
    orders = app.resource("orders")
    assert isinstance(orders, Bucket)

    @app.http("DELETE", "/orders/{id}", uses=[orders.delete()])
    def a_delete_order(request: HttpRequest) -> None: ...

    after = functions_by_group(app)
    assert after == {**before, "a-delete-order": ("a_delete_order",)}


def test_changing_a_setting_of_a_one_function_group_keeps_its_name() -> None:
    def pipeline(timeout: int) -> Pipeline:
        app = Pipeline("shop")

        @app.schedule("rate(1 hour)", timeout=timeout)
        def tick(event: ScheduleEvent) -> None: ...

        return app

    assert [g.name for g in group_functions(pipeline(30))] == ["tick"]
    assert [g.name for g in group_functions(pipeline(90))] == ["tick"]
