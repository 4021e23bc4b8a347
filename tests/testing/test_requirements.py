"""Capability gating: a test a provider cannot run is skipped with the reason, never passed."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

from portway.capabilities import ALL_FEATURES, Capabilities, Feature
from portway.local.plugin import CAPABILITIES
from portway.testing.requirements import at_least, requires, unmet

WITHOUT_DEAD_LETTERS = dataclasses.replace(
    CAPABILITIES, features=ALL_FEATURES - {Feature.DEAD_LETTERS}
)


def test_a_declared_feature_is_met() -> None:
    assert unmet([Feature.QUEUES, Feature.DEAD_LETTERS], "local", CAPABILITIES) == []


def test_a_missing_feature_is_named_with_the_provider() -> None:
    reasons = unmet([Feature.QUEUES, Feature.DEAD_LETTERS], "nimbus", WITHOUT_DEAD_LETTERS)
    assert reasons == ["provider 'nimbus' does not declare feature 'dead_letters'"]


def test_a_limit_below_what_the_test_needs_is_named_with_both_numbers() -> None:
    one_at_a_time: Capabilities = dataclasses.replace(CAPABILITIES, max_batch_size=1)
    assert unmet([at_least("max_batch_size", 2)], "nimbus", one_at_a_time) == [
        "provider 'nimbus' declares max_batch_size = 1, the test needs at least 2"
    ]
    assert unmet([at_least("max_batch_size", 2)], "local", CAPABILITIES) == []


def test_a_feature_the_harness_cannot_exercise_is_skipped_with_the_harness_reason() -> None:
    untestable = {Feature.SCHEDULES: "the emulator's scheduler never fires"}
    assert unmet([Feature.SCHEDULES], "aws", CAPABILITIES, untestable) == [
        "provider 'aws': feature 'schedules' is not testable by its harness: "
        "the emulator's scheduler never fires"
    ]


def test_requires_marks_the_test_with_its_requirements() -> None:
    @requires(Feature.TOPICS, at_least("max_batch_size", 2))
    def test_something() -> None: ...

    (mark,) = test_something.pytestmark  # type: ignore[attr-defined]
    assert mark.name == "portway_requires"
    assert [r.description for r in mark.args] == ["feature 'topics'", "max_batch_size >= 2"]


def run_suite(folder: Path, module: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run pytest on a backend's conformance module, as its own CI would."""
    (folder / "test_backend_conformance.py").write_text(textwrap.dedent(module), encoding="utf-8")
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    command = [sys.executable, "-m", "pytest", str(folder), "-c", str(folder / "pytest.ini")]
    command += ["-p", "portway", "-p", "no:cacheprovider", "-rs", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=folder)


def test_a_provider_lacking_dead_letters_gets_that_test_skipped_and_runs_the_rest(
    tmp_path: Path,
) -> None:
    result = run_suite(
        tmp_path,
        """
        import dataclasses

        import pytest

        from portway.capabilities import Feature
        from portway.testing import LocalHarness
        from portway.testing.suite import *


        class NimbusHarness(LocalHarness):
            name = "nimbus"

            @property
            def capabilities(self):
                declared = super().capabilities
                return dataclasses.replace(
                    declared, features=declared.features - {Feature.DEAD_LETTERS}
                )


        @pytest.fixture(scope="session")
        def portway_harness():
            return NimbusHarness()
        """,
        "-k",
        "dead_letter or status_headers",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout
    assert "provider 'nimbus' does not declare feature 'dead_letters'" in result.stdout


def test_a_harness_declaring_no_feature_is_never_started_and_every_test_skips(
    tmp_path: Path,
) -> None:
    result = run_suite(
        tmp_path,
        """
        import dataclasses

        import pytest

        from portway.local.plugin import CAPABILITIES
        from portway.testing import Harness
        from portway.testing.suite import *


        class Nothing(Harness):
            name = "nothing"
            capabilities = dataclasses.replace(CAPABILITIES, features=frozenset())

            def start(self, app, pipeline):
                raise AssertionError("a harness with no feature was started")

            connect = dead_letters = http = start

            def stop(self):
                pass


        @pytest.fixture(scope="session")
        def portway_harness():
            return Nothing()
        """,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" not in result.stdout.splitlines()[-1]
    assert "skipped" in result.stdout.splitlines()[-1]
    assert "provider 'nothing' does not declare feature 'queues'" in result.stdout
