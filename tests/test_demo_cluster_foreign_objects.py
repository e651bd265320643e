"""The cluster demo acts only on its own objects (a tester's pass on a real cluster, h99):

  - It applied its netutils container into the user's own Deployment netutils (two
    containers, a new rollout) and its port and labels into the user's own Service fortio;
    a user's DestinationRule fortio got install's field-manager wording. Now every object it
    would apply (the Namespace aside: the enrollment check decides) is read first; any that
    exists without the demo's label is refused, exit 2, all named on one line with the
    kubectl delete that removes them, nothing written.
  - A user's DaemonSet kmesh in kmesh-system counted as kmesh installed; now, as status and
    enable-ns, only the one kmeshctl made counts.
  - A namespace enable-ns refuses is refused before any waypoint hint; a namespace that does
    not exist is named as such (exit 2) with `kubectl create namespace` first.
  - A demo stopped before any request says what it made and how to remove it.

Stand-in API server, no root."""

from __future__ import annotations

from typing import Any

import pytest

from demo_mesh_seed import kmesh_daemonset, waypoint_gateway
from kmeshctl import kube
from kmeshctl.demo_cluster import ClusterTarget, split_needs_error
from kmeshctl.kube import connect
from standin import namespace
from test_demo_cluster_refusals import VS_API, WRITES, _documents, _flags, make  # noqa: F401 (fixture)

USER = "kubectl-create"


def _users_deployment(ns: str = "team-x") -> dict:
    """What `kubectl create deployment netutils --image=busybox -n NS` makes."""
    labels = {"app": "netutils"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "netutils", "namespace": ns,
                                                                      "labels": dict(labels)},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "busybox", "image": "busybox"}]}}}}


def _users_service(ns: str = "team-x") -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "fortio", "namespace": ns, "labels": {"app": "mine"}},
            "spec": {"selector": {"app": "mine"}, "ports": [{"name": "web", "port": 9000, "targetPort": 9000}]}}


def _demo(cluster: Any, *extra: str) -> Any:
    return cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "3", "-q",
                            *extra)


def _refused(cluster: Any, code: int, *extra: str) -> str:
    """The one error line of a refused demo (``code``), nothing written to the cluster."""
    before = len(cluster.server.requests)
    result = _demo(cluster, *extra)
    assert result.code == code and result.out == "", result
    [line] = result.err.strip().splitlines()
    writes = [(r.method, r.path) for r in cluster.server.requests[before:] if r.method in WRITES]
    assert writes == [], writes
    return line


def _team_x(cluster: Any) -> None:
    cluster.server.put(namespace("team-x"))
    cluster.server.put(waypoint_gateway(ns="team-x"))


# ------------------------------------------------------------------ 1-2. the user's objects


def test_a_users_deployment_netutils_and_service_fortio_are_refused_on_one_line(make) -> None:
    cluster = make()
    _team_x(cluster)
    cluster.server.put(_users_deployment(), manager=USER)
    cluster.server.put(_users_service(), manager=USER)
    line = _refused(cluster, 2, "-n", "team-x")
    assert line.startswith(
        "Error: Service team-x/fortio, Deployment team-x/netutils exist and were not made by kmeshctl demo (nothing "
        "was changed); run the demo in another namespace (-n) or delete them: `kubectl delete -n team-x "
        f"service/fortio deployment/netutils {_flags(cluster)}`"), line
    deployment = cluster.server.get("apps/v1", "Deployment", "netutils", "team-x")
    assert [c["name"] for c in deployment["spec"]["template"]["spec"]["containers"]] == ["busybox"]
    service = cluster.server.get("v1", "Service", "fortio", "team-x")
    assert service["metadata"]["labels"] == {"app": "mine"} and len(service["spec"]["ports"]) == 1
    assert cluster.server.get(VS_API, "VirtualService", "fortio", "team-x") is None
    assert "istio.io/dataplane-mode" not in (cluster.server.get("v1", "Namespace", "team-x")["metadata"]
                                             .get("labels") or {})


