"""A negative number after an option that takes a number is its value (tester L4:
`--request-timeout -1` said `needs a value` while `--request-timeout=-1` and `-c -5` said
`out of range`): for every number and duration option of every command, `FLAG -1` is
refused as `FLAG=-1` is (out of range, exit 2); a word that is no number (`-o`) still
means the value is missing.

In-process (test_cli_kinds.cli); every such option's range starts at 0 or 1, so nothing runs."""

from __future__ import annotations

import pytest
from typer.main import get_command

from kmeshctl.cli.badinput import takes_number
from kmeshctl.cli.common import app
from test_cli_kinds import cli, no_env  # noqa: F401


def _numeric_options() -> list[tuple[list[str], str]]:
    found: list[tuple[list[str], str]] = []

    def walk(command, path: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])
        for param in command.params:
            if takes_number(param):
                assert (param.type_descriptor.parameter_info.min or 0) >= 0, (path, param.opts)  # -1 never runs
                found.extend((path, opt) for opt in param.opts)

    import kmeshctl.cli  # noqa: F401  (every command registered)

    walk(get_command(app), [])
    return found


OPTIONS = _numeric_options()


def test_the_kind_covers_the_global_and_command_options() -> None:
    assert ([], "--request-timeout") in OPTIONS and (["demo", "traffic-shift"], "-c") in OPTIONS
    assert (["bench", "dataplane"], "--duration") in OPTIONS and len(OPTIONS) > 15


@pytest.mark.parametrize("path,flag", OPTIONS, ids=lambda x: " ".join(x) if isinstance(x, list) else x)
@pytest.mark.parametrize("value", ["-1", "-0.5", "-2s"])
def test_a_negative_value_is_read_as_the_value(path, flag, value, capsys, no_env) -> None:
    words = path or ["sandbox", "list"]  # a global flag: after a command that takes it anywhere
    spaced = cli(capsys, *words, flag, value)
    glued = cli(capsys, *words, f"{flag}={value}")
    assert spaced == glued, (spaced, glued)
    code, out, err = spaced
    assert code == 2 and not out and f"{flag} {value}: " in err and "needs a value" not in err, err
    if value == "-1":
        assert "out of range" in err, err


def test_a_global_flag_before_the_command_too(capsys, no_env) -> None:
    code, _, err = cli(capsys, "--request-timeout", "-1", "sandbox", "list")
    assert code == 2 and "--request-timeout -1: out of range" in err, err


@pytest.mark.parametrize("words", [["--request-timeout", "-o", "sandbox", "list"],
                                   ["demo", "traffic-shift", "-c", "-q"], ["sandbox", "list", "--request-timeout", "-x"]])
def test_a_flag_after_it_is_still_a_missing_value(words, capsys, no_env) -> None:
    code, _, err = cli(capsys, *words)
    assert code == 2 and "needs a value" in err, err
