"""Pass 26 (F26-7): `dump maps|config` and the cluster a kubeconfig configures.

3: with $KUBECONFIG set (no --kubeconfig typed), no data path on this node and several
   sandboxes, the error named only the sandboxes (maybe another user's): now the
   cluster's agent pods are offered too (`--pod POD -n NS`), as with --kubeconfig typed;
   none up: the same; the only sandbox picked: its note says --pod.
5: `--pod kmesh-system/NAME` (as errors list agent pods) and kubectl's `--pod pod/NAME`
   were "not a valid pod name ... e.g. kmesh-5jnht" (a made-up pod): now read as -n NS
   --pod NAME (a conflicting -n is refused naming both); a bad name's example is an
   agent pod of the cluster, else the placeholder POD.
8: `--pod AGENT -n default` (the agent is in kmesh-system) exited 1: a wrong -n is bad
   input (exit 2, as `status -n default`), with `-n kmesh-system` and the typed flags.

Every suggested command is run again in-process and must be accepted. Real parts:
kmeshctl.cli.main against the stand-in API server; sandbox records in a temporary state
root; the port-forward to the agent pod (the stand-in's pods run no agent) is replaced."""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from kmeshctl import config_dump
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_kinds import _dead_kubeconfig, _record, cli, no_env, state_root  # noqa: F401 (fixtures)
from test_cli_malformed_answers import serve  # noqa: F401 (fixture)
from test_p24_status_dump import _agents
from test_p26_dump import _agent, _sandbox, maps_read  # noqa: F401 (fixture)

BACKTICKED = re.compile(r"`(kmeshctl [^`]*)`")
CACHE = {"services": [], "workloads": [], "policies": [], "enrolled": []}


def _one_error_line(err: str) -> str:
    [line] = err.strip().splitlines()
    assert line.startswith("Error: "), line
    return line


def _fixes(line: str) -> list[list[str]]:
    return [shlex.split(command) for command in BACKTICKED.findall(line)]


@pytest.fixture
def forwarded(monkeypatch) -> list[tuple[str, str, str]]:
    """The port-forward to an agent pod replaced: (path, pod, namespace) of each; an
    empty data path and cache answer."""
    asked: list[tuple[str, str, str]] = []

    def fetch_from_pod(path: str, pod: str, ns: str, port: int, target: Any) -> Any:
        asked.append((path, pod, ns))
        return CACHE if path == config_dump.CACHE_PATH else {}

    monkeypatch.setattr(config_dump, "fetch_from_pod", fetch_from_pod)
    return asked


@pytest.fixture
def no_home_kubeconfig(tmp_path: Path, monkeypatch) -> None:
    """No ~/.kube/config, not in a pod: only what is typed or exported configures a cluster."""
    from test_cli_pasted_hints import _no_cluster_home

    _no_cluster_home(tmp_path, monkeypatch)


def _run(capsys, words: list[str]) -> tuple[int, str, str]:
    assert words[0] == "kmeshctl", words
    return cli(capsys, *words[1:])


# ------------------------------------------------------------------ 3. $KUBECONFIG as --kubeconfig


@pytest.mark.parametrize("what,extra", [("maps", ["--map", "km_manage"]), ("config", ["-o", "json"])])
def test_3_kubeconfig_env_and_several_sandboxes_offers_both(  # noqa: F811 (fixtures)
        cluster, state_root, no_env, no_home_kubeconfig, serve, maps_read, forwarded, capsys, monkeypatch,
        what: str, extra: list[str]) -> None:
    _sandbox("t26a1", _agent(serve))
    _sandbox("t26a2", _agent(serve))
    agents = _agents(cluster.server)
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    code, out, err = cli(capsys, "dump", what, *extra)
    assert code == 2 and not out, err
    line = _one_error_line(err)
    assert "several sandboxes exist (t26a1 ready, t26a2 ready): pass --sandbox NAME" in line, line
    assert f"; for the {what} of the cluster $KUBECONFIG names, pass --pod with one of its kmesh agent pods " \
           f"(kmesh-system/{agents[0]}, " in line, line
    on_sandbox, on_pod = _fixes(line)
    assert on_sandbox == ["kmeshctl", "dump", what, "--sandbox", "t26a1", *extra], line
    assert on_pod == ["kmeshctl", "dump", what, *extra, "--pod", agents[0], "-n", "kmesh-system"], line
    for fix in (on_sandbox, on_pod):
        code, out, err = _run(capsys, fix)
        assert code == 0 and "Error" not in err, (fix, err)
    assert forwarded and all(asked[1:] == (agents[0], "kmesh-system") for asked in forwarded), forwarded


