"""The resource map every provider's deploy writes and its handler shim reads."""

from __future__ import annotations

import pytest

from portway.errors import ConfigError
from portway.runtime_resources import ResourceMap
from portway.testing.imports import modules_imported_by


class CloudMap(ResourceMap):
    """A provider's map, as a provider writes one."""

    __slots__ = ()
    VARIABLE = "PORTWAY_CLOUD_RESOURCES"
    DEPLOYED_UNIT = "app"

    def queue(self, name: str) -> str:
        return self.lookup("queues", name)


MAP = CloudMap(buckets={"lake": "shop-prod-lake"}, queues={"jobs": "q/jobs"})


def test_a_provider_map_round_trips_through_its_own_variable() -> None:
    environment = MAP.to_environment()
    compact = '{"buckets":{"lake":"shop-prod-lake"},"queues":{"jobs":"q/jobs"}}'
    assert environment == {"PORTWAY_CLOUD_RESOURCES": compact}
    parsed = CloudMap.from_environment(environment)
    assert parsed == MAP
    assert type(parsed) is CloudMap


def test_an_absent_variable_is_an_empty_map() -> None:
    assert CloudMap.from_environment({"PORTWAY_RESOURCES": "{}"}) == CloudMap()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "PORTWAY_CLOUD_RESOURCES is not JSON (.*); redeploy the app"),
        ("[]", "must be a JSON object of buckets, queues, topics"),
        ('{"functions": {}}', r"unknown sections \['functions'\]"),
        ('{"queues": {"jobs": 3}}', "'queues' must map neutral names to non-empty strings"),
        ('{"topics": []}', "'topics' must map neutral names to non-empty strings"),
    ],
)
def test_a_malformed_map_is_a_config_error_saying_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        CloudMap.from_json(text)


def test_a_name_the_map_lacks_says_to_redeploy_after_changing_uses() -> None:
    with pytest.raises(ConfigError) as caught:
        MAP.queue("other")
    assert str(caught.value) == (
        "queue 'other' is not among the resources this app was deployed with "
        "(PORTWAY_CLOUD_RESOURCES); redeploy with 'portway deploy' after changing its uses"
    )


def test_reading_the_map_costs_no_import_beyond_portway_itself() -> None:
    # Every handler shim reads the map on a cold start.
    extra = modules_imported_by("import portway.runtime_resources") - modules_imported_by(
        "import portway"
    )
    assert extra == {"portway.runtime_resources"}
