"""Pass-49 fixer f49b (t48a 4, 5, 6, 7): word order and the `--` separator.

- a command typed before its group (`traffic-shift demo`, `preflight node -o json`): one
  line, the group first, every flag kept, a line that changes things said so; a word no
  command of the group (`top node`): one line naming its commands, never its help page;
- a kind's command before the kind (`list sandbox -o json`, `apply waypoint -n default`,
  `down sandbox --name X`): kubectl's reading (`get waypoint`'s), so a line that changes
  things names what it acts on, and a sandbox that does not exist is said, not offered;
- `exec sandbox POD -- CMD` and `sandbox POD exec -- CMD`: `sandbox exec POD -- CMD`;
- `sandbox exec POD --name -- CMD` (and -n, --sandbox): the flag took the `--` as its value,
  with the line giving it one (a sandbox that has the POD, the POD's namespace).

In-process through kmeshctl.cli.main; the sandbox records are written under a tmp state
root (no sandbox, netns or cluster is made); no cluster configured.
"""

from __future__ import annotations

import os
import shlex

import pytest

from test_cli_kinds import no_env, state_root  # noqa: F401
from test_cli_newuser import _record
from test_p23_command_hints import stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401
from test_p44_f44a import KUBECONFIG, _offered

RUNS = "(it runs for real: "


def _said(capsys, words: str, lines: list[str]) -> str:
    """The one-line error of ``words`` offers exactly ``lines``, each of which parses."""
    said, offered = _offered(capsys, *shlex.split(words))
    assert offered == [shlex.split(line) for line in lines], said
    assert "Usage:" not in said and "then fix" not in said, said
    return said


# ------------------------------------------------------------------ 4. a command before its group


@pytest.mark.parametrize("words,line,changes", [
    ("traffic-shift demo", "kmeshctl demo traffic-shift", True),
    ("traffic-shift demo --target local", "kmeshctl demo traffic-shift --target local", True),
    ("preflight node", "kmeshctl node preflight", False),
    ("preflight node -o json", "kmeshctl node preflight -o json", False),
    ("run node", "kmeshctl node run", True),
    ("dataplane bench --out /tmp/f49b-out", "kmeshctl bench dataplane --out /tmp/f49b-out", True),
    ("cleanup bench", "kmeshctl bench cleanup", True),
    ("--kubeconfig {kc} traffic-shift demo", "kmeshctl --kubeconfig {kc} demo traffic-shift", True),
])
def test_a_command_before_its_group_is_offered_group_first(words, line, changes, capsys, stubbed,  # noqa: F811
                                                           state_root, offline, tmp_path) -> None:  # noqa: F811
    kubeconfig = tmp_path / "kc.yaml"
    kubeconfig.write_text(KUBECONFIG)
    words, line = words.format(kc=kubeconfig), line.format(kc=kubeconfig)
    said = _said(capsys, words, [line])
    assert f"`{line}`" in said, said
    assert (RUNS in said) == changes, said


def test_a_word_no_command_of_the_group_names_its_commands_in_one_line(capsys, stubbed, state_root,  # noqa: F811
                                                                      offline) -> None:  # noqa: F811
    said = _said(capsys, "top node", [])
    assert "nor is top a command of node: its commands are cleanup, preflight, run" in said, said


def test_a_stray_word_before_a_group_and_its_command_is_still_left_out(capsys, stubbed, state_root,  # noqa: F811
                                                                       offline) -> None:  # noqa: F811
    _said(capsys, "x demo traffic-shift", ["kmeshctl demo traffic-shift"])


# ------------------------------------------------------------------ 5. a kind's command before the kind


@pytest.mark.parametrize("words,line", [
    ("list sandbox -o json", "kmeshctl sandbox list -o json"),
    ("list sandbox", "kmeshctl sandbox list"),
    ("ls sandboxes -o name", "kmeshctl sandbox list -o name"),
    ("list waypoint -A", "kmeshctl waypoint list -A"),
    ("apply waypoint -n default", "kmeshctl waypoint apply -n default"),
    ("apply waypoint --name wp1 -n default --dry-run", "kmeshctl waypoint apply --name wp1 -n default --dry-run"),
    ("up sandbox", "kmeshctl sandbox up"),
    ("up sandbox --name f49b-new", "kmeshctl sandbox up --name f49b-new"),
])
def test_a_kind_s_command_before_the_kind_is_offered_with_every_flag(words, line, capsys, stubbed,  # noqa: F811
                                                                     state_root, offline) -> None:  # noqa: F811
    said = _said(capsys, words, [line])
    if " up" in line or " apply" in line:  # a line that makes something says so
        assert ": `" in said and "to create " in said, said


