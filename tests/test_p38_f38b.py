"""Fixer f38b, t37c's findings 1 and 7 (pass 38).

1 `uninstall` right after `kubectl delete pod` of an agent pod: the pod deleted while kmesh
  is installed keeps its node's data path for the pod its DaemonSet makes in its place
  (kmeshctl.node.lifecycle: a restart), so uninstall waits, before deleting the DaemonSet,
  for the predecessor to go and the replacement to run (which removes the data path as the
  DaemonSet goes), says so, and reports the node as any other. Only past its --timeout does
  it stop there, naming the node, the pod, its state, the look and the uninstall to re-run.
  A predecessor overdue (its kubelet not stopping it) or a replacement that cannot start by
  itself is not waited for: the node is reported needing cleanup, with why.
7 `install` with istiod's Deployment at 0 ready replicas is refused before any write
  (exit 1), naming the scale (or describe / rollout status) line and the install to re-run;
  `install --dry-run` warns instead (nothing is written; istiod may be up by the real run);
  precheck's istiod row says it in the same words.

Real parts: kmeshctl.cli.main in-process against the stand-in API server, whose pods take
a grace period to stop and whose DaemonSet controller replaces a pod being deleted
(tests/standin: pod_stop_s, daemon_pod_start_s); the node agent's stop is simulated by a
hook that does what kmeshctl.node.lifecycle decides (its DaemonSet gone: unmark its node's
pods; still there: keep everything for the replacement)."""

from __future__ import annotations

import copy
import json
import math
import re
import shlex
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest

from kmeshctl.uninstall import REPLACEMENT_START_S, STOP_OVERDUE_S, replacing
from standin_apiserver import app_pod, cluster, namespace  # noqa: F401 (fixture)
from test_p30_tier import _istiod_scaled

NS = "kmesh-system"
MARK = "kmesh.net/redirection"


# -- 1: uninstall and an agent pod being replaced ---------------------------------------------------


def _agent_stops(server: Any) -> None:
    """The node agent's SIGTERM, as kmeshctl.node.lifecycle decides it: a running agent whose
    DaemonSet is gone or being deleted removes its node's data path and unmarks its node's
    pods; one whose DaemonSet stays (a restart) keeps both for its replacement."""
    def stop(pod: dict) -> None:
        meta = pod["metadata"]
        owner = next((o for o in meta.get("ownerReferences") or [] if o.get("kind") == "DaemonSet"), None)
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        if owner is None or not statuses or not all("running" in (c.get("state") or {}) for c in statuses):
            return  # no agent, or one that never started: nothing ran to clean up
        ds = server.objects.get(("apps", "daemonsets", meta["namespace"], owner["name"]))
        if ds is not None and not ds["metadata"].get("deletionTimestamp"):
            return  # a restart: the data path stays for the replacement
        node = pod["spec"].get("nodeName")
        for key, other in list(server.objects.items()):
            annotations = other["metadata"].get("annotations") or {}
            if key[1] == "pods" and other.get("spec", {}).get("nodeName") == node and MARK in annotations:
                unmarked = copy.deepcopy(other)
                del unmarked["metadata"]["annotations"][MARK]
                server.store(server.resource_for("v1", "Pod"), key, unmarked)

    server.on_pod_stop = stop


@pytest.fixture
def installed(cluster: Any) -> Any:  # noqa: F811
    """kmesh installed (agents running on node-a and node-b), an enrolled app pod marked on
    each node, pods taking 1s to stop and the DaemonSet replacing a deleted one."""
    cluster.server.daemonset_controller = "ready"
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "20", "-q")
    assert result.code == 0, result
    cluster.server.put(namespace("shop"))
    for name, node in (("web-a", "node-a"), ("web-b", "node-b")):
        cluster.server.put(app_pod(name, "shop", annotated=True, nodeName=node))
    _agent_stops(cluster.server)
    cluster.server.pod_stop_s = 1.0
    cluster.server.daemon_pod_start_s = 1.5
    return cluster


def _agents(server: Any) -> list[dict]:
    return [p for p in server.all_of("v1", "Pod") if p["metadata"]["namespace"] == NS]


def _marked(server: Any) -> list[str]:
    return sorted(p["metadata"]["name"] for p in server.all_of("v1", "Pod")
                  if MARK in (p["metadata"].get("annotations") or {}))


def _nodes(result: Any) -> dict[str, dict]:
    return {n["agent"]: n for n in json.loads(result.out)["nodes"]}


