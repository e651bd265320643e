"""`waypoint status` of a Gateway kmeshctl did not make says whose it is and suggests no
command that `waypoint apply` refuses (M2); of a namespace that does not exist, that the
namespace does not exist, exit 2 as apply's, never "create the waypoint" (M3)."""

from __future__ import annotations

import shlex

from kmeshctl.waypoint import deploy
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd, with_context_namespaces


def _istioctl_waypoint(cluster, ns: str = "team-a", name: str = "waypoint") -> None:  # noqa: F811
    """What `istioctl waypoint apply` leaves: a Gateway of class istio-waypoint (no kmeshctl
    labels) and istiod's pod for it."""
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace(ns))
    cluster.server.put({"apiVersion": deploy.GATEWAY_API, "kind": "Gateway",
                        "metadata": {"name": name, "namespace": ns, "labels": {"istio.io/waypoint-for": "service"}},
                        "spec": {"gatewayClassName": "istio-waypoint", "listeners": []}})
    cluster.server.put({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": f"{name}-abc", "namespace": ns, "labels": {deploy.GATEWAY_LABEL: name}},
        "spec": {"containers": [{"name": "istio-proxy", "image": "istio/proxyv2"}]}, "status": {"phase": "Running"}})


def _pasted(err: str) -> list[str]:
    return shlex.split(err.split("choose another --name: `")[1].split("`")[0])


def test_status_of_another_tool_s_gateway_says_so_and_suggests_a_free_name(cluster) -> None:  # noqa: F811
    _istioctl_waypoint(cluster)
    status = cluster.kmeshctl("waypoint", "status", "-n", "team-a")
    assert status.code == 1 and not status.out, status
    assert status.err.startswith("Error: Gateway team-a/waypoint (class istio-waypoint, no "
                                 "app.kubernetes.io/managed-by label) was not made by kmeshctl waypoint apply"), status
    assert "has no pods" not in status.err and "--name waypoint`" not in status.err, status
    words = _pasted(status.err)
    assert words[-2:] == ["--name", "waypoint-kmesh"], words
    made = cluster.kmeshctl(*words[3:])
    assert made.code == 0, made
    assert cluster.kmeshctl("waypoint", "status", "-n", "team-a", "--name", "waypoint-kmesh").code != 2


def test_status_names_the_managed_by_label_and_offers_no_taken_name(cluster) -> None:  # noqa: F811
    _istioctl_waypoint(cluster)
    gateway = cluster.server.get(deploy.GATEWAY_API, "Gateway", "waypoint", "team-a")
    gateway["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "istioctl"}
    cluster.server.put(gateway)
    cluster.server.put({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "waypoint-kmesh",
                                                                            "namespace": "team-a"},
                        "spec": {"ports": [{"port": 80}]}})
    status = cluster.kmeshctl("waypoint", "status", "-n", "team-a")
    assert status.code == 1 and "(class istio-waypoint, managed by istioctl)" in status.err, status
    assert "waypoint apply" not in status.err.split("was not made by kmeshctl waypoint apply")[1], status
    assert "`kubectl get gateway waypoint -n team-a -o yaml" in status.err, status


def test_apply_over_another_tool_s_gateway_names_the_command_it_was_not_made_by(cluster) -> None:  # noqa: F811
    _istioctl_waypoint(cluster)
    result = cluster.kmeshctl("waypoint", "apply", "-n", "team-a", "--name", "waypoint")
    assert result.code == 2, result
    assert "Gateway team-a/waypoint exists and was not made by kmeshctl waypoint apply --name waypoint; choose " \
        "another --name" in result.err, result
    assert "is not waypoint waypoint's" not in result.err


def test_status_in_a_namespace_that_does_not_exist_says_so(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    typed = cluster.kmeshctl("waypoint", "status", "-n", "nosuchns")
    assert typed.code == 2 and typed.err.startswith("Error: namespace nosuchns does not exist (namespaces: default, "
                                                    "istio-system); create it with `kubectl create namespace "
                                                    "nosuchns"), typed
    assert "waypoint apply" not in typed.err and "not found" not in typed.err, typed
    with_context_namespaces(cluster.kubeconfig, {"standin": "nosuchns"})
    context = cluster.kmeshctl("waypoint", "status")
    assert context.code == 2 and "namespace nosuchns (from context standin) does not exist" in context.err, context


def test_status_of_a_missing_waypoint_in_a_namespace_that_exists_still_offers_apply(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    status = cluster.kmeshctl("waypoint", "status", "-n", "default")
    assert status.code == 1 and "create it: `kmeshctl" in status.err and "waypoint apply -n default" in status.err
