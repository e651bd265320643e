"""Pass-41 fixer f41a (t41b 3, 11, 2's `--wait --replicas 0`; t40b 4): the checks commands
made in their bodies are made at parse time too (badinput.VALUE_CHECKS), so a line with
several bad values says every one in one error, with one line that works when every value
can be mended, and a suggested line is never one those checks refuse:

- waypoint apply/status/delete's --name, apply's `--wait --replicas 0` and reserved -n;
- enable-ns / disable-ns's NAMESPACE... (names, Kubernetes' own namespaces);
- node run's --instance-ip, --xds-tls-server-name, --xds-root-cert and --xds-token,
  --cgroup2-path; node cleanup's directories; dump maps' --bpf-fs; the demo's --sandbox;
- an extra positional word and an empty value (`--image ''`) beside other bad values;
- a name mended to one the command refuses (`-n Kube-System` -> kube-system) is not offered.

In-process through kmeshctl.cli.main, every command's own work stubbed (no cluster configured).
"""

from __future__ import annotations

import os
import shlex

import pytest
import typer

from kmeshctl.cli import app
from kmeshctl.cli.badinput import line_problems, line_works
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import _assert_pastable, _line, _pasted_lines, stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401

ROOT = typer.main.get_command(app)
NONE = f"/nonexist-f41a-{os.getpid()}"


def _works(line: str) -> bool:
    return line_works(shlex.split(line), ROOT)


# ------------------------------------------------------------------ every bad value, one line


@pytest.mark.parametrize("words,said,mended", [
    (["waypoint", "apply", "--dry-run", "--name", "East", "-n", "Foo_Bar"], ["--name East", "-n Foo_Bar"],
     ["waypoint", "apply", "--dry-run", "--name", "east", "-n", "foo-bar"]),
    (["waypoint", "status", "--name", "East", "-n", "Foo"], ["--name East", "-n Foo"],
     ["waypoint", "status", "--name", "east", "-n", "foo"]),
    (["waypoint", "delete", "-n", "Foo", "--name", "W1"], ["-n Foo", "--name W1"],
     ["waypoint", "delete", "-n", "foo", "--name", "w1"]),
    (["waypoint", "apply", "--dry-run", "--name", "gateway/east", "--replicas", "-1"],
     ["--name gateway/east", "--replicas -1"], ["waypoint", "apply", "--dry-run", "--name", "east"]),
    (["enable-ns", "Foo_Bar", "kube-system"], ["namespace Foo_Bar", "namespace kube-system is Kubernetes' own"],
     ["enable-ns", "foo-bar"]),
    (["node", "run", "--cluster-id", "c1", "extra", "--log-level", "Debug"], ["--log-level Debug", "(extra)"],
     ["node", "run", "--cluster-id", "c1", "--log-level", "debug"]),
], ids=lambda v: " ".join(v) if isinstance(v, list) and v and v[0] in ("waypoint", "enable-ns", "node") else "")
def test_every_bad_value_is_said_with_one_line_that_works(words, said, mended, state_root, stubbed,  # noqa: F811
                                                          capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, *words)
    for each in said:
        assert each in line, line
    assert "; also " in line and "every value mended" in line, line
    assert _pasted_lines(line)[-1] == ["kmeshctl", *mended], line
    _assert_pastable(capsys, line)


@pytest.mark.parametrize("words,said", [
    (["node", "run", "--instance-ip", "999.1.1.1", "--xds-tls-server-name", "a b", "--pod-namespace", "Kmesh_System"],
     ["--instance-ip 999.1.1.1: not an IP address", "--xds-tls-server-name 'a b': not a host name",
      "--pod-namespace Kmesh_System"]),
    (["node", "run", "--xds-root-cert", NONE + ".pem", "--xds-token", NONE, "--cgroup2-path", NONE + "-cg"],
     [f"--xds-root-cert {NONE}.pem: does not exist", f"--xds-token {NONE}: does not exist",
      f"--cgroup2-path {NONE}-cg: is not a cgroup v2 directory"]),
    (["node", "cleanup", "--cni-conf-dir", NONE + "1", "--cni-bin-dir", NONE + "2", "--cgroup2-path", NONE + "3",
      "--bpf-fs", NONE + "4"], [f"--cni-conf-dir {NONE}1", f"--cni-bin-dir {NONE}2", f"--cgroup2-path {NONE}3",
                                f"--bpf-fs {NONE}4: does not exist"]),
    (["node", "cleanup", "--bpf-fs", "/tmp", "--cgroup2-path", NONE], ["--bpf-fs /tmp: is not on a bpf filesystem",
                                                                      f"--cgroup2-path {NONE}: does not exist"]),
    (["install", "--cluster-id", "c1", "--timeout", "25h", "--network", "x y", "--image", ""],
     ["--timeout 25h", "--network 'x y'", "--image '': empty value"]),
    (["node", "run", "--xds-address", "foo", "--cluster-id", ""], ["--xds-address foo", "--cluster-id '': empty"]),
    (["demo", "traffic-shift", "--sandbox", "T41A-1", "-c", "0"], ["--sandbox T41A-1", "-c 0"]),
    (["dump", "maps", "--bpf-fs", "/sys/fs/bpf/" + NONE.strip("/"), "--map", "x"], ["--bpf-fs", "--map x"]),
    (["node", "run", "c1", "--admin-port", "0"], ["--admin-port 0", "(c1)"]),
], ids=lambda v: " ".join(v[:3]) if isinstance(v, list) and v and v[0] in ("node", "install", "demo", "dump")
    else "")
