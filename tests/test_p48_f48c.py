"""Pass-48 fixer f48c (t47a "### 15" and "Still from t45a"): kubeconfig errors say what is
wrong and offer lines that work; messages name the flag typed and a value it takes.

- a kubeconfig with no current-context (or a --context / current-context close to none of
  its contexts): a line per context, every other bad value mended in each;
- a context's missing cluster or user in a kubeconfig with one context: no "pass --context
  NAME of another context";
- a kubeconfig from $KUBECONFIG is said so whatever the line's other mistake (`-q=1`);
- waypoint apply with no -n on a context whose namespace is refused: that is the reason said;
- an integer flag given a whole-number decimal (`--admin-port 15200.0`): the integer's line;
- demo traffic-shift: a sandbox beside a cluster with --waypoint gives the two real lines,
  and no label is left without its line beside another bad value; -n kube-system on a
  cluster is refused offline with a line.

In-process through kmeshctl.cli.main (stubbed where a command would run past its checks; no sandbox made).
The kubeconfigs point at https://127.0.0.1:1 and are only read.
"""

from __future__ import annotations

import re
import shlex

import pytest

from kmeshctl.cli.badinput import line_works
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import _line, stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401
from test_p44_f44a import ROOT, _offered
from test_p44_f44b import kubeconfigs  # noqa: F401

LABEL_ALONE = re.compile(r"give one of them,? \(|\) or \(")  # a line's label with no line before it


def _lines(capsys, words: str) -> tuple[str, list[str]]:
    """The error of ``words`` and the lines it offers (each one that parses), as typed."""
    said, offered = _offered(capsys, *shlex.split(words))
    return said, [shlex.join(line) for line in offered]


# ------------------------------------------------------------------ 1. no context meant: a line per context


@pytest.mark.parametrize("words,lines", [
    ("--kubeconfig kc3.yaml status",
     ["kmeshctl --kubeconfig kc3.yaml --context 'My Ctx' status",
      "kmeshctl --kubeconfig kc3.yaml --context 'my ctx' status"]),
    ("--kubeconfig kc3.yaml status -q=1",
     ["kmeshctl --kubeconfig kc3.yaml --context 'My Ctx' status -q",
      "kmeshctl --kubeconfig kc3.yaml --context 'my ctx' status -q"]),
    ("--kubeconfig kc3.yaml status -n Foo",
     ["kmeshctl --kubeconfig kc3.yaml --context 'My Ctx' status -n foo",
      "kmeshctl --kubeconfig kc3.yaml --context 'my ctx' status -n foo"]),
    ("--kubeconfig kc3.yaml waypoint apply -n team-a --name wp --dry-run",
     ["kmeshctl --kubeconfig kc3.yaml --context 'My Ctx' waypoint apply -n team-a --name wp --dry-run",
      "kmeshctl --kubeconfig kc3.yaml --context 'my ctx' waypoint apply -n team-a --name wp --dry-run"]),
], ids=["no-current", "with-on-off-value", "with-bad-namespace", "changing-dry-run"])
def test_no_context_meant_offers_a_line_per_context(words, lines, kubeconfigs, state_root,  # noqa: F811
                                                    capsys, offline) -> None:  # noqa: F811
    said, offered = _lines(capsys, words)
    assert offered == lines, said
    assert "pass --context with one of them: `" in said, said
    for line in offered:  # each loads its kubeconfig too: pasted, only 127.0.0.1:1 fails to answer
        code, _, err = cli(capsys, *shlex.split(line)[1:])
        assert code == 1 and "127.0.0.1:1" in err and "context" not in err.partition(";")[0], (line, err)


@pytest.mark.parametrize("words", ["--kubeconfig kc3.yaml waypoint apply -n team-a --name wp",
                                   "--kubeconfig kc3.yaml uninstall", "--kubeconfig kc1.yaml --context zzz status"])
