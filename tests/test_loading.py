"""load_pipeline: import the user's ``module:attr`` with errors a user can act on."""

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from portway import ConfigError, Pipeline, ValidationError
from portway.loading import load_pipeline

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lake-to-warehouse"
USER_MODULES = ("pipeline", "broken", "flows", "flows_main")


@pytest.fixture(autouse=True)
def fresh_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Import user modules afresh, and leave sys.path and sys.modules as they were.

    Every test loads a module called ``pipeline`` from its own folder; one cached by an
    earlier test (or another test file) would be returned instead.
    """
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in USER_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    importlib.invalidate_caches()
    yield
    for name in USER_MODULES:
        sys.modules.pop(name, None)


def write_module(folder: Path, name: str, source: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_example_pipeline_is_loaded():
    app = load_pipeline("pipeline:app", EXAMPLE)

    assert isinstance(app, Pipeline)
    assert app.name == "lake-to-warehouse"
    assert list(app.resources) == ["landing", "lake", "transform-jobs", "loaded"]
    assert list(app.functions) == ["pull_ftp", "enqueue", "transform", "report", "status"]


def test_example_transform_is_a_batch_handler():
    app = load_pipeline("pipeline:app", EXAMPLE)

    assert app.function("transform").batch is True
    assert app.function("report").batch is False


def test_example_module_is_imported_from_the_given_folder():
    load_pipeline("pipeline:app", EXAMPLE)

    assert Path(sys.modules["pipeline"].__file__ or "") == EXAMPLE / "pipeline.py"


def test_attribute_path_with_dots_is_followed(tmp_path):
    write_module(
        tmp_path,
        "pipeline",
        """
        from portway import Pipeline

        class Project:
            app = Pipeline("dotted")
        """,
    )

    assert load_pipeline("pipeline:Project.app", tmp_path).name == "dotted"


def test_missing_module_is_refused_naming_the_folder(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_pipeline("flows:app", tmp_path)

    assert one_line(caught) == (
        f"app 'flows:app': no module 'flows' in {tmp_path}; check 'app' in the config "
        f"or pass --app module:attr"
    )


def test_module_importing_a_missing_dependency_names_the_dependency(tmp_path):
    write_module(tmp_path, "pipeline", "import portway_no_such_dependency\n")

    with pytest.raises(ConfigError) as caught:
        load_pipeline("pipeline:app", tmp_path)

    message = one_line(caught)
    assert message.startswith("app 'pipeline:app': importing it failed: ModuleNotFoundError: ")
    assert "'portway_no_such_dependency'" in message
    assert "(pipeline.py, line 1)" in message


def test_module_importing_a_missing_dependency_with_a_prefix_of_its_name_names_it(tmp_path):
    write_module(tmp_path, "flows_main", "import flows\n")

    with pytest.raises(ConfigError, match="importing it failed: ModuleNotFoundError"):
        load_pipeline("flows_main:app", tmp_path)


def test_missing_attribute_is_refused(tmp_path):
    write_module(tmp_path, "pipeline", 'from portway import Pipeline\n\npipe = Pipeline("lake")\n')

    with pytest.raises(ConfigError) as caught:
        load_pipeline("pipeline:app", tmp_path)

    assert one_line(caught) == "app 'pipeline:app': module 'pipeline' has no attribute 'app'"


def test_attribute_that_is_not_a_pipeline_is_refused(tmp_path):
    write_module(tmp_path, "pipeline", 'app = {"name": "lake"}\n')

    with pytest.raises(ConfigError) as caught:
        load_pipeline("pipeline:app", tmp_path)

    assert one_line(caught) == (
        "app 'pipeline:app' is a dict, not a portway Pipeline; "
        "point 'app' at the object made by Pipeline(...)"
    )


def test_module_raising_at_import_names_the_exception_file_and_line(tmp_path):
    write_module(
        tmp_path,
        "broken",
        """
        from portway import Pipeline

        app = Pipeline("lake")
        rows_per_file = 100 // 0
        """,
    )

    with pytest.raises(ConfigError) as caught:
        load_pipeline("broken:app", tmp_path)

    assert one_line(caught) == (
        "app 'broken:app': importing it failed: ZeroDivisionError: integer division or "
        "modulo by zero (broken.py, line 5)"
    )


def test_module_with_a_syntax_error_names_the_file_and_line(tmp_path):
    write_module(tmp_path, "broken", "app = Pipeline(\n")

    with pytest.raises(ConfigError) as caught:
        load_pipeline("broken:app", tmp_path)

    message = one_line(caught)
    assert message.startswith("app 'broken:app': importing it failed: SyntaxError: ")
    assert "broken.py, line 1" in message


def test_a_syntax_error_is_one_clear_line_when_run_from_the_project_folder(tmp_path, monkeypatch):
    # From the project folder (as `portway run` is), importlib's frozen frames named
    # '<frozen ...>' resolve under it: they must not be taken for the project's files.
    monkeypatch.chdir(tmp_path)
    write_module(tmp_path, "early", '"""doc"""\nx = 1\nfrom __future__ import annotations\n')

    with pytest.raises(ConfigError) as caught:
        load_pipeline("early:app", tmp_path)

    message = one_line(caught)
    assert "SyntaxError: from __future__ imports must occur at the beginning" in message
    assert "early.py, line 3" in message


def test_module_raising_inside_a_library_call_names_the_modules_line(tmp_path):
    write_module(
        tmp_path,
        "broken",
        """
        import json

        settings = json.loads("{not json")
        """,
    )

    with pytest.raises(ConfigError, match=r"\(broken\.py, line 4\)"):
        load_pipeline("broken:app", tmp_path)


def test_bad_declaration_passes_through_as_a_validation_error(tmp_path):
    write_module(
        tmp_path,
        "pipeline",
        """
        from portway import Pipeline

        app = Pipeline("lake")
        app.queue("jobs", max_attempts=1)
        """,
    )

    with pytest.raises(ValidationError) as caught:
        load_pipeline("pipeline:app", tmp_path)

    assert one_line(caught).startswith("pipeline 'lake', queue 'jobs': max_attempts=1 ")
