"""The core executor: changes in plan order, progress, errors named, record at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from portway.deploy import Change, ChangeKind
from portway.deploy.execute import (
    CallLog,
    apply_recorded,
    carry_out,
    console_progress,
    run_changes,
    settle,
)
from portway.deploy.reconcile import ResourceChange
from portway.deploy.record import Record, RecordedResource, StageRecords
from portway.errors import ConfigError, DeployError


@dataclass
class Operations:
    """Per-kind operations that note what they were asked to do."""

    done: list[str] = field(default_factory=list)

    def create(self, context: str, resource: str) -> None:
        self.done.append(f"{context} create {resource}")

    def update(self, context: str, resource: str, observed: str) -> None:
        self.done.append(f"{context} update {resource} from {observed}")

    def delete(self, context: str, observed: str) -> None:
        self.done.append(f"{context} delete {observed}")


def change(kind: ChangeKind, name: str, **parts: Any) -> ResourceChange[Any, Any]:
    return ResourceChange(kind, "test:queue", name, f"queue {name}", **parts)


CHANGES = [
    change(ChangeKind.CREATE, "a", resource="A"),
    change(ChangeKind.UPDATE, "b", resource="B", observed="b0"),
    change(ChangeKind.DELETE, "c", observed="C"),
]


def test_each_change_goes_to_its_operation_with_the_context() -> None:
    operations = Operations()
    for each in CHANGES:
        carry_out(each, operations, "ctx")
    assert operations.done == ["ctx create A", "ctx update B from b0", "ctx delete C"]


def test_a_change_lacking_its_resource_is_refused() -> None:
    with pytest.raises(DeployError, match="update test:queue b: the plan lacks its resource"):
        carry_out(change(ChangeKind.UPDATE, "b", resource="B"), Operations(), "ctx")


def test_changes_run_in_order_each_after_a_progress_line() -> None:
    lines: list[str] = []
    seen: list[str] = []
    run_changes(CHANGES, lambda c: seen.append(c.name), progress=lines.append)
    assert seen == ["a", "b", "c"]
    assert lines == ["[1/3] + test:queue a", "[2/3] ~ test:queue b", "[3/3] - test:queue c"]


def test_progress_counts_from_where_a_larger_run_stands() -> None:
    lines: list[str] = []
    run_changes(CHANGES[:1], lambda c: None, progress=lines.append, done=4, total=9)
    assert lines == ["[5/9] + test:queue a"]


def test_a_failing_change_stops_the_run_naming_it_and_the_way_on() -> None:
    seen: list[str] = []

    def apply(each: Change) -> None:
        if each.name == "b":
            raise KeyError("boom")
        seen.append(each.name)

    with pytest.raises(DeployError) as error:
        run_changes(CHANGES, apply, progress=lambda line: None)
    assert seen == ["a"]
    assert str(error.value) == (
        "update test:queue b failed: KeyError: 'boom'; run the command again: it resumes "
        "where this one stopped"
    )


def test_a_portway_error_passes_unchanged() -> None:
    def apply(each: Change) -> None:
        raise ConfigError("fix the stage")

    with pytest.raises(ConfigError, match=r"^fix the stage$"):
        run_changes(CHANGES, apply, progress=lambda line: None)


RECORD = Record("demo", "prod", (RecordedResource("test:queue", "a", "h"),), "")


def test_a_deploy_applies_under_the_lock_then_writes_the_record(stage: StageRecords) -> None:
    locked: list[bool] = []
    apply_recorded(
        stage,
        CHANGES,
        lambda c: locked.append(stage.store.read(stage.lock_key) is not None),
        record=RECORD,
        progress=lambda line: None,
    )
    assert locked == [True, True, True]
    assert stage.store.read(stage.lock_key) is None
    written = stage.read()
    assert written is not None
    assert written.resources == RECORD.resources
    assert written.deployed_at, "stamped when the last change succeeded"


def test_a_failed_deploy_leaves_the_record_as_it_was_and_the_lock_free(stage: StageRecords) -> None:

    def apply(each: Change) -> None:
        raise RuntimeError("refused")

    with pytest.raises(DeployError, match="create test:queue a failed"):
        apply_recorded(stage, CHANGES, apply, record=RECORD, progress=lambda line: None)
    assert stage.read() is None
    assert stage.store.read(stage.lock_key) is None


def test_a_destroy_deletes_the_record(stage: StageRecords) -> None:
    stage.write(RECORD, None)
    apply_recorded(stage, CHANGES, lambda c: None, record=None, progress=lambda line: None)
    assert stage.read() is None


def test_a_held_lock_stops_the_run_before_any_change(stage: StageRecords) -> None:
    stage.acquire("deploy")
    seen: list[str] = []
    with pytest.raises(DeployError, match="is locked by deploy"):
        apply_recorded(stage, CHANGES, lambda c: seen.append(c.name), record=RECORD, progress=print)
    assert seen == []


class NotYet(Exception):
    pass


def test_a_call_is_tried_again_while_its_error_passes() -> None:
    answers: list[Exception | str] = [NotYet("role not ready"), NotYet("role not ready"), "done"]
    pauses: list[float] = []
    told: list[tuple[int, int]] = []

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    result = settle(
        call,
        delays=(1, 2, 3),
        passing=lambda error: isinstance(error, NotYet),
        waiting=lambda attempt, tries: told.append((attempt, tries)),
        sleep=pauses.append,
    )
    assert result == "done"
    assert pauses == [1, 2]
    assert told == [(2, 4), (3, 4)]


def test_an_error_that_does_not_pass_or_outlasts_the_delays_is_raised() -> None:
    def refused() -> None:
        raise ValueError("bad request")

    with pytest.raises(ValueError, match="bad request"):
        settle(refused, delays=(1,), passing=lambda e: False, sleep=lambda s: None)

    def never_ready() -> None:
        raise NotYet("still not ready")

    pauses: list[float] = []
    with pytest.raises(NotYet):
        settle(never_ready, delays=(1, 1), passing=lambda e: True, sleep=pauses.append)
    assert pauses == [1, 1]


def test_the_call_log_tells_reads_from_writes() -> None:
    log = CallLog()
    assert log.read("topics.list", lambda page: [page], 1) == [1]
    assert log.write("topics.create", dict, name="t") == {"name": "t"}
    log.skipped("topics.delete")
    assert log.reads == ["topics.list"]
    assert log.writes == ["topics.create", "topics.delete (skipped: emulator)"]


def test_console_progress_prints_the_line_as_is(capsys: pytest.CaptureFixture[str]) -> None:
    console_progress("[1/2] + sqs:queue [demo]")
    assert capsys.readouterr().out == "[1/2] + sqs:queue [demo]\n"
