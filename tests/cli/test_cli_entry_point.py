"""The console entry point: usage errors are one line and exit 2, like every other error."""

from __future__ import annotations

import subprocess
import sys

import pytest

from portway.cli.main import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    captured = capsys.readouterr()
    code = caught.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["validate", "--bogus"], "error: No such option: --bogus (see 'portway validate --help')"),
        (["nonsense"], "error: No such command 'nonsense'. (see 'portway --help')"),
        (["put", "lake", "key"], "error: Missing argument 'file'. (see 'portway put --help')"),
    ],
    ids=["unknown-option", "unknown-command", "missing-argument"],
)
def test_a_usage_error_is_one_line_naming_the_help_and_exits_2(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [expected]


def test_no_command_shows_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run([], capsys)
    assert code == 2
    assert "Usage: portway" in err
    assert "validate" in err


def test_a_successful_command_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--version"], capsys)
    assert code == 0
    assert out.startswith("portway ")


def test_python_dash_m_portway_is_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "portway", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert result.stdout.startswith("portway ")
