"""Pass 29 (issue 14, fixer F29-T2): what an earlier install left behind is said.

- M2a: `uninstall` re-run after an earlier one was cut once the DaemonSet went (its agent
  killed before its stop ran): pods still marked kmesh.net/redirection=enabled on a node
  no agent pod was reported for get a `Warning: node N: ...` line on stderr (under -q
  too: it needs a fix) with `kmeshctl node cleanup` and the `kubectl annotate` that
  unmarks them, and a node result in -o json; the exit code stays 0.
- M2b: `status` with nothing installed calls such pods left from an earlier install, with
  the same fix.
- L3: `demo traffic-shift --help` and its progress line say the demo's Namespace enrolls it.

Real parts: kmeshctl.cli.main in-process against the stand-in API server (tests/standin)."""

from __future__ import annotations

import json

import pytest

from standin_apiserver import app_pod, cluster, namespace  # noqa: F401 (fixture)
from test_demo_cluster_refusals import make  # noqa: F401 (fixture)

from kmeshctl.uninstall import LEFT_MARKED, UNSCHEDULED, leftover_results

FIX = ("run `kmeshctl node cleanup --ignore-not-found` on the node (as root), then "
       "`kubectl annotate pod -n h29-app web-1 web-2 kmesh.net/redirection-")  # the user's --kubeconfig follows


@pytest.fixture
def left_behind(cluster):  # noqa: F811
    """Installed, then the DaemonSet gone with its agents (an uninstall cut after its delete),
    two app pods on node-a still marked."""
    cluster.server.daemonset_controller = "ready"
    assert cluster.kmeshctl("install", "--cluster-id", "c-p29", "--timeout", "20", "-q").code == 0
    cluster.server.put(namespace("h29-app"))
    for name in ("web-1", "web-2"):
        cluster.server.put(app_pod(name, "h29-app", annotated=True, nodeName="node-a"))
    for pod in cluster.server.all_of("v1", "Pod"):
        if pod["metadata"]["namespace"] == "kmesh-system":
            cluster.server.delete_object("v1", "Pod", pod["metadata"]["name"], "kmesh-system")
    cluster.server.delete_object("apps/v1", "DaemonSet", "kmesh", "kmesh-system")
    return cluster


def test_uninstall_q_warns_of_pods_still_marked_with_no_agent_left(left_behind) -> None:
    result = left_behind.kmeshctl("uninstall", "-q")
    assert result.code == 0, result
    assert result.out.strip().startswith("Uninstalled: "), result
    warning = next(line for line in result.err.splitlines() if line.startswith("Warning: node node-a: "))
    assert "pods still marked kmesh.net/redirection=enabled (h29-app/web-1, h29-app/web-2) and no agent left to " \
           "remove the node's data path" in warning, result.err
    assert FIX in warning and warning.endswith("kubeconfig`"), warning


def test_uninstall_json_has_the_node_result_and_exit_0(left_behind) -> None:
    dry = left_behind.kmeshctl("uninstall", "--dry-run")
    assert dry.code == 0 and "Warning" not in dry.err, dry  # a dry run deletes nothing: no leftovers looked for
    result = left_behind.kmeshctl("uninstall", "-o", "json")
    assert result.code == 0, result
    [node] = json.loads(result.out)["nodes"]
    assert node["agent"] == "node node-a" and node["outcome"] == LEFT_MARKED, node
    assert FIX in node["detail"], node
    assert "Warning" not in result.err, result.err


def test_nodes_an_agent_was_reported_for_get_no_second_line() -> None:
    marked = {"n1": ["app/a"], "n2": ["app/b"], UNSCHEDULED: ["app/c"]}
    results = leftover_results(marked, {"n1"})
    assert [r.ref for r in results] == [f"node {UNSCHEDULED}", "node n2"], results
    assert results[0].detail == ("pods on no node still marked kmesh.net/redirection=enabled (app/c); run "
                                 "`kubectl annotate pod -n app c kmesh.net/redirection- kmesh.net/enrolled-by-`"), results[0]
    assert "kmeshctl node cleanup" in results[1].detail, results[1]
    assert leftover_results({}, set()) == []


def test_status_not_installed_calls_marked_pods_left_over(left_behind) -> None:
    assert left_behind.kmeshctl("uninstall", "-q").code == 0
    result = left_behind.kmeshctl("status")
    assert result.code == 1, result
    line = next(line for line in result.out.splitlines() if line.startswith("Left from an earlier install:"))
    assert "node node-a: pods still marked kmesh.net/redirection=enabled (h29-app/web-1, h29-app/web-2)" in line, line
    assert FIX in line, line
    data = json.loads(left_behind.kmeshctl("status", "-o", "json").out)
    assert data["redirectedPods"] == ["h29-app/web-1", "h29-app/web-2"], data
    assert any(p.startswith("left from an earlier install: node node-a: ") for p in data["problems"]), data
    assert data["fix"] and "node cleanup" not in data["fix"], data  # the install suggested stays first


def test_demo_traffic_shift_help_says_its_namespace_is_enrolled(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("demo", "traffic-shift", "--help")
    assert result.code == 0, result
    text = " ".join(result.out.split())
    assert "enrolls the namespace" in text, text


def test_demo_progress_line_says_its_namespace_got_enrolled(make, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from kmeshctl.demo_cluster import ClusterTarget

    cluster = make()

    def stop(self: ClusterTarget, objs: list[dict]) -> str:
        raise KeyboardInterrupt  # once everything is applied: the progress lines so far are enough

    monkeypatch.setattr(ClusterTarget, "_fortio_cluster_ip", stop)
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "3")
    assert result.code == 130, result
    lines = [line.strip() for line in result.err.splitlines() if line.strip().startswith("Namespace default ")]
    assert lines and lines[0].endswith(" (enrolled: istio.io/dataplane-mode=Kmesh)"), result.err
    again = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "3")
    assert "(enrolled: " not in again.err, again.err  # enrolled already: nothing said
