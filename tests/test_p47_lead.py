"""Pass 47 (lead, from fixer f47b's report): `waypoint delete Team_A/wp1` read Team_A, a
namespace misspelled, as kubectl's TYPE and offered `--name wp1` alone: a delete in the
default namespace. A word before the `/` that is no kind's TYPE is a namespace, mended as
-n mends it (Team_A -> team-a); one that spells none gets no line."""

from __future__ import annotations

import re
import shlex

import pytest

from kmeshctl.cli.badinput import line_works
from test_cli_kinds import ROOT, cli, no_env  # noqa: F401


def _lines(err: str) -> list[list[str]]:
    return [shlex.split(line) for line in re.findall(r"`(kmeshctl [^`]*)`", err)]


@pytest.mark.parametrize("command", ["delete", "status"])
def test_a_misspelled_namespace_before_the_slash_is_the_namespace_meant(command: str, capsys, no_env) -> None:
    code, _, err = cli(capsys, "waypoint", command, "Team_A/wp1")
    assert code == 2 and "did you mean --name wp1 -n team-a?" in err, err
    assert _lines(err)[0] == ["kmeshctl", "waypoint", command, "--name", "wp1", "-n", "team-a"], err
    assert "(Team_A/wp1 given as --name wp1 -n team-a)" in err and line_works(_lines(err)[0], ROOT), err


def test_a_kind_before_the_slash_is_still_kubectls_type(capsys, no_env) -> None:
    code, _, err = cli(capsys, "waypoint", "delete", "Gateway/wp1")
    assert code == 2 and "(kubectl's TYPE/NAME, the name alone)" in err, err
    assert _lines(err) == [["kmeshctl", "waypoint", "delete", "--name", "wp1"]], err


def test_a_word_that_spells_no_namespace_gets_no_line_that_drops_it(capsys, no_env) -> None:
    code, _, err = cli(capsys, "waypoint", "delete", "1_x/wp1", "--ignore-not-found")
    assert code == 2 and _lines(err) == [], err
