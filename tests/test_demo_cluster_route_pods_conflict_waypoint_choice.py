"""`demo traffic-shift --target cluster` faults (f19a), against the stand-in API server, no root:

  1. It measured and set the VirtualService's first http route; now, as the local demo,
     the route a plain GET / takes (demo.measured_route: one rule for both), and refuses,
     listing the routes' matches, when none takes it.
  2. It counted one pod per Deployment for needed_requests; now each Deployment's
     spec.replicas, so 2 v1 pods : 1 v2 pod is judged as the local demo judges it.
  3. A 409 Conflict on a weight patch (the VirtualService changed between read and write)
     was the raw API error; now one line naming what happened and the fix, exit 1, and the
     finish puts the weights back while they are the demo's (someone else's stay).
  4. The "uses no waypoint" fix named `waypoint` even when that name is taken by an object
     that is no waypoint; now a free name, or a ready waypoint of the namespace.
  5. The namespace's istio.io/use-waypoint label is followed whatever made the waypoint,
     in the namespace its istio.io/use-waypoint-namespace label names.
"""

from __future__ import annotations

from typing import Any

import pytest

from demo_mesh_seed import waypoint_gateway
from kmeshctl import demo, kube
from kmeshctl.demo_cluster import ORIGINAL_WEIGHTS, ClusterTarget
from kmeshctl.kube import connect
from kmeshctl.render import COMMON_LABELS
from kmeshctl.splitstats import min_requests
from kmeshctl.waypoint.deploy import GATEWAY_LABEL, WAYPOINT_LABEL
from standin import namespace
from test_demo_cluster_refusals import VS_API, WRITES, _documents, _flags, make  # noqa: F401 (fixture)
from test_demo_cluster_weights_in_force import SERVERS, WeightedLoopPod, _demo, _fortio, _routing

USE = "istio.io/use-waypoint"
USE_NS = "istio.io/use-waypoint-namespace"
CANARY = {"match": [{"uri": {"prefix": "/canary"}}], "route": [{"destination": {"host": "fortio", "subset": "v2"}}]}
HEADER = {"match": [{"headers": {"end-user": {"exact": "jason"}}}],
          "route": [{"destination": {"host": "fortio", "subset": "v2"}}]}


class RootRoutePod(WeightedLoopPod):
    """WeightedLoopPod answering with the weights of the route a plain GET / takes."""

    def _answers(self, count: int) -> list[str]:
        vs = self.server.get(VS_API, "VirtualService", "fortio", self.namespace)
        route = next(r for r in vs["spec"]["http"] if not r.get("match"))["route"]
        weights = {SERVERS[r["destination"]["subset"]]: r.get("weight", 100) for r in route}
        given = dict.fromkeys(weights, 0)
        answers = []
        for sent in range(1, count + 1):
            server = max(weights, key=lambda s: weights[s] * sent / 100 - given[s])
            given[server] += 1
            answers.append(server)
        return answers


def _vs(cluster: Any) -> dict:
    return cluster.server.get(VS_API, "VirtualService", "fortio", "default")


def _set_http(cluster: Any, http: list[dict], manager: str = "kubectl-edit") -> None:
    vs = _vs(cluster)
    vs["spec"]["http"] = http
    vs["metadata"].pop("managedFields", None)
    cluster.server.put(vs, manager=manager)


def _weights(route: dict) -> dict[str, int]:
    return {r["destination"]["subset"]: r.get("weight", 100) for r in route["route"]}


def _target(cluster: Any) -> ClusterTarget:
    return ClusterTarget(connect(kube.KubeTarget(str(cluster.kubeconfig))), _documents(), ("default", "fortio"),
                         settle_s=0, ready_timeout_s=10)


# ------------------------------------------------------------------ 1. the route a plain GET / takes


def test_the_route_a_plain_get_takes_is_measured_set_and_put_back(make) -> None:
    cluster = make()
    _routing(cluster, {"v1": 70, "v2": 30})
    _set_http(cluster, [CANARY, _vs(cluster)["spec"]["http"][0]])
    cluster.server.pod_backend_resolver = lambda p: RootRoutePod(cluster.server) if (
        p["metadata"].get("labels") or {}).get("app") == "netutils" else None
    result = _demo(cluster, "--weights", "30/70")
    assert result.code == 0, result.err
    [phase] = result.report["phases"]
    assert phase["weights"] == {"v1": 30, "v2": 70} and phase["counts"] == {"v1": 30, "v2": 70}, phase
    canary, root = _vs(cluster)["spec"]["http"]
    assert canary == CANARY  # never written
    assert _weights(root) == {"v1": 70, "v2": 30}  # put back
    assert "measuring the weights in force, v1=70, v2=30" in result.err, result.err


