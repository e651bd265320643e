"""Pass-43 fixer f43a (t42b 8 and 3): one error names every bad value of a line, and a line
offered is one the tool then accepts.

- an on/off mistake (`--wait --no-wait`, `--quiet=maybe`, `--wait=true`) is said with the
  line's other bad values, with the lines that work each way (badinput.either_lines);
- a CONFLICTS pair (`--dry-run --wait`) is said with the other bad values, with the line
  keeping each flag (badinput.mended_lines);
- --revision, --crd-file, dump's `--pod NS/NAME -n NS2` and `--pod ... --bpf-fs`, a reserved
  -n beside a bad --istio-namespace, and the typed --kubeconfig/--context and the context's
  namespace are checked at parse time (VALUE_CHECKS), with the others;
- a suggested line its checks refuse is mended into the lines that work (`A` or `B`),
  never offered as it is.

In-process through kmeshctl.cli.main, every command's own work stubbed (no cluster configured).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
import typer

from kmeshctl.cli import app
from kmeshctl.cli.badinput import line_works
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import _assert_pastable, _line, _pasted_lines, stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401

ROOT = typer.main.get_command(app)
NONE = f"/nonexist-f43a-{os.getpid()}"


def _offered(capsys, *words: str) -> tuple[str, list[list[str]]]:
    """The error line of ``words`` and the lines it offers, each checked to work (line_works)
    and to get past every check when pasted."""
    line = _line(capsys, *words)
    offered = _pasted_lines(line)
    for each in offered:
        assert line_works(each, ROOT), (each, line)
    _assert_pastable(capsys, line)
    return line, offered


def _words(*lines: str) -> list[list[str]]:
    return [shlex.split(line) for line in lines]


# ------------------------------------------------------------------ on/off mistakes with other values (t42b 8a)


@pytest.mark.parametrize("words,said,lines", [
    (["install", "--cluster-id", "c1", "--xds-address", "x", "--wait", "--no-wait", "-n", "Foo"],
     ["--wait and --no-wait both given", "-n Foo", "--xds-address x: missing port"],
     _words("kmeshctl install --cluster-id c1 --xds-address x:15012 --wait -n foo",
            "kmeshctl install --cluster-id c1 --xds-address x:15012 --no-wait -n foo")),
    (["demo", "traffic-shift", "--quiet=maybe", "-c", "0"], ["Option '--quiet' does not take a value", "-c 0"],
     _words("kmeshctl demo traffic-shift --quiet", "kmeshctl demo traffic-shift")),
    (["disable-ns", "default", "--no-wait", "--wait", "-o", "jsn"], ["--no-wait and --wait both given", "-o jsn"],
     _words("kmeshctl disable-ns default --no-wait -o json", "kmeshctl disable-ns default --wait -o json")),
    (["enable-ns", "-n", "Default", "--wait=yes", "-o", "jsn"],
     ["Option '--wait' does not take a value", "-o jsn", "namespace Default"],
     _words("kmeshctl enable-ns default --wait -o json")),
    (["install", "--cluster-id", "c1", "--xds-address", "x:1", "--dry-run", "--wait", "--quiet=maybe"],
     ["Option '--quiet' does not take a value", "--dry-run and --wait do not go together"],
     # pass 44 (t43b 1): --dry-run typed, no line without it (it would install for real)
     _words("kmeshctl install --cluster-id c1 --xds-address x:1 --dry-run --quiet",
            "kmeshctl install --cluster-id c1 --xds-address x:1 --dry-run")),
], ids=["both-ways", "quiet-maybe", "both-ways-o", "wait-yes-n", "quiet-conflict"])
def test_an_on_off_mistake_is_said_with_the_other_bad_values(words, said, lines, state_root, stubbed,  # noqa: F811
                                                             capsys, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *words)
    for each in said:
        assert each in line, line
    assert "; also " in line and "every value mended" in line, line
    assert offered == lines, line


# ------------------------------------------------------------------ a CONFLICTS pair with other values (t42b 8b)


@pytest.mark.parametrize("words,said,lines", [
    (["install", "--cluster-id", "c1", "--xds-address", "x", "--dry-run", "--wait", "--timeout", "5x"],
     ["--xds-address x", "--dry-run and --wait do not go together", "--timeout 5x"],
     _words("kmeshctl install --cluster-id c1 --xds-address x:15012 --dry-run")),  # pass 44: never without it
    (["waypoint", "apply", "-n", "default", "--replicas", "21", "--wait", "--dry-run"],
     ["--replicas 21", "--dry-run and --wait do not go together"],
     _words("kmeshctl waypoint apply -n default --dry-run")),
], ids=["install", "waypoint"])
def test_a_conflict_is_said_with_the_other_bad_values(words, said, lines, state_root, stubbed, capsys,  # noqa: F811
                                                      offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *words)
    for each in said:
        assert each in line, line
    assert offered == lines, line


# ------------------------------------------------------------------ body checks at parse time (t42b 8c)


@pytest.mark.parametrize("words,said", [
    (["waypoint", "apply", "-n", "default", "--revision", "Bad Rev", "--image", "", "--timeout", "25h"],
     ["--revision 'Bad Rev': not a valid revision", "--image ''", "--timeout 25h"]),
    (["render", "--xds-address", "x", "--cluster-id", "c1", "--network", "Bad Net", "--crd-file", NONE + ".yaml"],
     ["--xds-address x", "--network 'Bad Net'", f"--crd-file {NONE}.yaml: does not exist"]),
    (["render", "--xds-address", "x", "--cluster-id", "c1", "--crd-file", NONE + ".yaml"],
     ["--xds-address x", f"--crd-file {NONE}.yaml: does not exist"]),
    (["render", "--xds-address", "x", "--cluster-id", "c1", "-n", "kube-system", "--istio-namespace", "Istio_System"],
     ["--xds-address x", "-n kube-system: reserved", "--istio-namespace Istio_System"]),
    (["dump", "config", "--pod", "pod/Kmesh_1", "-n", "Kmesh-System", "--admin-port", "99999", "-o", "yml"],
     ["--pod pod/Kmesh_1", "-n Kmesh-System", "--admin-port 99999", "-o yml"]),
], ids=["revision", "crd-file-with-others", "crd-file-and-address", "reserved-n", "pod-slash"])
def test_a_body_check_is_said_with_the_others(words, said, state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *words)
    for each in said:
        assert each in line, line
    assert line.count("; also ") >= len(said) - 1, line
    for each in offered:  # a value no check mends is never kept in a line offered
        assert not {"Bad Rev", NONE + ".yaml", "kube-system", "pod/Kmesh_1"} & set(each), line


def test_a_mended_revision_is_in_the_line(state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "waypoint", "apply", "-n", "default", "-r", "Bad_Rev", "--timeout", "25h")
    assert "-r Bad_Rev: not a valid revision" in line and "--timeout 25h" in line, line
    assert offered == _words("kmeshctl waypoint apply -n default -r bad-rev"), line


def test_dump_pod_with_two_namespaces_and_a_bad_output(state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "dump", "config", "--pod", "kube-system/kmesh-1", "-n", "kmesh-system", "-o",
                             "yml")
    assert "name two namespaces; give one; also -o yml" in line, line
    assert offered == _words("kmeshctl dump config -o yaml --pod kmesh-1 -n kube-system",
                             "kmeshctl dump config -o yaml --pod kmesh-1 -n kmesh-system"), line


@pytest.mark.skipif(not any(line.split()[2:3] == ["bpf"] for line in Path("/proc/mounts").read_text().splitlines()
                            if line.split()[1:2] == ["/sys/fs/bpf"]), reason="no bpffs at /sys/fs/bpf")
def test_dump_pod_with_a_local_data_path_offers_each(state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "dump", "maps", "--pod", "Kmesh_1", "--bpf-fs", "/sys/fs/bpf", "-o", "jsn")
    assert "--pod Kmesh_1" in line and "-o jsn" in line, line
    assert offered == _words("kmeshctl dump maps --pod kmesh-1 -o json",
                             "kmeshctl dump maps --bpf-fs /sys/fs/bpf -o json"), line


# ------------------------------------------------------------------ the kubeconfig's side (t42b 8d)


@pytest.fixture
def kubeconfig(tmp_path: Path) -> str:
    path = tmp_path / f"kc-f43a-{os.getpid()}.yaml"
    path.write_text("""apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: x}
