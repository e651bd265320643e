"""Pass 31 (issue 14), the lead's fixes of reviewer R30's kind-3 finding: a short flag
kmeshctl does not have, typed with its value attached as pflag reads it (`-lapp=x`, `-v3`),
is left out whole of the line to paste (before: `-lapp=x` stayed and the line failed)."""
from __future__ import annotations

import re
import shlex

import pytest

from test_cli_kinds import cli, no_env, state_root  # noqa: F401

BACKTICKED = re.compile(r"`(kmeshctl [^`]*)`")


@pytest.mark.parametrize("typed,meant", [
    (["-v3", "sandbox", "list"], ["sandbox", "list"]),
    (["status", "-lapp=x"], ["status", "-o", "json"]),
    (["waypoint", "list", "-lapp=x", "-A"], ["waypoint", "list", "-A", "-o", "json"]),
    (["waypoint", "list", "-lapp=x", "-ojson", "-A"], ["waypoint", "list", "-A", "-o", "json"]),
])
def test_an_attached_short_value_goes_with_its_flag(typed, meant, capsys, no_env, state_root) -> None:  # noqa: F811
    code, out, err = cli(capsys, *typed)
    assert code == 2 and not out, err
    lines = [shlex.split(line) for line in BACKTICKED.findall(err)]
    assert ["kmeshctl", *meant] in lines, err
    assert not any(word.startswith(("-l", "-v3")) for line in lines for word in line), err


def test_a_short_flag_without_a_value_keeps_the_next_flag(capsys, no_env, state_root) -> None:  # noqa: F811
    """`-v` alone takes no value unless a number follows: `-v -A` keeps -A."""
    code, _, err = cli(capsys, "waypoint", "list", "-v", "-A")
    assert code == 2, err
    lines = [shlex.split(line) for line in BACKTICKED.findall(err)]
    assert lines and all("-A" in line for line in lines if "list" in line), err
