"""A command's flag typed on its group (`kmeshctl dump -o json`, tester L7) is refused with
the commands it goes with, each ready to paste (never `kmeshctl dump COMMAND -o json`):
every subcommand that takes it, reading ones first, a few when many do; a command that
needs arguments is given as its own example with the flag.

In-process (test_cli_kinds.cli); nothing runs: the line is refused while it is parsed."""

from __future__ import annotations

import re
import shlex

import pytest

from test_cli_kinds import cli, no_env  # noqa: F401

CASES = {
    ("dump", "-o", "json"): ["kmeshctl dump maps -o json", "kmeshctl dump config -o json"],
    ("-o", "json", "dump"): ["kmeshctl dump maps -o json", "kmeshctl dump config -o json"],
    ("dump", "-o=yaml"): ["kmeshctl dump maps -o yaml", "kmeshctl dump config -o yaml"],
    ("dump", "--output=yaml"): ["kmeshctl dump maps --output=yaml", "kmeshctl dump config --output=yaml"],
    ("sandbox", "-o", "json"): ["kmeshctl sandbox list -o json", "kmeshctl sandbox status -o json"],
    ("sandbox", "-n", "t114"): ["kmeshctl sandbox exec netutils -n t114 -- curl -sv 10.96.0.10:80"],
}


def _pasted(err: str) -> list[str]:
    return re.findall(r"`([^`]*)`", err)


@pytest.mark.parametrize("typed", list(CASES), ids=" ".join)
def test_each_command_that_takes_the_flag_is_given_whole(typed, capsys, no_env) -> None:
    code, out, err = cli(capsys, *typed)
    assert code == 2 and not out and "COMMAND" not in err, err
    assert _pasted(err) == CASES[typed], err


def test_many_commands_list_reading_ones_first(capsys, no_env) -> None:
    code, _, err = cli(capsys, "-o", "json")
    assert code == 2 and err.startswith("Error: kmeshctl -o json: missing a command; e.g. `kmeshctl status -o json` "
                                        "(see 'kmeshctl --help')"), err
    assert not any(w in line for line in _pasted(err) for w in ("install", "uninstall", "apply", "delete")), err


def test_every_listed_command_parses(capsys, no_env) -> None:
    """Each pasted line gets past click's parsing (its -h: the same words, help instead of a run)."""
    for typed in [*CASES, ("waypoint", "-o", "json"), ("-n", "x")]:
        _, _, err = cli(capsys, *typed)
        for line in _pasted(err):
            words = shlex.split(line)[1:]
            at = words.index("--") if "--" in words else len(words)
            code, out, _ = cli(capsys, *words[:at], "-h")
            assert code == 0 and out.startswith("Usage:"), line
