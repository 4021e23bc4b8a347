"""Declaration rules of functions and triggers: each bad declaration is refused at once.

Every refusal is a :class:`ValidationError` whose one-line message starts with where
the problem is (pipeline, then trigger or function) and says the rule.
"""

import pytest

from portway import HttpRequest, Message, ObjectEvent, Pipeline, ScheduleEvent, ValidationError
from portway.model import HttpTrigger, MessageTrigger, ObjectCreatedTrigger, limits


@pytest.fixture
def app() -> Pipeline:
    return Pipeline("rules")


@pytest.fixture
def other() -> Pipeline:
    return Pipeline("other")


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def on_a_schedule(app: Pipeline, **common: object) -> None:
    """Declare ``pull_ftp`` on a schedule with ``common`` decorator arguments."""

    @app.schedule("rate(15 minutes)", **common)
    def pull_ftp(event: ScheduleEvent) -> None:
        pass


# -- a function is registered --------------------------------------------------------


def test_decorator_registers_the_function_and_returns_the_handler(app):
    landing = app.bucket("landing")

    def pull_ftp(event: ScheduleEvent) -> None:
        pass

    decorated = app.schedule("rate(15 minutes)", uses=[landing.write()])(pull_ftp)

    function = app.function("pull_ftp")
    assert decorated is pull_ftp
    assert function.handler is pull_ftp
    assert function.app == "rules"
    assert function.uses == (landing.write(),)
    assert function.trigger.describe() == "rate(15 minutes)"


def test_function_is_found_by_its_hyphenated_name(app):
    on_a_schedule(app)

    assert app.function("pull-ftp") is app.function("pull_ftp")
    assert app.function("pull_ftp").resource_name == "pull-ftp"


def test_unknown_function_raises_key_error_listing_the_known_ones(app):
    on_a_schedule(app)

    with pytest.raises(
        KeyError, match=r"pipeline 'rules' has no function 'pull' \(it has: pull_ftp\)"
    ):
        app.function("pull")


def test_name_argument_names_the_function(app):
    on_a_schedule(app, name="fetch_files")

    assert list(app.functions) == ["fetch_files"]


def test_function_gets_the_default_timeout_and_memory(app):
    on_a_schedule(app)

    function = app.function("pull_ftp")
    assert (function.timeout, function.memory) == (limits.DEFAULT_TIMEOUT, limits.DEFAULT_MEMORY)


def test_subscribers_are_the_functions_triggered_by_a_resource(app):
    jobs = app.queue("jobs")
    loaded = app.topic("loaded")

    @app.on_message(jobs)
    def transform(msg: Message) -> None:
        pass

    @app.on_message(loaded)
    def report(msg: Message) -> None:
        pass

    assert [f.name for f in app.subscribers(jobs)] == ["transform"]
    assert [f.name for f in app.subscribers(loaded)] == ["report"]


# -- triggers on resources -----------------------------------------------------------------


def test_object_created_trigger_keeps_its_filters(app):
    landing = app.bucket("landing")

    @app.on_object_created(landing, prefix="in/", suffix=".csv")
    def enqueue(event: ObjectEvent) -> None:
        pass

    trigger = app.function("enqueue").trigger
    assert trigger == ObjectCreatedTrigger(landing, "in/", ".csv")
    assert trigger.matches("in/orders.csv")
    assert not trigger.matches("in/orders.json")
    assert not trigger.matches("out/orders.csv")


def test_object_created_trigger_on_another_pipelines_bucket_is_refused(app, other):
    landing = other.bucket("landing")

    with pytest.raises(ValidationError) as caught:

        @app.on_object_created(landing)
        def enqueue(event: ObjectEvent) -> None:
            pass

    message = one_line(caught)
    assert message.startswith("pipeline 'rules', on_object_created: ")
    assert "the trigger is on bucket 'landing' of pipeline 'other'" in message
    assert "declare it on this pipeline with app.bucket('landing')" in message


def test_message_trigger_on_another_pipelines_queue_is_refused(app, other):
    jobs = other.queue("jobs")

    with pytest.raises(ValidationError) as caught:

        @app.on_message(jobs)
        def transform(msg: Message) -> None:
            pass

    message = one_line(caught)
    assert message.startswith("pipeline 'rules', on_message: ")
    assert "the trigger is on queue 'jobs' of pipeline 'other'" in message
    assert "app.queue('jobs')" in message


