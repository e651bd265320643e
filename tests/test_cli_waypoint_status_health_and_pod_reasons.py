"""h120: `waypoint status` of a waypoint with no Gateway is not found even when pods of a
Deployment of its name run (M4); a pod not running names its waiting reason and the fix,
without asking its controller (M5); healthy needs every pod ready (race); `delete -q`
prints no warning (L13); `apply --wait`'s timeout names the pods' reasons."""

from __future__ import annotations

import json

from kmeshctl.render import COMMON_LABELS
from kmeshctl.waypoint import deploy
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd

OURS = {**COMMON_LABELS, deploy.WAYPOINT_LABEL: "wp"}
REPORT = {"waypoint": "default/wp", "port": 15019, "services": [], "routes": {}, "problems": [],
          "envoy": {"ready": True, "acked": True, "error": ""}}


def _gateway(cluster) -> None:  # noqa: F811
    cluster.server.put({"apiVersion": deploy.GATEWAY_API, "kind": "Gateway", "metadata": {
        "name": "wp", "namespace": "default", "labels": OURS}, "spec": {"gatewayClassName": "istio-waypoint",
                                                                          "listeners": []}})


def _pod(cluster, name: str, status: dict) -> None:  # noqa: F811
    cluster.server.put({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": "default", "labels": {deploy.GATEWAY_LABEL: "wp", **OURS}},
        "spec": {"containers": [{"name": "envoy", "image": "x"}]}, "status": status})


def _ready(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))


def test_no_gateway_is_not_found_whatever_pods_run(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    _pod(cluster, "wp-1", {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]})
    monkeypatch.setattr(deploy, "pod_status", lambda *_: REPORT)
    result = cluster.kmeshctl("waypoint", "status", "-n", "default", "--name", "wp")
    assert result.code == 1 and "waypoint default/wp not found" in result.err, result
    assert "in sync" not in result.out, result


def test_a_pod_not_ready_is_not_healthy(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    _gateway(cluster)
    _pod(cluster, "wp-1", {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]})
    monkeypatch.setattr(deploy, "pod_status", lambda *_: REPORT)
    result = cluster.kmeshctl("waypoint", "status", "-n", "default", "--name", "wp", "-o", "json")
    assert result.code == 1 and json.loads(result.out)["healthy"] is False, result


def test_a_pod_that_cannot_pull_its_image_says_so_and_the_fix(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    _gateway(cluster)
    _pod(cluster, "wp-1", {"phase": "Pending", "containerStatuses": [{"name": "envoy", "state": {"waiting": {
        "reason": "ImagePullBackOff", "message": 'Back-off pulling image "x:typo"'}}}]})

    def never(*_: object) -> dict:
        raise AssertionError("asked the controller of a pod that is not running")

    monkeypatch.setattr(deploy, "pod_status", never)
    result = cluster.kmeshctl("waypoint", "status", "-n", "default", "--name", "wp")
    assert result.code == 1, result
    assert "wp-1: not running (ImagePullBackOff: Back-off pulling image" in result.out, result
    assert f"`kmeshctl --kubeconfig {cluster.kubeconfig} waypoint apply -n default --name wp --image " \
           f"{deploy.DEFAULT_IMAGE}`" in result.out, result  # paste-ready: --kubeconfig kept (p24 5), a real image (t41c 3)
    assert "--admin-port" not in result.out + result.err


def test_delete_quiet_prints_only_the_warning_that_needs_a_fix(cluster) -> None:  # noqa: F811
    """-q keeps errors and the warnings that need a fix (the global flag's help, docs/usage.md), as uninstall -q
    does: a Service still using the waypoint is one (t46t 2: -q printed nothing at all)."""
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp").code == 0
    cluster.server.put({"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "fortio", "namespace": "default", "labels": {"istio.io/use-waypoint": "wp"}},
        "spec": {"selector": {"app": "fortio"}, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}})
    result = cluster.kmeshctl("-q", "waypoint", "delete", "-n", "default", "--name", "wp")
    assert result.code == 0 and not result.out, result
    [warning] = result.err.splitlines()
    assert warning.startswith("Warning: Service default/fortio still uses waypoint default/wp "), warning


def test_wait_timeout_names_the_pods_reasons(cluster) -> None:  # noqa: F811
    _ready(cluster)
    cluster.server.deployment_controller = "stuck"
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp", "--wait", "--timeout", "1s")
    assert result.code == 1 and "ImagePullBackOff: Back-off pulling image" in result.err, result
