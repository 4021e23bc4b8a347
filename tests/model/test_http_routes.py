"""Matching a request path to an http trigger's route: the rule every provider's shim uses."""

from __future__ import annotations

import pytest

from portway.model.triggers import HttpTrigger


def test_a_literal_route_matches_its_path_with_or_without_a_trailing_slash() -> None:
    route = HttpTrigger("GET", "/status")

    assert route.match("/status") == {}
    assert route.match("/status/") == {}


def test_a_parameter_captures_one_segment() -> None:
    route = HttpTrigger("GET", "/orders/{order_id}/lines/{line}")

    assert route.match("/orders/A-17/lines/3") == {"order_id": "A-17", "line": "3"}


@pytest.mark.parametrize("path", ["/orders", "/orders/a/b/lines/3", "/orders//lines/3", "/x"])
def test_a_path_of_another_shape_does_not_match(path: str) -> None:
    assert HttpTrigger("GET", "/orders/{order_id}/lines/{line}").match(path) is None


def test_regex_characters_in_a_route_match_literally() -> None:
    route = HttpTrigger("GET", "/v1.0/items")

    assert route.match("/v1.0/items") == {}
    assert route.match("/v1x0/items") is None


def test_the_root_route_matches_only_the_root() -> None:
    route = HttpTrigger("GET", "/")

    assert route.match("/") == {}
    assert route.match("/a") is None
