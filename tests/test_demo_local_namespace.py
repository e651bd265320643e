"""Helper h108, kind "-n means the namespace on the local demo too": a sandbox made with
`sandbox up -f DIR` whose fortio, netutils and VirtualService live in namespace team-a
was neither found nor measured (the local demo looked in `default` only) and
`--sandbox S -n team-a` was refused as "the cluster demo's namespace". Now -n names the
namespace measured, locally as on a cluster; without it the sandbox's only namespace with
the demo's objects is used (`default` first), several others are refused with the demo
to paste; the request loop runs in that namespace's netutils pod.

Sandbox records live in a temporary state root (test_cli_kinds' `state_root`); nothing is
started: the netutils pod's request loop is a local stand-in printing the loop's result
lines (every fifth answer from v2: an 80/20 split), the pushes to the waypoint go to the
record only."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import yaml

from kmeshctl import demo
from kmeshctl.demo_cluster import in_namespace
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.sandbox import demo_target
from kmeshctl.sandbox import state as state_mod
from kmeshctl.sandbox.manifests import default_files, load
import local_demo_doubles
from local_demo_doubles import stand_ins  # noqa: F401 - the fixture
from test_cli_kinds import cli, no_env, state_root  # noqa: F401

def _documents(namespace: str, weights: tuple[int, int] = (80, 20)) -> list[dict]:
    docs = in_namespace(load(default_files()).documents, namespace)
    vs = next(d for d in docs if d["kind"] == "VirtualService")
    for route, weight in zip(vs["spec"]["http"][0]["route"], weights):
        route["weight"] = weight
    return docs


def _sandbox(name: str, *namespaces: str) -> state_mod.SandboxState:
    """A ready sandbox with the demo's objects in each of ``namespaces`` (80/20 in each)."""
    pods, vips, docs = [], {}, []
    for n, namespace in enumerate(namespaces):
        vips[f"{namespace}/fortio"] = f"10.96.{n}.10"
        docs += [d for d in _documents(namespace) if d["kind"] != "Namespace" or namespace != "default"]
        for i, (pod, waypoint) in enumerate((("waypoint", True), ("fortio-v1-0", False), ("fortio-v2-0", False),
                                             ("netutils-0", False))):
            pods.append(state_mod.PodRecord(pod, namespace, pod.split("-")[0], {}, f"10.244.{n}.{i + 2}",
                                            f"ns-h108-{namespace}-{pod}", "/nonexistent-cgroup", waypoint=waypoint))
    return local_demo_doubles.save_ready(name, docs, pods, vips)



def _target(name: str, namespace: str | None = None) -> tuple[demo_target.LocalTarget, demo.DemoSubject]:
    _, default = demo.fortio_demo()
    target = demo_target.LocalTarget(name, ("default", "fortio"), list(default.default_weights), namespace=namespace)
    return target, demo.subject_of(target, default)


# ------------------------------------------------------------------ which namespace is measured


@pytest.mark.parametrize("asked", [None, "team-a"], ids=["without -n", "-n team-a"])
def test_a_sandbox_with_the_demo_in_team_a_is_measured_there(asked, state_root, no_env, stand_ins) -> None:
    _sandbox("h108a", "team-a")
    target, subject = _target("h108a", asked)
    assert subject.virtual_service.namespace == "team-a" and subject.default_weights == (80, 20)
    target.prepare(lambda line: None)
    assert target.service_url() == "http://10.96.0.10:80/"
    lines = list(target.run_loop(demo.loop_argv(target.service_url(), 3)))
    assert [line.split()[0] for line in lines] == ["1", "2", "3"]
    assert stand_ins["clients"] == [("netutils", "team-a")]  # the client pod of that namespace
    target.ensure_weights([80, 20])
    target.finish(lambda line: None)
    assert stand_ins["pushes"] == [("team-a", "fortio", 0, [80, 20])]


def test_default_comes_first_and_minus_n_picks_another(state_root, no_env, stand_ins) -> None:
    _sandbox("h108b", "team-a", "default")
    assert demo_target.demo_namespaces(state_mod.SandboxState.load("h108b")) == ["default", "team-a"]
    _, subject = _target("h108b")
    assert subject.virtual_service.namespace == "default"
    target, subject = _target("h108b", "team-a")
    assert subject.virtual_service.namespace == "team-a"
    target.prepare(lambda line: None)
    assert target.service_url() == "http://10.96.0.10:80/"  # team-a's VIP, not default's


