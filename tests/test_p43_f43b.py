"""Pass-43 fixer f43b (t42b 5, 6, 7, 10, 14, 15): the lines a bad value's error offers keep
every other value as typed (never `None` for a value click refused), a choice between two
ways (`--wait --replicas 0`, a sandbox beside a cluster) is offered as both lines with every
other value mended, the demo's sandbox-beside-cluster refusal is made at parse time (a mended
line naming both is never offered), dump's --sandbox mends as the demo's does, enable-ns keeps
its `--` and leaves an empty word (and kubectl's `-v 6` after `--`) out, and the kubectl line
of `--enroll-namespace` gives the namespace as the kmeshctl line does.

In-process through kmeshctl.cli.main (no cluster configured; sandbox records in tmp_path).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import typer

from kmeshctl.cli import app
from kmeshctl.cli.badinput import line_works
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import _line, _pasted_lines, stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401

ROOT = typer.main.get_command(app)

KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- cluster: {server: "https://127.0.0.1:1"}
  name: c1
contexts:
- context: {cluster: c1, user: u1, namespace: default}
  name: dev
current-context: dev
users:
- name: u1
  user: {token: abc}
"""


def _works(words: list[str]) -> bool:
    return line_works(words, ROOT)


def _offered(line: str) -> list[list[str]]:
    """The `kmeshctl ...` lines ``line`` offers, each asserted to work when pasted."""
    found = _pasted_lines(line)
    for words in found:
        assert _works(words), (shlex.join(words), line)
    return found


def _k(*words: str) -> list[str]:
    return ["kmeshctl", *words]


@pytest.fixture
def kubeconfig(tmp_path: Path) -> str:
    path = tmp_path / "kc1.yaml"
    path.write_text(KUBECONFIG)
    return str(path)


# ------------------------------------------------------------------ t42b 5: the demo's --sandbox


@pytest.mark.parametrize("words,lines", [
    (["--sandbox", "Demo_1", "--target", "clusters"],
     [_k("demo", "traffic-shift", "--sandbox", "demo-1", "--target", "local"),
      _k("demo", "traffic-shift", "--target", "cluster")]),
    (["--sandbox", "Bad_1", "-c", "0"], [_k("demo", "traffic-shift", "--sandbox", "bad-1")]),
    (["--name", "Demo", "--target", "cluster"],
     [_k("demo", "traffic-shift", "--name", "demo", "--target", "local"),
      _k("demo", "traffic-shift", "--target", "cluster")]),
], ids=lambda v: " ".join(v) if isinstance(v, list) and v and isinstance(v[0], str) else "")
def test_demo_sandbox_mended_beside_another_bad_value(words, lines, state_root, stubbed, capsys,  # noqa: F811
                                                      offline) -> None:  # noqa: F811
    line = _line(capsys, "demo", "traffic-shift", *words)
    assert "None" not in line and "every value mended" in line, line
    assert _offered(line) == lines, line
    assert "(sandbox Demo)" not in line, line


def test_a_sandbox_beside_a_cluster_is_refused_when_a_line_is_checked(state_root, offline) -> None:  # noqa: F811
    assert not _works(_k("demo", "traffic-shift", "--sandbox", "demo-1", "--target", "cluster"))
    assert _works(_k("demo", "traffic-shift", "--sandbox", "demo-1", "--target", "local"))


def test_demo_cluster_flag_beside_sandbox_and_a_bad_choice(kubeconfig, state_root, stubbed, capsys,  # noqa: F811
                                                           offline) -> None:  # noqa: F811
    line = _line(capsys, "demo", "traffic-shift", "--kubeconfig", kubeconfig, "--sandbox", "demo", "-o", "jsn")
    assert "give one of them, leave --kubeconfig" in line and "or leave --sandbox demo out, --target cluster" in line
    assert _offered(line) == [_k("demo", "traffic-shift", "--sandbox", "demo", "-o", "json", "--target", "local"),
                              _k("demo", "traffic-shift", "--kubeconfig", kubeconfig, "-o", "json", "--target",
                                 "cluster")], line


# ------------------------------------------------------------------ t42b 6, 7: --wait --replicas 0


def test_wait_with_no_replicas_beside_a_bad_timeout_keeps_the_kubeconfig(kubeconfig, state_root, stubbed,  # noqa: F811
                                                                         capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, "--kubeconfig", kubeconfig, "waypoint", "apply", "-n", "default", "--replicas", "0",
                 "--wait", "--timeout", "9x")
    assert "None" not in line and "leave --kubeconfig" not in line, line
    assert "give it a pod and wait: --replicas 1" in line, line
    assert _offered(line) == [_k("--kubeconfig", kubeconfig, "waypoint", "apply", "-n", "default", "--replicas", "0"),
                              _k("--kubeconfig", kubeconfig, "waypoint", "apply", "-n", "default", "--replicas", "1",
                                 "--wait")], line