def test_no_route_a_plain_get_takes_is_refused_listing_the_matches(make) -> None:
    cluster = make()
    _routing(cluster, {"v1": 70, "v2": 30})
    _set_http(cluster, [CANARY, HEADER])
    before = len(cluster.server.requests)
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "3", "-q")
    assert result.code == 1 and result.out == "", result
    [line] = result.err.strip().splitlines()
    assert line.startswith("Error: no http route of VirtualService default/fortio in the cluster takes a request to "
                           "/ (route 1 matches uri prefix /canary; route 2 matches uri prefix / with headers), which "
                           "is what the demo sends; add a route without `match`"), line
    assert [r for r in cluster.server.requests[before:] if r.method in WRITES] == []


def test_one_rule_for_the_local_and_the_cluster_demo() -> None:
    from kmeshctl.demo_cluster import root_route_of

    plain = {"route": [{"destination": {"host": "fortio", "subset": "v1"}}]}
    assert root_route_of([CANARY, HEADER, plain]) == 2
    assert root_route_of([{**plain, "match": [{"uri": {"exact": "/"}}]}]) == 0
    assert root_route_of([CANARY, HEADER]) is None


# ------------------------------------------------------------------ 2. the pods of each subset


def test_each_subsets_replicas_count_as_its_pods(make) -> None:
    cluster = make()
    _routing(cluster, {"v1": 70, "v2": 30})
    scaled = _fortio("v1")
    scaled["metadata"]["labels"]["app.kubernetes.io/part-of"] = "kmeshctl-demo"
    scaled["spec"]["replicas"] = 2
    cluster.server.put(scaled, manager="kubectl-scale")
    subject = _target(cluster).subject(demo.fortio_demo()[1])
    assert subject.pod_counts == {"1": 2, "2": 1}


def test_needed_requests_count_a_third_subsets_two_pods(make) -> None:
    cluster = make()
    _routing(cluster, {"v1": 50, "v2": 30, "v3": 20})
    v3 = _fortio("v3")
    v3["spec"]["replicas"] = 2
    cluster.server.put(v3, manager="kubectl-scale")
    result = _demo(cluster)
    assert result.code == 0, result.err
    [phase] = result.report["phases"]
    expected = {"1": 50, "2": 30, "3": 20}
    assert phase["needed_requests"] == min_requests(expected, demo.P_VALUE_FLOOR, {"1": 1, "2": 1, "3": 2})
    assert phase["needed_requests"] != min_requests(expected, demo.P_VALUE_FLOOR, {"1": 1, "2": 1, "3": 1})


# ------------------------------------------------------------------ 3. a 409 on a weight patch


def _changed_before_second_write(monkeypatch: pytest.MonkeyPatch, cluster: Any, change: Any) -> None:
    """Someone else changes the VirtualService (``change`` of it) after the demo read it for
    its second weight write and before that write: the write gets 409 Conflict."""
    real, writes = kube.KubeClient.merge_patch, []

    def merge_patch(self: Any, api_version: str, kind: str, name: str, patch: dict, ns: Any = None) -> dict:
        if kind == "VirtualService" and "spec" in patch:
            writes.append(patch)
            if len(writes) == 2:
                vs = _vs(cluster)
                change(vs)
                vs["metadata"].pop("managedFields", None)
                cluster.server.put(vs, manager="kubectl-edit")
        return real(self, api_version, kind, name, patch, ns)

    monkeypatch.setattr(kube.KubeClient, "merge_patch", merge_patch)


def _conflicted(cluster: Any) -> list[str]:
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "20",
                              "-q", "--weights", "50/50,0/100")
    assert result.code == 1, result
    lines = result.err.strip().splitlines()
    assert lines[-1] == ("Error: VirtualService default/fortio was changed by someone else while the demo ran (409 "
                         "Conflict on the weights' write): the demo's weights were not set; run the demo again"), lines
    assert "Operation cannot be fulfilled" not in result.err and "Precondition" not in result.err, result.err
    return lines


def test_a_conflict_is_one_line_and_the_demos_weights_are_put_back(make, monkeypatch) -> None:
    cluster = make()
    _routing(cluster, {"v1": 70, "v2": 30})
    _changed_before_second_write(monkeypatch, cluster, lambda vs: vs["metadata"]["labels"].update(team="x"))
    _conflicted(cluster)
    vs = _vs(cluster)
    assert _weights(vs["spec"]["http"][0]) == {"v1": 70, "v2": 30}  # the demo's 50/50 put back
    assert ORIGINAL_WEIGHTS not in (vs["metadata"].get("annotations") or {})


def test_a_conflict_over_someone_elses_weights_keeps_theirs(make, monkeypatch) -> None:
    cluster = make()
    _routing(cluster, {"v1": 70, "v2": 30})

    def reweigh(vs: dict) -> None:
        for route, weight in zip(vs["spec"]["http"][0]["route"], (60, 40)):
            route["weight"] = weight

    _changed_before_second_write(monkeypatch, cluster, reweigh)
    _conflicted(cluster)
    vs = _vs(cluster)
    assert _weights(vs["spec"]["http"][0]) == {"v1": 60, "v2": 40}  # theirs stay
    assert ORIGINAL_WEIGHTS not in (vs["metadata"].get("annotations") or {})