contexts:
- name: prod
  context: {cluster: c, user: u, namespace: default}
- name: dev
  context: {cluster: c, user: u, namespace: kube-system}
- name: bad
  context: {cluster: c, user: u, namespace: Team_B}
current-context: prod
""")
    return str(path)


@pytest.mark.parametrize("words,said", [
    (["status", "--context", "prod cluster", "-o", "jsn"], ["--context 'prod cluster': no such context", "-o jsn"]),
    (["--context", "dev", "waypoint", "apply", "--dry-run", "--name", "1a"],
     ["--name 1a", "namespace kube-system (from context dev) is Kubernetes' own"]),
    (["--context", "bad", "waypoint", "apply", "--dry-run", "--name", "1a"], ["--name 1a", "namespace Team_B"]),
], ids=["context", "context-namespace-reserved", "context-namespace-invalid"])
def test_the_kubeconfig_s_values_are_said_with_the_others(words, said, kubeconfig, state_root, stubbed,  # noqa: F811
                                                          capsys, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "--kubeconfig", kubeconfig, *words)
    for each in said:
        assert each in line, line
    assert "; also " in line, line
    assert not any("prod cluster" in each or "Team_B" in each for each in offered), line


def test_a_reserved_context_namespace_is_mended_with_the_other_values(kubeconfig, state_root, stubbed,  # noqa: F811
                                                                      capsys, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "--kubeconfig", kubeconfig, "--context", "dev", "waypoint", "apply", "--dry-run",
                             "--name", "1a")
    assert "namespace kube-system (from context dev) is Kubernetes' own" in line and "--name 1a" in line, line
    assert offered == [["kmeshctl", "--kubeconfig", kubeconfig, "--context", "dev", "waypoint", "apply", "--dry-run",
                        "--name", "w-1a", "-n", "default"]], line


def test_a_missing_kubeconfig_is_said_with_the_others(state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "--kubeconfig", NONE + ".yaml", "status", "-o", "jsn")
    assert f"--kubeconfig {NONE}.yaml: does not exist" in line and "; also -o jsn" in line, line
    assert not offered, line


# ------------------------------------------------------------------ suggested lines that work (t42b 3)


@pytest.mark.parametrize("words,lines", [
    (["install", "--cluster-id", "c1", "--xds-address", "x:1", "--wait=true", "--dry-run"],
     _words("kmeshctl install --cluster-id c1 --xds-address x:1 --dry-run")),  # pass 44: never without it
    (["waypoint", "apply", "-n", "default", "--wait=1", "--replicas=0"],
     _words("kmeshctl waypoint apply -n default --replicas=0", "kmeshctl waypoint apply -n default --wait --replicas=1")),
    (["disable-ns", "default", "--no-wait", "--wait", "-q=1"],
     _words("kmeshctl disable-ns default --no-wait -q", "kmeshctl disable-ns default --wait -q")),
    (["install", "--cluster-id", "c1", "--xds-address", "x:1", "--wait", "--no-wait", "--dry-run=yes"],
     _words("kmeshctl install --cluster-id c1 --xds-address x:1 --no-wait --dry-run")),
    (["waypoint", "apply", "my-wp", "-n", "default", "--dry-run", "--wait"],
     _words("kmeshctl waypoint apply --name my-wp -n default --dry-run")),
], ids=["wait-true-dry-run", "wait-1-replicas-0", "both-ways-q", "both-ways-dry-run-yes", "stray-conflict"])
def test_a_suggested_line_is_mended_into_the_lines_that_work(words, lines, state_root, stubbed,  # noqa: F811
                                                             capsys, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *words)
    assert offered == lines, line
    assert "(then fix" not in line, line


def test_a_line_that_cannot_be_mended_each_way_still_says_what_to_fix(state_root, stubbed, capsys,  # noqa: F811
                                                                       offline) -> None:  # noqa: F811
    """`--dry-run` needs --xds-address offline: the dry run kept, --wait left out and said so, and the
    flag it needs said (pass 48, t47a: never the line with both and "(then fix ...)")."""
    line = _line(capsys, "--dry-run", "install", "--cluster-id", "c1", "--wait")
    assert "`kmeshctl install --dry-run --cluster-id c1` (--wait left out: --dry-run and --wait do not go together" \
        in line and "(then give --xds-address" in line and "then fix" not in line, line


def test_a_flag_after_dashes_is_offered_spelled_as_it_works(state_root, capsys, offline) -> None:  # noqa: F811
    """enable-ns' body says `--wait=yes` after `--` (not stubbed: the check is its own)."""
    code, out, err = cli(capsys, "enable-ns", "default", "--", "--wait=yes")
    assert code == 2 and not out, err
    offered = _pasted_lines(err)
    assert offered == _words("kmeshctl enable-ns default --wait") and "(then fix" not in err, err
    assert all(line_works(each, ROOT) for each in offered), err


