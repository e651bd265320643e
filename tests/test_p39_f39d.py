"""Fixer f39d, t39c's findings 1, 3, 4, 5 and t38c 9 (pass 39).

1 `kubectl delete namespace kmesh-system`: the namespace controller stops the agent pods
  before it deletes the DaemonSet, so at SIGTERM the DaemonSet is still there; the agent
  (kmeshctl.node.lifecycle) takes its namespace being deleted as an uninstall. `status`
  while the namespace is Terminating says kmesh goes with it and what to run.
3 `install --no-wait; uninstall`: a node's first agent pod that runs but has not passed its
  startup probe (loading the data path) is awaited before the DaemonSet is deleted, as a
  replacement is, so the node gets a definite result.
4 The rollout timeout's fix is a whole install line with a longer --timeout.
5 Status's "partly installed" fix: the install line read back from an agent pod still
  there, else one that says --image IMAGE must be given.
t38c 9: a stop during install's first checks says nothing was applied, with the re-run.

Real parts: kmeshctl.cli.main in-process against the stand-in API server (tests/standin);
the lifecycle decision and uninstall's wait are fed objects shaped like the API's."""

from __future__ import annotations

import shlex
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from kmeshctl.node.lifecycle import decide_shutdown
from kmeshctl.rollout import PodState, RolloutState, timeout_fix
from kmeshctl.uninstall import (NOT_STARTED, STARTUP_LIMIT_S, AgentPod, await_replacements, node_results,
                                replacing)
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)

NS = "kmesh-system"


# -- 1: the agent's shutdown decision ----------------------------------------------------------------


def _meta(deleting: bool) -> SimpleNamespace:
    return SimpleNamespace(metadata=SimpleNamespace(deletion_timestamp="2026-12-05T00:00:00Z" if deleting else None))


class _Core:
    """CoreV1Api's two reads the decision makes: the agent's pod and its namespace."""

    def __init__(self, ns: object) -> None:
        self.ns = ns

    def read_namespaced_pod(self, name: str, namespace: str) -> object:
        owners = [SimpleNamespace(kind="DaemonSet", name="kmesh")]
        return SimpleNamespace(metadata=SimpleNamespace(owner_references=owners))

    def read_namespace(self, name: str) -> object:
        assert name == NS
        if isinstance(self.ns, Exception):
            raise self.ns
        return self.ns


class _Apps:
    def read_namespaced_daemon_set(self, name: str, namespace: str) -> object:
        return _meta(deleting=False)  # still there: the namespace controller has not reached it


def test_the_namespace_being_deleted_is_an_uninstall_though_the_daemonset_is_still_there() -> None:
    decision = decide_shutdown(_Core(_meta(deleting=True)), _Apps(), "kmesh-abcde", NS)
    assert decision.kind == "uninstall" and decision.reason == f"namespace {NS} is being deleted", decision
    gone = decide_shutdown(_Core(ApiException(status=404, reason="Not Found")), _Apps(), "kmesh-abcde", NS)
    assert gone.kind == "uninstall", gone


def test_a_namespace_that_stays_or_cannot_be_read_leaves_it_to_the_daemonset() -> None:
    assert decide_shutdown(_Core(_meta(deleting=False)), _Apps(), "kmesh-abcde", NS).kind == "restart"
    refused = decide_shutdown(_Core(ApiException(status=403, reason="Forbidden")), _Apps(), "kmesh-abcde", NS)
    assert refused.kind == "restart" and "still there" in refused.reason, refused