def test_3_kubeconfig_env_and_no_sandbox_offers_the_pods(cluster, state_root, no_env, no_home_kubeconfig,  # noqa: F811
                                                         capsys, monkeypatch) -> None:
    agents = _agents(cluster.server)
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    code, _, err = cli(capsys, "dump", "maps")
    assert code == 1, err
    line = _one_error_line(err)
    assert "no sandbox is up" in line and "; for the maps of the cluster $KUBECONFIG names, pass --pod" in line, line
    assert _fixes(line)[-1] == ["kmeshctl", "dump", "maps", "--pod", agents[0], "-n", "kmesh-system"], line


def test_3_a_cluster_that_cannot_be_asked_gives_the_kubectl_line(state_root, no_env, no_home_kubeconfig,  # noqa: F811
                                                                  capsys, monkeypatch, tmp_path: Path) -> None:
    _record("t26a1")
    _record("t26a2")
    monkeypatch.setenv("KUBECONFIG", str(_dead_kubeconfig(tmp_path / "dead.yaml")))
    code, _, err = cli(capsys, "dump", "config")
    assert code == 2, err
    line = _one_error_line(err)
    assert "pass --pod with one of its kmesh agent pods: `kubectl get pods -n kmesh-system -l app=kmesh` lists them" \
        in line, line


def test_3_no_cluster_configured_names_only_the_sandboxes(state_root, no_env, no_home_kubeconfig,  # noqa: F811
                                                          capsys) -> None:
    _record("t26a1")
    _record("t26a2")
    code, _, err = cli(capsys, "dump", "maps")
    assert code == 2 and "--sandbox NAME" in err and "--pod" not in err, err


def test_3_the_only_sandbox_picked_says_pod_with_a_cluster_configured(  # noqa: F811 (fixtures)
        cluster, state_root, no_env, no_home_kubeconfig, serve, maps_read, capsys, monkeypatch) -> None:
    _sandbox("t26a1", _agent(serve))
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    code, _, err = cli(capsys, "dump", "maps", "--map", "km_manage")
    assert code == 0 and "Using sandbox t26a1" in err, err
    assert "; for the agents of the cluster $KUBECONFIG names, pass --pod POD" in err, err
    monkeypatch.delenv("KUBECONFIG")
    code, _, err = cli(capsys, "dump", "maps", "--map", "km_manage")
    assert code == 0 and "Using sandbox t26a1" in err and "--pod" not in err, err


# ------------------------------------------------------------------ 5. --pod NS/NAME, pod/NAME


@pytest.mark.parametrize("what", ["maps", "config"])
@pytest.mark.parametrize("form", ["{ns}/{pod}", "pod/{pod}", "pods/{pod}", "po/{pod}", "Pod/{pod}"])
def test_5_pod_takes_namespace_slash_name_and_kubectls_pod_slash_name(cluster, forwarded, what: str,  # noqa: F811
                                                                     form: str) -> None:
    agents = _agents(cluster.server)
    result = cluster.kmeshctl("dump", what, "--pod", form.format(ns="kmesh-system", pod=agents[0]), "-o", "json")
    assert result.code == 0 and "Error" not in result.err, result
    assert {asked[1:] for asked in forwarded} == {(agents[0], "kmesh-system")}, forwarded


