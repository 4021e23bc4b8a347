"""Buckets as folders: atomic writes, safe keys, and object-created events never lost."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portway import ObjectEvent, Pipeline
from portway.errors import InvalidKey
from portway.events import event_from_json
from portway.local import messages, objects
from portway.local.channels import object_channels
from portway.local.database import StageLayout, transaction
from portway.local.objects import CLOUDEVENT_JSON, Buckets, recover

app = Pipeline("objects")
landing = app.bucket("landing")
archive = app.bucket("archive")


@app.on_object_created(landing, suffix=".csv")
def load_csv(event: ObjectEvent) -> None: ...


@app.on_object_created(landing, prefix="raw/")
def keep_raw(event: ObjectEvent) -> None: ...


CSV_CHANNEL = "bucket/landing/load_csv"
RAW_CHANNEL = "bucket/landing/keep_raw"


def channels_for(bucket: str, key: str) -> list[str]:
    resource = app.resource(bucket)
    assert resource in (landing, archive)
    return object_channels(app, resource, key)  # type: ignore[arg-type]


def every_writer_is_gone(pid: int) -> bool:
    return False


@pytest.fixture
def buckets(layout: StageLayout) -> Buckets:
    return Buckets(layout)


def events(db: sqlite3.Connection) -> list[tuple[str, ObjectEvent]]:
    rows = db.execute("SELECT channel, body, content_type FROM messages ORDER BY seq").fetchall()
    found = []
    for channel, body, content_type in rows:
        assert content_type == CLOUDEVENT_JSON
        event = event_from_json(body)
        assert isinstance(event, ObjectEvent)
        found.append((channel, event))
    return found


def pending(db: sqlite3.Connection) -> list[str]:
    return [row[0] for row in db.execute("SELECT key FROM pending_writes")]


# -- writing ----------------------------------------------------------------------------


def test_write_places_the_file_under_the_bucket_folder(db, buckets, layout) -> None:
    buckets.write(db, "landing", "2026/11/a.csv", b"id,name\n", channels_for)

    assert (layout.root / "buckets" / "landing" / "2026" / "11" / "a.csv").read_bytes() == (
        b"id,name\n"
    )


def test_write_reports_the_size_etag_and_events(db, buckets) -> None:
    written = buckets.write(db, "landing", "a.csv", b"id,name\n", channels_for)

    assert written.bucket == "landing"
    assert written.key == "a.csv"
    assert written.size == 8
    assert written.etag == hashlib.md5(b"id,name\n").hexdigest()
    assert written.events == 1


def test_write_records_one_object_created_event_for_the_matching_trigger(db, buckets) -> None:
    buckets.write(db, "landing", "a.csv", b"id\n", channels_for)

    [(channel, event)] = events(db)
    assert channel == CSV_CHANNEL
    assert (event.bucket, event.key, event.size) == ("landing", "a.csv", 3)
    assert event.etag == hashlib.md5(b"id\n").hexdigest()
    assert event.source == "/portway/local/buckets/landing"


def test_write_records_one_event_per_matching_trigger_with_one_id(db, buckets) -> None:
    buckets.write(db, "landing", "raw/a.csv", b"id\n", channels_for)

    found = events(db)
    assert sorted(channel for channel, _ in found) == sorted([CSV_CHANNEL, RAW_CHANNEL])
    assert len({event.id for _, event in found}) == 1


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("raw/notes.txt", [RAW_CHANNEL]),
        ("clean/a.csv", [CSV_CHANNEL]),
        ("clean/a.csv.bak", []),
        ("rawfile.csv", [CSV_CHANNEL]),
    ],
)
def test_prefix_and_suffix_filters_pick_the_triggers(db, buckets, key, expected) -> None:
    written = buckets.write(db, "landing", key, b"x", channels_for)

    assert [channel for channel, _ in events(db)] == expected
    assert written.events == len(expected)


def test_a_bucket_with_no_trigger_records_no_event(db, buckets) -> None:
    written = buckets.write(db, "archive", "a.csv", b"x", channels_for)

    assert written.events == 0
    assert events(db) == []


def test_a_finished_write_leaves_no_pending_row_or_temporary_file(db, buckets, layout) -> None:
    buckets.write(db, "landing", "a.csv", b"x", channels_for)

    assert pending(db) == []
    assert list(layout.temporary.iterdir()) == []


def test_writing_a_key_again_replaces_its_bytes_and_fires_again(db, buckets) -> None:
    buckets.write(db, "landing", "a.csv", b"old", channels_for)
    buckets.write(db, "landing", "a.csv", b"new", channels_for)

    assert buckets.read("landing", "a.csv") == b"new"
    assert len(events(db)) == 2


def test_a_durable_write_stores_the_bytes_too(db, layout) -> None:
    Buckets(layout, durable=True).write(db, "landing", "a.csv", b"synced", channels_for)

    assert Buckets(layout).read("landing", "a.csv") == b"synced"


def test_a_write_that_fails_to_place_leaves_no_trace(db, buckets, layout, monkeypatch) -> None:
    def refuse(source: object, target: object) -> None:
        raise PermissionError("read-only file system")

    monkeypatch.setattr(objects.os, "replace", refuse)

    with pytest.raises(PermissionError):
        buckets.write(db, "landing", "a.csv", b"x", channels_for)

    assert pending(db) == []
    assert list(layout.temporary.iterdir()) == []
    assert events(db) == []


# -- reading, listing, deleting ------------------------------------------------------------


def test_read_returns_the_bytes_written(db, buckets) -> None:
    buckets.write(db, "landing", "café/ünï code.txt", "é".encode(), channels_for)

    assert buckets.read("landing", "café/ünï code.txt") == "é".encode()


def test_read_of_a_missing_key_raises_key_error_naming_bucket_and_key(buckets) -> None:
    with pytest.raises(KeyError, match=r"bucket 'landing' has no object 'nope\.csv'"):
        buckets.read("landing", "nope.csv")


def test_read_of_a_folder_raises_key_error(db, buckets) -> None:
    buckets.write(db, "landing", "a/b.csv", b"x", channels_for)

    with pytest.raises(KeyError):
        buckets.read("landing", "a")


def test_read_under_an_object_raises_key_error(db, buckets) -> None:
    buckets.write(db, "landing", "a", b"x", channels_for)

    with pytest.raises(KeyError):
        buckets.read("landing", "a/b")


def test_list_returns_every_key_sorted(db, buckets) -> None:
    for key in ("b.csv", "a/z.csv", "a/b/c.csv", "a.csv"):
        buckets.write(db, "landing", key, b"x", channels_for)

    assert buckets.list("landing", "") == ["a.csv", "a/b/c.csv", "a/z.csv", "b.csv"]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("2026/", ["2026/01/a.csv", "2026/01/b.csv", "2026/11/c.csv"]),
        ("2026/0", ["2026/01/a.csv", "2026/01/b.csv"]),
        ("2026/01/b", ["2026/01/b.csv"]),
        ("2027", []),
        ("20", ["2026/01/a.csv", "2026/01/b.csv", "2026/11/c.csv"]),
    ],
)
def test_list_keeps_the_keys_starting_with_the_prefix(db, buckets, prefix, expected) -> None:
    for key in ("2026/01/b.csv", "2026/01/a.csv", "2026/11/c.csv", "other.csv"):
        buckets.write(db, "landing", key, b"x", channels_for)

    assert buckets.list("landing", prefix) == expected


def test_list_of_a_bucket_never_written_is_empty(buckets) -> None:
    assert buckets.list("landing", "") == []


def test_list_does_not_climb_out_of_the_bucket(db, buckets) -> None:
    buckets.write(db, "archive", "secret.txt", b"x", channels_for)

    assert buckets.list("landing", "../archive/") == []


def test_list_shows_nothing_beyond_a_symbolic_link_out_of_the_bucket(
    db, buckets, layout, tmp_path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    buckets.write(db, "landing", "a.csv", b"x", channels_for)
    (layout.bucket("landing") / "link").symlink_to(outside, target_is_directory=True)
    (layout.bucket("landing") / "leak.txt").symlink_to(outside / "secret.txt")

    assert buckets.list("landing", "") == ["a.csv"]
    assert buckets.list("landing", "link/") == []


def test_delete_removes_the_object(db, buckets) -> None:
    buckets.write(db, "landing", "a.csv", b"x", channels_for)

    buckets.delete("landing", "a.csv")

    with pytest.raises(KeyError):
        buckets.read("landing", "a.csv")
    assert buckets.list("landing", "") == []


def test_delete_removes_the_folders_left_empty(db, buckets, layout) -> None:
    buckets.write(db, "landing", "a/b/c.csv", b"x", channels_for)
    buckets.write(db, "landing", "a/keep.csv", b"x", channels_for)

    buckets.delete("landing", "a/b/c.csv")

    assert not (layout.bucket("landing") / "a" / "b").exists()
    assert (layout.bucket("landing") / "a" / "keep.csv").is_file()


def test_a_key_can_be_written_where_a_deleted_key_had_its_folder(db, buckets) -> None:
    buckets.write(db, "landing", "a/b.csv", b"x", channels_for)
    buckets.delete("landing", "a/b.csv")

    buckets.write(db, "landing", "a", b"now a file", channels_for)

    assert buckets.read("landing", "a") == b"now a file"


def test_delete_of_a_missing_key_is_not_an_error(buckets) -> None:
    buckets.delete("landing", "never/written.csv")

    assert buckets.list("landing", "") == []


# -- keys that cannot be stored -------------------------------------------------------------


@pytest.mark.parametrize("key", ["../escape.txt", "a/../../x", "%2e%2e%2fx", "/etc/passwd"])
def test_a_traversal_key_is_refused_before_any_io(db, buckets, layout, key) -> None:
    with pytest.raises(InvalidKey, match="bucket 'landing'"):
        buckets.write(db, "landing", key, b"x", channels_for)

    assert not (layout.buckets / "escape.txt").exists()
    assert pending(db) == []


@pytest.mark.parametrize("call", ["read", "delete"])
def test_read_and_delete_refuse_a_traversal_key(buckets, call) -> None:
    with pytest.raises(InvalidKey):
        getattr(buckets, call)("landing", "../archive/secret.txt")


def test_a_symbolic_link_inside_the_bucket_cannot_lead_out_of_it(
    db, buckets, layout, tmp_path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    layout.bucket("landing").mkdir(parents=True)
    (layout.bucket("landing") / "link").symlink_to(outside, target_is_directory=True)

    with pytest.raises(InvalidKey, match="resolves outside the bucket"):
        buckets.write(db, "landing", "link/x.txt", b"x", channels_for)

    assert list(outside.iterdir()) == []


def test_reading_through_a_symbolic_link_out_of_the_bucket_is_refused(
    buckets, layout, tmp_path
) -> None:
    (tmp_path / "secret.txt").write_bytes(b"secret")
    layout.bucket("landing").mkdir(parents=True)
    (layout.bucket("landing") / "leak.txt").symlink_to(tmp_path / "secret.txt")

    with pytest.raises(InvalidKey, match="resolves outside the bucket"):
        buckets.read("landing", "leak.txt")


def test_a_key_under_an_existing_object_is_refused_naming_that_object(db, buckets) -> None:
    buckets.write(db, "landing", "2026/a.csv", b"x", channels_for)

    with pytest.raises(InvalidKey) as caught:
        buckets.write(db, "landing", "2026/a.csv/part-1", b"y", channels_for)

    message = str(caught.value)
    assert "'2026/a.csv' is an object (a local bucket is a folder)" in message
    assert "'2026/a.csv/part-1'" in message


def test_a_key_that_is_a_folder_of_other_keys_is_refused(db, buckets) -> None:
    buckets.write(db, "landing", "2026/a.csv", b"x", channels_for)

    with pytest.raises(InvalidKey, match="other keys start with '2026/'"):
        buckets.write(db, "landing", "2026", b"y", channels_for)


def test_a_refused_write_records_no_event(db, buckets) -> None:
    buckets.write(db, "landing", "2026/a.csv", b"x", channels_for)

    with pytest.raises(InvalidKey):
        buckets.write(db, "landing", "2026", b"y", channels_for)

    assert len(events(db)) == 1
    assert pending(db) == []


def test_a_segment_over_255_bytes_is_refused(db, buckets) -> None:
    with pytest.raises(InvalidKey, match="segment longer than 255 bytes"):
        buckets.write(db, "landing", "a/" + "é" * 128 + ".csv", b"x", channels_for)


def test_a_segment_of_255_bytes_is_stored(db, buckets) -> None:
    key = "a/" + "x" * 255

    buckets.write(db, "landing", key, b"x", channels_for)

    assert buckets.list("landing", "a/") == [key]


# -- crash safety -----------------------------------------------------------------------------


class WriterDied(BaseException):
    """Stands for the writer being killed at this point (nothing after it runs)."""


def die_before_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kill the writer after the rename, before the transaction recording its events."""

    def killed(*args: object) -> int:
        raise WriterDied

    monkeypatch.setattr(objects, "_finish", killed)


