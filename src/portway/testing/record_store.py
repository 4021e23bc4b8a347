"""One check of a provider's RecordStore, run against the provider's own storage.

:class:`~portway.deploy.record.StageRecords` keeps two deploys of a stage apart only if
the store really refuses what its contract says it refuses. A provider's test calls
:func:`check_record_store` with its store on its emulator (or a proxy applying the
cloud's documented rule where the emulator does not), so the conditions travel over
the wire as the cloud's SDK sends them::

    def test_the_s3_store_keeps_the_record_store_contract(moto):
        check_record_store(S3RecordStore(clients, bucket), "deployments/demo/test.json")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portway.deploy.record import RecordStore


def check_record_store(store: RecordStore, key: str) -> None:
    """Assert that ``store`` keeps the :class:`~portway.deploy.record.RecordStore`
    contract on ``key`` (which must not exist yet; it is deleted at the end).

    Create only if absent; read returns a version; replace only on the current
    version (a stale or unknown one is refused); delete is idempotent.
    """
    __tracebackhide__ = True
    assert store.read(key) is None, f"{key} exists before the check"
    assert store.create(key, b'{"n": 1}'), "create of a missing object was refused"
    assert not store.create(key, b'{"n": 2}'), "create over an existing object succeeded"
    stored = store.read(key)
    assert stored is not None, "a created object was not read back"
    body, first = stored
    assert body == b'{"n": 1}', f"read back {body!r}, not what was created"
    assert first, "read gave no version to replace on"
    assert store.replace(key, b'{"n": 3}', first), "replace on the current version was refused"
    stored = store.read(key)
    assert stored is not None
    assert stored[0] == b'{"n": 3}', "replace did not write"
    assert stored[1], "read gave no version after a replace"
    assert stored[1] != first, "replace did not change the version"
    assert not store.replace(key, b'{"n": 4}', first), "replace on a stale version succeeded"
    assert store.read(key) == stored, "a refused replace changed the object"
    store.delete(key)
    assert store.read(key) is None, "delete left the object"
    store.delete(key)  # already gone: no error
    assert store.location(key), "location is empty"
    assert store.removal(key), "removal is empty"
