"""A waypoint that does not exist is "not found" in one wording, whichever command asks
(`waypoint status`, `waypoint delete`): the waypoints that are in the namespace, exit 1;
never "has no pods: run apply" for a name that was never made."""

from __future__ import annotations

from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd


def _namespaces(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    for name in ("default", "kube-system"):
        cluster.server.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def _gateway(name: str, namespace: str, gateway_class: str = "istio-waypoint", labels: dict | None = None) -> dict:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"gatewayClassName": gateway_class, "listeners": []}}


def test_status_and_delete_of_a_missing_waypoint_name_the_ones_there(cluster) -> None:  # noqa: F811
    _namespaces(cluster)
    for gateway in (_gateway("h63-b", "default"), _gateway("h63-a", "default"), _gateway("h63-in", "default", "istio"),
                    _gateway("h63-other", "kube-system")):
        cluster.server.put(gateway)
    status = cluster.kmeshctl("waypoint", "status", "-n", "default", "--name", "nosuch")
    assert status.code == 1 and not status.out, status
    problem = "Error: waypoint default/nosuch not found (waypoints in default: h63-a, h63-b)"
    assert status.err.strip().startswith(problem + "; "), status.err
    assert "has no pods" not in status.err and "waypoint apply -n default --name nosuch" in status.err, status.err
    delete = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "nosuch")
    assert delete.code == 1 and delete.err.strip() == problem + "; `kmeshctl --kubeconfig " + \
        f"{cluster.kubeconfig} waypoint delete -n default --name nosuch --ignore-not-found` makes this exit 0", delete


def test_a_namespace_without_waypoints_says_none_and_where_to_look(cluster) -> None:  # noqa: F811
    _namespaces(cluster)
    status = cluster.kmeshctl("waypoint", "status", "-n", "default", "--name", "nosuch")
    assert status.code == 1 and "not found (waypoints in default: none); create it: `kmeshctl" in status.err, status
    assert status.err.rstrip().endswith("waypoint list -A`)") and "--name nosuch` (or see `kmeshctl" in status.err, \
        status.err
    delete = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "nosuch")
    assert "not found (waypoints in default: none; see `kmeshctl" in delete.err, delete
    assert "waypoint list -A`); `kmeshctl" in delete.err, delete
    assert delete.err.rstrip().endswith("waypoint delete -n default --name nosuch --ignore-not-found` makes this "
                                        "exit 0"), delete


def test_a_waypoint_whose_gateway_exists_without_pods_still_says_it_has_no_pods(cluster) -> None:  # noqa: F811
    from kmeshctl.render import COMMON_LABELS

    _namespaces(cluster)
    cluster.server.put(_gateway("h63-a", "default", labels={**COMMON_LABELS, "kmeshctl.io/waypoint": "h63-a"}))
    status = cluster.kmeshctl("waypoint", "status", "-n", "default", "--name", "h63-a")
    assert status.code == 1 and "waypoint default/h63-a has no pods; run `kmeshctl" in status.err, status
