"""Fixer f36f, t36c's findings 3, 5, 9, 11, 12 (pass 36).

3 An agent pod being deleted (metadata.deletionTimestamp, as right after `kubectl rollout
  restart ds kmesh`) is `Terminating` in status's table and JSON, said from its status
  before any port-forward (no admin-port / access hint): status, version, and `dump config
  --pod` (which names the pod replacing it, with the command to paste).
5 status as a user who may not create pods/portforward: the agent's istiod connection is
  unknown (JSON `connected: null`), the fix is the RBAC one (as version's and dump's), not
  the agent's log.
9 enable-ns NS --wait over another data plane's label with kmesh not installed: the
  --overwrite line offered leaves --wait out, so one paste works.
11 A kmesh DaemonSet that wants 0 pods runs no agent: disable-ns --wait does not wait for
  one (says why, exit 0, no "wait longer"); enable-ns --wait is refused before any change.
12 Every `kmeshctl node cleanup` line uninstall and status print for a node carries
  --ignore-not-found (it exits 0 on a clean node), as docs/usage.md says.

Real parts: kmeshctl.cli.main in-process against the stand-in API server (its DaemonSet
controller makes the agent pods; a test patches its port-forward to answer 403)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from standin_apiserver import app_pod, cluster, namespace  # noqa: F401 (fixture)
from test_cli_dump_pod_not_an_agent import put_install

MODE = "istio.io/dataplane-mode"
NS = "kmesh-system"


def _install(server) -> list[str]:
    """The install's Namespace and DaemonSet, its controller's pods ready; their names."""
    import time

    put_install(server)
    deadline = time.monotonic() + 10
    while not (pods := sorted(p["metadata"]["name"] for p in server.all_of("v1", "Pod")
                              if p["metadata"]["namespace"] == NS)):
        assert time.monotonic() < deadline, "the DaemonSet controller made no pod"
        time.sleep(0.05)
    return pods


def _terminating(server, name: str) -> None:
    """``name`` being deleted, as the API server leaves it while its kubelet stops it."""
    with server.lock:
        server.objects[("", "pods", NS, name)]["metadata"]["deletionTimestamp"] = "2026-12-04T19:00:00Z"


def _forwards(server, pod: str) -> list[str]:
    return [r.path for r in server.requests if r.path.endswith(f"/pods/{pod}/portforward")]


def _pasted(line: str) -> list[str]:
    [command] = re.findall(r"`(kmeshctl [^`]*)`", line)
    return shlex.split(command)


# -- 3: a Terminating agent pod -----------------------------------------------------------------


def test_3_status_says_terminating_from_the_pods_status_without_a_port_forward(cluster) -> None:  # noqa: F811
    pods = _install(cluster.server)
    _terminating(cluster.server, pods[0])
    result = cluster.kmeshctl("status", "-o", "json")
    data = json.loads(result.out)
    [pod] = [p for p in data["pods"] if p["name"] == pods[0]]
    [agent] = [a for a in data["agents"] if a["pod"] == pods[0]]
    assert pod["status"] == "Terminating", pod
    assert agent["error"] == "pod is Terminating" and agent["connected"] is None, agent
    assert not _forwards(cluster.server, pods[0])
    assert f"pod {pods[0]} on node-a being deleted (Terminating)" in data["problems"], data["problems"]
    text = cluster.kmeshctl("status")
    print(text.out)
    [row] = [line for line in text.out.splitlines() if line.startswith(f"node-a   {pods[0]} ")]
    assert row.split()[3] == "Terminating" and "unknown (pod is Terminating)" in row, row
    assert f"Agent {pods[0]}" not in text.out, text.out  # no port-forward error for it


def test_3_version_says_terminating_not_a_port_forward_failure(cluster) -> None:  # noqa: F811
    pods = _install(cluster.server)
    _terminating(cluster.server, pods[0])
    result = cluster.kmeshctl("version", "-o", "json")
    [row] = [a for a in json.loads(result.out)["cluster"]["agents"] if a["pod"] == pods[0]]
    assert row["error"] == "pod is Terminating", row
    assert not _forwards(cluster.server, pods[0])


def test_3_dump_config_of_a_terminating_pod_names_the_one_replacing_it(cluster) -> None:  # noqa: F811
    pods = _install(cluster.server)
    _terminating(cluster.server, pods[0])
    result = cluster.kmeshctl("dump", "config", "--pod", pods[0], "-n", NS)
    assert result.code == 1 and not _forwards(cluster.server, pods[0]), result
    line = result.err.strip()
    assert line.startswith(f"Error: pod {NS}/{pods[0]} is Terminating (being deleted)"), line
    assert "admin" not in line and "access" not in line and "`kubectl get pods" in line, line
    new = cluster.server.get("v1", "Pod", pods[0], NS)
    new["metadata"] = {k: v for k, v in new["metadata"].items() if k in ("namespace", "labels", "ownerReferences")}
    new["metadata"]["name"] = f"{pods[0]}-f36f"
    cluster.server.put(new)
    again = cluster.kmeshctl("dump", "config", "--pod", pods[0], "-n", NS)
    words = _pasted(again.err)
    assert words[words.index("--pod") + 1] == f"{pods[0]}-f36f" and words[words.index("-n") + 1] == NS, words
    assert words[0] == "kmeshctl" and "--kubeconfig" in words and {"dump", "config"} <= set(words), words


# -- 5: no pods/portforward permission --------------------------------------------------------------


@pytest.fixture
def forward_forbidden(monkeypatch):
    """The stand-in answers every port-forward upgrade 403, as RBAC does for a user bound to `view`."""
    from standin import streams
    from standin.resources import HttpError

    def refuse(pod: dict) -> None:
        raise HttpError(403, "Forbidden", f'pods "{pod["metadata"]["name"]}" is forbidden: User "f36f-viewer" '
                        'cannot create resource "pods/portforward" in API group "" in the namespace "kmesh-system"')

    monkeypatch.setattr(streams, "check_runnable", refuse)


def test_5_status_gives_the_rbac_fix_and_connected_unknown(cluster, forward_forbidden) -> None:  # noqa: F811
    _install(cluster.server)
    result = cluster.kmeshctl("status")
    assert result.code == 1, result
    fix = [line for line in result.out.splitlines() if line.startswith("Fix:")]
    assert fix and "grant it create on pods/portforward" in fix[0], result.out
    assert "kubectl auth can-i create pods --subresource=portforward -n kmesh-system" in fix[0], fix
    assert "kubectl logs" not in result.out, result.out
    assert "not connected to istiod" not in result.out, result.out
    assert "istiod connection of agent kmesh-node-a unknown (port-forward forbidden)" in result.out, result.out
    data = json.loads(cluster.kmeshctl("status", "-o", "json").out)
    assert {a["connected"] for a in data["agents"]} == {None}, data["agents"]
    assert all("403" in a["error"] and "pods/portforward" in a["fix"] for a in data["agents"]), data["agents"]
    assert "grant it create on pods/portforward" in data["fix"], data["fix"]


# -- 9: enable-ns --wait over ambient with kmesh not installed ---------------------------------------


def test_9_the_overwrite_line_leaves_out_a_wait_that_would_be_refused(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("f36f-app", {MODE: "ambient"}))
    result = cluster.kmeshctl("enable-ns", "f36f-app", "--wait", "--timeout", "20s")
    assert result.code == 2, result
    words = _pasted(result.err)
    assert "--overwrite" in words and "--wait" not in words and "--timeout" not in words, words
    assert "--kubeconfig" in words, words
    pasted = cluster.as_typed(*words)
    assert pasted.code == 0, pasted
    assert cluster.server.get("v1", "Namespace", "f36f-app")["metadata"]["labels"][MODE] == "Kmesh"


def test_9_a_did_you_mean_line_leaves_out_that_wait_too(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("f36f-web"))
    result = cluster.kmeshctl("enable-ns", "f36f-wbe", "--wait", "--timeout", "20s")
    assert result.code == 2 and "did you mean f36f-web?" in result.err, result
    assert "(--wait left out: kmesh is not installed, no node agent to wait for)" in result.err, result.err
    words = _pasted(result.err)
    assert "f36f-web" in words and "--wait" not in words and "20s" not in words, words
    assert cluster.as_typed(*words).code == 0


def test_9_with_kmesh_installed_the_overwrite_line_keeps_wait(cluster) -> None:  # noqa: F811
    _install(cluster.server)
    cluster.server.put(namespace("f36f-app", {MODE: "ambient"}))
    result = cluster.kmeshctl("enable-ns", "f36f-app", "--wait", "--timeout", "20s")
    assert result.code == 2, result
    words = _pasted(result.err)
    assert "--overwrite" in words and "--wait" in words and "20s" in words, words


# -- 11: a DaemonSet that wants 0 pods ---------------------------------------------------------------


def _idle_install(server) -> None:
    """kmesh installed, no node matching its DaemonSet: its controller schedules 0 pods."""
    for node in ("node-a", "node-b"):
        server.delete_object("v1", "Node", node)
    put_install(server)
    import time

    deadline = time.monotonic() + 10
    while "status" not in (server.get("apps/v1", "DaemonSet", "kmesh", NS) or {}):
        assert time.monotonic() < deadline, "the DaemonSet controller wrote no status"
        time.sleep(0.05)


def test_11_disable_ns_wait_does_not_wait_for_an_agent_no_node_runs(cluster) -> None:  # noqa: F811
    import time

    _idle_install(cluster.server)
    cluster.server.put(namespace("f36f-app", {MODE: "Kmesh"}))
    cluster.server.put(app_pod("web-1", "f36f-app", annotated=True))
    started = time.monotonic()
    result = cluster.kmeshctl("disable-ns", "f36f-app", "--wait", "--timeout", "10s")
    assert time.monotonic() - started < 8, "it waited"
    assert result.code == 0, result
    assert MODE not in (cluster.server.get("v1", "Namespace", "f36f-app")["metadata"].get("labels") or {})
    line = result.err.strip()
    assert line.startswith("--wait: nothing to wait for: the kmesh DaemonSet kmesh-system/kmesh wants 0 pods "
                           "(no node matches its nodeSelector / tolerations), so no node agent runs"), line
    assert "1 pod still carries" in line and " status -n kmesh-system` says why" in line, line
    assert "Error" not in line and "--timeout" not in line, line


def test_11_enable_ns_wait_is_refused_before_the_label_changes(cluster) -> None:  # noqa: F811
    _idle_install(cluster.server)
    cluster.server.put(namespace("f36f-app"))
    result = cluster.kmeshctl("enable-ns", "f36f-app", "--wait", "--timeout", "10s")
    assert result.code == 1, result
    assert "wants 0 pods" in result.err and "--wait would wait for an agent that is not there" in result.err
    assert MODE not in (cluster.server.get("v1", "Namespace", "f36f-app")["metadata"].get("labels") or {})
    words = [w for w in shlex.split(re.findall(r"leave out --wait: `([^`]*)`", result.err)[0])]
    assert "--wait" not in words, words
    assert cluster.as_typed(*words).code == 0


# -- 12: node cleanup lines work on a clean node -------------------------------------------------------


def test_12_every_node_cleanup_line_carries_ignore_not_found() -> None:
    from kmeshctl.uninstall import AgentPod, left_marked_detail, node_results

    detail = left_marked_detail(["app/web-1"], "node-a")
    assert "`kmeshctl node cleanup --ignore-not-found` on the node" in detail, detail
    [result] = node_results(NS, [AgentPod(node="node-a", name="kmesh-x", running=False, state="ImagePullBackOff",
                                          scheduled=True)], {"node-a": ["app/web-1"]})
    assert "`kmeshctl node cleanup --ignore-not-found` on the node" in result.detail, result
    docs = (Path(__file__).parents[1] / "docs" / "usage.md").read_text()
    assert "`kmeshctl node cleanup` on the node (as root)" not in docs