def test_status_while_the_namespace_is_terminating_says_kmesh_goes_and_what_to_run(cluster: Any) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    ns = cluster.server.get("v1", "Namespace", NS)
    ns["metadata"]["deletionTimestamp"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ns["metadata"]["finalizers"] = ["example.com/hold"]
    cluster.server.put(ns)
    result = cluster.kmeshctl("status")
    assert result.code == 1, result
    said = " ".join((result.out + result.err).split())
    assert f"namespace {NS} is Terminating" in said and "kmesh goes with it, as in an uninstall" in said, said
    commands = said.split("`")[1::2]
    assert commands[0].startswith(f"kubectl wait --for=delete namespace/{NS} --timeout=5m --kubeconfig "), commands
    assert commands[1].startswith("kmeshctl --kubeconfig ") and commands[1].endswith(" status"), commands
    assert "names any node left to clean up" in said, said
    assert "Healthy" not in said and "artly installed" not in said and "re-install" not in said, said


# -- 3: a node's first agent pod still starting ------------------------------------------------------


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _first_pod(created: datetime, started: bool, running: bool = True) -> dict:
    state = {"running": {"startedAt": _stamp(created)}} if running else {"waiting": {"reason": "ContainerCreating"}}
    return {"metadata": {"name": "kmesh-5f4cq", "namespace": NS, "creationTimestamp": _stamp(created)},
            "spec": {"nodeName": "n1", "containers": [{"name": "kmesh", "image": "img"}]},
            "status": {"phase": "Running" if running else "Pending", "containerStatuses": [
                {"name": "kmesh", "image": "img", "ready": started, "started": started, "restartCount": 0,
                 "state": state}]}}


def test_a_first_pod_running_its_startup_probe_not_passed_is_awaited() -> None:
    now = datetime.now(timezone.utc)
    since = now - timedelta(seconds=3)  # the DaemonSet's only template: this pod is the node's first
    [found] = replacing([_first_pod(now - timedelta(seconds=2), started=False)], since, now)
    assert found.first and found.text == f"node n1's agent pod kmesh-5f4cq starting ({NOT_STARTED})", found
    assert replacing([_first_pod(now - timedelta(seconds=2), started=True)], since, now) == []
    # one that never runs keeps its honest "it never ran" (not awaited), as one past its probe's limit
    assert replacing([_first_pod(now - timedelta(seconds=2), started=False, running=False)], since, now) == []
    late = now - timedelta(seconds=STARTUP_LIMIT_S + 5)
    assert replacing([_first_pod(late, started=False)], late - timedelta(seconds=1), now) == []


class _Listing:
    """KubeClient.list for await_replacements: the agent pods as listed at each call (the
    last one repeated), and the DaemonSet's only ControllerRevision."""

    def __init__(self, pods: list[list[dict]], since: datetime) -> None:
        self.pods, self.since = pods, since

    def list(self, api_version: str, kind: str, namespace: str | None = None, **_: Any) -> list[dict]:
        if kind == "ControllerRevision":
            return [{"metadata": {"name": "kmesh-1", "creationTimestamp": _stamp(self.since),
                                  "ownerReferences": [{"kind": "DaemonSet", "name": "kmesh"}]}}]
        return self.pods.pop(0) if len(self.pods) > 1 else self.pods[0]


def test_uninstall_waits_for_the_first_pod_to_start_then_reports_the_data_path_removed() -> None:
    now = datetime.now(timezone.utc)
    created = now - timedelta(seconds=1)
    since = created - timedelta(seconds=1)
    ds = {"kind": "DaemonSet", "metadata": {"name": "kmesh", "namespace": NS},
          "spec": {"selector": {"matchLabels": {"app": "kmesh"}}}}
    client = _Listing([[_first_pod(created, False)], [_first_pod(created, False)], [_first_pod(created, True)]],
                      since)
    lines: list[str] = []
    agents, took_over = await_replacements(client, ds, float("inf"), poll=0.01, timeout=300, on_wait=lines.append)
    assert lines[0].startswith(f"waiting for node n1's agent pod kmesh-5f4cq starting ({NOT_STARTED}), before "
                               f"deleting DaemonSet {NS}/kmesh: an agent pod still starting is loading"), lines
    assert "(limit 5m)" in lines[0] and "replacement" not in lines[0], lines
    assert lines[-1].startswith("node n1: the agent pod runs (waited "), lines
    [result] = node_results(NS, agents, {}, took_over)
    assert result.outcome == "stopped" and result.detail.startswith("data path removed; its agent pod was "
                                                                   "starting as uninstall began: waited "), result


def test_a_first_pod_that_does_not_start_in_time_is_reported_as_before() -> None:
    agent = AgentPod(node="n1", name="kmesh-5f4cq", running=False, state=NOT_STARTED, scheduled=True)
    [result] = node_results(NS, [agent], {})
    assert result.outcome == "needs cleanup" and "had not started" in result.detail, result


# -- 4: the rollout timeout's fix ------------------------------------------------------------------


def test_a_rollout_timeout_fix_is_the_whole_install_line_with_a_longer_timeout() -> None:
    typed = ["kmeshctl", "install", "--cluster-id", "c1", "--image", "reg/img:1", "--timeout", "1s",
             "--context", "kind-a"]
    pod = PodState(name="kmesh-x", namespace=NS, node="n1", phase="Running", ready=False, restarts=0, image="img",
                   reason="", created="")
    state = RolloutState(found=True, desired=1, updated=1, ready=0, observed=True, pods=[pod])

    def install_with(name: str, value: str) -> str:  # the CLI's _install_with over ``typed``
        flag = f"--{name.replace('_', '-')}"
        return shlex.join([value if i and typed[i - 1] == flag else w for i, w in enumerate(typed)])

    fix = timeout_fix(state, NS, install_with=install_with, timeout=1)
    assert fix.startswith(f"see each pod's state with `kmeshctl status -n {NS}`, then re-run `"), fix
    assert fix.split("`")[3] == ("kmeshctl install --cluster-id c1 --image reg/img:1 --timeout 5m "
                                 "--context kind-a"), fix
    assert timeout_fix(state, NS, install_with=install_with, timeout=600).split("`")[3].endswith(
        "--timeout 20m --context kind-a")


def test_the_timeout_line_from_the_cli_keeps_every_flag_and_works_pasted(cluster: Any) -> None:  # noqa: F811
    cluster.server.daemonset_controller = "ready"
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--image", "reg/img:1", "--wait", "-q").code == 0
    pod_res = cluster.server.resource_for("v1", "Pod")
    for pod in cluster.server.all_of("v1", "Pod"):  # running, its startup probe not passed
        for c in pod["status"]["containerStatuses"]:
            c["ready"] = c["started"] = False
        pod["status"]["conditions"] = [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]
        cluster.server.store(pod_res, cluster.server.key(pod_res, pod), pod)
    ds = cluster.server.get("apps/v1", "DaemonSet", "kmesh", NS)
    ds["status"]["numberReady"] = ds["status"]["numberAvailable"] = 0
    cluster.server.store(cluster.server.resource_for("apps/v1", "DaemonSet"), ("apps", "daemonsets", NS, "kmesh"), ds)
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--image", "reg/img:1", "--timeout", "1s", "-q")
    assert result.code == 1, result
    said = " ".join(result.err.split())
    assert f"not ready after 1s" in said, said
    [line] = [c for c in said.split("`")[1::2] if c.startswith("kmeshctl") and "install" in c]
    words = shlex.split(line)
    assert words[words.index("--timeout") + 1] == "5m" and words[words.index("--image") + 1] == "reg/img:1", line
    assert "--kubeconfig" in words and words.count("--timeout") == 1, line


# -- 5: status over a partial install ----------------------------------------------------------------


def _partial(cluster: Any, image: str, pod_left: bool) -> None:  # noqa: F811
    """An install whose DaemonSet is gone (an uninstall stopped after deleting it), with
    one of its agent pods still there (``pod_left``: stopping, or orphaned) or none."""
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--image", image, "--no-wait", "-q").code == 0
    ds = cluster.server.get("apps/v1", "DaemonSet", "kmesh", NS)
    cluster.server.remove(("apps", "daemonsets", NS, "kmesh"))
    if pod_left:
        template = ds["spec"]["template"]
        cluster.server.put({"apiVersion": "v1", "kind": "Pod",
                            "metadata": {"name": "kmesh-x1", "namespace": NS, "labels": template["metadata"]["labels"]},
                            "spec": {**template["spec"], "nodeName": "node-a"}})


def test_partly_installed_with_an_agent_pod_left_gives_its_install_line(cluster: Any) -> None:  # noqa: F811
    _partial(cluster, "reg/img:7", pod_left=True)
    result = cluster.kmeshctl("status")
    assert result.code == 1, result
    said = " ".join((result.out + result.err).split())
    assert "(its flags read from its agent pods still there)" in said, said
    [line] = [c for c in said.split("`")[1::2] if c.startswith("kmeshctl") and " install " in c]
    words = shlex.split(line)
    assert words[words.index("--image") + 1] == "reg/img:7" and words[words.index("--cluster-id") + 1] == "c1", line


def test_partly_installed_with_nothing_to_read_says_the_image_must_be_given(cluster: Any) -> None:  # noqa: F811
    _partial(cluster, "reg/img:7", pod_left=False)
    result = cluster.kmeshctl("status")
    assert result.code == 1, result
    said = " ".join((result.out + result.err).split())
    [line] = [c for c in said.split("`")[1::2] if c.startswith("kmeshctl") and " install " in c]
    # no `--image IMAGE` to fill in (pasted, an image named so, t41c 3): the default image's line, said so
    assert "--image" not in line and "it puts in the default agent image" in said, said
    assert "an install of another image or other flags needs them given again" in said, said


# -- t38c 9: a stop during install's first checks ----------------------------------------------------


def test_a_stop_during_installs_first_checks_says_nothing_was_applied(cluster: Any,  # noqa: F811
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import kmeshctl.cli.cluster as cli_cluster

    def stopped(*_: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_cluster, "_check_required", stopped)
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--image", "reg/img:1")
    assert result.code == 130, result
    said = " ".join(result.err.split())
    assert "install stopped by Ctrl-C (SIGINT) before anything was applied" in said, said
    [line] = [c for c in said.split("`")[1::2] if c.startswith("kmeshctl")]
    assert "--image reg/img:1" in line and "--cluster-id c1" in line and "--kubeconfig" in line, line
    assert not cluster.server.all_of("apps/v1", "DaemonSet"), "nothing applied"


@pytest.mark.parametrize("dry_run", [False, True], ids=["install", "dry-run"])
def test_a_stop_while_kmeshctl_loads_install_says_nothing_was_applied(dry_run: bool, tmp_path: Any) -> None:
    import signal

    from test_cli_signal_stop_any_moment import _env, _run_stopped

    args = ["--context", "kind-a", "install", "--cluster-id", "c1", "--image", "reg/img:1", *(["--dry-run"] * dry_run)]
    code, out, err = _run_stopped(args, signal.SIGINT, 0.02, _env(tmp_path))  # 20 ms: its modules still load
    assert code == 130 and out == "", (code, out, err)
    [line] = err.strip().splitlines()
    if dry_run:
        assert line == "Error: install --dry-run stopped by Ctrl-C (SIGINT); nothing was applied (a dry run applies " \
                       "nothing)", line
        return
    assert line == ("Error: install stopped by Ctrl-C (SIGINT) before anything was applied; re-run `kmeshctl "
                    "--context kind-a install --cluster-id c1 --image reg/img:1` to install"), line