def test_a_users_object_an_older_demo_wrote_into_stays_the_users(make) -> None:
    """kmeshctl's field manager on a Deployment (what the demo before this check left in the
    user's netutils) is no proof the demo made it: only the label is."""
    cluster = make()
    cluster.server.put(_users_deployment("default"), manager=USER)
    cluster.server.put(_users_deployment("default"), manager="kmeshctl")
    line = _refused(cluster, 2)
    assert line.startswith("Error: Deployment default/netutils exists and was not made by kmeshctl demo"), line


def test_a_users_destination_rule_gets_this_refusal_not_the_field_manager_one(make) -> None:
    cluster = make()
    cluster.server.put({"apiVersion": VS_API, "kind": "DestinationRule",
                        "metadata": {"name": "fortio", "namespace": "default"},
                        "spec": {"host": "fortio", "subsets": [{"name": "a", "labels": {"version": "a"}}]}},
                       manager=USER)
    line = _refused(cluster, 2)
    assert line.startswith("Error: DestinationRule default/fortio exists and was not made by kmeshctl demo (nothing "
                           "was changed); run the demo in another namespace (-n) or delete it: `kubectl delete -n "
                           "default destinationrule/fortio"), line
    assert "force-conflicts" not in line


def test_the_demos_own_objects_are_applied_again(make) -> None:
    cluster = make()
    target = ClusterTarget(connect(kube.KubeTarget(str(cluster.kubeconfig))), _documents(), ("default", "fortio"),
                           settle_s=0, ready_timeout_s=10)
    target.prepare(lambda _: None)
    for kind, api, name in (("Deployment", "apps/v1", "netutils"), ("Deployment", "apps/v1", "fortio-v1"),
                            ("Service", "v1", "fortio"), ("DestinationRule", VS_API, "fortio")):
        labels = cluster.server.get(api, kind, name, "default")["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "kmeshctl-demo", (kind, name)
    target.prepare(lambda _: None)  # its own: no refusal


# ------------------------------------------------------------------ 3. a user's DaemonSet kmesh


def _users_daemonset() -> dict:
    ds = kmesh_daemonset()
    ds["metadata"]["labels"] = {"app": "kmesh"}  # no managed-by=kmeshctl
    return ds


def test_a_users_daemonset_kmesh_is_not_kmesh_installed(make) -> None:
    cluster = make(kmesh=None)
    cluster.server.put(namespace("kmesh-system"))
    cluster.server.put(_users_daemonset(), manager=USER)
    line = _refused(cluster, 1)
    assert line.startswith("Error: kmesh is not installed (DaemonSet kmesh-system/kmesh was not made by kmeshctl; "
                           "nothing was changed); install kmesh in another namespace: `kmeshctl "), line
    assert "enable-ns" not in line


def test_kmeshctls_daemonset_elsewhere_counts_beside_a_users_one(make) -> None:
    cluster = make(kmesh=None)
    cluster.server.put(namespace("kmesh-system"))
    cluster.server.put(_users_daemonset(), manager=USER)
    cluster.server.put(namespace("kmesh"))
    cluster.server.put(kmesh_daemonset(ns="kmesh"))
    client = connect(kube.KubeTarget(str(cluster.kubeconfig)))
    assert split_needs_error(client, _documents(), planned=True, outcome="x") is None


# ------------------------------------------------------------------ 4-5. namespaces


@pytest.mark.parametrize("ns", ["kube-system", "istio-system", "kmesh-system", "mesh-agents"])
def test_a_namespace_enable_ns_refuses_is_refused_before_any_waypoint_hint(make, ns: str) -> None:
    cluster = make(waypoint=None)
    for name in ("kube-system", "istio-system", "kmesh-system", "mesh-agents"):
        cluster.server.put(namespace(name))
    cluster.server.put(kmesh_daemonset(ns="mesh-agents"))  # kmesh installed with -n mesh-agents
    line = _refused(cluster, 2, "-n", ns)
    assert f"namespace {ns} " in line and "makes no sense (nothing was changed)" in line, line
    assert "waypoint" not in line, line
    assert "istio.io/dataplane-mode" not in (cluster.server.get("v1", "Namespace", ns)["metadata"].get("labels") or {})


def test_a_namespace_that_does_not_exist_is_named_with_create_first(make) -> None:
    cluster = make(waypoint=None)
    line = _refused(cluster, 2, "-n", "demo")
    assert line.startswith("Error: namespace demo does not exist (the demo deploys into it, beside the waypoint "
                           "demo/waypoint its Service uses; nothing was changed); create it, then its waypoint: "
                           f"`kubectl create namespace demo {_flags(cluster)}`, then "
                           f"`kmeshctl {_flags(cluster)} waypoint apply -n demo --wait`"), line
    assert cluster.server.get("v1", "Namespace", "demo") is None


# ------------------------------------------------------------------ 6. stopped before any request


def test_a_demo_stopped_before_any_request_says_what_it_made(make, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = make()

    def stop(self: ClusterTarget, objs: list[dict]) -> str:
        raise KeyboardInterrupt  # Ctrl-C once everything is applied, before a request

    monkeypatch.setattr(ClusterTarget, "_fortio_cluster_ip", stop)
    result = _demo(cluster)
    assert result.code == 130, result
    last = result.err.strip().splitlines()[-1]
    assert last == (
        "Error: stopped by Ctrl-C (SIGINT) before any request was sent; it enrolled namespace default and created "
        "Service default/fortio, Deployment default/fortio-v1, Deployment default/fortio-v2, VirtualService "
        "default/fortio, DestinationRule default/fortio, Deployment default/netutils, which stay (remove them: "
        "`kubectl delete -n default service/fortio deployment/fortio-v1 deployment/fortio-v2 virtualservice/fortio "
        f"destinationrule/fortio deployment/netutils {_flags(cluster)}`, then "
        f"`kmeshctl {_flags(cluster)} disable-ns default`)"), last


# ------------------------------------------------------------------ 7. weights a killed run left


def _target(cluster: Any) -> ClusterTarget:
    return ClusterTarget(connect(kube.KubeTarget(str(cluster.kubeconfig))), _documents(), ("default", "fortio"),
                         settle_s=0, ready_timeout_s=10)


def _weights(cluster: Any) -> list[int]:
    vs = cluster.server.get(VS_API, "VirtualService", "fortio", "default")
    return [r["weight"] for r in vs["spec"]["http"][0]["route"]]


def _annotations(cluster: Any) -> dict:
    return cluster.server.get(VS_API, "VirtualService", "fortio", "default")["metadata"].get("annotations") or {}


def test_the_weights_a_killed_run_left_are_put_back_by_the_next_run(make) -> None:
    import json

    from kmeshctl.demo_cluster import ORIGINAL_WEIGHTS

    cluster = make()
    first = _target(cluster)
    first.prepare(lambda _: None)
    first.set_weights([0, 100])  # then SIGKILL: no finish
    assert _weights(cluster) == [0, 100]
    assert [r["weight"] for r in json.loads(_annotations(cluster)[ORIGINAL_WEIGHTS])["found"][0]["route"]] == [90, 10]
    lines: list[str] = []
    again = _target(cluster)
    assert [v for v in again.subject(None).default_weights] == [90, 10]  # measured as found, not as left
    again.prepare(lines.append)
    again.finish(lambda _: None)  # p32: a run holds the VirtualService (its record) until its end
    assert _weights(cluster) == [90, 10] and ORIGINAL_WEIGHTS not in _annotations(cluster)
    assert ("VirtualService default/fortio: a demo stopped before it could put its weights back left v1=0, v2=100; "
            "putting back v1=90, v2=10") in lines, lines


def test_a_finished_run_leaves_no_record(make) -> None:
    from kmeshctl.demo_cluster import ORIGINAL_WEIGHTS

    cluster = make()
    target = _target(cluster)
    target.prepare(lambda _: None)
    target.set_weights([50, 50])
    target.finish(lambda _: None)
    assert _weights(cluster) == [90, 10] and ORIGINAL_WEIGHTS not in _annotations(cluster)


def test_a_namespace_enrolled_already_is_not_said_to_be_enrolled_by_the_run(make) -> None:
    cluster = make()
    cluster.server.put(namespace("default", {"istio.io/dataplane-mode": "Kmesh"}))
    target = _target(cluster)
    target.prepare(lambda _: None)
    made = target.made_text()
    assert made.startswith("it created Service default/fortio, ") and "enrolled" not in made, made
    assert "disable-ns" not in made, made
    again = _target(cluster)
    again.prepare(lambda _: None)
    assert again.made_text() == ""  # nothing made by this run
