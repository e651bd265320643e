"""Findings of a new-user tester on a real cluster (p27), against the stand-in API server:

1. an install whose image cannot be pulled names the image it replaced and gives the
   install to paste that puts it back (every other flag typed kept); on a first install
   (nothing replaced) the install with kmeshctl's default image when the typed one is
   another; with the default image itself, the kubelet's events.
2. every status that is not healthy says what to do first (`Fix: ...`; -o json `fix`),
   with the command to paste: the install of 1 for agents that cannot pull their image.
3. `dump config|maps --pod` with kmesh not installed gives the install to paste (istiod's
   cluster id in it when istiod's Deployment names it).

Real parts: kmeshctl.cli.main in-process against the stand-in API server (its DaemonSet
controller: `ready`, or `stuck` on an image pull); the agents' admin endpoint is replaced."""

from __future__ import annotations

import json
import shlex

import pytest

from kmeshctl.params import DEFAULT_IMAGE
from kmeshctl.rollout import PodState
from kmeshctl.status import AgentXds, MeshStatus
from standin.resources import Resource
from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_p24_install import ISTIOD, _istiod_deployment

OLD = "registry.example/kmesh:0.1.0"
BAD = "registry.example/kmesh:9.9.9"
CONTROLLER_REVISION = Resource("apps", "v1", "ControllerRevision", "controllerrevisions", True)


def _last_error(result) -> str:
    assert result.code == 1, result
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("Error: DaemonSet kmesh-system/kmesh not ready after 2s (0/2 ready; ImagePullBackOff)"), \
        result.err
    return last


def _commands(text: str, tool: str = "kmeshctl") -> list[list[str]]:
    return [shlex.split(c) for c in text.split("`")[1::2] if c.startswith(tool)]


def _pasted(cluster, text: str):  # noqa: F811
    """The one kmeshctl command of ``text``, run as pasted (the stand-in's --kubeconfig in it)."""
    [command] = _commands(text)
    assert command[1:3] == ["--kubeconfig", str(cluster.kubeconfig)], command
    return cluster.as_typed(*command)


def _image(cluster) -> str:  # noqa: F811
    ds = cluster.server.get("apps/v1", "DaemonSet", "kmesh", "kmesh-system")
    return ds["spec"]["template"]["spec"]["containers"][0]["image"]


def _installed(cluster, image: str) -> None:  # noqa: F811
    """A working install of ``image``; the controller then leaves new pods on an image pull."""
    cluster.server.daemonset_controller = "ready"
    assert cluster.kmeshctl("install", "--cluster-id", "tier-t27b", "--image", image, "--timeout", "20s").code == 0
    cluster.server.daemonset_controller = "stuck"


def _revision(cluster, image: str, number: int) -> None:  # noqa: F811
    """The ControllerRevision the DaemonSet controller keeps of a template of ``image``."""
    ds = cluster.server.get("apps/v1", "DaemonSet", "kmesh", "kmesh-system")
    template = {**ds["spec"]["template"], "spec": {**ds["spec"]["template"]["spec"],
                                                   "containers": [{"name": "kmesh", "image": image}]}}
    cluster.server.put({"apiVersion": "apps/v1", "kind": "ControllerRevision",
                        "metadata": {"name": f"kmesh-{number}", "namespace": "kmesh-system",
                                     "labels": ds["spec"]["selector"]["matchLabels"],
                                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "kmesh",
                                                          "uid": ds["metadata"]["uid"], "controller": True}]},
                        "data": {"spec": {"template": {"$patch": "replace", **template}}}, "revision": number},
                       "kube-controller-manager")


@pytest.fixture
def connected(monkeypatch):
    """Every agent asked answers connected to istiod."""
    monkeypatch.setattr("kmeshctl.config_dump.fetch_from_pod", lambda *args, **kwargs: {
        "address": ISTIOD, "connected": True, "synced": True})


# -- 1: install, an image that cannot be pulled ----------------------------------------------------


def test_an_image_that_cannot_be_pulled_is_put_back_by_the_install_given(cluster, connected) -> None:  # noqa: F811
    _installed(cluster, OLD)
    result = cluster.kmeshctl("install", "--cluster-id", "tier-t27b", "--image", BAD, "--timeout", "2s")
    line = _last_error(result)
    assert f"the image cannot be pulled: fix --image (or the nodes' registry access) and re-run install, or put " \
           f"back {OLD}, the image {BAD} replaced: `" in line, line
    [command] = _commands(line)
    assert command == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "install", "--cluster-id", "tier-t27b",
                       "--image", OLD, "--timeout", "2s"], line
    cluster.server.daemonset_controller = "ready"
    assert _pasted(cluster, line).code == 0 and _image(cluster) == OLD


