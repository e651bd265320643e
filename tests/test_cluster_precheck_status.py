"""`kmeshctl precheck` and `kmeshctl status` against the stand-in API server (tests/standin_apiserver.py)."""

from __future__ import annotations

import json

from standin_apiserver import app_pod, cluster, make_cluster, namespace, node  # noqa: F401 (fixtures)


def checks_by_name(result) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(result.out)["checks"]}


def test_precheck_passes_on_a_ready_cluster(cluster):
    result = cluster.kmeshctl("precheck", "-o", "json")
    assert result.code == 0, result.out
    data = json.loads(result.out)
    assert data["ok"] is True
    assert {c["status"] for c in data["checks"]} == {"pass"}
    assert checks_by_name(result)["istiod Service :15012"]["detail"] == "istiod-1-22-6.istio-system.svc:15012"
    reviews = [r.path for r in cluster.server.requests if r.method == "POST" and "selfsubjectaccessreviews" in r.path]
    assert len(reviews) == 10 * 3  # get/create/patch for each object install creates


def test_precheck_reports_each_failure_with_a_fix(make_cluster):
    bad = make_cluster(with_istio=False, istiod_names=())
    bad.server.server_version = (1, 25)
    bad.server.put(node("node-old", "4.19.91-27.al7.x86_64"))
    bad.server.deny("create", "apps", "daemonsets")
    result = bad.kmeshctl("precheck", "-o", "json")
    assert result.code == 1
    checks = checks_by_name(result)
    failed = {name for name, c in checks.items() if c["status"] == "fail"}
    assert failed == {"Kubernetes version", "Istio CRD EnvoyFilter", "istiod Service :15012",
                      "node kernels >= 5.10", "permissions to install"}
    assert all(checks[name]["fix"] for name in failed)
    assert "node-old (4.19.91-27.al7.x86_64)" in checks["node kernels >= 5.10"]["detail"]
    assert "create daemonsets.apps in kmesh-system" in checks["permissions to install"]["detail"]
    assert checks["Istio CRD VirtualService"]["status"] == "warn"
    table = bad.kmeshctl("precheck")
    assert table.code == 1 and "fail" in table.out and "upgrade the cluster" in table.out


def test_precheck_unreachable_api_fails_first(make_cluster):
    gone = make_cluster()
    gone.server.stop()
    result = gone.kmeshctl("precheck", "-o", "json")
    assert result.code == 1
    checks = json.loads(result.out)["checks"]
    assert [(c["name"], c["status"]) for c in checks] == [("API reachable", "fail")]
    assert "cannot reach the Kubernetes API" in checks[0]["detail"]


def test_status_json_shows_pods_enrolled_namespaces_and_marked_pods(cluster):
    server = cluster.server
    server.daemonset_controller = "ready"
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "20").code == 0
    server.put(namespace("demo", {"istio.io/dataplane-mode": "Kmesh"}))
    server.put(app_pod("fortio-v1", "demo", annotated=True))
    server.put(app_pod("netutils", "demo"))
    result = cluster.kmeshctl("status", "-o", "json")
    # The stand-in's pods run no agent: status cannot ask them for their istiod connection,
    # so the mesh is not reported healthy (the real cluster's e2e test sees it connected).
    assert result.code == 1, result.err
    data = json.loads(result.out)
    assert data["installed"] and not data["healthy"]
    # not asked: unknown
    assert [(a["pod"], a["connected"]) for a in data["agents"]] == [(p["name"], None) for p in data["pods"]]
    assert all("cannot port-forward" in a["error"] or "no agent admin endpoint" in a["error"]
               for a in data["agents"]), data["agents"]
    assert data["daemonset"]["desired"] == data["daemonset"]["ready"] == 2
    assert [(p["node"], p["ready"], p["restarts"]) for p in data["pods"]] == [("node-a", True, 0), ("node-b", True, 0)]
    assert data["enrolledNamespaces"] == ["demo"]
    assert data["redirectedPods"] == ["demo/fortio-v1"]


def test_status_not_installed_exits_1(cluster):
    result = cluster.kmeshctl("status")
    assert result.code == 1
    assert "Not installed" in result.out


def _ds(desired: int, updated: int, ready: int) -> dict:
    return {"name": "kmesh", "desired": desired, "updated": updated, "ready": ready, "image": "img"}


def test_status_is_not_healthy_when_the_daemonset_wants_no_pod():
    from kmeshctl.status import MeshStatus

    state = MeshStatus("kmesh-system", _ds(0, 0, 0))
    assert not state.healthy
    [problem] = state.problems
    assert problem.startswith("the DaemonSet wants 0 pods: no node matches its nodeSelector / tolerations (compare "
                              "`kubectl get daemonset kmesh -n kmesh-system -o jsonpath="), problem
    assert state.to_dict()["problems"] == state.problems


def test_status_names_each_pod_and_agent_that_is_not_healthy():
    from kmeshctl.rollout import PodState
    from kmeshctl.status import AgentXds, MeshStatus

    pods = [PodState("kmesh-a", "kmesh-system", "node-a", "Running", True, 0, "img", "", ""),
            PodState("kmesh-b", "kmesh-system", "node-b", "Running", False, 3, "img", "CrashLoopBackOff", "")]
    agents = [AgentXds("kmesh-a", "node-a", {"connected": False, "lastError": "UNAUTHENTICATED"}),
              AgentXds("kmesh-b", "node-b", None, "pod is not ready")]
    state = MeshStatus("kmesh-system", _ds(2, 2, 1), pods=pods, agents=agents)
    assert state.problems == [
        "1/2 agent pods ready",
        "pod kmesh-b on node-b not ready (CrashLoopBackOff)",
        "agent kmesh-a not connected to istiod (UNAUTHENTICATED)",
    ]  # kmesh-b's agent, not asked for its pod's state: that pod's problem says it
    healthy = MeshStatus("kmesh-system", _ds(2, 2, 2), pods=pods[:1],
                         agents=[AgentXds("kmesh-a", "node-a", {"connected": True})])
    assert healthy.healthy and healthy.problems == []