def test_uninstall_waits_for_the_replacement_of_an_agent_pod_being_deleted(installed: Any) -> None:
    installed.server.delete_object("v1", "Pod", "kmesh-node-a", NS)  # `kubectl delete pod --wait=false`
    result = installed.kmeshctl("uninstall")
    assert result.code == 0, result
    waiting = [line for line in result.err.splitlines() if line.startswith("waiting for node node-a's agent pod")]
    assert waiting and "kmesh-node-a Terminating" in waiting[0], result.err
    assert "keeps its node's data path for its replacement" in waiting[0] and "(limit 5m)" in waiting[0], waiting
    assert "node node-a: the replacement agent pod runs (waited " in result.err, result.err
    line = next(ln for ln in result.out.splitlines() if ln.startswith("node node-a: agent pod"))
    assert not line.startswith(f"node node-a: agent pod {NS}/kmesh-node-a "), line  # its replacement's line
    assert "stopped (data path removed; " in line, line
    assert re.search(r"; kmesh-node-a was being deleted as uninstall began: waited \d+s for its replacement\)$",
                     line), line
    assert not _marked(installed.server) and not _agents(installed.server), result


def test_uninstall_quiet_right_after_the_predecessor_went_waits_for_the_replacement(installed: Any) -> None:
    installed.server.daemon_pod_start_s = 4.0  # still starting when uninstall looks
    installed.server.delete_object("v1", "Pod", "kmesh-node-b", NS)
    deadline = time.monotonic() + 5  # `kubectl delete pod` (it waits for the pod to go), then uninstall
    while any(p["metadata"]["name"] == "kmesh-node-b" for p in _agents(installed.server)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    result = installed.kmeshctl("uninstall", "-q", "-o", "json")
    assert result.code == 0, result
    nodes = _nodes(result)
    assert {n["outcome"] for n in nodes.values()} == {"stopped"}, nodes
    [b] = [n for agent, n in nodes.items() if agent.startswith("node node-b:")]
    assert re.search(r"; its agent pod was replaced as uninstall began: waited \d+s for its replacement$",
                     b["detail"]), b
    assert not _marked(installed.server), result


def test_past_the_limit_it_stops_before_the_daemonset_with_the_node_and_the_line(installed: Any) -> None:
    installed.server.daemon_pod_start_s = math.inf  # the replacement does not start in time
    installed.server.delete_object("v1", "Pod", "kmesh-node-a", NS)
    result = installed.kmeshctl("uninstall", "-q", "--timeout", "3")
    assert result.code == 1, result
    [line] = [ln for ln in result.err.strip().splitlines() if ln.startswith("Error:")]
    replacement = next(p["metadata"]["name"] for p in _agents(installed.server)
                       if p["metadata"]["name"] not in ("kmesh-node-a", "kmesh-node-b"))
    assert line.startswith("Error: uninstall stopped by the --timeout 3s limit (reached before deleting DaemonSet "
                           f"{NS}/kmesh, waiting for node node-a's agent pod {replacement} (a replacement) "
                           "ContainerCreating; deleted sooner, that node's data path would stay"), line
    assert f"; not deleted: DaemonSet {NS}/kmesh, " in line, line
    commands = [shlex.split(c) for c in line.split("`")[1::2]]
    assert ["kubectl", "describe", "pod", "-n", NS, replacement] in [c[:6] for c in commands], line
    [again] = [c for c in commands if c[:1] == ["kmeshctl"]]
    assert "--kubeconfig" in again and "uninstall" in again and again[again.index("--timeout") + 1] == "3s", again
    assert installed.server.get("apps/v1", "DaemonSet", "kmesh", NS) is not None  # not deleted: the node kept
    # the replacement starts; the line pasted finishes the uninstall, every node cleaned
    with installed.server.lock:
        from standin.controllers import pod_status
        pod = copy.deepcopy(installed.server.objects[("", "pods", NS, replacement)])
        pod["status"] = pod_status(pod["spec"], True, None)
        installed.server.store(installed.server.resource_for("v1", "Pod"), ("", "pods", NS, replacement), pod)
    done = installed.as_typed(*again)
    assert done.code == 0, done
    assert not _marked(installed.server) and not _agents(installed.server), done


def test_a_predecessor_no_kubelet_stops_is_not_waited_for_and_its_node_is_named(installed: Any) -> None:
    installed.server.pod_stop_s = None  # as on a node that is down: the pod stays Terminating
    with installed.server.lock:
        meta = installed.server.objects[("", "pods", NS, "kmesh-node-a")]["metadata"]
        meta["deletionTimestamp"] = _ago(STOP_OVERDUE_S + 60)
    started = time.monotonic()
    result = installed.kmeshctl("uninstall", "-q", "-o", "json")
    assert time.monotonic() - started < 10, "it waited for a pod no kubelet stops"
    assert result.code == 1, result
    a = next(n for agent, n in _nodes(result).items() if agent.startswith("node node-a:"))
    assert a["outcome"] == "needs cleanup", a
    assert a["agent"] == f"node node-a: agent pod {NS}/kmesh-node-a", a
    assert a["detail"].startswith("pods still marked kmesh.net/redirection (shop/web-a): it was being deleted while "
                                  "kmesh was installed (Running, past its grace period: its node may be down), so it "
                                  "kept the node's data path for a replacement, and none ran there; run `kmeshctl "
                                  "node cleanup --ignore-not-found` on the node"), a
    b = next(n for agent, n in _nodes(result).items() if agent.startswith("node node-b:"))
    assert b["outcome"] == "stopped", b


# -- 1: which states are waited for (replacing) ---------------------------------------------------


def _ago(seconds: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod(name: str, created_ago: float, state: dict, phase: str = "Pending", deleting_ago: float | None = None,
         restarts: int = 0) -> dict:
    meta: dict = {"name": name, "namespace": NS, "creationTimestamp": _ago(created_ago)}
    if deleting_ago is not None:
        meta["deletionTimestamp"] = _ago(deleting_ago)
    return {"metadata": meta, "spec": {"nodeName": "n1", "containers": [{"name": "kmesh", "image": "img"}]},
            "status": {"phase": phase, "containerStatuses": [
                {"name": "kmesh", "image": "img", "ready": "running" in state, "restartCount": restarts,
                 "state": state}]}}


RUNNING = {"running": {"startedAt": "2026-12-04T00:00:00Z"}}
CREATING = {"waiting": {"reason": "ContainerCreating"}}
BACKOFF = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}}
PULL = {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}
LONG_AGO = datetime.now(timezone.utc) - timedelta(days=1)  # the DaemonSet's only template: its first pods then