def test_the_same_bad_image_again_finds_the_one_it_replaced_in_the_revisions(cluster, connected) -> None:  # noqa: F811
    cluster.server.extra_resources.append(CONTROLLER_REVISION)
    _installed(cluster, OLD)
    _revision(cluster, OLD, 1)
    assert cluster.kmeshctl("install", "--cluster-id", "tier-t27b", "--image", BAD, "--timeout", "2").code == 1
    _revision(cluster, BAD, 2)
    # the DaemonSet's image before this install is the one that cannot be pulled: the revisions say which it replaced
    line = _last_error(cluster.kmeshctl("install", "--cluster-id", "tier-t27b", "--image", BAD, "--timeout", "2"))
    [command] = _commands(line)
    assert command[3:] == ["install", "--cluster-id", "tier-t27b", "--image", OLD, "--timeout", "2s"], line


def test_a_first_install_of_another_image_offers_kmeshctls_default(cluster) -> None:  # noqa: F811
    cluster.server.daemonset_controller = "stuck"
    line = _last_error(cluster.kmeshctl("install", "--cluster-id", "c1", "--image", BAD, "--timeout", "2"))
    assert f"or install kmeshctl's default image instead of {BAD}: `" in line, line
    [command] = _commands(line)
    assert command[3:] == ["install", "--cluster-id", "c1", "--image", DEFAULT_IMAGE, "--timeout", "2s"], line
    cluster.server.daemonset_controller = "ready"
    assert _pasted(cluster, line).code == 0 and _image(cluster) == DEFAULT_IMAGE


def test_the_default_image_that_cannot_be_pulled_points_at_the_kubelets_events(cluster) -> None:  # noqa: F811
    cluster.server.daemonset_controller = "stuck"
    line = _last_error(cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "2"))
    assert f"the image {DEFAULT_IMAGE} cannot be pulled: check the nodes' registry access" in line, line
    assert _commands(line, "kubectl") == [["kubectl", "describe", "pod", "-n", "kmesh-system", "kmesh-node-a",
                                           "--kubeconfig", str(cluster.kubeconfig)]], line


def status_after_failed_install(cluster, image: str, cluster_id: str):  # noqa: F811
    """Agents rolled out at OLD, then an install of ``image`` that fails its rollout wait
    (its DaemonSet revision 2): `kmeshctl status`'s result."""
    cluster.server.extra_resources.append(CONTROLLER_REVISION)
    _installed(cluster, OLD)
    _revision(cluster, OLD, 1)
    assert cluster.kmeshctl("install", "--cluster-id", cluster_id, "--image", image, "--timeout", "2").code == 1
    _revision(cluster, image, 2)
    return cluster.kmeshctl("status")


# -- 2: status says what to do --------------------------------------------------------------------


def test_status_of_agents_that_cannot_pull_gives_the_install_putting_the_image_back(cluster,  # noqa: F811
                                                                                      connected) -> None:
    text = status_after_failed_install(cluster, BAD, "tier-t27b")
    assert text.code == 1 and "Not healthy: 0/2 agent pods ready" in text.out, text
    [fix] = [line for line in text.out.splitlines() if line.startswith("Fix: ")]
    assert f"or put back {OLD}, the image {BAD} replaced: `" in fix, text.out
    state = json.loads(cluster.kmeshctl("status", "-o", "json").out)
    assert state["fix"] == fix.removeprefix("Fix: "), state
    [command] = _commands(fix)
    assert command[3:] == ["install", "--cluster-id", "tier-t27b", "--xds-address", ISTIOD, "--image", OLD], fix
    cluster.server.daemonset_controller = "ready"
    assert _pasted(cluster, fix).code == 0
    healthy = cluster.kmeshctl("status", "-o", "json")
    assert healthy.code == 0 and json.loads(healthy.out)["fix"] is None, healthy
    assert "Fix:" not in cluster.kmeshctl("status").out


def test_status_with_no_earlier_image_known_offers_the_default_image(cluster, connected) -> None:  # noqa: F811
    cluster.server.daemonset_controller = "stuck"
    cluster.kmeshctl("install", "--cluster-id", "c1", "--image", BAD, "--timeout", "2")
    fix = json.loads(cluster.kmeshctl("status", "-o", "json").out)["fix"]
    [command] = _commands(fix)
    assert command[3:] == ["install", "--cluster-id", "c1", "--xds-address", ISTIOD, "--image", DEFAULT_IMAGE], fix
    cluster.server.daemonset_controller = "ready"
    assert _pasted(cluster, fix).code == 0 and _image(cluster) == DEFAULT_IMAGE


