"""f19b: `waypoint status` of a kmeshctl waypoint counted every pod labelled
gateway.networking.k8s.io/gateway-name=NAME, so the pods of a Deployment kmeshctl did not
make (one that replaced the waypoint's own, or another app's whose template copies the
label) were reported, and their "controller" asked, as the waypoint's. Only the pods of
the waypoint's own Deployment count (the labels of its pod template), and a foreign
Deployment of the waypoint's name is named. Another tool's waypoint (istioctl's) keeps
the gateway-name label alone: istiod's pods carry no kmeshctl label.

Real parts: kmeshctl.cli.main in-process against the stand-in API server, its Deployment
controller making the ReplicaSets and pods (owner references, template labels)."""

from __future__ import annotations

import json
import time

from kmeshctl.waypoint import deploy
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd

REPORT = {"waypoint": "default/wp", "port": 15019, "services": [], "routes": {}, "problems": [],
          "envoy": {"ready": True, "acked": True, "error": ""}}


def _app_deployment(name: str, labels: dict) -> dict:
    """A Deployment of the user's whose pod template carries ``labels``."""
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": "fortio/fortio"}]}}}}


def _pods_of(cluster, prefix: str, count: int) -> list[str]:  # noqa: F811
    """The names of the pods the Deployment controller made for ``prefix``, once ``count`` are there."""
    deadline = time.monotonic() + 10
    while True:
        names = sorted(p["metadata"]["name"] for p in cluster.server.all_of("v1", "Pod")
                       if p["metadata"]["name"].startswith(f"{prefix}-"))
        if len(names) >= count or time.monotonic() > deadline:
            assert len(names) == count, names
            return names
        time.sleep(0.05)


def _applied(cluster, monkeypatch) -> list[str]:  # noqa: F811
    """Waypoint default/wp applied, its two pods running; its pods' controllers answer REPORT."""
    cluster.server.deployment_controller = "ready"
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp", "--replicas", "2").code == 0
    cluster.server.set_status(deploy.GATEWAY_API, "Gateway", "wp", "default", {"addresses": [{"value": "10.96.0.20"}], "conditions": [{"type": "Programmed", "status": "True", "reason": "Programmed"}]})  # istiod's (healthy: f36e)
    asked: list[str] = []
    monkeypatch.setattr(deploy, "pod_status", lambda _ns, pod, _target: asked.append(pod) or REPORT)
    return asked


def test_pods_of_another_deployment_with_the_gateway_label_are_not_counted(cluster, monkeypatch) -> None:  # noqa: F811
    asked = _applied(cluster, monkeypatch)
    ours = _pods_of(cluster, "wp", 2)
    cluster.server.put(_app_deployment("copycat", {deploy.GATEWAY_LABEL: "wp", "app": "copycat"}), "kubectl-create")
    theirs = _pods_of(cluster, "copycat", 2)
    result = cluster.kmeshctl("waypoint", "status", "-n", "default", "--name", "wp", "-o", "json")
    assert result.code == 0, result
    document = json.loads(result.out)
    assert document["waypoint"]["pods"] == ours and document["waypoint"]["readyPods"] == 2, document
    assert sorted(document["pods"]) == ours and sorted(asked) == ours, (document, asked)
    assert not set(theirs) & set(document["waypoint"]["pods"]), document
    listed = json.loads(cluster.kmeshctl("waypoint", "list", "-n", "default", "-o", "json").out)
    assert [w["pods"] for w in listed] == [ours], listed


def test_a_foreign_deployment_of_the_waypoints_name_is_named_not_counted(cluster, monkeypatch) -> None:  # noqa: F811
    asked = _applied(cluster, monkeypatch)
    _pods_of(cluster, "wp", 2)
    cluster.server.delete_object("apps/v1", "Deployment", "wp", "default")  # its ReplicaSet and pods go with it
    _pods_of(cluster, "wp", 0)
    # the user's Deployment `wp`, its pods labelled as a waypoint's (kmeshctl's own labels copied too)
    ours = {deploy.GATEWAY_LABEL: "wp", deploy.WAYPOINT_LABEL: "wp", "app.kubernetes.io/managed-by": "kmeshctl"}
    cluster.server.put(_app_deployment("wp", ours), "kubectl-create")
    theirs = _pods_of(cluster, "wp", 2)
    result = cluster.kmeshctl("waypoint", "status", "-n", "default", "--name", "wp")
    assert result.code == 1 and not asked, (result, asked)
    assert not any(pod in result.out for pod in theirs), result
    assert ("waypoint default/wp has no pods: Deployment default/wp was replaced by an object kmeshctl did not "
            "make") in result.err, result
    assert "`kubectl delete deployment wp -n default" in result.err, result


def test_another_tools_waypoint_still_counts_its_gateway_labelled_pods(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    cluster.server.put({"apiVersion": deploy.GATEWAY_API, "kind": "Gateway",
                        "metadata": {"name": "mesh", "namespace": "default",
                                     "labels": {"istio.io/waypoint-for": "service"}},
                        "spec": {"gatewayClassName": "istio-waypoint", "listeners": []}})
    cluster.server.put({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "mesh-abc", "namespace": "default", "labels": {deploy.GATEWAY_LABEL: "mesh"}},
        "spec": {"containers": [{"name": "istio-proxy", "image": "istio/proxyv2"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    listed = json.loads(cluster.kmeshctl("waypoint", "list", "-n", "default", "-o", "json").out)
    assert [(w["managed"], w["pods"], w["readyPods"]) for w in listed] == [(False, ["mesh-abc"], 1)], listed