def test_several_namespaces_without_default_are_refused_with_the_demo_to_paste(state_root, no_env) -> None:
    _sandbox("h108c", "team-b", "team-a")
    with pytest.raises(UsageError) as refused:
        _target("h108c")
    message = str(refused.value)
    assert message.startswith("sandbox h108c has the demo's objects in several namespaces (team-a, team-b)"), message
    # 80/20 needs 24 requests to be judged (the default -c is 20): the line pasted passes (f36c)
    assert "`kmeshctl demo traffic-shift --sandbox h108c -n team-a -c 24`" in message and "\n" not in message


def test_a_namespace_without_the_demo_names_those_that_have_it(state_root, no_env) -> None:
    _sandbox("h108d", "team-a")
    with pytest.raises(UsageError) as refused:
        _target("h108d", "team-z")
    assert str(refused.value) == (
        "-n team-z: sandbox h108d has no fortio Service in namespace team-z (the demo's objects are in namespace "
        "team-a); pass -n of one of them, e.g. `kmeshctl demo traffic-shift --sandbox h108d -n team-a -c 24`")


def test_a_sandbox_without_the_demo_is_named_with_a_new_one_in_default(state_root, no_env) -> None:
    state = _sandbox("h108e")
    with pytest.raises(KmeshctlError) as refused:
        demo_target.check_demo_ready(state, namespace="team-a")
    message = str(refused.value)
    assert "has no fortio Service in namespace team-a (it was made without the fortio demo's manifests); run" in message
    assert message.count(": ") == 0 and "--sandbox h108e-demo -n default`" in message, message


def test_the_weights_record_of_team_a_is_read_for_sandbox_status(state_root, no_env, stand_ins) -> None:
    state = _sandbox("h108f", "team-a")
    (state.dir / demo_target.WEIGHTS_RECORD).write_text(json.dumps({"virtualService": "team-a/fortio",
                                                                    "weights": [90, 10]}))
    assert "VirtualService team-a/fortio routes v1=80, v2=20" in demo_target.weights_note(state)


# ------------------------------------------------------------------ the command line


@pytest.mark.parametrize("flags", [["--sandbox", "h108g", "-n", "team-a"], ["--name", "h108g", "--namespace", "team-a"],
                                   ["--sandbox", "h108g"], ["--target", "local", "-n", "team-a"]],
                         ids=lambda x: " ".join(x))
def test_the_demo_runs_on_team_a_from_the_command_line(flags, state_root, capsys, no_env, stand_ins) -> None:
    _sandbox("h108g", "team-a")
    code, out, err = cli(capsys, "demo", "traffic-shift", *flags, "-c", "50", "-o", "json")
    data = json.loads(out)
    assert code == 0 and data["passed"] and data["sandbox"] == "h108g", err
    assert data["phases"][0]["weights"] == {"v1": 80, "v2": 20} and data["phases"][0]["counts"] == {"v1": 40, "v2": 10}
    assert stand_ins["clients"] == [("netutils", "team-a")]


def test_a_typed_namespace_without_the_demo_is_refused_on_one_line(state_root, capsys, no_env, stand_ins) -> None:
    _sandbox("h108h", "team-a")
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "h108h", "-n", "team-z", "-c", "30")
    assert code == 2 and not out and err.count("\n") == 1, err
    assert "e.g. `kmeshctl demo traffic-shift --sandbox h108h -c 30 -n team-a`" in err, err
    assert not stand_ins["clients"]


def test_several_namespaces_keep_the_typed_flags_in_the_fix(state_root, capsys, no_env, stand_ins) -> None:
    _sandbox("h108i", "team-b", "team-a")
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "h108i", "--weights", "50/50")
    assert code == 2 and not out and err.count("\n") == 1, err
    assert "(team-a, team-b): pass -n NAMESPACE, e.g. `kmeshctl demo traffic-shift --sandbox h108i --weights 50/50 " \
           "-n team-a`" in err, err