def test_message_trigger_on_another_pipelines_topic_is_refused(app, other):
    loaded = other.topic("loaded")

    with pytest.raises(
        ValidationError, match="the trigger is on topic 'loaded' of pipeline 'other'"
    ):

        @app.on_message(loaded)
        def report(msg: Message) -> None:
            pass


def test_trigger_on_a_same_named_resource_of_another_pipeline_object_is_refused(app):
    twin = Pipeline("rules")
    landing = twin.bucket("landing")
    app.bucket("landing")

    with pytest.raises(ValidationError, match="of pipeline 'rules'; declare it on this pipeline"):

        @app.on_object_created(landing)
        def enqueue(event: ObjectEvent) -> None:
            pass


def test_message_trigger_on_a_bucket_is_refused(app):
    lake = app.bucket("lake")

    with pytest.raises(ValidationError) as caught:

        @app.on_message(lake)  # type: ignore[arg-type]
        def transform(msg: Message) -> None:
            pass

    assert "pipeline 'rules', on_message: the trigger needs a queue or topic, got Bucket(" in (
        one_line(caught)
    )


def test_object_created_trigger_on_a_queue_is_refused(app):
    jobs = app.queue("jobs")

    with pytest.raises(
        ValidationError, match=r"on_object_created: the trigger needs a bucket, got Queue\("
    ):

        @app.on_object_created(jobs)  # type: ignore[arg-type]
        def enqueue(event: ObjectEvent) -> None:
            pass


def test_key_filter_that_is_not_a_string_is_refused(app):
    landing = app.bucket("landing")

    with pytest.raises(
        ValidationError, match=r"on_object_created: suffix must be a str, got \['.csv'\]"
    ):
        app.on_object_created(landing, suffix=[".csv"])  # type: ignore[arg-type]


def test_key_filter_with_a_control_character_is_refused(app):
    landing = app.bucket("landing")

    with pytest.raises(ValidationError, match=r"prefix 'in/\\n' holds a control character"):
        app.on_object_created(landing, prefix="in/\n")


def test_key_filter_longer_than_1024_bytes_is_refused(app):
    landing = app.bucket("landing")

    with pytest.raises(ValidationError, match="prefix is longer than 1,024 bytes"):
        app.on_object_created(landing, prefix="é" * 513)


# -- batch settings ----------------------------------------------------------------------


def test_batch_size_at_the_top_of_the_portable_range_is_accepted(app):
    jobs = app.queue("jobs")
    high = limits.BATCH_SIZE[1]

    @app.on_message(jobs, batch_size=high)
    def transform(batch: list[Message]) -> None:
        pass

    assert app.function("transform").trigger == MessageTrigger(jobs, batch_size=high)


def test_batch_size_above_the_portable_range_is_refused(app):
    jobs = app.queue("jobs")
    low, high = limits.BATCH_SIZE

    with pytest.raises(ValidationError) as caught:
        app.on_message(jobs, batch_size=high + 1)

    assert one_line(caught) == (
        f"pipeline 'rules', on_message(jobs): batch_size={high + 1} is out of the "
        f"portable range {low}..{high}"
    )


def test_batch_size_below_the_portable_range_is_refused(app):
    jobs = app.queue("jobs")
    low = limits.BATCH_SIZE[0]

    with pytest.raises(
        ValidationError,
        match=rf"on_message\(jobs\): batch_size={low - 1} is out of the portable range",
    ):
        app.on_message(jobs, batch_size=low - 1)


def test_batch_size_that_is_a_bool_is_refused(app):
    jobs = app.queue("jobs")

    with pytest.raises(
        ValidationError, match=r"on_message\(jobs\): batch_size must be a whole number, got True"
    ):
        app.on_message(jobs, batch_size=True)


def test_batching_window_above_its_range_is_refused(app):
    loaded = app.topic("loaded")
    high = limits.MAX_BATCHING_WINDOW[1]

    with pytest.raises(
        ValidationError, match=rf"on_message\(loaded\): max_batching_window={high + 1} is out"
    ):
        app.on_message(loaded, max_batching_window=high + 1)


