"""Object keys: one rule, checked before any I/O, that refuses every key able to escape."""

from __future__ import annotations

import pytest

from portway.errors import InvalidKey
from portway.keys import MAX_KEY_BYTES, check_key


@pytest.mark.parametrize(
    "key",
    [
        "a.csv",
        "a/b/c.csv",
        "2026/11/25/export 1.csv",
        "café/résumé.txt",
        "日本/データ.json",
        "emoji-🎉.txt",
        "100%ff-literal.txt",
        "50%.csv",
        "a..b/c...d",
        ".hidden",
        "a/.b/..c",
        "x" * MAX_KEY_BYTES,
    ],
)
def test_ordinary_keys_are_accepted_as_they_are(key: str) -> None:
    assert check_key(key, bucket="lake") == key


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(InvalidKey, match="it is empty"):
        check_key("", bucket="lake")


def test_a_key_over_1024_utf8_bytes_is_refused() -> None:
    key = "é" * 513  # 513 characters, 1,026 bytes

    with pytest.raises(InvalidKey, match="1,026 UTF-8 bytes, more than the 1,024 allowed"):
        check_key(key, bucket="lake")


@pytest.mark.parametrize("key", ["a\x00b", "a\nb", "a\tb", "a\rb", "a\x1fb", "a\x7fb"])
def test_nul_and_control_characters_are_refused(key: str) -> None:
    with pytest.raises(InvalidKey, match="NUL or a control character"):
        check_key(key, bucket="lake")


def test_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(InvalidKey, match="lone surrogate"):
        check_key("a\udc80b.csv", bucket="lake")


@pytest.mark.parametrize("key", ["/etc/passwd", "/a.csv"])
def test_absolute_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidKey, match="it is absolute"):
        check_key(key, bucket="lake")


@pytest.mark.parametrize("key", ["a\\b.csv", "..\\..\\windows", "a%5cb"])
def test_backslashes_are_refused_in_any_spelling(key: str) -> None:
    with pytest.raises(InvalidKey, match="backslash"):
        check_key(key, bucket="lake")


@pytest.mark.parametrize("key", ["C:/Windows/x", "c:x", "Z:"])
def test_drive_letters_are_refused(key: str) -> None:
    with pytest.raises(InvalidKey, match="drive letter"):
        check_key(key, bucket="lake")


@pytest.mark.parametrize("key", [".", "..", "../x", "a/../../x", "a/./b", "a/..", "a/."])
def test_dot_and_dot_dot_segments_are_refused(key: str) -> None:
    with pytest.raises(InvalidKey, match="segment \\(keys cannot climb out of the bucket\\)"):
        check_key(key, bucket="lake")


@pytest.mark.parametrize("key", ["a//b", "a/", "a/b/"])
def test_empty_segments_are_refused(key: str) -> None:
    with pytest.raises(InvalidKey, match="empty segment"):
        check_key(key, bucket="lake")


@pytest.mark.parametrize(
    "key",
    [
        "%2e%2e%2fetc/passwd",
        "%2E%2E/etc/passwd",
        "%252e%252e%252fetc/passwd",
        "..%2fetc",
        "a/%2e%2e",
        "%25252e%25252e/x",
    ],
)
def test_percent_encoded_traversal_is_refused_once_decoded(key: str) -> None:
    with pytest.raises(InvalidKey, match="once percent-decoded"):
        check_key(key, bucket="lake")


def test_percent_encoded_absolute_key_is_refused() -> None:
    with pytest.raises(InvalidKey) as caught:
        check_key("%2fetc/passwd", bucket="lake")

    assert "it is absolute" in str(caught.value)
    assert "once percent-decoded ('/etc/passwd')" in str(caught.value)


def test_percent_encoded_nul_is_refused() -> None:
    with pytest.raises(InvalidKey, match="control character once percent-decoded"):
        check_key("a%00.csv", bucket="lake")


def test_a_key_that_is_not_a_str_is_refused_naming_its_type() -> None:
    with pytest.raises(InvalidKey, match="must be a str, not bytes"):
        check_key(b"a.csv", bucket="lake")


def test_the_error_names_the_bucket_and_the_key() -> None:
    with pytest.raises(InvalidKey) as caught:
        check_key("../secrets.txt", bucket="landing")

    assert str(caught.value).startswith("bucket 'landing': key '../secrets.txt' is refused: ")


def test_the_error_shortens_a_very_long_key() -> None:
    with pytest.raises(InvalidKey) as caught:
        check_key("../" + "x" * 500, bucket="lake")

    message = str(caught.value)
    assert "'../xxx" in message
    assert "x" * 100 not in message


def test_invalid_key_is_a_value_error_for_callers_that_catch_those() -> None:
    with pytest.raises(ValueError, match="lake"):
        check_key("..", bucket="lake")