def test_a_count_typed_as_minus_n_is_still_pointed_at_minus_c(capsys, no_env) -> None:
    code, out, err = cli(capsys, "demo", "traffic-shift", "-n", "100")
    assert code == 2 and not out and err.count("\n") == 1, err
    assert err.startswith("Error: -n 100: -n is the demo's namespace (as on every command); the request count is "
                          "-c/--requests, e.g. -c 100"), err


def test_the_help_says_minus_n_is_the_namespace_locally_too(capsys, no_env, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = cli(capsys, "demo", "traffic-shift", "--help")
    out = " ".join(out.split())
    assert code == 0 and "in a local sandbox where its manifests put them" in out
    assert "implies --target cluster" not in out


def test_a_sandbox_the_demo_brings_up_gets_the_objects_in_the_namespace_given(state_root, no_env, stand_ins,
                                                                               monkeypatch) -> None:
    made: list[list] = []

    def up(name: str, files: list, progress: Any, keep_logs_if_interrupted: bool = True) -> None:
        manifests = load(files)  # as `sandbox up -f` checks them
        made.append(sorted({(d.namespace, d.name) for d in manifests.deployments}))
        _sandbox(name, "team-a")

    monkeypatch.setattr(demo_target.sb, "up", up)
    target, subject = _target("h108j", "team-a")
    target.prepare(lambda line: None)
    assert made == [[("team-a", "fortio-v1"), ("team-a", "fortio-v2"), ("team-a", "netutils")]]
    assert target.service_url() == "http://10.96.0.10:80/"
    target.set_weights([50, 50])
    assert stand_ins["pushes"] == [("team-a", "fortio", 0, [50, 50])]


# ------------------------------------------------------------------ a real sandbox (root)


@pytest.mark.root
def test_a_real_sandbox_made_with_the_demo_in_team_a_is_measured_there(tmp_path) -> None:
    """`sandbox up -f DIR` with the demo's objects in team-a, then the demo with and
    without -n: real curl in team-a's netutils pod, real eBPF, real Envoy."""
    import os
    import sys

    from kmeshctl.sandbox import sandbox as sb

    name = "h108ns"
    manifests = tmp_path / "fortio-team-a.yaml"
    manifests.write_text(yaml.safe_dump_all(_documents("team-a"), sort_keys=False))
    sb.up(name, [manifests])
    try:
        for extra in (["-n", "team-a", "--weights", "0/100"], []):
            result = subprocess.run([sys.executable, "-m", "kmeshctl", "demo", "traffic-shift", "--sandbox", name,
                                     "-c", "40", "-o", "json", *extra], capture_output=True, text=True, timeout=240,
                                    env={k: v for k, v in os.environ.items() if not k.startswith("KMESHCTL_")})
            data = json.loads(result.stdout)
            assert result.returncode == 0 and data["passed"] and data["sandbox"] == name, result.stderr
            [phase] = data["phases"]
            assert phase["failures"] == 0 and sum(phase["counts"].values()) == 40, phase
            if extra:
                assert phase["counts"] == {"v1": 0, "v2": 40}, phase
            else:
                assert phase["weights"] == {"v1": 80, "v2": 20}, phase  # team-a's own, put back afterwards
    finally:
        sb.down(name)


def test_the_fix_for_a_sandbox_the_demo_cannot_measure_is_one_clause_not_a_colon_chain(state_root, no_env) -> None:
    """h108: `...: run the demo in a new sandbox: `X`` read as two fixes; one `; ` now."""
    state = _sandbox("h108k", "default")
    docs = list(yaml.safe_load_all(state.manifests_file.read_text()))
    for doc in docs:  # both versions answer `Server: 1`: the demo cannot tell them apart
        for container in doc["spec"].get("template", {}).get("spec", {}).get("containers", []) \
                if doc["kind"] == "Deployment" else []:
            container["args"] = [a.replace("header=server:2", "header=server:1") for a in container.get("args", [])]
    state.manifests_file.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    with pytest.raises(KmeshctlError) as refused:
        _target("h108k")
    message = str(refused.value)
    assert "give each version its own `-echo-server-default-params header=server:N`; run the demo in a new " \
           "sandbox, `kmeshctl sandbox up --name h108k-demo && kmeshctl demo traffic-shift --sandbox h108k-demo`" \
           in message, message
