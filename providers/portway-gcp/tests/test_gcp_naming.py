"""Deterministic Google Cloud names: limits, hashing and label rules (no Google Cloud)."""

from __future__ import annotations

import re

import pytest
from portway_gcp.naming import Names, check_labels, fit, stable_hash

from portway.errors import ConfigError

NAMES = Names("lake", "dev", "acme-data", "europe-west1")
LONG = Names("a" * 56, "s" * 20, "acme-data", "europe-west1")

# The rules as Google documents them (see the links in portway_gcp.naming).
BUCKET = re.compile(r"^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$")
PUBSUB = re.compile(r"^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$")
FUNCTION = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
SERVICE_ACCOUNT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
SCHEDULER_JOB = re.compile(r"^[A-Za-z0-9_-]{1,500}$")
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


def test_names_are_the_same_on_every_run() -> None:
    again = Names("lake", "dev", "acme-data", "europe-west1")
    assert again.bucket("raw") == NAMES.bucket("raw")
    assert again.service_account("pull_ftp") == NAMES.service_account("pull_ftp")
    assert again.function("f" * 80) == NAMES.function("f" * 80)


def test_bucket_ends_with_a_hash_of_the_project() -> None:
    assert NAMES.bucket("raw") == f"lake-dev-raw-{stable_hash('acme-data')}"
    other = Names("lake", "dev", "other-project", "europe-west1")
    assert other.bucket("raw") != NAMES.bucket("raw")


def test_bucket_does_not_depend_on_the_region() -> None:
    moved = Names("lake", "dev", "acme-data", "us-central1")
    assert moved.bucket("raw") == NAMES.bucket("raw")


def test_long_bucket_names_are_cut_to_63_with_a_stable_hash() -> None:
    name = LONG.bucket("b" * 56)
    assert len(name) == 63
    assert BUCKET.fullmatch(name)
    assert name == LONG.bucket("b" * 56)
    assert name != LONG.bucket("b" * 55 + "c")


def test_state_bucket_is_one_per_project() -> None:
    assert NAMES.state_bucket == f"portway-state-{stable_hash('acme-data')}"
    assert NAMES.record_key == "deployments/lake/dev.json"


def test_queue_has_a_topic_a_push_subscription_and_a_dead_letter_topic() -> None:
    assert NAMES.queue_topic("jobs") == "lake-dev-jobs"
    assert NAMES.queue_subscription("jobs") == "lake-dev-jobs--push"
    assert NAMES.dead_letter_topic("jobs") == "lake-dev-jobs-dlq"
    assert NAMES.dead_letter_subscription("jobs") == "lake-dev-jobs-dlq"


def test_each_subscribing_function_has_its_own_subscription_and_dead_letter_topic() -> None:
    assert NAMES.topic("events") == "lake-dev-events"
    assert NAMES.trigger_subscription("load_rows") == "lake-dev-load-rows--in"
    assert NAMES.trigger_subscription("archive") == "lake-dev-archive--in"
    assert NAMES.trigger_dead_letter_topic("load_rows") == "lake-dev-load-rows--in-dlq"
    assert NAMES.trigger_dead_letter_subscription("load_rows") == "lake-dev-load-rows--in-dlq"


def test_object_trigger_has_a_topic_for_the_bucket_notification() -> None:
    assert NAMES.trigger_topic("ingest") == "lake-dev-ingest--in"


def test_pubsub_names_fit_with_long_names() -> None:
    for name in (
        LONG.queue_subscription("q" * 56),
        LONG.dead_letter_topic("q" * 56),
        LONG.trigger_dead_letter_topic("f" * 300),
        LONG.topic("t" * 56),
    ):
        assert PUBSUB.fullmatch(name), name
        assert not name.startswith("goog")