def test_a_writer_dead_after_the_rename_leaves_the_object_and_a_pending_row(
    db, buckets, monkeypatch
) -> None:
    die_before_events(monkeypatch)

    with pytest.raises(WriterDied):
        buckets.write(db, "landing", "a.csv", b"data", channels_for)

    assert buckets.read("landing", "a.csv") == b"data"
    assert pending(db) == ["a.csv"]
    assert events(db) == []


def test_recover_records_the_events_of_a_write_dead_after_the_rename(
    db, buckets, layout, monkeypatch
) -> None:
    with monkeypatch.context() as patch:
        die_before_events(patch)
        with pytest.raises(WriterDied):
            buckets.write(db, "landing", "raw/a.csv", b"data", channels_for)

    assert recover(db, layout, channels_for, alive=every_writer_is_gone) == (1, 0)

    found = events(db)
    assert sorted(channel for channel, _ in found) == sorted([CSV_CHANNEL, RAW_CHANNEL])
    assert {(e.key, e.size, e.etag) for _, e in found} == {
        ("raw/a.csv", 4, hashlib.md5(b"data").hexdigest())
    }
    assert pending(db) == []


def test_recover_records_the_events_exactly_once(db, buckets, layout, monkeypatch) -> None:
    with monkeypatch.context() as patch:
        die_before_events(patch)
        with pytest.raises(WriterDied):
            buckets.write(db, "landing", "a.csv", b"data", channels_for)

    recover(db, layout, channels_for, alive=every_writer_is_gone)
    assert recover(db, layout, channels_for, alive=every_writer_is_gone) == (0, 0)

    assert len(events(db)) == 1