def test_no_context_is_picked_for_a_change_or_for_one_typed(words, kubeconfigs, state_root, capsys,  # noqa: F811
                                                            offline) -> None:  # noqa: F811
    """Which cluster a real change goes to, or which stands for a context typed that is
    close to none, is the user's to pick: the contexts are listed, no line picks one."""
    said, offered = _lines(capsys, words)
    assert offered == [] and "pass --context with one of them (see 'kmeshctl " in said, said


def test_a_context_slip_still_offers_only_the_one_meant(kubeconfigs, state_root, capsys,  # noqa: F811
                                                        offline) -> None:  # noqa: F811
    said, offered = _lines(capsys, "--kubeconfig kc5.yaml status")
    assert offered == ["kmeshctl --kubeconfig kc5.yaml --context prod status"], said


# ------------------------------------------------------------------ 2. one context: no "another context"


@pytest.mark.parametrize("words", ["--kubeconfig kc8.yaml status", "--kubeconfig kc8.yaml status -q=1"])
def test_a_missing_cluster_with_no_other_context_says_only_what_applies(words, kubeconfigs, state_root,  # noqa: F811
                                                                        capsys, offline) -> None:  # noqa: F811
    said = _line(capsys, *shlex.split(words))
    assert "names cluster missing, which is not there (clusters: c); add it" in said, said
    assert "another context" not in said, said


def test_a_missing_cluster_beside_other_contexts_still_offers_them(kubeconfigs, capsys,  # noqa: F811
                                                                   offline) -> None:  # noqa: F811
    (kubeconfigs / "kc10.yaml").write_text((kubeconfigs / "kc8.yaml").read_text() +
                                           "- name: other\n  context: {cluster: c, user: u}\n")
    said = _line(capsys, "--kubeconfig", "kc10.yaml", "status")
    assert said.endswith("add it, or pass --context NAME of another context (see 'kmeshctl status --help')"), said


# ------------------------------------------------------------------ 3. $KUBECONFIG said whatever else is wrong


