"""How portway marks what it created on Azure: app, stage and spec hash, per kind.

Azure has no one tagging scheme for every resource kind, so the three marks
(:data:`~portway_azure.naming.APP_TAG`, :data:`~portway_azure.naming.STAGE_TAG`,
:data:`~portway_azure.naming.SPEC_TAG`) are written where each kind keeps them:

* ARM resources (accounts, topics, identities, plans, Function Apps): **tags**;
* containers and queues: **metadata**, whose names must be C# identifiers, so
  ``portway_app``, ``portway_stage``, ``portway_spec``
  (https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata#metadata-names);
* event subscriptions: **labels** ``portway-app=<app>`` (they take no tags);
* role assignments: their **description** (they take neither tags nor labels).

Destroy and status find a deployment's resources by the app and stage marks alone, so
they remove exactly what portway created for this app and stage, and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from portway_azure.naming import APP_TAG, SPEC_TAG, STAGE_TAG, Names

_KEYS = (APP_TAG, STAGE_TAG, SPEC_TAG)


def tags(names: Names, spec_hash: str) -> dict[str, str]:
    return {APP_TAG: names.app, STAGE_TAG: names.stage, SPEC_TAG: spec_hash}


def metadata(names: Names, spec_hash: str) -> dict[str, str]:
    return {key.replace("-", "_"): value for key, value in tags(names, spec_hash).items()}


def labels(names: Names, spec_hash: str) -> list[str]:
    return [f"{key}={value}" for key, value in tags(names, spec_hash).items()]


def description(names: Names, spec_hash: str) -> str:
    return " ".join(labels(names, spec_hash))


def from_tags(found: Mapping[str, str] | None) -> dict[str, str]:
    """The marks among ARM tags."""
    return {key: value for key, value in (found or {}).items() if key in _KEYS}


def from_metadata(found: Mapping[str, str] | None) -> dict[str, str]:
    """The marks among container or queue metadata (the service may change their case)."""
    wanted = {key.replace("-", "_"): key for key in _KEYS}
    return {
        wanted[key.lower()]: value for key, value in (found or {}).items() if key.lower() in wanted
    }


def from_labels(found: Iterable[str] | None) -> dict[str, str]:
    """The marks among event subscription labels (or a role assignment's description words)."""
    marks: dict[str, str] = {}
    for label in found or ():
        key, _, value = label.partition("=")
        if key in _KEYS and value:
            marks[key] = value
    return marks


def from_description(found: str | None) -> dict[str, str]:
    return from_labels((found or "").split())


def belongs(marks: Mapping[str, str], names: Names) -> bool:
    """Whether ``marks`` say app ``names.app`` on stage ``names.stage``."""
    return marks.get(APP_TAG) == names.app and marks.get(STAGE_TAG) == names.stage


def spec_hash_of(marks: Mapping[str, str]) -> str | None:
    return marks.get(SPEC_TAG) or None
