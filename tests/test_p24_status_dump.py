"""Tester p24's findings on status/version's -n and on dump's --pod (fixer F2).

3: `status -n` / `version -n` of a namespace install refuses (kube-system, default,
   kube-public, Istio's) said `Not installed ... run kmeshctl install --namespace
   kube-system` although kmesh was installed in kmesh-system (install refuses that
   namespace). Now: the line of any other -n (`kmesh is installed in namespace A, not B;
   pass -n A: ...`); installed nowhere: the default namespace, never an install there.
7: `dump maps|config --pod NAME` of a pod that does not exist said only "check the pod
   name": now the agent pods there are, the namespace kmesh is installed in when it is
   another (`pass -n t24b-kmesh` with the command), or that kmesh is not installed.
9: `dump maps --kubeconfig X` (no --pod) silently read another user's sandbox, and told
   the user to `sandbox down` it while it was being created. Now cluster flags without
   --pod / --sandbox / --bpf-fs are refused (exit 2) naming the agent pods; a sandbox
   the user did not name that is being created is waited for, never stopped.
2: `dump config kmesh-zjq8p` (a pod typed without --pod) with a cluster named any way
   offers `--pod kmesh-zjq8p`, not "no cluster is configured".

Real parts: kmeshctl.cli.main in-process against the stand-in API server; sandbox records
in a temporary state root (test_cli_kinds.state_root)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kmeshctl.params import install_params
from kmeshctl.render import render_manifests
from kmeshctl.sandbox import state as state_mod
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401 (fixtures)

REFUSED = ["kube-system", "default", "kube-public", "istio-system"]
OTHER_NS = "t24b-kmesh"


def _pasted(line: str, program: str = "kmeshctl") -> list[str]:
    """The words of the one backticked `PROGRAM ...` command of ``line``."""
    [command] = re.findall(rf"`({program} [^`]*)`", line)
    return shlex.split(command)


def _one_error_line(err: str) -> str:
    [line] = err.strip().splitlines()
    assert line.startswith("Error: "), line
    return line


def _seed_namespaces(server) -> None:
    for name in ("default", "kube-system", "kube-public"):
        server.put(namespace(name))


def _agents(server, ns: str = "kmesh-system") -> list[str]:
    """The install's Namespace and DaemonSet in ``ns``: the stand-in's controller makes
    its agent pods; their names."""
    server.daemonset_controller = "ready"
    server.controller_delay = 0.0
    for obj in render_manifests(install_params("istiod-1-22-6.istio-system.svc:15012", "c1", namespace=ns)):
        if obj["kind"] in ("Namespace", "DaemonSet"):
            server.put(obj)
    deadline = time.monotonic() + 10
    while not (pods := sorted(p["metadata"]["name"] for p in server.all_of("v1", "Pod")
                              if p["metadata"]["namespace"] == ns)):
        assert time.monotonic() < deadline, "the DaemonSet controller made no pod"
        time.sleep(0.05)
    return pods


def _forwards(server) -> list[str]:
    return [r.path for r in server.requests if r.path.endswith("/portforward")]


# ------------------------------------------------------------------ 3. status / version -n


@pytest.mark.parametrize("command", ["status", "version"])
@pytest.mark.parametrize("ns", REFUSED)
def test_3_a_refused_namespace_names_the_install_elsewhere(cluster, command: str, ns: str) -> None:  # noqa: F811
    _seed_namespaces(cluster.server)
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    result = cluster.kmeshctl(command, "-n", ns)
    assert result.code == 2, result
    line = _one_error_line(result.err)
    assert line.startswith(f"Error: kmesh is installed in namespace kmesh-system, not {ns}; "
                           "pass -n kmesh-system: "), line
    assert _pasted(line) == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), command, "-n", "kmesh-system"]
    assert "Not installed" not in result.out and "install" not in line.replace("installed", ""), result


@pytest.mark.parametrize("command", ["status", "version"])
def test_3_the_same_line_as_for_a_namespace_that_does_not_exist(cluster, command: str) -> None:  # noqa: F811
    _seed_namespaces(cluster.server)
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    lines = {ns: _one_error_line(cluster.kmeshctl(command, "-n", ns).err).replace(ns, "NS")
             for ns in ("nosuch", "kube-system")}
    assert lines["nosuch"] == lines["kube-system"], lines


def test_3_an_install_in_another_namespace_is_named(cluster) -> None:  # noqa: F811
    _seed_namespaces(cluster.server)
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "-n", OTHER_NS, "--no-wait", "-q").code == 0
    result = cluster.kmeshctl("status", "-n", "kube-system")
    assert result.code == 2, result
    line = _one_error_line(result.err)
    assert f"kmesh is installed in namespace {OTHER_NS}, not kube-system; pass -n {OTHER_NS}: " in line, line
    assert _pasted(line)[-3:] == ["status", "-n", OTHER_NS], line


@pytest.mark.parametrize("command", ["status", "version"])
@pytest.mark.parametrize("ns", REFUSED)
def test_3_installed_nowhere_never_suggests_an_install_install_refuses(cluster, command: str,  # noqa: F811
                                                                         ns: str) -> None:
    _seed_namespaces(cluster.server)
    result = cluster.kmeshctl(command, "-n", ns)
    assert result.code == 2, result
    line = _one_error_line(result.err)
    assert f"kmesh is never installed in namespace {ns}: install refuses it (" in line, line
    assert ") and puts it in kmesh-system; pass -n kmesh-system: " in line, line
    assert _pasted(line) == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), command, "-n", "kmesh-system"]
    assert f"--namespace {ns}" not in result.out + result.err and "install --" not in result.out + result.err


def test_3_installed_nowhere_in_a_namespace_install_takes_is_unchanged(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("status", "-n", "nosuch")
    assert result.code == 1 and result.out.startswith("Not installed: no DaemonSet kmesh in namespace nosuch"), result


# ------------------------------------------------------------------ 7. dump --pod of a pod not there


@pytest.mark.parametrize("what", ["maps", "config"])
def test_7_a_missing_pod_lists_the_agent_pods(cluster, what: str) -> None:  # noqa: F811
    agents = _agents(cluster.server)
    result = cluster.kmeshctl("dump", what, "--pod", "kmesh-zjq8p")
    assert result.code == 1, result
    line = _one_error_line(result.err)
    assert line.startswith(f"Error: pod kmesh-system/kmesh-zjq8p not found (agent pods in kmesh-system: "
                           f"kmesh-system/{agents[0]}"), line
    assert "; pass --pod with one of them: " in line and "check the pod name" not in line, line
    assert _pasted(line) == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "dump", what, "--pod", agents[0],
                             "-n", "kmesh-system"], line
    assert _forwards(cluster.server) == []


@pytest.mark.parametrize("what", ["maps", "config"])
def test_7_kmesh_in_another_namespace_is_named_with_its_pods(cluster, what: str) -> None:  # noqa: F811
    agents = _agents(cluster.server, OTHER_NS)
    result = cluster.kmeshctl("dump", what, "--pod", "kmesh-zjq8p")
    assert result.code == 2, result  # a wrong -n is bad input (p26), as status -n says it
    line = _one_error_line(result.err)
    assert (f"pod kmesh-system/kmesh-zjq8p not found: kmesh is installed in namespace {OTHER_NS}, not kmesh-system "
            f"(agent pods: {OTHER_NS}/{agents[0]}") in line, line
    assert f"; pass -n {OTHER_NS} with one of its agent pods: " in line, line
    assert _pasted(line)[-5:] == [what, "--pod", agents[0], "-n", OTHER_NS], line


def test_7_the_typed_pod_in_the_installs_namespace_only_needs_n(cluster) -> None:  # noqa: F811
    agents = _agents(cluster.server, OTHER_NS)
    result = cluster.kmeshctl("dump", "maps", "--pod", agents[-1], "--map", "km_manage", "-o", "json")
    line = _one_error_line(result.err)
    assert f"; pass -n {OTHER_NS}: " in line, line
    assert _pasted(line) == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "dump", "maps", "--map",
                             "km_manage", "-o", "json", "--pod", agents[-1], "-n", OTHER_NS], line


@pytest.mark.parametrize("what", ["maps", "config"])
def test_7_kmesh_not_installed_says_so(cluster, what: str) -> None:  # noqa: F811
    result = cluster.kmeshctl("dump", what, "--pod", "kmesh-zjq8p")
    assert result.code == 1, result
    line = _one_error_line(result.err)
    assert line.startswith("Error: pod kmesh-system/kmesh-zjq8p not found, and kmesh is not installed in this "
                           "cluster"), line
    assert "install kmesh first: run `kmeshctl " in line, line
    assert _pasted(line, "kubectl") == ["kubectl", "get", "pods", "-A", "-l", "app=kmesh", "--kubeconfig",
                                        str(cluster.kubeconfig)], line


# ------------------------------------------------------------------ 9. cluster flags without --pod


def _one_sandbox(state_root) -> None:  # noqa: F811
    """The only sandbox on the machine, another user's (the tester's t24a-four)."""
    _record("t24a-four")


@pytest.mark.parametrize("installed", [True, False], ids=["agents", "no-agents"])
def test_9_cluster_flags_without_pod_are_refused_not_a_sandbox(cluster, state_root, no_env,  # noqa: F811
                                                               installed: bool) -> None:
    _one_sandbox(state_root)
    agents = _agents(cluster.server) if installed else []
    result = cluster.kmeshctl("dump", "maps", "--map", "km_manage")
    assert result.code == 2 and not result.out, result
    line = _one_error_line(result.err)
    assert "t24a-four" not in line and "Using sandbox" not in result.err, result
    assert line.startswith("Error: --kubeconfig names a cluster: --pod names one of its kmesh agent pods"), line
    assert "without --pod, dump maps reads this machine's maps, not the cluster's (for them leave out --kubeconfig, " \
           "or pass --sandbox NAME or --bpf-fs DIR)" in line, line
    if installed:
        assert f"(agent pods: kmesh-system/{agents[0]}, " in line, line
        assert _pasted(line) == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "dump", "maps", "--map",
                                 "km_manage", "--pod", agents[0], "-n", "kmesh-system"], line
    else:
        assert _pasted(line, "kubectl") == ["kubectl", "get", "pods", "-n", "kmesh-system", "-l", "app=kmesh",
                                            "--kubeconfig", str(cluster.kubeconfig)], line


def test_9_cluster_flags_after_the_command_and_context(cluster, state_root, no_env, capsys) -> None:  # noqa: F811
    _one_sandbox(state_root)
    agents = _agents(cluster.server)
    code, out, err = cli(capsys, "dump", "maps", "--kubeconfig", str(cluster.kubeconfig), "--map", "km_manage")
    assert code == 2 and "--kubeconfig names a cluster" in err and "t24a-four" not in err, err
    assert agents[0] in err, err
    result = cluster.kmeshctl("--context", "standin", "dump", "config")
    assert result.code == 2, result
    line = _one_error_line(result.err)
    assert line.startswith("Error: --kubeconfig and --context name a cluster: "), line
    assert "pass --sandbox NAME or --admin-port PORT" in line and "t24a-four" not in line, line
    assert _pasted(line)[-5:] == ["config", "--pod", agents[0], "-n", "kmesh-system"], line


def test_9_a_local_place_typed_with_cluster_flags_is_read(cluster, state_root, no_env) -> None:  # noqa: F811
    _one_sandbox(state_root)
    result = cluster.kmeshctl("dump", "maps", "--sandbox", "t24a-four", "--map", "km_manage")
    assert "names a cluster" not in result.err, result


def test_9_no_cluster_flags_still_picks_the_only_sandbox(state_root, no_env, capsys) -> None:  # noqa: F811
    _one_sandbox(state_root)
    _, _, err = cli(capsys, "dump", "maps", "--map", "km_manage")
    assert "names a cluster" not in err and "t24a-four" in err, err


@pytest.fixture
def creating(state_root, tmp_path: Path):  # noqa: F811
    """The only sandbox, t24a-four, being created by a running `kmeshctl sandbox up`
    (a stand-in process so named that only sleeps)."""
    script = tmp_path / "kmeshctl"
    script.write_text("import time\ntime.sleep(60)\n")
    process = subprocess.Popen([sys.executable, str(script), "sandbox", "up", "--name", "t24a-four"])
    try:
        state_mod.SandboxState(name="t24a-four", up_pid=process.pid,
                               up_started=state_mod.process_start_time(process.pid), created_at=time.time()).save()
        yield process
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize("what", ["maps", "config"])
def test_9_a_sandbox_being_created_not_named_is_waited_for_not_stopped(creating, no_env, capsys,
                                                                        what: str) -> None:
    code, _, err = cli(capsys, "dump", what)
    assert code == 1, err
    line = _one_error_line(err)
    assert "sandbox down" not in line, line
    assert (f"sandbox t24a-four, the only sandbox here (you did not name it), is being created by pid {creating.pid} "
            "(not ready yet): wait for that `kmeshctl sandbox up --name t24a-four` to finish (`kmeshctl sandbox status "
            f"--name t24a-four` shows how far it is), then run `kmeshctl dump {what} --sandbox t24a-four`") in line, \
        line


def test_9_a_sandbox_being_created_that_the_user_named_may_be_stopped(creating, no_env, capsys) -> None:
    code, _, err = cli(capsys, "dump", "maps", "--sandbox", "t24a-four")
    assert code == 1 and "stop it with `kmeshctl sandbox down --name t24a-four`" in err, err


# ------------------------------------------------------------------ 2. a pod typed without --pod


@pytest.mark.parametrize("how", ["before", "after", "equals-after", "env", "context", "context-after"])
def test_2_a_pod_typed_without_pod_is_offered_as_pod(state_root, no_env, capsys, tmp_path: Path, monkeypatch,
                                                     how: str) -> None:
    kubeconfig = tmp_path / "kc.yaml"
    # a kubeconfig that loads (its context prod is what --context names): the line offered is checked
    # against it, so it must be one the pasted line could use; nothing is dialled
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
                          "users: [{name: u, user: {}}]\ncontexts: [{name: prod, context: {cluster: c, user: u}}]\n"
                          "current-context: prod\n")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # no ~/.kube/config: only what is typed names a cluster
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    kc = str(kubeconfig)
    words, flags = {
        "before": (["--kubeconfig", kc, "dump", "config", "kmesh-zjq8p"], ["--kubeconfig", kc]),
        "after": (["dump", "config", "--kubeconfig", kc, "kmesh-zjq8p"], ["--kubeconfig", kc]),
        "equals-after": (["dump", "config", "kmesh-zjq8p", f"--kubeconfig={kc}"], [f"--kubeconfig={kc}"]),
        "env": (["dump", "config", "kmesh-zjq8p"], []),
        "context": (["--context", "prod", "dump", "config", "kmesh-zjq8p"], ["--context", "prod"]),
        "context-after": (["dump", "config", "kmesh-zjq8p", "--context", "prod"], ["--context", "prod"]),
    }[how]
    if how in ("env", "context", "context-after"):
        monkeypatch.setenv("KUBECONFIG", kc)
    code, _, err = cli(capsys, *words)
    assert code == 2, err
    line = _one_error_line(err)
    assert "none is configured" not in line and "--sandbox" not in line, line
    assert "; give the pod with --pod: `kmeshctl " in line, line
    pasted = _pasted(line)
    assert sorted(pasted) == sorted(["kmeshctl", *flags, "dump", "config", "--pod", "kmesh-zjq8p"]), line
    assert pasted[pasted.index("--pod") + 1] == "kmesh-zjq8p" and " dump config " in f" {' '.join(pasted)} ", line