def test_status_of_an_agent_istiod_refuses_gives_istiods_cluster_id(cluster, monkeypatch) -> None:  # noqa: F811
    _istiod_deployment(cluster, [{"name": "CLUSTER_ID", "value": "tier-t27b"}])
    cluster.server.daemonset_controller = "ready"
    assert cluster.kmeshctl("install", "--cluster-id", "tier-t27b", "--timeout", "20s").code == 0
    ds = cluster.server.get("apps/v1", "DaemonSet", "kmesh", "kmesh-system")
    env = ds["spec"]["template"]["spec"]["containers"][0]["env"]
    next(e for e in env if e["name"] == "CLUSTER_ID")["value"] = "wrong-id"  # as an older install left it
    cluster.server.put(ds, "kmeshctl")
    monkeypatch.setattr("kmeshctl.config_dump.fetch_from_pod", lambda *args, **kwargs: {
        "address": ISTIOD, "connected": False, "lastError": "UNAUTHENTICATED: authentication failure"})
    text = cluster.kmeshctl("status")
    assert text.code == 1, text
    [fix] = [line for line in text.out.splitlines() if line.startswith("Fix: ")]
    assert "--cluster-id wrong-id is not istiod's cluster id, which is tier-t27b" in fix, fix
    [command] = _commands(fix)
    assert command[3:6] == ["install", "--cluster-id", "tier-t27b"], fix
    monkeypatch.setattr("kmeshctl.config_dump.fetch_from_pod", lambda *args, **kwargs: {
        "address": ISTIOD, "connected": True, "synced": True})
    assert _pasted(cluster, fix).code == 0


def _ds(desired: int, updated: int, ready: int) -> dict:
    return {"name": "kmesh", "desired": desired, "updated": updated, "ready": ready, "image": OLD}


def _pod(name: str, status: str, node: str = "node-a", phase: str = "Running", restarts: int = 0) -> PodState:
    return PodState(name, "kmesh-system", node, phase, False, restarts, OLD, status, "")


REINSTALL = f"kmeshctl install --cluster-id c1 --xds-address {ISTIOD} --image {OLD}"
UNHEALTHY = {
    "crashing": (MeshStatus("kmesh-system", _ds(1, 1, 0), pods=[_pod("kmesh-a", "CrashLoopBackOff", restarts=3)]),
                 "kubectl logs -n kmesh-system kmesh-a --previous"),
    "not scheduled": (MeshStatus("kmesh-system", _ds(1, 1, 0), pods=[_pod("kmesh-a", "Unschedulable: 0/2 nodes", "",
                                                                           "Pending")]),
                      "kubectl describe pod -n kmesh-system kmesh-a"),
    "running, not ready": (MeshStatus("kmesh-system", _ds(1, 1, 0), pods=[_pod("kmesh-a", "ContainersNotReady")]),
                           "kubectl describe pod -n kmesh-system kmesh-a"),
    "no pod yet": (MeshStatus("kmesh-system", _ds(1, 1, 0)), "kubectl describe daemonset kmesh -n kmesh-system"),
    "rolling out": (MeshStatus("kmesh-system", _ds(2, 1, 2)), "kubectl rollout status daemonset/kmesh -n kmesh-system"),
    "not asked": (MeshStatus("kmesh-system", _ds(1, 1, 1), agents=[AgentXds("kmesh-a", "node-a", None,
                                                                            "cannot port-forward: refused")]),
                  "kubectl logs -n kmesh-system kmesh-a"),
    "missing objects": (MeshStatus("kmesh-system", _ds(1, 1, 1), missing=["ClusterRole kmesh"], expected=10,
                                   reinstall=REINSTALL), REINSTALL),
    "no node": (MeshStatus("kmesh-system", _ds(0, 0, 0)), "kubectl get daemonset kmesh -n kmesh-system"),
    "not installed": (MeshStatus("kmesh-system", None), "kmeshctl install --cluster-id ID"),
}


@pytest.mark.parametrize("case", UNHEALTHY, ids=list(UNHEALTHY))
def test_every_unhealthy_status_has_a_fix_to_paste(case: str) -> None:
    state, command = UNHEALTHY[case]
    assert not state.healthy and state.to_dict()["fix"] == state.fix, state.problems
    assert any(c.startswith(command) for c in state.fix.split("`")[1::2]), state.fix


# -- 3: dump --pod with kmesh not installed ----------------------------------------------------------


@pytest.mark.parametrize("what", ["config", "maps"])
def test_dump_pod_with_kmesh_not_installed_gives_the_install(cluster, connected, what: str) -> None:  # noqa: F811
    _istiod_deployment(cluster, [{"name": "CLUSTER_ID", "value": "tier-t27b"}])
    result = cluster.kmeshctl("dump", what, "--pod", "kmesh-n92st")
    assert result.code == 1, result
    [line] = result.err.strip().splitlines()
    assert "kmesh is not installed in this cluster" in line and "install kmesh first: run `" in line, line
    install = line.split("install kmesh first: ")[1]
    assert _commands(install)[0][3:] == ["install", "--cluster-id", "tier-t27b"], line
    cluster.server.daemonset_controller = "ready"
    assert _pasted(cluster, install.split(";")[0]).code == 0