def test_5_the_namespace_of_pod_is_used_without_n(cluster, forwarded) -> None:  # noqa: F811
    agents = _agents(cluster.server, "t26b-kmesh")
    result = cluster.kmeshctl("dump", "config", "--pod", f"t26b-kmesh/{agents[0]}")
    assert result.code == 0, result
    assert {asked[1:] for asked in forwarded} == {(agents[0], "t26b-kmesh")}, forwarded
    result = cluster.kmeshctl("dump", "config", "--pod", f"t26b-kmesh/{agents[0]}", "-n", "t26b-kmesh")
    assert result.code == 0, result


@pytest.mark.parametrize("flag", ["-n", "--namespace"])
def test_5_a_conflicting_n_names_both(cluster, forwarded, capsys, flag: str) -> None:  # noqa: F811
    agents = _agents(cluster.server)
    result = cluster.kmeshctl("dump", "maps", "--pod", f"kmesh-system/{agents[0]}", flag, "default", "--map",
                              "km_manage")
    assert result.code == 2 and not forwarded, result
    line = _one_error_line(result.err)
    assert f"--pod kmesh-system/{agents[0]} and {flag} default name two namespaces; give one: " in line, line
    kept = ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "dump", "maps", "--map", "km_manage", "--pod",
            agents[0], "-n"]
    assert _fixes(line) == [kept + ["kmesh-system"], kept + ["default"]], line
    code, _, err = _run(capsys, _fixes(line)[0])
    assert code == 0 and forwarded, err


@pytest.mark.parametrize("what", ["maps", "config"])
@pytest.mark.parametrize("value", ["Bad_Name", "kmesh-system/Bad_Name", "pod/Bad_Name", "Bad_NS/kmesh-x"])
def test_5_a_bad_pod_name_is_shown_with_an_agent_pod_of_the_cluster(cluster, forwarded, capsys,  # noqa: F811
                                                                   what: str, value: str) -> None:
    agents = _agents(cluster.server)
    result = cluster.kmeshctl("dump", what, "--pod", value, "-o", "json")
    assert result.code == 2, result
    line = _one_error_line(result.err)
    assert line.startswith(f"Error: --pod {value}: "), line
    assert "kmesh-5jnht" not in line and f"pass an agent pod (kmesh-system/{agents[0]}, " in line, line
    [fix] = _fixes(line)
    assert fix == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "dump", what, "-o", "json", "--pod",
                   agents[0], "-n", "kmesh-system"], line
    code, _, err = _run(capsys, fix)
    assert code == 0, err


def test_5_without_an_answering_cluster_the_example_is_a_placeholder(tmp_path: Path, no_env, capsys) -> None:
    """No pod name is known: no command to paste, an example of the name's shape (accepted
    when fed back: test_cli_examples_valid) and the kubectl line that lists the real ones."""
    kubeconfig = _dead_kubeconfig(tmp_path / "dead.yaml")
    # t43b 9: kmesh-system/Bad_Name is mended (kmesh-system/bad-name) as Bad_Name is; nothing mends Bad!Name
    code, _, err = cli(capsys, "--kubeconfig", str(kubeconfig), "dump", "maps", "--pod", "kmesh-system/Bad!Name")
    assert code == 2, err
    line = _one_error_line(err)
    assert "`kmeshctl" not in line, line
    assert f"pass an agent pod's name, e.g. --pod kmesh-5jnht (`kubectl get pods -A -l app=kmesh " \
           f"--kubeconfig {kubeconfig}` lists them)" in line, line