# -- uses ----------------------------------------------------------------------------------


def test_duplicate_uses_are_kept_once_in_order(app):
    lake = app.bucket("lake")
    jobs = app.queue("jobs")

    on_a_schedule(app, uses=[lake.write(), jobs.send(), lake.write()])

    assert app.function("pull_ftp").uses == (lake.write(), jobs.send())


def test_use_of_another_pipelines_resource_is_refused(app, other):
    lake = other.bucket("lake")

    with pytest.raises(ValidationError) as caught:
        on_a_schedule(app, uses=[lake.read()])

    message = one_line(caught)
    assert message.startswith("pipeline 'rules', function 'pull_ftp': ")
    assert "uses lake.read() of pipeline 'other'" in message
    assert "only use resources of its own pipeline" in message


def test_resource_instead_of_a_use_is_refused_with_the_calls_to_write(app):
    lake = app.bucket("lake")

    with pytest.raises(ValidationError) as caught:
        on_a_schedule(app, uses=[lake])

    message = one_line(caught)
    assert message.startswith("pipeline 'rules', function 'pull_ftp': ")
    assert "not the bucket itself" in message
    # The suggestion is the least privilege, never the destructive delete().
    assert "write lake.read() (one of read(), list(), write(), delete())" in message


def test_single_use_not_in_a_list_is_refused(app):
    lake = app.bucket("lake")

    with pytest.raises(
        ValidationError,
        match=r"function 'pull_ftp': uses must be a list, as uses=\[lake.read\(\)\]",
    ):
        on_a_schedule(app, uses=lake.read())


def test_uses_holding_something_else_is_refused(app):
    with pytest.raises(
        ValidationError, match="function 'pull_ftp': uses holds 'lake', which is not a use"
    ):
        on_a_schedule(app, uses=["lake"])


def test_refused_function_is_not_registered(app, other):
    with pytest.raises(ValidationError):
        on_a_schedule(app, uses=[other.bucket("lake").read()])

    assert dict(app.functions) == {}


# -- timeout and memory ----------------------------------------------------------------------


def test_timeout_above_its_range_is_refused(app):
    low, high = limits.TIMEOUT

    with pytest.raises(ValidationError) as caught:
        on_a_schedule(app, timeout=high + 1)

    assert one_line(caught) == (
        f"pipeline 'rules', function 'pull_ftp': timeout={high + 1} is out of the "
        f"portable range {low}..{high}"
    )


def test_timeout_of_zero_is_refused(app):
    with pytest.raises(ValidationError, match="timeout=0 is out of the portable range"):
        on_a_schedule(app, timeout=0)


def test_timeout_given_as_a_string_is_refused(app):
    with pytest.raises(
        ValidationError, match="function 'pull_ftp': timeout must be a whole number, got '60'"
    ):
        on_a_schedule(app, timeout="60")


def test_timeout_given_as_a_bool_is_refused(app):
    with pytest.raises(ValidationError, match="timeout must be a whole number, got True"):
        on_a_schedule(app, timeout=True)


def test_memory_below_its_range_is_refused(app):
    low, high = limits.MEMORY

    with pytest.raises(
        ValidationError,
        match=rf"'pull_ftp': memory={low - 1} is out of the portable range {low}\.\.{high}",
    ):
        on_a_schedule(app, memory=low - 1)


def test_memory_above_its_range_is_refused(app):
    high = limits.MEMORY[1]

    with pytest.raises(ValidationError, match=rf"memory={high + 1} is out of the portable range"):
        on_a_schedule(app, memory=high + 1)


def test_memory_given_as_a_float_is_refused(app):
    with pytest.raises(ValidationError, match=r"memory must be a whole number, got 512\.0"):
        on_a_schedule(app, memory=512.0)


def test_timeout_and_memory_in_range_are_kept(app):
    on_a_schedule(app, timeout=900, memory=1024)

    function = app.function("pull_ftp")
    assert (function.timeout, function.memory) == (900, 1024)


# -- HTTP routes -------------------------------------------------------------------------------


