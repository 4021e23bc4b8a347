"""The environment contract between deploy and the handler shim."""

from __future__ import annotations

import json

import pytest
from portway_aws.runtime_config import RESOURCES, ResourceMap, RuntimeConfig

from portway.errors import ConfigError

MAP = ResourceMap(
    buckets={"lake": "shop-prod-lake-1a2b3c4d"},
    queues={"jobs": "https://sqs.eu-west-1.amazonaws.com/123456789012/shop-prod-jobs"},
    topics={"loaded": "arn:aws:sns:eu-west-1:123456789012:shop-prod-loaded"},
)


def test_the_resource_map_round_trips_through_the_environment() -> None:
    environment = MAP.to_environment()

    assert list(environment) == ["PORTWAY_AWS_RESOURCES"]
    assert ResourceMap.from_environment(environment) == MAP


def test_the_resource_map_is_compact_sorted_json_without_empty_kinds() -> None:
    text = ResourceMap(topics={"b": "arn:2", "a": "arn:1"}).to_json()

    assert text == '{"topics":{"a":"arn:1","b":"arn:2"}}'


def test_an_absent_variable_is_an_empty_map() -> None:
    assert ResourceMap.from_environment({}) == ResourceMap()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "is not JSON"),
        ("[]", "must be a JSON object"),
        ('{"functions": {}}', "unknown sections ['functions']"),
        ('{"queues": {"jobs": 3}}', "'queues' must map neutral names to non-empty strings"),
        ('{"buckets": {"lake": ""}}', "'buckets' must map neutral names to non-empty strings"),
    ],
)
def test_a_malformed_map_is_a_config_error_saying_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ResourceMap.from_environment({RESOURCES: text})

    assert problem in str(caught.value)


def test_looking_up_a_resource_the_map_lacks_says_to_redeploy() -> None:
    with pytest.raises(ConfigError, match="queue 'other' is not among the resources"):
        MAP.queue_url("other")


def test_the_runtime_config_reads_every_variable() -> None:
    environment = {
        "PORTWAY_APP": "pipeline:app",
        "PORTWAY_FUNCTION": "transform",
        "PORTWAY_STAGE": "prod",
        RESOURCES: json.dumps({"buckets": {"lake": "b"}}),
    }

    config = RuntimeConfig.from_environment(environment)

    assert config == RuntimeConfig("pipeline:app", "transform", "prod", ResourceMap({"lake": "b"}))


def test_missing_variables_are_named() -> None:
    with pytest.raises(ConfigError, match="lacks PORTWAY_FUNCTION, PORTWAY_STAGE"):
        RuntimeConfig.from_environment({"PORTWAY_APP": "pipeline:app"})