@pytest.mark.parametrize("words", ["down sandbox --name t48a-1", "rm sandbox t48a-1", "down sandboxes --name t48a-1"])
def test_removing_a_sandbox_that_does_not_exist_offers_no_line(words, capsys, stubbed, state_root,  # noqa: F811
                                                                offline) -> None:  # noqa: F811
    said = _said(capsys, words, [])
    assert "--name t48a-1: no sandbox has this name" in said, said


def test_removing_a_sandbox_typed_kind_last_names_it(capsys, stubbed, state_root, offline) -> None:  # noqa: F811
    name = f"f49b-{os.getpid() % 100000}"
    _record(name)
    said = _said(capsys, f"down sandbox --name {name}", [f"kmeshctl sandbox down --name {name}"])
    assert f"to remove sandbox {name}: `" in said, said


def test_removing_no_named_sandbox_offers_no_line_that_removes_one(capsys, stubbed, state_root,  # noqa: F811
                                                                   offline) -> None:  # noqa: F811
    _record(f"f49b-{os.getpid() % 100000}")
    said, offered = _offered(capsys, "down", "sandbox")
    assert all("--name" in words for words in offered), said  # never a bare `sandbox down`: it picks one
    assert "removed by name" in said, said


# ------------------------------------------------------------------ 6. exec with the group in the wrong place


@pytest.mark.parametrize("words", ["exec sandbox netutils -- ls", "sandbox netutils exec -- ls",
                                   "exec sandbox netutils ls"])
def test_exec_with_the_group_misplaced_keeps_the_pod(words, capsys, stubbed, state_root, offline) -> None:  # noqa
    _said(capsys, words, ["kmeshctl sandbox exec netutils -- ls"])


def test_exec_with_no_pod_keeps_the_command_and_names_pod_as_a_placeholder(capsys, stubbed, state_root,  # noqa
                                                                           offline) -> None:  # noqa: F811
    said = _said(capsys, "exec sandbox -- ls", [])
    assert "kmeshctl sandbox exec POD -- ls?" in said, said


# ------------------------------------------------------------------ 7. a flag of exec took the `--`


@pytest.mark.parametrize("typed,flag,given", [
    ("netutils --name -- ls", "--name", "netutils --name {name} -- ls"),
    ("netutils --sandbox -- ls", "--sandbox", "netutils --sandbox {name} -- ls"),
    ("netutils -n default --name -- ls", "--name", "netutils -n default --name {name} -- ls"),
    ("netutils -n -- ls", "-n", "netutils -n default -- ls"),
    ("netutils --name -- ls -la", "--name", "netutils --name {name} -- ls -la"),
])
def test_a_flag_that_took_the_separator_gets_a_value(typed, flag, given, capsys, stubbed, state_root,  # noqa: F811
                                                     offline) -> None:  # noqa: F811
    name = f"f49b-{os.getpid() % 100000}"
    _record(name, (("netutils-0", False),))
    said = _said(capsys, f"sandbox exec {typed}", [f"kmeshctl sandbox exec {given.format(name=name)}"])
    assert said.startswith(f"Error: {flag} took the `--` after it as its value, so ls"), said
    assert "takes one POD" not in said and "-n ls" not in said, said


@pytest.mark.parametrize("typed", ["netutils --name -- ls", "netutils -n -- ls", "--name -- ls"])
def test_with_no_sandbox_up_no_line_is_offered_and_that_is_said(typed, capsys, stubbed, state_root,  # noqa: F811
                                                               offline) -> None:  # noqa: F811
    said = _said(capsys, f"sandbox exec {typed}", [])
    assert "took the `--` after it as its value" in said and "no sandbox is up" in said, said