def test_http_route_is_declared_with_its_method_upper_cased(app):
    @app.http("get", "/orders/{order_id}", public=True)
    def order(req: HttpRequest) -> dict[str, str]:
        return {}

    assert app.function("order").trigger == HttpTrigger("GET", "/orders/{order_id}", True)


def test_http_route_declared_twice_is_refused(app):
    @app.http("GET", "/status")
    def status(req: HttpRequest) -> dict[str, str]:
        return {}

    with pytest.raises(ValidationError) as caught:
        app.http("GET", "/status")

    message = one_line(caught)
    assert message.startswith("pipeline 'rules', http 'GET' '/status': ")
    assert "route GET /status is already served by function 'status'" in message


def test_http_route_differing_only_in_parameter_names_is_refused(app):
    @app.http("GET", "/orders/{order_id}")
    def order(req: HttpRequest) -> dict[str, str]:
        return {}

    with pytest.raises(
        ValidationError, match=r"route GET /orders/\{id\} is already served by function 'order'"
    ):
        app.http("GET", "/orders/{id}")


def test_http_route_differing_only_in_a_trailing_slash_is_refused(app):
    @app.http("GET", "/status")
    def status(req: HttpRequest) -> dict[str, str]:
        return {}

    with pytest.raises(ValidationError, match="already served by function 'status'"):
        app.http("GET", "/status/")


def test_same_path_with_another_method_is_a_different_route(app):
    @app.http("GET", "/orders")
    def list_orders(req: HttpRequest) -> list[str]:
        return []

    @app.http("POST", "/orders")
    def add_order(req: HttpRequest) -> None:
        pass

    assert list(app.functions) == ["list_orders", "add_order"]


def test_http_method_that_is_not_standard_is_refused(app):
    with pytest.raises(ValidationError) as caught:
        app.http("FETCH", "/status")

    message = one_line(caught)
    assert message.startswith("pipeline 'rules', http 'FETCH' '/status': ")
    assert (
        "HTTP method 'FETCH' is not one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS" in message
    )


def test_http_path_not_starting_with_a_slash_is_refused(app):
    with pytest.raises(ValidationError, match="HTTP path 'status' must start with '/'"):
        app.http("GET", "status")


def test_http_path_with_an_empty_segment_is_refused(app):
    with pytest.raises(ValidationError, match=r"HTTP path '/orders//items': segment '' must be"):
        app.http("GET", "/orders//items")


def test_http_path_with_a_query_string_is_refused(app):
    with pytest.raises(ValidationError, match=r"segment 'status\?full=1' must be letters, digits"):
        app.http("GET", "/status?full=1")


def test_http_path_parameter_with_uppercase_is_refused(app):
    with pytest.raises(ValidationError, match=r"segment '\{orderId\}'"):
        app.http("GET", "/orders/{orderId}")


def test_http_route_at_the_root_is_accepted(app):
    @app.http("GET", "/")
    def home(req: HttpRequest) -> str:
        return "ok"

    assert app.function("home").trigger.route == "GET /"


def test_http_path_naming_a_parameter_twice_is_refused(app):
    with pytest.raises(ValidationError, match="id"):
        app.http("GET", "/orders/{id}/items/{id}")


def test_http_public_flag_must_be_a_bool(app):
    with pytest.raises(ValidationError, match="http 'GET' '/status': public must be True or False"):
        app.http("GET", "/status", public="yes")  # type: ignore[arg-type]


# -- function names ---------------------------------------------------------------------------


def test_duplicate_function_name_is_refused(app):
    on_a_schedule(app)

    with pytest.raises(ValidationError) as caught:
        on_a_schedule(app)

    message = one_line(caught)
    assert message.startswith("pipeline 'rules', function 'pull_ftp': ")
    assert "a function named 'pull_ftp' is already declared; pass name='...'" in message


def test_function_names_differing_only_in_hyphen_and_underscore_clash(app):
    on_a_schedule(app)

    with pytest.raises(ValidationError) as caught:

        @app.schedule("rate(1 hour)", name="pull-ftp")
        def pull_again(event: ScheduleEvent) -> None:
            pass

    message = one_line(caught)
    assert message.startswith("pipeline 'rules', function 'pull-ftp': ")
    assert "a function named 'pull_ftp' is already declared" in message