def insert_pending(
    db: sqlite3.Connection, *, key: str, temp: str, data: bytes, writer: int
) -> None:
    with transaction(db):
        db.execute(
            "INSERT INTO pending_writes (id, bucket, key, temp, etag, size, writer, started) "
            "VALUES (?, 'landing', ?, ?, ?, ?, ?, ?)",
            (
                messages.new_id(),
                key,
                temp,
                hashlib.md5(data).hexdigest(),
                len(data),
                writer,
                time.time(),
            ),
        )


def a_finished_process() -> int:
    """The pid of a process that has exited (a writer that is gone)."""
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait()
    return process.pid


def test_recover_finishes_a_pending_write_of_a_writer_that_is_gone(db, layout) -> None:
    # The writer placed the file, then died: the temporary file is gone, the row remains.
    target = layout.bucket("landing") / "a.csv"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"data")
    insert_pending(db, key="a.csv", temp="w1.part", data=b"data", writer=a_finished_process())

    assert recover(db, layout, channels_for) == (1, 0)

    [(channel, event)] = events(db)
    assert (channel, event.key, event.size) == (CSV_CHANNEL, "a.csv", 4)


def test_recover_undoes_a_write_dead_before_the_rename(db, layout) -> None:
    temporary = layout.temporary / "w1.part"
    temporary.write_bytes(b"half")
    insert_pending(db, key="a.csv", temp="w1.part", data=b"half", writer=a_finished_process())

    assert recover(db, layout, channels_for) == (0, 1)

    assert not temporary.exists()
    assert not (layout.bucket("landing") / "a.csv").exists()
    assert events(db) == []
    assert pending(db) == []


