"""Object keys every provider accepts: one rule, checked before any I/O.

A key is a ``/``-separated path of segments, as S3, Cloud Storage and Blob storage all
understand it. portway refuses, with :class:`~portway.errors.InvalidKey`, every key that
could escape a folder or that one provider would store differently from another:

* empty keys, keys over 1,024 UTF-8 bytes (S3's and Cloud Storage's limit);
* NUL, control characters (``\\x00``-``\\x1f``, ``\\x7f``) and lone surrogates;
* absolute keys (``/etc/passwd``), backslashes (a Windows separator) and drive letters;
* ``.`` or ``..`` segments and empty segments (``a//b``, a trailing ``/``), in *any*
  spelling: the key is also checked after percent-decoding, repeatedly, so
  ``%2e%2e%2f`` and ``%252e%252e`` are refused as ``../`` is.
"""

from __future__ import annotations

import functools
import re

from portway.errors import InvalidKey

MAX_KEY_BYTES = 1024

# Percent-decoding is repeated until the key stops changing, a few rounds at most:
# ``%25`` spells ``%`` so every extra round peels one layer of encoding.
_MAX_DECODE_ROUNDS = 8


def check_key(key: object, *, bucket: str) -> str:
    """Return ``key`` if it is a safe, portable object key; raise :class:`InvalidKey`.

    ``bucket`` is named in the error so the user knows which call was refused.
    """
    if not isinstance(key, str):
        raise InvalidKey(
            f"bucket {bucket!r}: an object key must be a str, not {type(key).__name__}"
        )
    problem = _problem(key)
    if problem is None:
        # Imported here, not at the top: handler shims import this module on every cold
        # start, and only a function that touches an object needs it.
        from urllib.parse import unquote

        spelling = key
        for _ in range(_MAX_DECODE_ROUNDS):
            decoded = unquote(spelling, errors="replace")
            if decoded == spelling:
                break
            problem = _problem(decoded)
            if problem is not None:
                problem = f"{problem} once percent-decoded ({decoded!r})"
                break
            spelling = decoded
    if problem is not None:
        raise InvalidKey(f"bucket {bucket!r}: key {_shown(key)} is refused: {problem}")
    return key


# Compiled on first use, not at import: every cold start imports this module, and only a
# function that touches an object checks a key.
@functools.cache
def _control() -> re.Pattern[str]:
    return re.compile(r"[\x00-\x1f\x7f]")


@functools.cache
def _drive() -> re.Pattern[str]:
    return re.compile(r"^[A-Za-z]:")


def _problem(key: str) -> str | None:
    """What is wrong with ``key`` as it is spelled, or ``None``."""
    if not key:
        return "it is empty"
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return "it is not valid Unicode (a lone surrogate)"
    if size > MAX_KEY_BYTES:
        return f"it is {size:,} UTF-8 bytes, more than the {MAX_KEY_BYTES:,} allowed"
    if _control().search(key):
        return "it holds NUL or a control character"
    if "\\" in key:
        return "it holds a backslash; use '/' to separate folders"
    if key.startswith("/"):
        return "it is absolute; drop the leading '/'"
    if _drive().match(key):
        return "it starts with a drive letter"
    for segment in key.split("/"):
        if segment in (".", ".."):
            return f"it holds a {segment!r} segment (keys cannot climb out of the bucket)"
        if not segment:
            return "it holds an empty segment ('//' or a trailing '/')"
    return None


def _shown(key: str) -> str:
    text = repr(key)
    return text if len(text) <= 80 else text[:77] + "...'"
