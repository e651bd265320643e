"""Kind "a 403's hint points at something untrue" (h117, M7): a 403 on `waypoint
list/status/delete`, `enable-ns`, `disable-ns` ended with `(`kmeshctl precheck` lists
what install needs)`, and precheck checks install's permissions only. Every command but
install and uninstall now points at kubectl's own check of the call refused (`kubectl
auth can-i VERB RESOURCE -n NS`, the typed --kubeconfig / --context kept: kubectl takes
the same flags); install keeps its precheck, uninstall `precheck --uninstall`.

Real parts: kmeshctl.cli.main in-process against the stand-in API server; the 403 is a
fault injected at KubeClient.request (the stand-in has no RBAC), worded by kmeshctl's
own kube._api_error."""

from __future__ import annotations

import shlex

import pytest

import kmeshctl.kube as kube
from demo_mesh_seed import gateway_crd
from standin_apiserver import cluster  # noqa: F401 (fixture)
from standin_apiserver import namespace as namespace_object

TEAM = "h117-team"


def _forbid(monkeypatch, method: str, part: str) -> None:
    """Every ``method`` request whose path holds ``part`` answers 403."""
    real = kube.KubeClient.request

    def request(self, verb, path, *args, **kwargs):
        if verb == method and part in path:
            raise kube._api_error(403, verb, path.split("?")[0], {"reason": "Forbidden", "message": "forbidden"})
        return real(self, verb, path, *args, **kwargs)

    monkeypatch.setattr(kube.KubeClient, "request", request)


def _hint(line: str) -> list[str]:
    [check] = [c for c in line.split("`")[1::2] if "can-i" in c]
    return shlex.split(check)


@pytest.mark.parametrize("args,method,part,can_i", [
    (["enable-ns", TEAM], "PATCH", f"/namespaces/{TEAM}", ["patch", "namespaces"]),
    (["disable-ns", TEAM], "PATCH", f"/namespaces/{TEAM}", ["patch", "namespaces"]),
    (["waypoint", "list", "-n", TEAM], "GET", "/gateways", ["list", "gateways.gateway.networking.k8s.io", "-n", TEAM]),
    (["waypoint", "status", "-n", TEAM], "GET", "/gateways", None),
    (["waypoint", "delete", "-n", TEAM], "GET", "/gateways", None),
], ids=["enable-ns", "disable-ns", "waypoint-list", "waypoint-status", "waypoint-delete"])
def test_a_403_points_at_kubectl_s_check_of_the_call_refused(cluster, monkeypatch, args, method, part,  # noqa: F811
                                                             can_i) -> None:
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace_object(TEAM, {"istio.io/dataplane-mode": "Kmesh"} if args[0] == "disable-ns" else {}))
    _forbid(monkeypatch, method, part)
    result = cluster.kmeshctl("--context", "standin", *args)
    assert result.code == 1, result
    line = result.err.strip().splitlines()[-1]
    assert "lists what install needs" not in line and "precheck" not in line, line
    words = _hint(line)
    assert words[:3] == ["kubectl", "auth", "can-i"], line
    assert words[-4:] == ["--kubeconfig", str(cluster.kubeconfig), "--context", "standin"], line
    if can_i is not None:
        assert words[3:-4] == can_i, line
    assert line.endswith("` checks it)"), line


def test_install_s_403_still_points_at_precheck(cluster, monkeypatch) -> None:  # noqa: F811
    _forbid(monkeypatch, "PATCH", "/daemonsets")
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait")
    assert result.code == 1, result
    assert f"(`kmeshctl --kubeconfig {cluster.kubeconfig} precheck` lists what install needs)" in result.err, \
        result.err
    assert "can-i" not in result.err, result.err


def test_can_i_command_shapes() -> None:
    assert kube.can_i_command("GET", "/apis/apps/v1/namespaces/kmesh-system/daemonsets/kmesh") == \
        "kubectl auth can-i get daemonsets.apps -n kmesh-system"
    assert kube.can_i_command("GET", "/api/v1/pods") == "kubectl auth can-i list pods -A"
    assert kube.can_i_command("GET", "/api/v1/nodes") == "kubectl auth can-i list nodes -A"
    assert kube.can_i_command("PATCH", "/api/v1/namespaces/team") == "kubectl auth can-i patch namespaces"
    assert kube.can_i_command("GET", "/version") == "kubectl auth can-i get /version"