def test_resource_paths() -> None:
    assert NAMES.topic_path("lake-dev-jobs") == "projects/acme-data/topics/lake-dev-jobs"
    assert NAMES.subscription_path("x") == "projects/acme-data/subscriptions/x"
    assert NAMES.function_path("pull_ftp") == (
        "projects/acme-data/locations/europe-west1/functions/lake-dev-pull-ftp"
    )
    assert NAMES.scheduler_job_path("tick") == (
        "projects/acme-data/locations/europe-west1/jobs/lake-dev-tick"
    )
    account = NAMES.service_account("tick")
    assert NAMES.service_account_email(account) == (
        "lake-dev-tick@acme-data.iam.gserviceaccount.com"
    )
    assert NAMES.service_account_path(account) == (
        "projects/acme-data/serviceAccounts/lake-dev-tick@acme-data.iam.gserviceaccount.com"
    )


def test_function_id_follows_cloud_functions_rules() -> None:
    assert NAMES.function("pull_ftp") == "lake-dev-pull-ftp"
    long = LONG.function("f" * 80)
    assert len(long) == 63
    assert FUNCTION.fullmatch(long)


@pytest.mark.parametrize("function", ["load_", "a__b", "x-_y"])
def test_function_names_that_hyphenate_badly_get_a_hash(function: str) -> None:
    physical = NAMES.function(function)
    assert FUNCTION.fullmatch(physical)
    assert "--" not in physical
    assert physical.endswith(stable_hash(function))


def test_service_account_id_is_shortened_to_30_with_a_stable_hash() -> None:
    assert NAMES.service_account("tick") == "lake-dev-tick"
    account = NAMES.service_account("transform_orders_daily")
    assert len(account) == 30
    assert SERVICE_ACCOUNT.fullmatch(account)
    assert account == NAMES.service_account("transform_orders_daily")
    assert account != NAMES.service_account("transform_orders_weekly")


def test_service_accounts_fit_with_long_names() -> None:
    for account in (LONG.service_account("f"), LONG.invoker_service_account):
        assert SERVICE_ACCOUNT.fullmatch(account), account


def test_shortest_service_account_is_at_least_6_characters() -> None:
    assert SERVICE_ACCOUNT.fullmatch(Names("abc", "d", "acme-data", "r").service_account("f"))


def test_scheduler_job_id() -> None:
    assert NAMES.scheduler_job("nightly_load") == "lake-dev-nightly-load"
    assert SCHEDULER_JOB.fullmatch(LONG.scheduler_job("f" * 600))


def test_labels_mark_app_and_stage() -> None:
    assert NAMES.labels == {"portway-app": "lake", "portway-stage": "dev"}
    assert NAMES.label_filter == "labels.portway-app=lake AND labels.portway-stage=dev"


def test_labels_of_the_longest_names_follow_label_rules() -> None:
    for key, value in LONG.labels.items():
        assert LABEL_KEY.fullmatch(key)
        assert LABEL_VALUE.fullmatch(value)


@pytest.mark.parametrize(
    "labels",
    [{"Portway-app": "x"}, {"1key": "x"}, {"key": "Upper"}, {"key": "a.b"}, {"k" * 64: "x"}],
)
def test_labels_google_refuses_are_refused(labels: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="at most 63 lowercase"):
        check_labels(labels)


@pytest.mark.parametrize("stage", ["Dev", "a--b", "dev-", "s" * 21, "google", "g00gle"])
def test_stage_that_cannot_be_part_of_names_is_refused(stage: str) -> None:
    with pytest.raises(ConfigError, match="stage"):
        Names("lake", stage, "acme-data", "europe-west1")


@pytest.mark.parametrize("project", ["Acme", "acme", "1acme-data", "acme-data-", "a" * 31])
def test_project_that_is_not_a_project_id_is_refused(project: str) -> None:
    with pytest.raises(ConfigError, match="project id"):
        Names("lake", "dev", project, "europe-west1")


def test_fit_leaves_short_names_alone_and_cuts_long_ones() -> None:
    assert fit("short", 10) == "short"
    cut = fit("x" * 40, 20)
    assert len(cut) == 20
    assert cut.endswith(stable_hash("x" * 40))
