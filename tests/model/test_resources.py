"""Buckets, queues and topics: declared on a pipeline, and handles that declare uses.

Called with no argument, a resource method declares a use for ``uses=[...]``
(``lake.read()``); the data-plane side of the same methods is in ``test_dataplane.py``.
"""

import pytest

from portway import Bucket, Pipeline, Queue, Topic, Use, ValidationError
from portway.model import Action, limits


@pytest.fixture
def app() -> Pipeline:
    return Pipeline("resources")


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


# -- declaring -----------------------------------------------------------------------


def test_bucket_queue_and_topic_are_declared_by_name(app):
    lake = app.bucket("lake")
    jobs = app.queue("jobs")
    loaded = app.topic("loaded")

    assert isinstance(lake, Bucket)
    assert isinstance(jobs, Queue)
    assert isinstance(loaded, Topic)
    assert (lake.name, lake.app, lake.kind) == ("lake", "resources", "bucket")
    assert (jobs.kind, loaded.kind) == ("queue", "topic")


def test_resources_are_listed_in_declaration_order(app):
    app.topic("loaded")
    app.bucket("lake")
    app.queue("jobs")

    assert list(app.resources) == ["loaded", "lake", "jobs"]


def test_resources_mapping_is_read_only(app):
    app.bucket("lake")

    with pytest.raises(TypeError):
        app.resources["other"] = app.resources["lake"]  # type: ignore[index]


def test_resource_is_found_by_name(app):
    lake = app.bucket("lake")

    assert app.resource("lake") is lake


def test_unknown_resource_name_raises_key_error_listing_the_known_ones(app):
    app.bucket("lake")
    app.queue("jobs")

    with pytest.raises(
        KeyError, match=r"pipeline 'resources' has no resource 'lak' \(it has: lake, jobs\)"
    ):
        app.resource("lak")


def test_queue_has_portable_defaults(app):
    jobs = app.queue("jobs")

    assert jobs.max_attempts == limits.DEFAULT_MAX_ATTEMPTS == 5
    assert jobs.visibility_timeout == limits.DEFAULT_VISIBILITY_TIMEOUT == 30
    assert jobs.retention == limits.DEFAULT_RETENTION == 4 * 24 * 3600


def test_queue_dead_letter_queue_is_named_after_it(app):
    assert app.queue("transform-jobs").dead_letter_name == "transform-jobs-dlq"


def test_resources_are_frozen(app):
    jobs = app.queue("jobs")

    with pytest.raises(AttributeError):
        jobs.max_attempts = 7  # type: ignore[misc]


# -- unique names ----------------------------------------------------------------------


def test_duplicate_name_of_the_same_kind_is_refused(app):
    app.bucket("lake")

    with pytest.raises(ValidationError) as caught:
        app.bucket("lake")

    message = one_line(caught)
    assert message.startswith("pipeline 'resources', bucket 'lake': ")
    assert "already taken by bucket 'lake'" in message
    assert "resource names are unique within a pipeline" in message


def test_duplicate_name_across_kinds_is_refused(app):
    app.bucket("jobs")

    with pytest.raises(ValidationError) as caught:
        app.queue("jobs")

    message = one_line(caught)
    assert message.startswith("pipeline 'resources', queue 'jobs': ")
    assert "already taken by bucket 'jobs'" in message


def test_queue_named_like_another_queues_dead_letter_queue_is_refused(app):
    app.queue("jobs")

    with pytest.raises(ValidationError) as caught:
        app.queue("jobs-dlq")

    message = one_line(caught)
    assert message.startswith("pipeline 'resources', queue 'jobs-dlq': ")
    assert "taken by the dead-letter queue of queue 'jobs'" in message


def test_queue_whose_dead_letter_queue_name_is_already_declared_is_refused(app):
    app.queue("jobs-dlq")

    with pytest.raises(ValidationError) as caught:
        app.queue("jobs")

    message = one_line(caught)
    assert message.startswith("pipeline 'resources', queue 'jobs': ")
    assert "its dead-letter queue would be named 'jobs-dlq'" in message
    assert "already declared" in message


def test_bucket_named_like_a_queues_dead_letter_queue_is_refused(app):
    app.queue("jobs")

    with pytest.raises(ValidationError, match="dead-letter queue of queue 'jobs'"):
        app.bucket("jobs-dlq")


def test_bucket_may_be_named_like_a_dead_letter_queue_of_no_queue(app):
    app.bucket("jobs")

    assert app.bucket("jobs-dlq").name == "jobs-dlq"


# -- queue settings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "bounds"),
    [
        ("max_attempts", limits.MAX_ATTEMPTS),
        ("visibility_timeout", limits.VISIBILITY_TIMEOUT),
        ("retention", limits.RETENTION),
    ],
)
def test_queue_setting_at_its_bounds_is_accepted(app, setting, bounds):
    low, high = bounds

    assert getattr(app.queue("low", **{setting: low}), setting) == low
    assert getattr(app.queue("high", **{setting: high}), setting) == high


