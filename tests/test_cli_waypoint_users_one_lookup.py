"""Which Services use a waypoint is one lookup, whatever asks: `waypoint status -o wide`
and `-o json` said `used by: <none>` / `"services": []` while `waypoint list` and the
pod's own line named default/fortio (M1); `waypoint delete` of a waypoint in use warns
with the command that unlabels each Service, and still deletes."""

from __future__ import annotations

import json

import pytest

from kmeshctl.render import COMMON_LABELS
from kmeshctl.waypoint import deploy
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd


def _service(name: str, labels: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default",
                                                                "labels": labels},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}


def _waypoint_with_a_pod(cluster, monkeypatch, applied: bool = False) -> None:  # noqa: F811
    """Waypoint default/waypoint with a pod, used by Service fortio (``applied``: by
    `waypoint apply`, else only its Gateway as apply labels it)."""
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    if applied:
        assert cluster.kmeshctl("waypoint", "apply", "-n", "default").code == 0
    else:
        cluster.server.put({"apiVersion": deploy.GATEWAY_API, "kind": "Gateway", "metadata": {
            "name": "waypoint", "namespace": "default", "labels": {**COMMON_LABELS, deploy.WAYPOINT_LABEL: "waypoint"}},
            "spec": {"gatewayClassName": "istio-waypoint", "listeners": []}})
    cluster.server.put({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "waypoint-0", "namespace": "default",
        "labels": {deploy.GATEWAY_LABEL: "waypoint", **COMMON_LABELS, deploy.WAYPOINT_LABEL: "waypoint"}},
        "spec": {"containers": [{"name": "envoy", "image": "x"}]}, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    cluster.server.put(_service("fortio", {"istio.io/use-waypoint": "waypoint"}))
    cluster.server.put(_service("plain", {}))
    cluster.server.set_status(deploy.GATEWAY_API, "Gateway", "waypoint", "default", {"addresses": [{"value": "10.96.0.20"}], "conditions": [{"type": "Programmed", "status": "True", "reason": "Programmed"}]})  # istiod's (healthy: f36e)
    report = {"waypoint": "default/waypoint", "port": 15019, "services": ["default/fortio"],
              "envoy": {"ready": True, "acked": True, "error": ""}, "routes": {}, "problems": []}
    monkeypatch.setattr(deploy, "pod_status", lambda *_: report)


def test_status_wide_json_and_list_name_the_same_services(cluster, monkeypatch) -> None:  # noqa: F811
    _waypoint_with_a_pod(cluster, monkeypatch)
    wide = cluster.kmeshctl("waypoint", "status", "-n", "default", "-o", "wide")
    assert wide.code == 0 and "made by kmeshctl: yes; used by: default/fortio" in wide.out, wide
    assert "services: default/fortio" in wide.out
    status = json.loads(cluster.kmeshctl("waypoint", "status", "-n", "default", "-o", "json").out)
    assert status["waypoint"]["services"] == ["default/fortio"], status
    listed = json.loads(cluster.kmeshctl("waypoint", "list", "-n", "default", "-o", "json").out)
    assert [w["services"] for w in listed] == [["default/fortio"]], listed


def test_a_namespace_label_counts_for_status_as_for_list(cluster, monkeypatch) -> None:  # noqa: F811
    _waypoint_with_a_pod(cluster, monkeypatch)
    cluster.server.delete_object("v1", "Service", "fortio", "default")
    labelled = namespace("default")
    labelled["metadata"]["labels"] = {"istio.io/use-waypoint": "waypoint"}
    cluster.server.put(labelled)
    status = json.loads(cluster.kmeshctl("waypoint", "status", "-n", "default", "-o", "json").out)
    listed = json.loads(cluster.kmeshctl("waypoint", "list", "-n", "default", "-o", "json").out)
    assert status["waypoint"]["services"] == listed[0]["services"] == ["default/plain"], (status, listed)


@pytest.mark.parametrize("output", [[], ["-o", "json"]], ids=["text", "json"])
def test_delete_of_a_waypoint_in_use_warns_and_deletes(cluster, monkeypatch, output: list[str]) -> None:  # noqa: F811
    _waypoint_with_a_pod(cluster, monkeypatch, applied=True)
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default", *output)
    assert result.code == 0, result
    warning = [line for line in result.err.splitlines() if line.startswith("Warning:")]
    assert len(warning) == 1 and "Service default/fortio still uses waypoint default/waypoint" in warning[0], result
    assert "`kubectl label service fortio -n default istio.io/use-waypoint- --kubeconfig" in warning[0], warning
    assert "plain" not in warning[0]
    assert cluster.server.get(deploy.GATEWAY_API, "Gateway", "waypoint", "default") is None
    if output:
        assert json.loads(result.out)["usedBy"] == ["default/fortio"]


def test_delete_of_a_waypoint_a_namespace_uses_names_the_namespace_label(cluster, monkeypatch) -> None:  # noqa: F811
    _waypoint_with_a_pod(cluster, monkeypatch, applied=True)
    cluster.server.delete_object("v1", "Service", "fortio", "default")
    labelled = namespace("default")
    labelled["metadata"]["labels"] = {"istio.io/use-waypoint": "waypoint"}
    cluster.server.put(labelled)
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default")
    assert result.code == 0 and "Service default/plain still uses" in result.err, result
    assert "`kubectl label namespace default istio.io/use-waypoint- --kubeconfig" in result.err, result


def test_delete_of_an_unused_waypoint_warns_nothing(cluster, monkeypatch) -> None:  # noqa: F811
    _waypoint_with_a_pod(cluster, monkeypatch, applied=True)
    cluster.server.delete_object("v1", "Service", "fortio", "default")
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default")
    assert result.code == 0 and "Warning" not in result.err, result
