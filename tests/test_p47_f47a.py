"""Pass-47 fixer f47a (t47a 1, 5, 6, 7, 8, 11): a mistyped command and stray words.

- a typo read as two commands offers only the readings that keep every flag typed
  (`instal --cluster-id c1`: never a bare uninstall);
- `install WORD --cluster-id c1`: WORD can only be the namespace (--namespace WORD);
- a typo (of a command or --context, or kc5's current-context) beside a positional word
  gets the mend the command gives without the typo (`--namespace kmesh-x`, `--name wp1
  -n team-a`), never the bad word kept with "(then fix ...)";
- `waypoint rm|del|ls|get NS/NAME`: the command's line with `--name NAME -n NS`;
- `-A=1` in a mistyped command is the on/off -A, never `--namespace 1`;
- a typo beside an on/off value (`-q=1`, `--dry-run=1`): the lines as without the value.

In-process through kmeshctl.cli.main (no cluster configured; no sandbox made).
"""

from __future__ import annotations

import shlex

import pytest

from kmeshctl.cli.badinput import line_works, required_left_out
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import _line, _pasted_lines, stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401
from test_p44_f44a import ROOT, _offered
from test_p44_f44b import kubeconfigs  # noqa: F401

RAW = ("then fix", "No such command", "no such command '")


def _only_lines(capsys, words: str, lines: list[str]) -> str:
    """The error of ``words`` offers exactly ``lines`` (each parses), no raw parser text."""
    said, offered = _offered(capsys, *shlex.split(words))
    assert offered == [shlex.split(line) for line in lines], said
    assert not any(raw in said for raw in RAW), said
    return said


def _lines_said_required(capsys, words: str, lines: list[str]) -> str:
    """As _only_lines, but a line may lack the flags its command requires when the error
    says so ("then give ... too: they are required"): every value it gives is taken."""
    said = _line(capsys, *shlex.split(words))
    offered = _pasted_lines(said)
    assert offered == [shlex.split(line) for line in lines], said
    for each in offered:
        left = required_left_out(each, ROOT)
        assert line_works(each, ROOT) or left is not None and left[0] and not left[1], (each, said)
    assert all(" too: " in said for each in offered if not line_works(each, ROOT)), said
    assert not any(raw in said for raw in RAW), said
    return said


# ------------------------------------------------------------------ 1. a typo read as two commands