@pytest.mark.parametrize("words,lines", [
    (["-n", "default", "--replicas", "0", "--wait", "--name", "Wp1"],  # p47: 1wp's w-1wp, an example, gets no line
     [_k("waypoint", "apply", "-n", "default", "--replicas", "0", "--name", "wp1"),
      _k("waypoint", "apply", "-n", "default", "--replicas", "1", "--wait", "--name", "wp1")]),
    (["-n", "default", "--wait=yes", "--replicas", "0"],  # t42b 7: never --replicas 1 alone, unsaid
     [_k("waypoint", "apply", "-n", "default", "--replicas", "0"),
      _k("waypoint", "apply", "-n", "default", "--wait", "--replicas", "1")]),
], ids=lambda v: " ".join(v) if isinstance(v, list) and v and isinstance(v[0], str) else "")
def test_wait_with_no_replicas_offers_both_ways_mended(words, lines, state_root, stubbed, capsys,  # noqa: F811
                                                       offline) -> None:  # noqa: F811
    line = _line(capsys, "waypoint", "apply", *words)
    assert "--wait with --replicas 0" in line and "without waiting:," not in line, line
    assert _offered(line) == lines, line


def test_wait_with_no_replicas_alone_keeps_the_order_typed(kubeconfig, state_root, capsys,  # noqa: F811
                                                           offline) -> None:  # noqa: F811
    line = _line(  # the body's own check (one bad value): not stubbed; it refuses before connecting
        capsys, "--kubeconfig", kubeconfig, "waypoint", "apply", "--replicas=0", "--wait", "--timeout", "5m")
    assert _offered(line) == [
        _k("--kubeconfig", kubeconfig, "waypoint", "apply", "-n", "default", "--replicas=0"),
        _k("--kubeconfig", kubeconfig, "waypoint", "apply", "-n", "default", "--replicas=1", "--wait", "--timeout",
           "5m")], line


# ------------------------------------------------------------------ t42b 10: every value mended


@pytest.mark.parametrize("words,mended", [
    (["demo", "traffic-shift", "--weights", "90:10", "-o", "jsn"],
     _k("demo", "traffic-shift", "--weights", "90/10", "-o", "json")),
    (["demo", "traffic-shift", "--weights", "90:10", "-n", "Default"],
     _k("demo", "traffic-shift", "--weights", "90/10", "-n", "default")),
    (["render", "--xds-address", "x", "--cluster-id", "c1", "-n", "kube-system"],
     _k("render", "--xds-address", "x:15012", "--cluster-id", "c1", "-n", "kmesh-system")),
    (["dump", "config", "--sandbox", "Demo_1", "--admin-port", "0"], _k("dump", "config", "--sandbox", "demo-1")),
    (["dump", "maps", "--sandbox", "Demo_1", "-o", "jsn"], _k("dump", "maps", "--sandbox", "demo-1", "-o", "json")),
], ids=lambda v: " ".join(v) if isinstance(v, list) and v and v[0] != "kmeshctl" else "")
def test_values_mended_in_prose_are_mended_in_the_line(words, mended, state_root, stubbed, capsys,  # noqa: F811
                                                       offline) -> None:  # noqa: F811
    line = _line(capsys, *words)
    assert "every value mended" in line and _offered(line) == [mended], line


def test_dump_sandbox_alone_mends_as_the_demo_does(state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, "dump", "maps", "--sandbox", "Demo_1")
    assert "did you mean --sandbox demo-1?" in line, line
    assert _offered(line) == [_k("dump", "maps", "--sandbox", "demo-1")], line


@pytest.mark.parametrize("words,mended", [
    (["--", "kube-system", "Default"], _k("enable-ns", "--", "default")),
    (["--", "", "default"], _k("enable-ns", "--", "default")),
    (["", "default"], _k("enable-ns", "default")),
    (["", "Default"], _k("enable-ns", "default")),
], ids=lambda v: shlex.join(v) if isinstance(v, list) and v and v[0] != "kmeshctl" else "")
def test_enable_ns_mends_after_the_separator_and_leaves_an_empty_word_out(words, mended, state_root,  # noqa: F811
                                                                          capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, "enable-ns", *words)  # the body's own check (one bad value): not stubbed
    assert _offered(line) == [mended], line


# ------------------------------------------------------------------ t42b 14, 15


@pytest.mark.parametrize("words,mended", [
    (["default", "--", "-v", "6"], _k("enable-ns", "default")),
    (["--", "-v", "6", "default"], _k("enable-ns", "default")),
    (["default", "--", "--v=6"], _k("enable-ns", "default")),
], ids=" ".join)
def test_kubectl_verbosity_after_the_separator_goes_with_its_level(words, mended, state_root, capsys,  # noqa: F811
                                                                   offline) -> None:  # noqa: F811
    line = _line(capsys, "enable-ns", *words)
    assert "default 6" not in line and "names no namespace" not in line, line
    assert _offered(line) == [mended], line


def test_enroll_namespace_kubectl_line_gives_the_namespace_mended(kubeconfig, state_root, stubbed,  # noqa: F811
                                                                  capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, "waypoint", "apply", "--enroll-namespace", "-n", "Default", "--kubeconfig", kubeconfig)
    assert f"`kubectl label namespace default istio.io/use-waypoint=waypoint --kubeconfig {kubeconfig}`" in line, line
    assert _offered(line) == [_k("waypoint", "apply", "-n", "default", "--kubeconfig", kubeconfig)], line
