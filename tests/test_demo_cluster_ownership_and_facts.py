"""The cluster demo says what the cluster has and only changes what is its own (a tester's
pass on a real cluster): `-n team-c` with no Service fortio there said the Service carried a
label (the demo's manifest, not the cluster); after `kubectl patch vs fortio` the demo failed
with a field-manager conflict and no usable fix; over a user's own VirtualService fortio it
advised deleting it. Now: the refusal states the cluster's facts, the demo's own
VirtualService is applied by force keeping the weights in force (said on stderr), and a VirtualService the
demo did not make is refused, exit 2, before any change. Stand-in API server, no root."""

from __future__ import annotations

from typing import Any

from kmeshctl import kube
from kmeshctl.demo_cluster import DEMO_LABEL, ClusterTarget, in_namespace
from kmeshctl.errors import UsageError
from kmeshctl.kube import connect
from standin import namespace
from test_demo_cluster_refusals import VS_API, WRITES, _documents, _flags, make  # noqa: F401 (fixture)

import pytest


def _weights(cluster: Any, ns: str = "default") -> list[int]:
    vs = cluster.server.get(VS_API, "VirtualService", "fortio", ns)
    return [r["weight"] for r in vs["spec"]["http"][0]["route"]]


def _target(cluster: Any, ns: str = "default") -> ClusterTarget:
    client = connect(kube.KubeTarget(str(cluster.kubeconfig)))
    return ClusterTarget(client, in_namespace(_documents(), ns), (ns, "fortio"), settle_s=0, ready_timeout_s=10)


def _patched(cluster: Any, weights: list[int], ns: str = "default") -> None:
    """What `kubectl patch vs fortio` leaves: another field manager owns the weights."""
    vs = cluster.server.get(VS_API, "VirtualService", "fortio", ns)
    for route, weight in zip(vs["spec"]["http"][0]["route"], weights):
        route["weight"] = weight
    cluster.server.put(vs, manager="kubectl-patch")


def test_the_demos_own_virtual_service_keeps_its_weights_in_force_and_says_so(make) -> None:
    """(h95: it used to get the manifests' 90/10 by force; now the demo measures the weights in force.)"""
    cluster = make()
    _target(cluster).prepare(lambda _: None)
    _patched(cluster, [70, 30])
    lines: list[str] = []
    _target(cluster).prepare(lines.append)
    assert _weights(cluster) == [70, 30]
    said = [line for line in lines if "apply force" in line]
    assert said == ["VirtualService default/fortio is the demo's, its spec changed by kubectl-patch: measuring the "
                    "weights in force, v1=70, v2=30, and putting them back afterwards (server-side apply force)"], lines


def test_a_virtual_service_kmeshctl_applied_before_the_label_is_the_demos(make) -> None:
    cluster = make()
    _target(cluster).prepare(lambda _: None)
    vs = cluster.server.get(VS_API, "VirtualService", "fortio", "default")
    assert vs["metadata"]["labels"] == {DEMO_LABEL[0]: DEMO_LABEL[1]}
    del vs["metadata"]["labels"]
    cluster.server.put(vs, manager="kmeshctl")  # no label, kmeshctl's field manager: still the demo's
    _target(cluster).prepare(lambda _: None)


def test_a_users_virtual_service_is_refused_before_any_change(make) -> None:
    cluster = make()
    cluster.server.put({"apiVersion": VS_API, "kind": "VirtualService",
                        "metadata": {"name": "fortio", "namespace": "default"},
                        "spec": {"hosts": ["fortio"], "http": [{"route": [{"destination": {"host": "fortio"}}]}]}},
                       manager="kubectl-client-side-apply")
    before = len(cluster.server.requests)
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "3", "-q")
    assert result.code == 2 and result.out == "", result
    [line] = result.err.strip().splitlines()
    assert line.startswith("Error: VirtualService default/fortio exists and was not made by kmeshctl demo "
                           "(nothing was changed); run the demo in another namespace (-n) or delete it: `kubectl "
                           "delete -n default virtualservice/fortio"), line
    writes = [r for r in cluster.server.requests[before:] if r.method in WRITES]
    assert writes == [], [(r.method, r.path) for r in writes]
    assert "weight" not in str(cluster.server.get(VS_API, "VirtualService", "fortio", "default")["spec"])


def test_a_users_virtual_service_refused_by_the_library_too(make) -> None:
    cluster = make()
    cluster.server.put({"apiVersion": VS_API, "kind": "VirtualService",
                        "metadata": {"name": "fortio", "namespace": "default"}, "spec": {"hosts": ["fortio"]}})
    with pytest.raises(UsageError, match="was not made by kmeshctl demo"):
        _target(cluster).prepare(lambda _: None)


def test_no_service_in_the_namespace_is_said_as_such(make) -> None:
    cluster = make(waypoint=None)
    cluster.server.put(namespace("team-c"))  # one that does not exist is its own refusal (h99)
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-n", "team-c",
                              "-c", "3", "-q")
    assert result.code == 1
    line = " ".join(result.err.split())
    assert "no Service team-c/fortio in the cluster yet (the demo creates it, labelled " \
           "istio.io/use-waypoint=waypoint)" in line, line
    assert "label istio.io/use-waypoint=waypoint on Service" not in line  # never a label on a missing Service
    assert f"`kmeshctl {_flags(cluster)} waypoint apply -n team-c --name waypoint --wait`" in line, line


def test_the_demos_service_without_the_waypoint_label_is_said_to_lack_it(make) -> None:
    """(h99: a user's own Service fortio is refused before this check: ForeignObjects.)"""
    cluster = make()
    cluster.server.put({"apiVersion": "v1", "kind": "Service",
                        "metadata": {"name": "fortio", "namespace": "default",
                                     "labels": {"app": "fortio", DEMO_LABEL[0]: DEMO_LABEL[1]}},
                        "spec": {"selector": {"app": "fortio"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "3", "-q")
    assert result.code == 1
    line = " ".join(result.err.split())
    assert "Service default/fortio uses no waypoint (no label istio.io/use-waypoint on it or its namespace" in line
    assert "`kubectl label service fortio -n default istio.io/use-waypoint=waypoint" in line, line
    assert "use-waypoint" not in str(cluster.server.get("v1", "Service", "fortio", "default")["metadata"]["labels"])