def test_recover_leaves_the_pending_write_of_a_live_writer_alone(db, layout) -> None:
    temporary = layout.temporary / "w1.part"
    temporary.write_bytes(b"in progress")
    insert_pending(db, key="a.csv", temp="w1.part", data=b"in progress", writer=os.getppid())

    assert recover(db, layout, channels_for) == (0, 0)

    assert temporary.exists()
    assert pending(db) == ["a.csv"]
    assert events(db) == []


def test_recover_sweeps_old_temporary_files_nobody_recorded(db, layout) -> None:
    old = layout.temporary / "old.part"
    old.write_bytes(b"x")
    an_hour_and_more = time.time() - objects.ORPHAN_AGE_SECONDS - 60
    os.utime(old, (an_hour_and_more, an_hour_and_more))
    recent = layout.temporary / "recent.part"
    recent.write_bytes(b"x")

    recover(db, layout, channels_for)

    assert not old.exists()
    assert recent.exists()


def test_a_write_recovered_meanwhile_is_not_recorded_twice_by_its_writer(
    db, buckets, layout, monkeypatch
) -> None:
    real_place = Buckets._place

    def place_then_recovered(self: Buckets, temporary: Path, target: Path) -> None:
        real_place(self, temporary, target)
        # A runtime that thought this writer dead finishes the write meanwhile.
        recover(db, layout, channels_for, alive=every_writer_is_gone)

    monkeypatch.setattr(Buckets, "_place", place_then_recovered)

    written = buckets.write(db, "landing", "a.csv", b"x", channels_for)

    assert written.events == 0
    assert len(events(db)) == 1