def test_each_bad_value_is_said_in_one_error(words, said, state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, *words)
    for each in said:
        assert each in line, line
    assert line.count("; also ") >= len(said) - 1, line
    _assert_pastable(capsys, line)


# ------------------------------------------------------------------ what line_works sees


@pytest.mark.parametrize("line,problem", [
    ("kmeshctl waypoint apply --name East", "--name East: not a valid waypoint name"),
    ("kmeshctl waypoint delete --name W1", "--name W1"),
    ("kmeshctl waypoint apply -n foo --replicas 0 --wait", "--wait with --replicas 0"),
    ("kmeshctl waypoint apply -n kube-system", "namespace kube-system is Kubernetes' own"),
    ("kmeshctl enable-ns Team-A", "namespace Team-A"),
    ("kmeshctl enable-ns default kube-system", "namespace kube-system is Kubernetes' own"),
    ("kmeshctl render --cluster-id c1 --xds-address 10.0.0.7:15012 -n kube-system", "-n kube-system: reserved"),
    ("kmeshctl node run --instance-ip 999.1.1.1", "--instance-ip 999.1.1.1: not an IP address"),
    ("kmeshctl node run --xds-tls-server-name 'a b'", "not a host name"),
])
def test_a_check_made_in_a_body_is_seen_by_line_works(line, problem, state_root, offline) -> None:  # noqa: F811
    assert not _works(line)
    assert any(problem in found for found in line_problems(shlex.split(line), ROOT)), line_problems(
        shlex.split(line), ROOT)


@pytest.mark.parametrize("line", [
    "kmeshctl waypoint apply -n foo --replicas 0",
    "kmeshctl waypoint apply --dry-run --replicas 0 --wait -n foo --name east",  # the conflict, not the pods, says it
    "kmeshctl enable-ns default team-a",
    "kmeshctl node run --instance-ip 10.0.0.7 --xds-tls-server-name istiod.istio-system.svc",
    "kmeshctl node run --xds-tls-server-name 10.0.0.7",
])
def test_good_values_still_work(line, state_root, offline) -> None:  # noqa: F811
    problems = line_problems(shlex.split(line), ROOT)
    assert all("--wait with --replicas 0" not in p and "not a host name" not in p and "not an IP" not in p and
               "Kubernetes' own" not in p for p in problems), problems


# ------------------------------------------------------------------ a name mended to a refused one


@pytest.mark.parametrize("words,refused,example", [
    (["render", "--cluster-id", "c1", "--xds-address", "10.0.0.7:15012", "-n", "Kube-System"], "-n kube-system",
     "-n kmesh-system"),
    (["render", "--cluster-id", "c1", "--xds-address", "10.0.0.7:15012", "-n", "Default"], "-n default",
     "-n kmesh-system"),
    (["waypoint", "apply", "--dry-run", "-n", "Kube-System"], "-n kube-system", "-n default"),
])
def test_a_name_is_not_mended_to_one_the_command_refuses(words, refused, example, state_root, stubbed,  # noqa: F811
                                                          capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, *words)
    assert f"{refused}, the name it spells, is refused too" in line and f"e.g. {example}: `" in line, line
    # the one line offered is the example's (pass 43), never the refused spelling's
    assert "did you mean" not in line and len(_pasted_lines(line)) == 1, line
    pasted = _pasted_lines(line)[0]
    assert refused.split()[1] not in pasted and example.split()[1] in pasted and _works(shlex.join(pasted)), line


def test_enable_ns_leaves_a_refused_spelling_out_of_its_line(state_root, capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, "enable-ns", "Foo_Bar", "Kube-System")  # one error of the body's check: not stubbed
    assert "kube-system, the name Kube-System spells, is refused too" in line and "did you mean foo-bar?" in line, line
    assert _pasted_lines(line) == [["kmeshctl", "enable-ns", "foo-bar"]], line
    assert _works(shlex.join(_pasted_lines(line)[0]))