# ------------------------------------------------------------------ 4. the "uses no waypoint" fix


def _unlabelled_demo_service(cluster: Any) -> None:
    cluster.server.put({"apiVersion": "v1", "kind": "Service",
                        "metadata": {"name": "fortio", "namespace": "default",
                                     "labels": {"app": "fortio", "app.kubernetes.io/part-of": "kmeshctl-demo"}},
                        "spec": {"selector": {"app": "fortio"}, "ports": [{"port": 80, "targetPort": 8080}]}})


def _no_waypoint_line(cluster: Any) -> str:
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "3", "-q")
    assert result.code == 1, result
    [line] = result.err.strip().splitlines()
    assert "Service default/fortio uses no waypoint" in line, line
    return line


def test_no_waypoint_with_the_name_waypoint_taken_names_a_free_one(make) -> None:
    cluster = make(waypoint=None)
    _unlabelled_demo_service(cluster)
    cluster.server.put({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "waypoint", "namespace": "default"},
                        "spec": {"ports": [{"port": 80, "targetPort": 8080}]}})
    line = _no_waypoint_line(cluster)
    assert "waypoint is taken there by Service default/waypoint (not a waypoint): run " \
           f"`kmeshctl {_flags(cluster)} waypoint apply -n default --name waypoint-demo --wait` and label the " \
           f"Service `kubectl label service fortio -n default {USE}=waypoint-demo {_flags(cluster)}`" in line, line


def test_no_waypoint_with_a_ready_waypoint_there_names_it(make) -> None:
    cluster = make(waypoint=None)
    _unlabelled_demo_service(cluster)
    cluster.server.put(waypoint_gateway(name="wp-team"))
    line = _no_waypoint_line(cluster)
    assert line.endswith(f"label the Service for waypoint default/wp-team, which is ready there: `kubectl label "
                         f"service fortio -n default {USE}=wp-team {_flags(cluster)}`"), line


def test_no_waypoint_with_the_name_free_names_waypoint(make) -> None:
    cluster = make(waypoint=None)
    _unlabelled_demo_service(cluster)
    line = _no_waypoint_line(cluster)
    assert line.endswith(f"run `kmeshctl {_flags(cluster)} waypoint apply -n default --name waypoint --wait` and "
                         f"label the Service `kubectl label service fortio -n default {USE}=waypoint "
                         f"{_flags(cluster)}`"), line


# ------------------------------------------------------------------ 5. the namespace's own waypoint


def _istioctl_waypoint(cluster: Any, name: str, ns: str = "default") -> None:
    """A waypoint `istioctl waypoint apply` made: its Gateway (no kmeshctl label) and istiod's pod."""
    gateway = waypoint_gateway(name=name, ns=ns)
    gateway["metadata"]["labels"] = {"istio.io/waypoint-for": "service"}
    cluster.server.put(gateway)
    cluster.server.put({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": f"{name}-0", "namespace": ns, "labels": {GATEWAY_LABEL: name}},
                        "spec": {"containers": [{"name": "istio-proxy", "image": "istio/proxyv2"}]},
                        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})


def test_the_namespaces_label_names_an_istioctl_waypoint_of_another_namespace(make) -> None:
    cluster = make(waypoint=None)
    cluster.server.put(namespace("istio-system"))
    cluster.server.put(namespace("default", {USE: "shared", USE_NS: "istio-system"}))
    _istioctl_waypoint(cluster, "shared", "istio-system")
    said: list[str] = []
    _target(cluster).prepare(said.append)
    assert f"Service default/fortio uses waypoint istio-system/shared (namespace default is labelled {USE}=shared)" \
        in said, said
    labels = cluster.server.get("v1", "Service", "fortio", "default")["metadata"]["labels"]
    assert labels[USE] == "shared" and labels[USE_NS] == "istio-system", labels


def test_the_namespaces_label_wins_over_the_only_kmeshctl_waypoint(make) -> None:
    cluster = make(waypoint=None)
    cluster.server.put(namespace("default", {USE: "waypoint"}))
    _istioctl_waypoint(cluster, "waypoint")
    ours = waypoint_gateway(name="waypoint-kmesh")
    ours["metadata"]["labels"] = {**COMMON_LABELS, WAYPOINT_LABEL: "waypoint-kmesh"}
    cluster.server.put(ours)
    said: list[str] = []
    _target(cluster).prepare(said.append)
    assert f"Service default/fortio uses waypoint default/waypoint (namespace default is labelled {USE}=waypoint)" \
        in said, said
    labels = cluster.server.get("v1", "Service", "fortio", "default")["metadata"]["labels"]
    assert labels[USE] == "waypoint" and USE_NS not in labels, labels