def _old() -> dict:
    return _pod("old", 3600, RUNNING, "Running", deleting_ago=-20)  # its grace period not over


# each case builds its pods when it runs: their ages count from then, not from the collection
@pytest.mark.parametrize("pods, awaited", [
    (lambda: [_old(), _pod("new", 2, CREATING)], "old Terminating, its replacement new ContainerCreating"),
    # the replacement runs, but cannot take the node's bpffs lock before old exits
    (lambda: [_old(), _pod("new", 2, RUNNING, "Running")], "old Terminating, its replacement new Running"),
    (lambda: [_old()], "old Terminating, its replacement not made yet"),
    (lambda: [_pod("new", 5, CREATING)], "new (a replacement) ContainerCreating"),
    (lambda: [_pod("new", 15, BACKOFF, "Running", restarts=1)], "new (a replacement) CrashLoopBackOff"),
    (lambda: [_pod("new", 2, RUNNING, "Running")], ""),
    (lambda: [_pod("new", 5, PULL)], ""),  # its image: it does not end by itself
    (lambda: [_pod("new", REPLACEMENT_START_S + 5, CREATING)], ""),  # not started in time (a mount failing?)
    (lambda: [_pod("old", 3600, RUNNING, "Running", deleting_ago=STOP_OVERDUE_S + 5)], ""),  # no kubelet stops it
], ids=["terminating", "terminating-new-running", "terminating-alone", "creating", "backoff", "running", "image",
        "late", "overdue"])
def test_which_agent_pods_are_waited_for(pods: Callable[[], list[dict]], awaited: str) -> None:
    found = replacing(pods(), LONG_AGO, datetime.now(timezone.utc))
    assert [r.text for r in found] == ([f"node n1's agent pod {awaited}"] if awaited else []), found


def test_the_first_pod_of_a_node_replaces_none_and_is_not_waited_for() -> None:
    pod = _pod("first", 5, CREATING)
    since = datetime.fromisoformat(pod["metadata"]["creationTimestamp"]) - timedelta(seconds=2)
    assert replacing([pod], since, datetime.now(timezone.utc)) == []


# -- 7: istiod with no ready replica ---------------------------------------------------------------


def _commands(line: str) -> list[list[str]]:
    return [shlex.split(c) for c in line.split("`")[1::2]]