def test_max_attempts_below_the_portable_range_is_refused(app):
    low, high = limits.MAX_ATTEMPTS

    with pytest.raises(ValidationError) as caught:
        app.queue("jobs", max_attempts=low - 1)

    assert one_line(caught) == (
        f"pipeline 'resources', queue 'jobs': max_attempts={low - 1} is out of the "
        f"portable range {low}..{high}"
    )


def test_max_attempts_above_the_portable_range_is_refused(app):
    low, high = limits.MAX_ATTEMPTS

    with pytest.raises(
        ValidationError,
        match=rf"max_attempts={high + 1} is out of the portable range {low}\.\.{high}",
    ):
        app.queue("jobs", max_attempts=high + 1)


def test_visibility_timeout_below_its_range_is_refused(app):
    low, high = limits.VISIBILITY_TIMEOUT

    with pytest.raises(ValidationError) as caught:
        app.queue("jobs", visibility_timeout=low - 1)

    message = one_line(caught)
    assert message.startswith("pipeline 'resources', queue 'jobs': ")
    assert f"visibility_timeout={low - 1} is out of the portable range {low}..{high}" in message


def test_visibility_timeout_above_its_range_is_refused(app):
    high = limits.VISIBILITY_TIMEOUT[1]

    with pytest.raises(ValidationError, match=rf"queue 'jobs': visibility_timeout={high + 1} "):
        app.queue("jobs", visibility_timeout=high + 1)


def test_retention_below_its_range_is_refused(app):
    low, high = limits.RETENTION

    with pytest.raises(ValidationError) as caught:
        app.queue("jobs", retention=low - 1)

    message = one_line(caught)
    assert message.startswith("pipeline 'resources', queue 'jobs': ")
    assert f"retention={low - 1} is out of the portable range {low}..{high}" in message


def test_retention_above_its_range_is_refused(app):
    high = limits.RETENTION[1]

    with pytest.raises(ValidationError, match=rf"queue 'jobs': retention={high + 1} "):
        app.queue("jobs", retention=high + 1)


def test_max_attempts_given_as_a_string_is_refused(app):
    with pytest.raises(ValidationError) as caught:
        app.queue("jobs", max_attempts="5")  # type: ignore[arg-type]

    assert one_line(caught) == (
        "pipeline 'resources', queue 'jobs': max_attempts must be a whole number, got '5'"
    )


def test_visibility_timeout_given_as_a_float_is_refused(app):
    with pytest.raises(
        ValidationError, match=r"visibility_timeout must be a whole number, got 30\.0"
    ):
        app.queue("jobs", visibility_timeout=30.0)  # type: ignore[arg-type]


def test_retention_given_as_a_bool_is_refused(app):
    with pytest.raises(ValidationError, match="retention must be a whole number, got True"):
        app.queue("jobs", retention=True)


def test_refused_queue_is_not_declared(app):
    with pytest.raises(ValidationError):
        app.queue("jobs", max_attempts=1)

    assert "jobs" not in app.resources
    assert app.queue("jobs").max_attempts == limits.DEFAULT_MAX_ATTEMPTS


# -- uses ------------------------------------------------------------------------------


def test_read_with_no_argument_declares_the_read_use(app):
    lake = app.bucket("lake")

    use = lake.read()

    assert isinstance(use, Use)
    assert use == lake.use(Action.READ)
    assert (use.resource, use.action) == (lake, Action.READ)


@pytest.mark.parametrize("action", [Action.WRITE, Action.LIST, Action.DELETE])
def test_other_bucket_methods_with_no_argument_declare_their_use(app, action):
    lake = app.bucket("lake")

    assert getattr(lake, action)() == lake.use(action)


def test_send_with_no_argument_declares_the_send_use(app):
    jobs = app.queue("jobs")

    assert jobs.send() == jobs.use(Action.SEND)


def test_publish_with_no_argument_declares_the_publish_use(app):
    loaded = app.topic("loaded")

    assert loaded.publish() == loaded.use(Action.PUBLISH)


def test_use_prints_as_the_call_that_declares_it(app):
    lake = app.bucket("lake")
    jobs = app.queue("transform-jobs")

    assert str(lake.read()) == "lake.read()"
    assert str(jobs.send()) == "transform-jobs.send()"


def test_uses_of_different_actions_differ(app):
    lake = app.bucket("lake")

    assert lake.read() != lake.write()


def test_iterating_over_a_declared_list_use_raises_type_error_with_the_fix(app):
    lake = app.bucket("lake")

    with pytest.raises(TypeError) as caught:
        for _key in lake.list():
            pass

    message = one_line(caught)
    assert "lake.list() declares a use" in message
    assert "lake.list(prefix='')" in message


def test_resources_offer_the_actions_that_fit_their_kind(app):
    assert app.bucket("lake").actions == {Action.READ, Action.WRITE, Action.DELETE, Action.LIST}
    assert app.queue("jobs").actions == {Action.SEND}
    assert app.topic("loaded").actions == {Action.PUBLISH}


def test_use_of_an_action_the_resource_does_not_offer_is_refused(app):
    lake = app.bucket("lake")

    with pytest.raises(ValidationError) as caught:
        lake.use(Action.SEND)

    message = one_line(caught)
    assert message.startswith("bucket 'lake' has no send() use")
    assert "delete(), list(), read(), write()" in message
