"""Pass-48 fixer f48b (t47a 12, 15, and "still from t45a"): every fix offered is a whole line
that works pasted and keeps every name typed; a namespace is never mixed up with another value.

- a sandbox named positionally (`sandbox logs t47a-x`, `dump maps t47-x`) keeps its name in the
  line offered, the line making it first when there is none (the demo's stray word need not be
  a sandbox's: t41b 6, test_p47_f47b);
- a name the message refuses as made up (`--name w-1a` for 1a) is in no kubectl label line;
- -A on a reading command that acts on one namespace: the line without it, every other bad
  value said too (`waypoint status --name Wp1 -A`);
- sandbox exec's `pod/Netutils` is said and mended whole (`pod/netutils`);
- enable-ns / disable-ns: a name mended into one typed already is given once; kubectl's
  `-l app=x` is no namespace (its value is left out with it);
- a stray NAMESPACE/NAME naming another namespace than -n: the clash said, a line for each;
- dump's `--pod Team-A/kmesh-1` mended to team-a/kmesh-1;
- `sandbox down --sandbox T45a_x`: the name meant (t45a-x) said, no line that would fail pasted.

In-process through kmeshctl.cli.main, every command's own work stubbed (nothing is made).
"""

from __future__ import annotations

import shlex

import pytest
import typer

from kmeshctl.cli import app
from kmeshctl.cli.badinput import line_works
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import _line, stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401
from test_p43_f43a import _offered, _words
from test_p44_f44a import _offered as _checked_in_body  # the command's own check, no stub: nothing run
from test_p44_f44b import kubeconfigs  # noqa: F401

ROOT = typer.main.get_command(app)


def _chained(line: str) -> list[list[list[str]]]:
    """Each backticked `kmeshctl A && kmeshctl B` of ``line`` as its commands, each checked
    to parse (line_works); nothing is run (the first makes a sandbox)."""
    found = []
    for text in line.split("`")[1::2]:
        if not text.startswith("kmeshctl ") or " && " not in text:
            continue
        parts = [shlex.split(part) for part in text.split(" && ")]
        for words in parts:
            assert line_works(words, ROOT), (words, line)
        found.append(parts)
    return found


# ------------------------------------------------------------------ 1, 10. a sandbox named positionally


@pytest.mark.parametrize("typed,first,then", [
    ("sandbox logs t47a-x", "kmeshctl sandbox up --name t47a-x",
     "kmeshctl sandbox status -o wide --name t47a-x"),
    ("sandbox ps T47a_x", "kmeshctl sandbox up --name t47a-x", "kmeshctl sandbox status -o wide --name t47a-x"),
    ("sandbox logs t47a-x -o json", "kmeshctl sandbox up --name t47a-x",
     "kmeshctl sandbox status -o json --name t47a-x"),
], ids=["logs", "ps-fitted", "logs-output"])
def test_a_sandbox_habit_word_keeps_the_sandbox_named(typed, first, then, state_root, stubbed, capsys,  # noqa: F811
                                                      offline) -> None:  # noqa: F811
    line = _line(capsys, *shlex.split(typed))
    assert _chained(line) == [_words(first, then)], line
    assert "no sandbox is named t47a-x (no sandbox exists): the line makes it first" in line, line


@pytest.mark.parametrize("typed,then", [
    ("--kubeconfig kc1.yaml dump maps t47-x", "kmeshctl --kubeconfig kc1.yaml dump maps --sandbox t47-x"),
    ("--kubeconfig kc1.yaml dump maps T47_x -o jsn",
     "kmeshctl --kubeconfig kc1.yaml dump maps -o json --sandbox t47-x"),
], ids=["word", "fitted-and-output"])
def test_dump_maps_reads_a_word_that_is_no_map_as_a_sandbox_too(typed, then, kubeconfigs, state_root,  # noqa: F811
                                                                 stubbed, capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, *shlex.split(typed))
    assert "is no map name (km_frontend," in line and "no sandbox is named t47-x" in line, line
    assert _chained(line) == [_words("kmeshctl sandbox up --name t47-x", then)], line