@pytest.mark.parametrize("words,lines", [
    ("instal --cluster-id c1 --xds-address x:1", ["kmeshctl install --cluster-id c1 --xds-address x:1"]),
    ("instal --cluster-id c1 --xds-address x:1 --wait=1", ["kmeshctl install --cluster-id c1 --xds-address x:1 --wait"]),
    ("installl --cluster-id c1 --xds-address x:1 -n team-a",
     ["kmeshctl install --cluster-id c1 --xds-address x:1 -n team-a"]),
    ("--request-timeout 5s instal --cluster-id c1 --xds-address x:1 -n Foo --dry-run",
     ["kmeshctl --request-timeout 5s install --cluster-id c1 --xds-address x:1 -n foo --dry-run"]),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_typo_offers_only_the_reading_keeping_every_flag(words, lines, capsys, stubbed, state_root,  # noqa: F811
                                                          offline) -> None:  # noqa: F811
    said = _only_lines(capsys, words, lines)
    assert "did you mean install?" in said and "uninstall" not in said, said


def test_a_typo_with_no_install_only_flag_keeps_both_readings(capsys, stubbed, state_root, offline) -> None:  # noqa
    _lines_said_required(capsys, "uninstal --dry-run=1",
                         ["kmeshctl uninstall --dry-run", "kmeshctl install --dry-run"])


# ------------------------------------------------------------------ 5. install WORD --cluster-id c1


@pytest.mark.parametrize("words,lines", [
    ("install kmesh-x --cluster-id c1 --xds-address x:1",
     ["kmeshctl install --namespace kmesh-x --cluster-id c1 --xds-address x:1"]),
    ("install Kmesh_X --cluster-id c1 --xds-address x:1 -o yml",
     ["kmeshctl install --namespace kmesh-x --cluster-id c1 --xds-address x:1 -o yaml"]),
    ("install team-a/kmesh --cluster-id c1 --xds-address x:1", []),
    ("install kmesh-x c2 --cluster-id c1 --xds-address x:1", []),
    ("instal kmesh-x --cluster-id c1 --xds-address x:1",
     ["kmeshctl install --namespace kmesh-x --cluster-id c1 --xds-address x:1"]),
    ("precheck kmesh-x --cluster-id c1", ["kmeshctl precheck --namespace kmesh-x --cluster-id c1"]),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_word_beside_the_cluster_id_is_the_namespace(words, lines, capsys, stubbed, state_root,  # noqa: F811
                                                       offline) -> None:  # noqa: F811
    _only_lines(capsys, words, lines)


# ------------------------------------------------------------------ 6. a typo beside a word to mend


@pytest.mark.parametrize("words,lines", [
    ("uninstal Kmesh-X --dry-run",
     ["kmeshctl uninstall --namespace kmesh-x --dry-run", "kmeshctl install --cluster-id Kmesh-X --dry-run"]),
    ("stauts Kmesh-X", ["kmeshctl status --namespace kmesh-x"]),
    ("precheckk Kmesh-X", ["kmeshctl precheck --namespace kmesh-x"]),
    ("waypoint stauts Team-A/wp1", ["kmeshctl waypoint status --name wp1 -n team-a"]),
    ("waypoint aply Wp1 -n team-a --dry-run", ["kmeshctl waypoint apply --name wp1 -n team-a --dry-run"]),
    ("waypoint aply team-a/wp1 --dry-run", ["kmeshctl waypoint apply --name wp1 -n team-a --dry-run"]),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_typo_beside_a_word_gets_its_mend(words, lines, capsys, stubbed, state_root, offline) -> None:  # noqa
    said = _lines_said_required(capsys, words, lines)
    assert "given as --" in said, said


@pytest.mark.parametrize("words,line", [
    ("--kubeconfig kc1.yaml --context Dev status Kmesh-X",
     "kmeshctl --kubeconfig kc1.yaml --context dev status --namespace kmesh-x"),
    ("--request-timeout 5s -q --kubeconfig kc1.yaml --context Dev waypoint status Team-A/wp1 -o jsn",
     "kmeshctl --request-timeout 5s -q --kubeconfig kc1.yaml --context dev waypoint status --name wp1 -o json "
     "-n team-a"),
], ids=["status", "waypoint-status"])
def test_a_context_typo_beside_a_word_gets_its_mend(words, line, kubeconfigs, capsys, stubbed, state_root,  # noqa
                                                    offline) -> None:  # noqa: F811
    said = _only_lines(capsys, words, [line])
    assert "did you mean dev?" in said, said


def test_a_missing_current_context_beside_a_word_gets_its_mend(kubeconfigs, capsys, stubbed, state_root,  # noqa
                                                               offline, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("KUBECONFIG", "kc5.yaml")
    said = _only_lines(capsys, "waypoint delete Team-A/wp1 --dry-run",
                       ["kmeshctl --context prod waypoint delete --name wp1 -n team-a --dry-run"])
    assert "(Team-A/wp1 given as --name wp1 -n team-a)" in said, said


# ------------------------------------------------------------------ 7. waypoint rm|del|ls|get NS/NAME


@pytest.mark.parametrize("words,line", [
    ("waypoint rm team-a/wp1", "kmeshctl waypoint delete --name wp1 -n team-a"),
    ("waypoint remove team-a/wp1 --dry-run", "kmeshctl waypoint delete --name wp1 --dry-run -n team-a"),
    ("waypoint ls team-a/wp1", "kmeshctl waypoint status --name wp1 -n team-a"),
    ("waypoint get team-a/wp1", "kmeshctl waypoint status --name wp1 -n team-a"),
    ("delete waypoint team-a/wp1", "kmeshctl waypoint delete --name wp1 -n team-a"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_kubectl_verb_on_ns_name_gets_the_command_line(words, line, capsys, stubbed, state_root,  # noqa: F811
                                                         offline) -> None:  # noqa: F811
    said = _only_lines(capsys, words, [line])
    assert "--name team-a/wp1" not in said, said


# ------------------------------------------------------------------ 8 and 11. on/off values in a mistyped command


@pytest.mark.parametrize("words,lines", [
    ("waypoint lsit -A=1", ["kmeshctl waypoint list -A"]),
    ("waypoint lsit -A=yes", ["kmeshctl waypoint list -A"]),
    ("waypont list -A=1 -o jsn", ["kmeshctl waypoint list -o json -A"]),
    ("waypoint lst -q=1", ["kmeshctl waypoint list -q"]),
    ("statsu -q=1", ["kmeshctl status -q"]),
    ("sandbx status -q=1", ["kmeshctl sandbox status -q"]),
    ("-n foo statsu -q=1", ["kmeshctl -n foo status -q"]),
    ("uninstal -n team-a --dry-run=true -o yml",
     ["kmeshctl uninstall -n team-a -o yaml --dry-run", "kmeshctl install -n team-a -o yaml --dry-run"]),
], ids=lambda v: v if isinstance(v, str) else None)
def test_an_on_off_value_in_a_typo_is_the_flag(words, lines, capsys, stubbed, state_root, offline) -> None:  # noqa
    said = _lines_said_required(capsys, words, lines)
    assert "--namespace 1" not in said and "--namespace yes" not in said, said
    assert "(see 'kmeshctl status --help')" not in said, said


def test_an_on_off_value_on_the_right_command_keeps_its_own_line(capsys, stubbed, state_root,  # noqa: F811
                                                                 offline) -> None:  # noqa: F811
    said = _only_lines(capsys, "-n foo status -q=1", ["kmeshctl -n foo status -q"])
    assert said.startswith("Error: Option '-q' does not take a value"), said