def test_install_is_refused_before_any_write_when_istiod_is_at_0(cluster: Any) -> None:  # noqa: F811
    _istiod_scaled(cluster, 0)
    cluster.server.daemonset_controller = "ready"
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "20")
    assert result.code == 1 and not result.out, result
    [line] = result.err.strip().splitlines()
    assert line.startswith("Error: istiod in istio-system has 0 ready replicas (Deployment "
                           "istio-system/istiod-1-22-6 has 0/0 ready replicas: scaled to 0), so the agents would get "
                           "no xDS; nothing was applied; scale it up with `"), line
    assert not cluster.server.writes(), cluster.server.writes()
    scale, again = _commands(line)
    assert scale[:7] == ["kubectl", "-n", "istio-system", "scale", "deploy", "istiod-1-22-6", "--replicas=1"], line
    assert "--kubeconfig" in scale, scale  # the user's cluster, as every kubectl line
    assert again[0] == "kmeshctl" and again[-5:] == ["install", "--cluster-id", "c1", "--timeout", "20s"], again
    # what `kubectl scale` does, then the install line pasted goes through
    _istiod_scaled(cluster, 1, ready=1)
    done = cluster.as_typed(*again)
    assert done.code == 0, done
    assert cluster.server.get("apps/v1", "DaemonSet", "kmesh", NS) is not None


def test_install_with_istiod_not_ready_names_its_describe_and_rollout_status(cluster: Any) -> None:  # noqa: F811
    _istiod_scaled(cluster, 2)
    result = cluster.kmeshctl("install", "--cluster-id", "c1")
    assert result.code == 1, result
    line = result.err.strip().splitlines()[-1]
    assert "istiod in istio-system has 0 ready replicas (Deployment istio-system/istiod-1-22-6 has 0/2 ready " \
           "replicas: its pods not ready)" in line, line
    commands = _commands(line)
    assert ["kubectl", "-n", "istio-system", "describe", "deploy", "istiod-1-22-6"] in [c[:6] for c in commands], line
    assert ["kubectl", "-n", "istio-system", "rollout", "status", "deploy/istiod-1-22-6", "--timeout=5m"] \
        in [c[:7] for c in commands], line
    assert not cluster.server.writes()


def test_install_dry_run_warns_and_offers_the_install_to_run(cluster: Any) -> None:  # noqa: F811
    _istiod_scaled(cluster, 0)
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--dry-run", "-q")
    assert result.code == 0, result
    [warning] = [ln for ln in result.err.splitlines() if ln.startswith("Warning: istiod in istio-system")]
    assert "install (without --dry-run) refuses it" in warning, warning
    scale, again = _commands(warning)
    assert scale[:4] == ["kubectl", "-n", "istio-system", "scale"], warning
    assert "--dry-run" not in again and again[again.index("install") + 1:again.index("install") + 3] == \
        ["--cluster-id", "c1"], again
    assert not cluster.server.writes()


def test_precheck_names_istiod_at_0_in_installs_words(cluster: Any) -> None:  # noqa: F811
    _istiod_scaled(cluster, 0)
    cluster.server.put({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                        "metadata": {"name": "istiod-1-22-6-x", "namespace": "istio-system",
                                     "labels": {"kubernetes.io/service-name": "istiod-1-22-6"}},
                        "endpoints": [], "ports": [{"name": "grpc-xds", "port": 15012, "protocol": "TCP"}]})
    result = cluster.kmeshctl("precheck", "--cluster-id", "c1", "-o", "json")
    row = next(r for r in json.loads(result.out)["checks"] if r["name"] == "istiod Service :15012")
    assert row["status"] == "fail" and "Deployment istio-system/istiod-1-22-6 has 0/0 ready replicas" in row["detail"]
    assert row["fix"].startswith("scale it up (`kubectl -n istio-system scale deploy istiod-1-22-6 --replicas=1 "), row
    again = shlex.split(row["fix"].split("`")[-2])
    assert again[0] == "kmeshctl" and "precheck" in again and again[again.index("--cluster-id") + 1] == "c1", row


def test_istiod_at_0_is_named_with_every_other_blocker(cluster: Any) -> None:  # noqa: F811
    _istiod_scaled(cluster, 0)
    cluster.server.put({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                        "metadata": {"name": "kmesh"}, "rules": []})  # upstream Kmesh's, not kmeshctl's
    result = cluster.kmeshctl("install", "--cluster-id", "c1")
    assert result.code == 1, result
    line = result.err.strip().splitlines()[-1]
    assert line.startswith("Error: 2 problems block the install, nothing was applied: (1) istiod in istio-system "
                           "has 0 ready replicas"), line
    assert "(2) ClusterRole kmesh exists and was not made by kmeshctl" in line, line
    assert line.count("nothing was applied") == 1, line
    assert not cluster.server.writes()