def test_dump_maps_without_a_cluster_names_the_sandbox_it_would_make(state_root, stubbed, capsys,  # noqa: F811
                                                                      offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "dump", "maps", "t47-x")
    assert "t47-x is no map (km_frontend" in line and "`kmeshctl sandbox up --name t47-x` starts a local one" in line, line
    assert _words("kmeshctl dump maps")[0] in offered, line


def test_dump_maps_still_reads_a_map_typo_as_a_map(state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "dump", "maps", "km_frontnd")
    assert "did you mean km_frontend?" in line and "sandbox" not in line, line


# ------------------------------------------------------------------ 2. no label line for a made-up name


@pytest.mark.parametrize("typed", ["waypoint apply --enroll-namespace --name 1a",
                                   "waypoint apply --enroll-namespace --name 1a -n team-a"], ids=["bare", "ns"])
def test_a_made_up_waypoint_name_is_in_no_label_line(typed, state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, *shlex.split(typed))
    assert "w-1a" not in " ".join(line.split("`")[1::2]), line
    assert "opt the namespace in with the label istio.io/use-waypoint=NAME (the --name you give the waypoint)" \
        in line, line


def test_a_good_waypoint_name_keeps_its_label_line(state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *shlex.split("waypoint apply --enroll-namespace --name wp1 -n team-a"))
    assert "`kubectl label namespace team-a istio.io/use-waypoint=wp1`" in line, line
    assert offered == _words("kmeshctl waypoint apply --name wp1 -n team-a"), line


# ------------------------------------------------------------------ 3. -A on a reading command


@pytest.mark.parametrize("typed,said,offered", [
    ("waypoint status --name Wp1 -A", "leave out -A to read its context's namespace (default when it names none)",
     "kmeshctl waypoint status --name wp1"),
    ("waypoint status --name wp1 -A -n team-a", "leave out -A to read -n team-a",
     "kmeshctl waypoint status --name wp1 -n team-a"),
], ids=["bad-name", "namespace"])
def test_all_namespaces_on_waypoint_status_offers_the_line_without_it(typed, said, offered, state_root,  # noqa: F811
                                                                      stubbed, capsys, offline) -> None:  # noqa: F811
    line, lines = _offered(capsys, *shlex.split(typed))
    assert said in line and lines == _words("kmeshctl waypoint list -A", offered), line
    if "Wp1" in typed:
        assert "also --name Wp1: not a valid waypoint name" in line and "did you mean --name wp1?" in line, line