@pytest.mark.parametrize("words", [["dump", "maps", "-o", "jsn"], ["sandbox", "status", "-o", "jsn"]],
                         ids=lambda v: " ".join(v[:2]))
def test_a_bad_sandbox_name_from_the_environment_is_said_with_the_others(words, state_root, stubbed, capsys,  # noqa: F811
                                                                        offline, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("KMESHCTL_SANDBOX_NAME", "Bad_1")
    line, offered = _offered(capsys, *words)
    assert "-o jsn" in line and "; also $KMESHCTL_SANDBOX_NAME=Bad_1: not a sandbox name" in line, line
    assert not offered, line  # pasted, the variable would refuse it again


def test_a_bad_run_id_is_said_with_an_on_off_mistake(state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "bench", "cleanup", "--run-id", "X!", "--ignore-not-found=1")
    assert "Option '--ignore-not-found' does not take a value" in line and "; also --run-id 'X!': not a run id" in line
    assert not offered, line


def test_an_on_off_value_with_both_ways_and_bad_values_names_each_once(state_root, stubbed, capsys,  # noqa: F811
                                                                      offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "install", "--cluster-id", "c1", "--xds-address", "x", "--wait", "--no-wait",
                             "--dry-run=maybe", "-n", "Foo", "--timeout", "9x", "-o", "jsn")
    for each in ("Option '--dry-run' does not take a value", "--wait and --no-wait both given", "--timeout 9x:",
                 "-o jsn", "-n Foo", "--xds-address x: missing port"):  # `--timeout 9x left out` too (p46_f46d)
        assert line.count(each) == 1, (each, line)
    assert line.count("every value mended") == 1 and offered, line
    for each in offered:
        assert {"x:15012", "foo", "json"} <= set(each) and not {"--wait", "--no-wait"} <= set(each), line