@pytest.mark.parametrize("form", ["kmesh-system/{pod}", "pod/{pod}"])
def test_5_a_pod_typed_without_pod_is_offered_in_the_form_typed(cluster, forwarded, capsys,  # noqa: F811
                                                                 form: str) -> None:
    agents = _agents(cluster.server)
    result = cluster.kmeshctl("dump", "config", form.format(pod=agents[0]))
    assert result.code == 2 and "not a valid pod name" not in result.err, result
    [fix] = _fixes(_one_error_line(result.err))
    assert fix[-2:] == ["--pod", form.format(pod=agents[0])], fix
    code, _, err = _run(capsys, fix)
    assert code == 0 and {asked[1:] for asked in forwarded} == {(agents[0], "kmesh-system")}, err


def test_5_another_kind_than_a_pod_is_refused(cluster, forwarded) -> None:  # noqa: F811
    agents = _agents(cluster.server)
    result = cluster.kmeshctl("dump", "maps", "--pod", "ds/kmesh")
    assert result.code == 2 and not forwarded, result
    line = _one_error_line(result.err)
    assert "--pod ds/kmesh: --pod takes one pod, not a ds's (each node has its own agent, one is asked)" in line, line
    assert _fixes(line)[0][-4:] == ["--pod", agents[0], "-n", "kmesh-system"], line


# ------------------------------------------------------------------ 8. a wrong -n is bad input


@pytest.mark.parametrize("what", ["maps", "config"])
def test_8_an_agent_pod_in_another_namespace_is_bad_input(cluster, forwarded, capsys, what: str) -> None:  # noqa: F811
    agents = _agents(cluster.server)
    result = cluster.kmeshctl("dump", what, "--pod", agents[1], "-n", "default", "-o", "json", "--admin-port",
                              "15200")
    assert result.code == 2 and not forwarded, result
    line = _one_error_line(result.err)
    assert f"pod default/{agents[1]} not found: kmesh is installed in namespace kmesh-system, not default" in line
    assert "; pass -n kmesh-system: " in line, line
    [fix] = _fixes(line)
    assert fix == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "dump", what, "-o", "json", "--admin-port",
                   "15200", "--pod", agents[1], "-n", "kmesh-system"], line
    code, out, err = _run(capsys, fix)
    assert code == 0 and json.loads(out) is not None, err
    assert {asked[1:] for asked in forwarded} == {(agents[1], "kmesh-system")}, forwarded


def test_8_kmesh_installed_in_another_namespace_is_bad_input(cluster) -> None:  # noqa: F811
    _agents(cluster.server)
    result = cluster.kmeshctl("dump", "maps", "--pod", "kmesh-zjq8p", "-n", "default")
    assert result.code == 2, result
    assert "pass -n kmesh-system with one of its agent pods: " in result.err, result


def test_8_the_pod_in_another_namespace_beside_agents_in_the_one_typed(cluster) -> None:  # noqa: F811
    _agents(cluster.server)
    [template, *_] = [p for p in cluster.server.all_of("v1", "Pod") if p["metadata"]["namespace"] == "kmesh-system"]
    cluster.server.put(namespace("t26b-kmesh"))
    other = copy.deepcopy(template)
    other["metadata"] = {"name": "kmesh-t26b", "namespace": "t26b-kmesh", "labels": template["metadata"]["labels"]}
    cluster.server.put(other)  # an agent pod of a second install, only there
    result = cluster.kmeshctl("dump", "maps", "--pod", "kmesh-t26b")
    assert result.code == 2, result
    line = _one_error_line(result.err)
    assert "pod kmesh-system/kmesh-t26b not found: it is in namespace t26b-kmesh (agent pods: t26b-kmesh/kmesh-t26b)" \
        in line, line
    assert _fixes(line)[0][-4:] == ["--pod", "kmesh-t26b", "-n", "t26b-kmesh"], line


def test_8_a_pod_that_is_nowhere_stays_not_found(cluster) -> None:  # noqa: F811
    _agents(cluster.server)
    result = cluster.kmeshctl("dump", "maps", "--pod", "kmesh-zjq8p")
    assert result.code == 1 and "pod kmesh-system/kmesh-zjq8p not found (agent pods in kmesh-system" in result.err