def test_one_refused_spelling_alone_gets_no_line(state_root, capsys, offline) -> None:  # noqa: F811
    alone = _line(capsys, "enable-ns", "Kube-System")  # the body's own check (one bad value): not stubbed
    assert "kube-system, the name it spells, is refused too (it is Kubernetes' own): leave it out" in alone and \
        not _pasted_lines(alone), alone
    kept = _line(capsys, "enable-ns", "Kube-System", "default")
    assert _pasted_lines(kept) == [["kmeshctl", "enable-ns", "default"]], kept


# ------------------------------------------------------------------ lines offered by other hints


@pytest.mark.parametrize("words,wanted", [
    (["waypoint", "delete", "--ignore-not-found", "true", "-n", "foo", "--name", "W1"],
     ["waypoint", "delete", "--ignore-not-found", "-n", "foo", "--name", "w1"]),
    (["enable-ns", "--istio-namespace", "Team-A"], ["enable-ns", "team-a"]),
])
def test_another_hint_s_line_gets_its_values_mended(words, wanted, state_root, stubbed, capsys,  # noqa: F811
                                                   offline) -> None:  # noqa: F811
    line = _line(capsys, *words)
    assert ["kmeshctl", *wanted] in _pasted_lines(line), line
    _assert_pastable(capsys, line)


def test_the_dry_run_wait_conflict_offers_no_line_with_no_pod_to_wait_for(state_root, stubbed, capsys,  # noqa: F811
                                                                         offline) -> None:  # noqa: F811
    line = _line(capsys, "waypoint", "apply", "--dry-run", "--replicas", "0", "--wait")
    assert "do not go together" in line, line
    for words in _pasted_lines(line):
        assert line_works(words, ROOT), (words, line)


def test_one_bad_value_keeps_its_own_message(state_root, capsys, offline) -> None:  # noqa: F811
    if os.geteuid() != 0:
        pytest.skip("node cleanup's checks come after its root check")
    line = _line(capsys, "node", "cleanup", "--cgroup2-path", NONE)  # the body's own check: not stubbed
    assert "; also " not in line and line.endswith("`kmeshctl node cleanup` (see 'kmeshctl node cleanup --help')"), line
    line = _line(capsys, "node", "run", "--cluster-id", "")
    assert line.startswith("Error: --cluster-id '': empty value; give ID"), line


# ------------------------------------------------------------------ the root's flag with the command's


@pytest.mark.parametrize("words,said,mended", [
    (["--request-timeout", "abc", "status", "-o", "xml"], ["--request-timeout abc: not a duration", "-o xml"],
     ["status"]),
    (["version", "--request-timeout", "5x", "--output", "JSON"], ["--request-timeout 5x", "--output JSON"],
     ["version", "--output", "json"]),
    (["waypoint", "apply", "--name", "East", "--request-timeout", "5x", "-n", "Foo_Bar"],
     ["--name East", "--request-timeout 5x", "-n Foo_Bar"], ["waypoint", "apply", "--name", "east", "-n", "foo-bar"]),
])
def test_a_bad_request_timeout_is_said_with_the_command_s_bad_values(words, said, mended, state_root,  # noqa: F811
                                                                    stubbed, capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, *words)
    for each in said:
        assert each in line, line
    assert "leave --request-timeout" not in line and "Invalid value" not in line, line
    assert _pasted_lines(line) == [["kmeshctl", *mended]], line
    _assert_pastable(capsys, line)


def test_a_bad_request_timeout_alone_keeps_its_own_message(state_root, stubbed, capsys,  # noqa: F811
                                                          offline) -> None:  # noqa: F811
    line = _line(capsys, "version", "--request-timeout", "5x")
    assert line.startswith("Error: --request-timeout 5x: not a duration;") and "; also" not in line, line


@pytest.mark.parametrize("words,said", [
    (["waypoint", "apply", "--dry-run", "--name", ""], "--name '': empty value"),
    (["node", "run", "--instance-ip", ""], "--instance-ip '': empty value"),
    (["dump", "maps", "--bpf-fs", ""], "--bpf-fs '': empty value"),
])
def test_an_empty_value_is_said_once(words, said, state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, *words)
    assert said in line and "; also" not in line, line
    both = _line(capsys, *words, "-n" if words[0] != "node" else "--pod-namespace", "Foo")
    assert said in both and "; also " in both and both.count(f"{words[-2]} '':") == 1, both  # `left out` (p46_f46d)


def test_a_bad_instance_ip_from_the_environment_is_said_so(state_root, stubbed, capsys, offline,  # noqa: F811
                                                          monkeypatch) -> None:
    monkeypatch.setenv("INSTANCE_IP", "999.1.1.1")
    line = _line(capsys, "node", "run", "--pod-namespace", "Kmesh_System")
    assert "$INSTANCE_IP=999.1.1.1: not an IP address" in line and "e.g. $INSTANCE_IP=10.0.0.7" in line, line
    assert "--pod-namespace Kmesh_System" in line, line
