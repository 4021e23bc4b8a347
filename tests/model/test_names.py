"""Portable names (DESIGN.md, section 3): what a bucket, queue or topic may be called.

A name that passes fits S3, SQS, Pub/Sub, Cloud Storage and Azure with room for the
``-dlq`` / ``-poison`` suffixes; one that does not is refused when it is declared, with a
message naming the pipeline, the kind of resource, the name and the rule.
"""

import pytest

from portway import Pipeline, ValidationError
from portway.model import check_name, name_problem


def refusal(name: object) -> str:
    """Declare a bucket called ``name`` on pipeline 'names'; return the one-line refusal."""
    app = Pipeline("names")
    with pytest.raises(ValidationError) as caught:
        app.bucket(name)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("pipeline 'names', bucket name: ")
    assert not app.resources
    return message


def test_name_of_200_characters_is_refused_and_shown_shortened():
    message = refusal("a" * 200)

    assert "(200 characters) is not a portable name" in message
    assert "3 to 56 characters" in message
    assert "a" * 200 not in message


def test_name_of_57_characters_is_refused():
    message = refusal("a" * 57)

    assert "(57 characters)" in message


def test_name_of_56_characters_is_accepted():
    app = Pipeline("names")

    assert app.bucket("a" * 56).name == "a" * 56


def test_name_of_2_characters_is_refused():
    message = refusal("ab")

    assert "'ab' (2 characters) is not a portable name" in message


def test_name_of_3_characters_is_accepted():
    app = Pipeline("names")

    assert app.bucket("abc").name == "abc"


def test_uppercase_name_is_refused():
    message = refusal("Lake")

    assert "'Lake'" in message
    assert "lowercase letters" in message


def test_name_with_an_underscore_is_refused():
    message = refusal("raw_files")

    assert "'raw_files'" in message
    assert "single hyphens" in message


def test_name_starting_with_a_digit_is_refused():
    message = refusal("2026-lake")

    assert "'2026-lake'" in message
    assert "starting with a letter" in message


def test_name_ending_with_a_hyphen_is_refused():
    message = refusal("lake-")

    assert "'lake-'" in message
    assert "not ending with a hyphen" in message


def test_name_with_a_double_hyphen_is_refused():
    message = refusal("raw--files")

    assert "'raw--files'" in message
    assert "single hyphens" in message


def test_name_containing_google_is_refused():
    message = refusal("my-google-files")

    assert "'my-google-files' contains 'google'" in message
    assert "Google Cloud Storage refuses" in message


def test_name_starting_with_goog_is_refused():
    message = refusal("googly-eyes")

    assert "'googly-eyes' starts with 'goog'" in message
    assert "reserves" in message


def test_name_starting_with_sthree_hyphen_is_refused():
    message = refusal("sthree-files")

    assert "'sthree-files' starts with 'sthree-'" in message


def test_name_starting_with_amzn_hyphen_is_refused():
    message = refusal("amzn-files")

    assert "'amzn-files' starts with 'amzn-'" in message


def test_name_that_is_not_a_string_is_refused():
    message = refusal(42)

    assert "a name must be a string, not int" in message


def test_hyphenated_lowercase_name_with_digits_is_portable():
    assert name_problem("transform-jobs-2") is None


def test_check_name_returns_a_portable_name_unchanged():
    assert check_name("lake", what="bucket name") == "lake"


def test_check_name_says_what_was_being_named():
    with pytest.raises(ValidationError, match=r"^queue name: 'Jobs' \(4 characters\)"):
        check_name("Jobs", what="queue name")


def test_pipeline_name_must_be_portable():
    with pytest.raises(ValidationError) as caught:
        Pipeline("Lake_To_Warehouse")

    assert str(caught.value).startswith("pipeline name: 'Lake_To_Warehouse'")
    assert "not a portable name" in str(caught.value)


def test_queue_name_refusal_names_the_queue_kind():
    app = Pipeline("names")

    with pytest.raises(ValidationError, match=r"^pipeline 'names', queue name: 'Jobs'"):
        app.queue("Jobs")


def test_topic_name_refusal_names_the_topic_kind():
    app = Pipeline("names")

    with pytest.raises(ValidationError, match=r"^pipeline 'names', topic name: 'amzn-loaded'"):
        app.topic("amzn-loaded")
