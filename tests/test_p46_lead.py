"""Pass 46 (t46t 1): a subset scaled by kubectl. The cluster demo applied the manifests'
replicas: 1 over a `kubectl scale`, refused at 2 (another manager's field, with no line to
paste) and set 0 back to 1. Now the replicas another field manager set are kept and
measured as they are, and a subset scaled to 0 that the weights send requests is refused
before any change with the kubectl line that scales it up. Stand-in API server (its
managedFields follow the API server's rules for an update: the changed fields move to
the writer), no root."""

from __future__ import annotations

from typing import Any

from kmeshctl.demo_cluster import replicas_managers, scaled_elsewhere
from kmeshctl.kube import connect
from kmeshctl import kube
from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_waypoint_users_one_lookup import _waypoint_with_a_pod
from test_demo_cluster_ownership_and_facts import _target
from test_demo_cluster_refusals import WRITES, _documents, _flags, make  # noqa: F401 (fixture)


def _scaled(cluster: Any, name: str, replicas: int, manager: str = "kubectl") -> None:
    """What `kubectl scale deployment NAME --replicas N` leaves: the field is kubectl's."""
    deployment = cluster.server.get("apps/v1", "Deployment", name, "default")
    deployment["spec"]["replicas"] = replicas
    cluster.server.put(deployment, manager=manager)


def _replicas(cluster: Any, name: str) -> int:
    return cluster.server.get("apps/v1", "Deployment", name, "default")["spec"]["replicas"]


def test_replicas_kubectl_scaled_are_kept_and_said(make) -> None:
    cluster = make()
    _target(cluster).prepare(lambda _: None)
    _scaled(cluster, "fortio-v1", 2)
    assert replicas_managers(cluster.server.get("apps/v1", "Deployment", "fortio-v1", "default")) == ["kubectl"]
    lines: list[str] = []
    _target(cluster).prepare(lines.append)
    assert _replicas(cluster, "fortio-v1") == 2 and _replicas(cluster, "fortio-v2") == 1
    assert 'Deployment default/fortio-v1: 2 replicas, as field manager "kubectl" set them (kept: the demo ' \
           "measures the pods there are)" in lines, lines
    assert not [line for line in lines if "fortio-v2:" in line and "field manager" in line], lines


def test_replicas_only_kmeshctl_set_are_applied_as_the_manifests_say(make) -> None:
    cluster = make()
    _target(cluster).prepare(lambda _: None)
    client = connect(kube.KubeTarget(str(cluster.kubeconfig)))
    docs = [d for d in _documents() if d["kind"] == "Deployment"]
    kept, said = scaled_elsewhere(client, docs)
    assert kept == docs and said == []


def test_a_subset_scaled_to_zero_is_refused_before_any_change_with_the_scale_line(make) -> None:
    cluster = make()
    _target(cluster).prepare(lambda _: None)
    _scaled(cluster, "fortio-v2", 0)
    before = len(cluster.server.requests)
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "3", "-q")
    assert result.code == 1 and result.out == "", result
    [line] = result.err.strip().splitlines()
    assert line.startswith("Error: subset v2 of VirtualService default/fortio in the cluster has no pod (replicas 0 "
                           "in Deployment default/fortio-v2): its requests would fail (HTTP 503, nothing was "
                           "changed); send it nothing, `kmeshctl "), line
    assert "--weights 100/0`" in line, line
    assert line.endswith(", or scale it up, `kubectl scale deployment fortio-v2 -n default --replicas 1 "
                         f"{_flags(cluster)}`"), line
    writes = [r for r in cluster.server.requests[before:] if r.method in WRITES]
    assert writes == [] and _replicas(cluster, "fortio-v2") == 0, [(r.method, r.path) for r in writes]


# ------------------------------------------------------------------ t46t 5: a table before the agents caught up


def test_disable_ns_without_wait_says_which_pods_are_not_unmarked_yet(monkeypatch) -> None:
    from kmeshctl.cli import cluster as cli_cluster
    from kmeshctl.cli import render
    from kmeshctl.namespaces import PodEnrollment

    monkeypatch.setattr(render, "this_command", lambda: "kmeshctl disable-ns default")
    pods = [PodEnrollment("a", "default", "Running", True, False), PodEnrollment("b", "default", "Running", False, False),
            PodEnrollment("c", "default", "Running", True, False)]
    assert cli_cluster._not_yet_note(pods, enable=False) == (
        "2 pods not unmarked yet (ANNOTATED yes): their node agents do it in a moment; `kmeshctl disable-ns "
        "default --wait` waits for it")
    assert cli_cluster._not_yet_note([pods[1]], enable=False) == ""
    monkeypatch.setattr(render, "this_command", lambda: "kmeshctl enable-ns default")
    waiting = [PodEnrollment("a", "default", "Running", False, True), PodEnrollment("w", "default", "Running", False,
                                                                                    False, skipped="waypoint pod"),
               PodEnrollment("b", "default", "Running", False, None)]
    assert cli_cluster._not_yet_note(waiting, enable=True) == (
        "1 pod not marked yet (ANNOTATED no): their node agents do it in a moment; `kmeshctl enable-ns default "
        "--wait` waits for it")


# ------------------------------------------------------------------ t46t 2, 3: waypoint delete's warning


def test_waypoint_delete_quiet_keeps_the_warning_that_carries_a_fix(cluster, monkeypatch) -> None:  # noqa: F811
    _waypoint_with_a_pod(cluster, monkeypatch, applied=True)
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default", "-q")
    assert result.code == 0 and result.out == "", result
    [warning] = result.err.splitlines()
    assert warning.startswith("Warning: Service default/fortio still uses waypoint default/waypoint (label "
                              "istio.io/use-waypoint=waypoint); once it is gone their traffic goes direct, without "
                              "the waypoint's L7 rules (routes, weights, L7 policy); to keep those, keep the "
                              "waypoint; to send them direct on purpose, unlabel it: `kubectl label service fortio "
                              "-n default istio.io/use-waypoint- --kubeconfig"), warning