@pytest.mark.parametrize("words", ["status -q=1", "status -n Foo", "status"])
def test_a_kubeconfig_from_the_variable_is_said_so(words, kubeconfigs, state_root, capsys,  # noqa: F811
                                                   offline, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("KUBECONFIG", "kc5.yaml")
    said, offered = _lines(capsys, words)
    assert "kubeconfig kc5.yaml (from $KUBECONFIG): current-context Prod" in said, said
    assert offered and all("--context prod" in line and "--kubeconfig" not in line for line in offered), said


# ------------------------------------------------------------------ 4. the reason no line is offered


def test_the_refused_context_namespace_is_the_reason_said(kubeconfigs, state_root, stubbed, capsys,  # noqa: F811
                                                          offline) -> None:  # noqa: F811
    said, offered = _lines(capsys, "--kubeconfig kc1.yaml --context dev waypoint apply --enroll-namespace --name wp")
    assert offered == [], said
    assert "no line is offered: waypoint apply changes the cluster, and the namespace it would use, kube-system " \
           "(from context dev), is refused; -n default is only an example" in said, said


# ------------------------------------------------------------------ 5. a whole-number decimal for an integer


@pytest.mark.parametrize("words,line", [
    ("dump config --admin-port 15200.0", "kmeshctl dump config --admin-port 15200"),
    ("dump config --admin-port=+15200.00", "kmeshctl dump config --admin-port=15200"),
    ("demo traffic-shift --target cluster -c 5.", "kmeshctl demo traffic-shift --target cluster -c 5"),
    ("dump config --admin-port 15200.0 -o jsn", "kmeshctl dump config --admin-port 15200 -o json"),
], ids=["port", "equals-plus", "count-trailing-dot", "with-another"])
def test_a_whole_number_decimal_offers_the_integer(words, line, state_root, stubbed, capsys,  # noqa: F811
                                                   offline) -> None:  # noqa: F811
    said, offered = _lines(capsys, words)
    assert offered == [line], said
    assert "did you mean" in said, said


@pytest.mark.parametrize("value", ["15200.5", "99999.0", "0.0"])
def test_a_decimal_no_integer_of_the_range_spells_gets_the_range(value, capsys, offline) -> None:  # noqa: F811
    said = _line(capsys, "dump", "config", "--admin-port", value)
    assert f"--admin-port {value}: not an integer; use an integer from 1 to 65535" in said, said


# ------------------------------------------------------------------ 6. demo: a sandbox beside a cluster


@pytest.mark.parametrize("words,lines", [
    ("demo traffic-shift --target cluster --waypoint wp --sandbox t47-x",
     ["kmeshctl demo traffic-shift --sandbox t47-x --target local",
      "kmeshctl demo traffic-shift --waypoint wp --target cluster"]),
    ("demo traffic-shift --target cluster --waypoint wp --sandbox t47-x -o jsn",
     ["kmeshctl demo traffic-shift --sandbox t47-x -o json --target local",
      "kmeshctl demo traffic-shift --waypoint wp -o json --target cluster"]),
    ("demo traffic-shift --target cluster --sandbox t47-x -c 5.0",
     ["kmeshctl demo traffic-shift --sandbox t47-x -c 5 --target local",
      "kmeshctl demo traffic-shift -c 5 --target cluster"]),
    ("demo traffic-shift --target cluster --waypoint Wp_1 --sandbox t47-x",
     ["kmeshctl demo traffic-shift --sandbox t47-x --target local",
      "kmeshctl demo traffic-shift --waypoint wp-1 --target cluster"]),
    ("demo traffic-shift --target cluster --waypoint Wp_1 --sandbox t47-x -o jsn",
     ["kmeshctl demo traffic-shift --sandbox t47-x -o json --target local",
      "kmeshctl demo traffic-shift --waypoint wp-1 -o json --target cluster"]),
], ids=["waypoint", "waypoint-and-output", "count", "waypoint-mended", "waypoint-mended-and-output"])
def test_a_sandbox_beside_a_cluster_gives_the_two_real_lines(words, lines, state_root,  # noqa: F811
                                                             capsys, offline) -> None:  # noqa: F811
    said, offered = _lines(capsys, words)
    assert offered == lines, said
    assert not LABEL_ALONE.search(said), said
    assert "run on a cluster (--target cluster)" not in said, said
    if "Wp_1" in words:  # the waypoint name mended in the cluster's line is said, never silently changed
        assert "--waypoint Wp_1 given as wp-1" in said or "did you mean --waypoint wp-1?" in said, said


# ------------------------------------------------------------------ 7. demo -n of a system namespace


@pytest.mark.parametrize("words,line", [
    ("demo traffic-shift --target cluster -n kube-system", "kmeshctl demo traffic-shift --target cluster"),
    ("demo traffic-shift --target cluster --namespace=istio-system -o jsn",
     "kmeshctl demo traffic-shift --target cluster -o json"),
    ("demo traffic-shift --target cluster -n kube-system -c 5.0", "kmeshctl demo traffic-shift --target cluster -c 5"),
], ids=["alone", "with-output", "with-count"])
def test_a_system_namespace_for_the_demo_on_a_cluster_is_refused_offline(words, line, state_root,  # noqa: F811
                                                                         capsys, offline) -> None:  # noqa: F811
    said, offered = _lines(capsys, words)
    assert offered == [line], said
    assert "enrolling it (the demo labels its namespace for kmesh) makes no sense (nothing was changed)" in said, said
    assert "no cluster configured" not in said, said
    assert line_works(shlex.split(line), ROOT)


def test_the_demo_namespace_check_is_in_the_body_too(capsys, offline) -> None:  # noqa: F811
    """The command's own check refuses before it looks for a cluster (none configured)."""
    said = _line(capsys, "demo", "traffic-shift", "--target", "cluster", "-n", "kmesh-system")
    assert said.startswith("Error: -n kmesh-system: namespace kmesh-system is kmesh's own"), said
    assert "`kmeshctl demo traffic-shift --target cluster`" in said, said