def test_lambda_needs_a_name(app):
    with pytest.raises(ValidationError) as caught:
        app.schedule("rate(1 hour)")(lambda event: None)

    message = one_line(caught)
    assert message.startswith("pipeline 'rules', schedule 'rate(1 hour)': ")
    assert "function name '<lambda>'" in message
    assert "pass name='...' to the decorator" in message


def test_function_name_that_is_not_portable_is_refused(app):
    with pytest.raises(ValidationError) as caught:
        on_a_schedule(app, name="go")

    message = one_line(caught)
    assert message.startswith("pipeline 'rules', function 'go', name: ")
    assert "'go' (2 characters) is not a portable name" in message


def test_function_name_with_a_double_underscore_is_refused(app):
    with pytest.raises(ValidationError, match=r"'pull--ftp' .* is not a portable name"):
        on_a_schedule(app, name="pull__ftp")


# -- environment, options, unknown arguments ------------------------------------------------------


def test_environment_is_kept(app):
    on_a_schedule(app, environment={"FTP_HOST": "ftp.example.com"})

    assert app.function("pull_ftp").environment == {"FTP_HOST": "ftp.example.com"}


def test_environment_variable_with_the_portway_prefix_is_refused(app):
    with pytest.raises(ValidationError) as caught:
        on_a_schedule(app, environment={"PORTWAY_STAGE": "prod"})

    assert one_line(caught) == (
        "pipeline 'rules', function 'pull_ftp': environment variable 'PORTWAY_STAGE': "
        "PORTWAY_ is reserved"
    )


def test_environment_variable_with_the_portway_prefix_in_lowercase_is_refused(app):
    with pytest.raises(ValidationError, match="'portway_debug': PORTWAY_ is reserved"):
        on_a_schedule(app, environment={"portway_debug": "1"})


def test_environment_value_that_is_not_a_string_is_refused(app):
    with pytest.raises(ValidationError) as caught:
        on_a_schedule(app, environment={"FTP_PORT": 21})

    assert one_line(caught) == (
        "pipeline 'rules', function 'pull_ftp': environment variable 'FTP_PORT' must be a "
        "str, got int"
    )


def test_environment_variable_name_that_is_not_valid_is_refused(app):
    with pytest.raises(ValidationError, match="environment variable name 'FTP-HOST' is not valid"):
        on_a_schedule(app, environment={"FTP-HOST": "x"})


def test_environment_that_is_not_a_dict_is_refused(app):
    with pytest.raises(ValidationError, match="function 'pull_ftp': environment must be a dict"):
        on_a_schedule(app, environment=["FTP_HOST=x"])


def test_options_keyed_by_provider_are_kept(app):
    on_a_schedule(app, options={"aws": {"architecture": "arm64"}})

    assert app.function("pull_ftp").options == {"aws": {"architecture": "arm64"}}


def test_options_whose_values_are_not_dicts_are_refused(app):
    with pytest.raises(ValidationError) as caught:
        on_a_schedule(app, options={"aws": "arm64"})

    message = one_line(caught)
    assert message.startswith("pipeline 'rules', function 'pull_ftp': ")
    assert "options must look like {'aws': {...}}; got 'aws': 'arm64'" in message


def test_options_that_are_not_a_dict_are_refused(app):
    with pytest.raises(ValidationError, match="options must be a dict keyed by provider name"):
        on_a_schedule(app, options=["aws"])


def test_unknown_decorator_argument_is_refused_before_the_handler_is_seen(app):
    with pytest.raises(ValidationError) as caught:
        app.schedule("rate(15 minutes)", retries=3, uses=[])

    assert one_line(caught) == (
        "pipeline 'rules', schedule 'rate(15 minutes)': unknown argument(s) retries"
    )


def test_unknown_decorator_arguments_are_all_named(app):
    jobs = app.queue("jobs")

    with pytest.raises(
        ValidationError, match=r"on_message\(jobs\): unknown argument\(s\) dlq, retries"
    ):
        app.on_message(jobs, retries=3, dlq=True)
