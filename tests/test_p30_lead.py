"""Pass 30 (issue 14), the lead's fixes of kind 3 (a line that pastes and works):
- kubectl's `-v` typed before the command: the line without it keeps the command words
  (`-v` takes a number, so `kmeshctl -v sandbox list` is not `-v sandbox`);
- `--weights` with a space between sets or weights: the fix parts them (`90/10,50/50`);
- `sandbox down -A` with several sandboxes: a line per sandbox (the bare line picks none)."""
from __future__ import annotations

import re
import shlex

import pytest

from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401

BACKTICKED = re.compile(r"`(kmeshctl [^`]*)`")


def _fix_lines(err: str) -> list[list[str]]:
    return [shlex.split(line) for line in BACKTICKED.findall(err)]


@pytest.mark.parametrize("typed,meant", [
    (["-v", "sandbox", "list"], ["sandbox", "list"]),
    (["-v", "status", "-o", "json"], ["status", "-o", "json"]),
    (["-v", "6", "status"], ["status"]),
    (["--kubeconfig", "/tmp/p30-none", "-v", "waypoint", "list", "-A"],
     ["--kubeconfig", "/tmp/p30-none", "waypoint", "list", "-A"]),
    (["-v", "dump", "maps", "--pod", "x"], ["dump", "maps", "--pod", "x"]),
    (["sandbox", "-v", "list"], ["sandbox", "list"]),
    (["-v", "version"], ["version"]),
])
def test_kubectls_v_before_the_command_keeps_the_command(typed, meant, capsys, no_env, state_root) -> None:  # noqa: F811
    code, out, err = cli(capsys, *typed)
    assert code == 2 and not out, err
    assert "leave -v out" in err and _fix_lines(err) == [["kmeshctl", *meant]], err


@pytest.mark.parametrize("weights,meant", [
    ("90/10 50/50", "90/10,50/50"), ("90/10 0/100", "90/10,0/100"), ("90 10", "90/10"), ("90 / 10", "90/10"),
    ("90/10, 50/50", "90/10,50/50"),
])
def test_weights_with_spaces_get_the_value_that_parts_them(weights, meant, capsys, no_env, state_root) -> None:  # noqa: F811
    code, _, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "p30", "--weights", weights)
    # a whole line since pass 39 (t39b 4), every flag typed kept
    assert code == 2 and err.strip().endswith("use the numbers without spaces: `kmeshctl demo traffic-shift --sandbox "
                                              f"p30 --weights {meant}` (see 'kmeshctl demo traffic-shift --help')"), err
    code, _, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "p30", "--weights", meant)
    assert "--weights" not in err.split(";")[0], err  # the value offered passes the --weights checks


def test_sandbox_down_all_namespaces_with_several_sandboxes_names_each(capsys, no_env, state_root) -> None:  # noqa: F811
    _record("p30a")
    _record("p30b")
    code, _, err = cli(capsys, "sandbox", "down", "-A", "-q")
    assert code == 2, err
    assert _fix_lines(err) == [["kmeshctl", "sandbox", "down", "--all"],
                               ["kmeshctl", "sandbox", "down", "-q", "--name", "p30a"],
                               ["kmeshctl", "sandbox", "down", "-q", "--name", "p30b"]], err


def test_sandbox_down_all_namespaces_with_one_sandbox_or_a_name_leaves_out_a(capsys, no_env, state_root) -> None:  # noqa: F811
    _record("p30a")
    code, _, err = cli(capsys, "sandbox", "down", "-A")
    assert code == 2 and _fix_lines(err)[-1] == ["kmeshctl", "sandbox", "down"], err
    _record("p30b")
    code, _, err = cli(capsys, "sandbox", "down", "-A", "--name", "p30b")
    assert code == 2 and _fix_lines(err)[-1] == ["kmeshctl", "sandbox", "down", "--name", "p30b"], err