def test_all_namespaces_on_waypoint_delete_gets_no_line(state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line, lines = _offered(capsys, "waypoint", "delete", "--name", "wp1", "-A")
    assert lines == _words("kmeshctl waypoint list -A"), line


# ------------------------------------------------------------------ 4. sandbox exec pod/NAME


@pytest.mark.parametrize("pod,meant", [("pod/Netutils", "pod/netutils"), ("deploy/Netutils", "deploy/netutils"),
                                       ("Netutils", "netutils")])
def test_an_exec_target_is_said_and_mended_whole(pod, meant, state_root, capsys, offline) -> None:  # noqa: F811
    line, offered = _checked_in_body(capsys, "sandbox", "exec", pod, "--", "true")
    assert f"POD {pod}: not a valid pod name" in line and f"did you mean {meant}?" in line, line
    assert offered == [["kmeshctl", "sandbox", "exec", meant, "--", "true"]], line


# ------------------------------------------------------------------ 5, 6. enable-ns / disable-ns


@pytest.mark.parametrize("typed,offered", [
    ("enable-ns default Default", "kmeshctl enable-ns default"),
    ("disable-ns Default Default", "kmeshctl disable-ns default"),
    ("enable-ns Default default,Default --wait", "kmeshctl enable-ns default --wait"),
], ids=["enable", "disable", "list"])
def test_a_namespace_mended_into_one_typed_is_given_once(typed, offered, state_root, capsys,  # noqa: F811
                                                         offline) -> None:  # noqa: F811
    line, lines = _checked_in_body(capsys, *shlex.split(typed))
    assert lines == _words(offered) and "default and default" not in line, line


@pytest.mark.parametrize("typed", ["enable-ns default -l app=x", "disable-ns default --selector app=x"])
def test_a_selector_value_is_no_namespace(typed, state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line, _ = _offered(capsys, *shlex.split(typed))
    assert "takes namespace names, not a label selector" in line and "namespace app=x" not in line, line
    assert "`kubectl get namespaces -l app=x -o 'jsonpath={.items[*].metadata.name}'`" in line, line


def test_a_selector_beside_a_bad_namespace_says_only_the_namespace(state_root, stubbed, capsys,  # noqa: F811
                                                                   offline) -> None:  # noqa: F811
    line, _ = _offered(capsys, *shlex.split("enable-ns Default -l app=x"))
    assert "also namespace Default: not a valid namespace name" in line and "app=x: not" not in line, line


# ------------------------------------------------------------------ 7. NAMESPACE/NAME beside another -n


@pytest.mark.parametrize("typed,said,offered", [
    ("waypoint delete --name wp1 team-b/wp1 -n team-a", "team-b/wp1 names namespace team-b, and -n team-a another",
     _words("kmeshctl waypoint delete --name wp1 -n team-a", "kmeshctl waypoint delete --name wp1 -n team-b")),
    ("waypoint delete --name wp1 Team-B/wp1 --namespace=team-a",
     "Team-B/wp1 names namespace team-b, and --namespace team-a another",
     _words("kmeshctl waypoint delete --name wp1 --namespace=team-a",
            "kmeshctl waypoint delete --name wp1 --namespace=team-b")),
    ("waypoint status --name wp1 team-b/wp1", "team-b/wp1 names namespace team-b, and no -n is given",
     _words("kmeshctl waypoint status --name wp1 -n team-b")),
], ids=["delete", "delete-spelled", "status-no-n"])
def test_a_stray_namespaced_name_in_another_namespace_is_said(typed, said, offered, state_root,  # noqa: F811
                                                              stubbed, capsys, offline) -> None:  # noqa: F811
    line, lines = _offered(capsys, *shlex.split(typed))
    assert said in line and lines == offered, line


def test_a_stray_namespaced_name_in_the_same_namespace_is_left_out(state_root, stubbed, capsys,  # noqa: F811
                                                                   offline) -> None:  # noqa: F811
    line, lines = _offered(capsys, *shlex.split("waypoint delete --name wp1 team-a/wp1 -n team-a"))
    assert lines == _words("kmeshctl waypoint delete --name wp1 -n team-a"), line


# ------------------------------------------------------------------ 8. dump --pod NS/NAME


@pytest.mark.parametrize("typed,offered", [
    ("dump config --pod Team-A/kmesh-1 -n team-a", "kmeshctl dump config --pod team-a/kmesh-1 -n team-a"),
    ("dump maps --pod Team-A/Kmesh_1", "kmeshctl dump maps --pod team-a/kmesh-1"),
], ids=["namespace", "both"])
def test_a_pod_s_namespace_is_mended(typed, offered, state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line, lines = _offered(capsys, *shlex.split(typed))
    assert "is not a valid namespace name" in line and lines == _words(offered), line


# ------------------------------------------------------------------ 9. sandbox down of a name refused


@pytest.mark.parametrize("flag", ["--sandbox", "--name"])
def test_sandbox_down_says_the_name_meant_without_a_line(flag, state_root, capsys, offline) -> None:  # noqa: F811
    line, lines = _checked_in_body(capsys, "sandbox", "down", flag, "T45a_x")
    assert f"it would be {flag} t45a-x, and no sandbox is named t45a-x (no sandbox exists): there is nothing " \
           "to take down" in line, line
    assert lines == [] and "e.g." not in line, line


def test_sandbox_down_ignoring_a_missing_one_keeps_its_line(state_root, capsys, offline) -> None:  # noqa: F811
    line, lines = _checked_in_body(capsys, "sandbox", "down", "--name", "T45a_x", "--ignore-not-found")
    assert lines == _words("kmeshctl sandbox down --name t45a-x --ignore-not-found"), line
