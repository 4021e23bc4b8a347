"""Deterministic Azure names within Azure's rules (pure, no Azure)."""

from __future__ import annotations

import re

import pytest
from portway_azure.naming import (
    APP_TAG,
    STAGE_TAG,
    STATE_CONTAINER,
    Names,
    fit,
    stable_hash,
)

from portway.errors import ConfigError

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"

# The rules, as Microsoft documents them (links in portway_azure/naming.py).
STORAGE_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
CONTAINER_OR_QUEUE = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")
TOPIC = re.compile(r"^[A-Za-z0-9-]{3,50}$")
FUNCTION_APP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,58}[A-Za-z0-9]$")

LONG_APP = "a-very-long-application-name-for-testing"  # 40: the longest app allowed
LONG_STAGE = "staging-eu-west-0001"  # 20: the longest stage allowed
LONG_NAME = "n" + "-abcdefg" * 6 + "x" * 7  # 56: the longest portable name


def names(app: str = "lake", stage: str = "dev", resource_group: str = "data-rg") -> Names:
    return Names(app, stage, SUBSCRIPTION, resource_group, "westeurope")


def test_names_are_the_same_on_every_run() -> None:
    first, second = names(), names()

    assert (
        first.storage_account
        == second.storage_account
        == "lakedev" + stable_hash(f"{SUBSCRIPTION}/data-rg/lake-dev")
    )
    assert first.function_app("ingest") == second.function_app("ingest")


def test_readable_names() -> None:
    n = names()

    assert n.container("raw") == "b-raw"
    assert n.queue("orders") == "q-orders"
    assert n.poison_queue("orders") == "q-orders-poison"
    assert n.trigger_queue("load_table") == "t-load-table"
    assert n.trigger_poison_queue("load_table") == "t-load-table-poison"
    assert n.topic("events") == "lake-dev-events"
    assert n.storage_system_topic == "lake-dev--blobs"
    assert n.function_app("ingest") == f"lake-dev-ingest-{stable_hash(SUBSCRIPTION + '/data-rg')}"


def test_tags_mark_app_and_stage() -> None:
    assert names().tags == {APP_TAG: "lake", STAGE_TAG: "dev"}
    assert (APP_TAG, STAGE_TAG) == ("portway-app", "portway-stage")


def test_storage_account_drops_hyphens_and_keeps_within_24() -> None:
    account = names(LONG_APP, LONG_STAGE).storage_account

    assert STORAGE_ACCOUNT.fullmatch(account)
    assert len(account) == 24
    assert account.startswith("averylongapplic")


def test_storage_account_differs_where_the_readable_part_agrees() -> None:
    # "ab" + "c" and "a" + "bc" read the same once hyphens are dropped.
    assert names("ab", "c").storage_account != names("a", "bc").storage_account
    assert names().storage_account != names(resource_group="other-rg").storage_account


def test_function_app_is_unique_per_resource_group_and_within_the_host_id_limit() -> None:
    n = names(LONG_APP, LONG_STAGE)
    app = n.function_app("transform_and_load")

    assert FUNCTION_APP.fullmatch(app)
    # The host ID is derived from the first 32 characters: the whole name fits there.
    assert len(app) <= 32
    assert app.endswith(n.global_suffix)
    assert app != names(LONG_APP, LONG_STAGE, "other-rg").function_app("transform_and_load")
    assert app != n.function_app("transform_and_loader")


@pytest.mark.parametrize("name", ["abc", "orders", LONG_NAME])
def test_queue_leaves_room_for_the_poison_suffix(name: str) -> None:
    n = names(LONG_APP, LONG_STAGE)

    assert len(n.queue(name)) <= 63 - len("-poison")
    assert CONTAINER_OR_QUEUE.fullmatch(n.poison_queue(name))
    assert n.poison_queue(name) == n.queue(name) + "-poison"


def test_long_names_fit_every_limit() -> None:
    n = names(LONG_APP, LONG_STAGE)
    function = "a_function_name_that_goes_on_and_on_well_past_any_queue_limit_at_all"

    assert CONTAINER_OR_QUEUE.fullmatch(n.container(LONG_NAME))
    assert CONTAINER_OR_QUEUE.fullmatch(n.trigger_poison_queue(function))
    assert TOPIC.fullmatch(n.topic(LONG_NAME))
    assert TOPIC.fullmatch(n.storage_system_topic)
    assert len(n.trigger_queue(function)) == 56


def test_cut_names_stay_distinct() -> None:
    n = names(LONG_APP, LONG_STAGE)

    assert n.topic(LONG_NAME + "a") != n.topic(LONG_NAME + "b")
    assert n.trigger_queue("x" * 60 + "_a") != n.trigger_queue("x" * 60 + "_b")


def test_fit_cuts_with_a_hash_of_the_whole() -> None:
    assert fit("short", 10) == "short"
    assert fit("abcd-efghijklmnop", 14) == f"abcd-{stable_hash('abcd-efghijklmnop')}"


def test_declared_and_portway_queues_cannot_clash() -> None:
    n = names()

    assert n.queue("t-load") != n.trigger_queue("load")
    assert STATE_CONTAINER not in {n.container("portway-state"), n.container("state")}


@pytest.mark.parametrize("function", ["_private", "a__b", "Load"])
def test_python_names_azure_cannot_take_are_folded_with_a_hash(function: str) -> None:
    queue = names().trigger_queue(function)

    assert CONTAINER_OR_QUEUE.fullmatch(queue)
    assert queue.endswith(stable_hash(function))


def test_queue_ending_in_poison_is_refused() -> None:
    # Its physical name would be the poison queue of "orders".
    with pytest.raises(ConfigError, match="'<queue>-poison'"):
        names().queue("orders-poison")


@pytest.mark.parametrize(
    ("app", "stage"), [("Lake", "dev"), ("lake", "Dev"), ("lake", "a" * 21), ("lake_x", "dev")]
)
def test_app_and_stage_outside_the_rule_are_refused(app: str, stage: str) -> None:
    with pytest.raises(ConfigError, match="rename the"):
        names(app, stage)
