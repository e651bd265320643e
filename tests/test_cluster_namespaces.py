"""`kmeshctl enable-ns` / `disable-ns` against the stand-in API server (tests/standin_apiserver.py)."""

from __future__ import annotations

import json
import threading

from standin_apiserver import app_pod, cluster, namespace  # noqa: F401 (fixture)
from test_cli_enable_ns_wait import kmesh_agent_installed

MODE = "istio.io/dataplane-mode"


def labels_of(server, name: str) -> dict:
    return server.get("v1", "Namespace", name)["metadata"].get("labels") or {}


def test_unknown_namespace_changes_nothing(cluster):
    cluster.server.put(namespace("demo"))
    before = cluster.server.get("v1", "Namespace", "demo")["metadata"]["resourceVersion"]
    result = cluster.kmeshctl("enable-ns", "demo", "nope")
    assert result.code == 2
    assert "not found: nope" in result.err and "nothing was changed" in result.err
    assert MODE not in labels_of(cluster.server, "demo")
    assert cluster.server.get("v1", "Namespace", "demo")["metadata"]["resourceVersion"] == before
    assert cluster.server.writes() == []


def test_label_round_trip(cluster):
    server = cluster.server
    server.put(namespace("demo", {"team": "a"}))
    enabled = cluster.kmeshctl("enable-ns", "demo")
    assert enabled.code == 0, enabled.err
    assert "namespace demo enrolled" in enabled.out
    assert labels_of(server, "demo") == {"team": "a", MODE: "Kmesh"}
    version = server.get("v1", "Namespace", "demo")["metadata"]["resourceVersion"]
    again = cluster.kmeshctl("enable-ns", "demo")
    assert "already enrolled" in again.out
    assert server.get("v1", "Namespace", "demo")["metadata"]["resourceVersion"] == version
    disabled = cluster.kmeshctl("disable-ns", "demo")
    assert disabled.code == 0, disabled.err
    assert "namespace demo released" in disabled.out
    assert labels_of(server, "demo") == {"team": "a"}


def test_sidecar_injection_warns_and_pods_are_listed(cluster):
    server = cluster.server
    server.put(namespace("legacy", {"istio-injection": "enabled"}))
    server.put(app_pod("web", "legacy", annotated=True))
    server.put(app_pod("db", "legacy"))
    result = cluster.kmeshctl("enable-ns", "legacy", "-o", "json")
    assert result.code == 0, result.err
    assert "sidecar injection on" in result.err
    data = json.loads(result.out)
    assert data["namespaces"] == [{"name": "legacy", "changed": True, "sidecarInjection": True,
                                   "replacedLabel": None, "restoredLabel": None}]
    assert {p["name"]: p["annotated"] for p in data["pods"]} == {"web": True, "db": False}


def test_wait_until_the_agent_marks_running_pods(cluster):
    server = cluster.server
    kmesh_agent_installed(server)
    server.put(namespace("demo"))
    server.put(app_pod("fortio-v1", "demo"))
    server.put(app_pod("host-agent", "demo", hostNetwork=True))  # never enrolled: not waited for
    server.put(app_pod("starting", "demo", phase="Pending"))

    def node_agent_marks_pod() -> None:  # what the node agent does once it sees the label
        pod = server.get("v1", "Pod", "fortio-v1", "demo")
        pod["metadata"]["annotations"] = {"kmesh.net/redirection": "enabled"}
        server.put(pod, manager="kmesh-agent")

    timer = threading.Timer(0.8, node_agent_marks_pod)
    timer.start()
    try:
        result = cluster.kmeshctl("enable-ns", "demo", "--wait", "--timeout", "20")
    finally:
        timer.cancel()
    assert result.code == 0, result.err
    assert "waiting for 1 pod " in result.err and "s, limit 20s)" in result.err
    row = next(line for line in result.out.splitlines() if "fortio-v1" in line)
    assert row.split()[-1] == "yes"


def test_wait_times_out_naming_unmarked_pods(cluster):
    kmesh_agent_installed(cluster.server)
    cluster.server.put(namespace("demo"))
    cluster.server.put(app_pod("fortio-v1", "demo"))
    result = cluster.kmeshctl("enable-ns", "demo", "--wait", "--timeout", "1")
    assert result.code == 1
    assert "demo/fortio-v1" in result.err and "after 1s" in result.err
    assert labels_of(cluster.server, "demo")[MODE] == "Kmesh"  # the label change itself stays
