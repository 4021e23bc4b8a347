"""The portable name rule (DESIGN.md, section 3).

A name that passes fits S3, SQS, Pub/Sub, Cloud Storage, Azure queues and containers
with room for the ``-poison`` / ``-dlq`` suffixes the providers add. Providers add the
app/stage prefix and any global-uniqueness suffix themselves.
"""

from __future__ import annotations

import re

from portway.errors import ValidationError

PORTABLE_NAME = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){2,55}$")
RESERVED_PREFIXES = ("goog", "sthree-", "amzn-")
RESERVED_SUBSTRINGS = ("google",)
NAME_RULE = (
    "3 to 56 characters: lowercase letters, digits and single hyphens, "
    "starting with a letter and not ending with a hyphen"
)


def name_problem(name: object) -> str | None:
    """Return why ``name`` is not portable, or ``None`` when it is."""
    if not isinstance(name, str):
        return f"a name must be a string, not {type(name).__name__}"
    if not PORTABLE_NAME.fullmatch(name):
        shown = name if len(name) <= 60 else name[:57] + "..."
        return f"{shown!r} ({len(name)} characters) is not a portable name: {NAME_RULE}"
    for prefix in RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"{name!r} starts with {prefix!r}, which a cloud provider reserves"
    for word in RESERVED_SUBSTRINGS:
        if word in name:
            return f"{name!r} contains {word!r}, which Google Cloud Storage refuses"
    return None


def check_name(name: object, *, what: str) -> str:
    """Return ``name`` if portable, else raise :class:`ValidationError` about ``what``."""
    problem = name_problem(name)
    if problem is not None:
        raise ValidationError(f"{what}: {problem}")
    assert isinstance(name, str)
    return name
