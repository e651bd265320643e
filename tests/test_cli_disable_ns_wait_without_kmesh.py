"""Helper f19g, kind "a refusal that asks for the opposite of what the user wants":
`disable-ns NS --wait` with kmesh not installed was refused (`the kmesh DaemonSet is not
installed ...; install first`, exit 1, the label kept): installing the mesh to take a
namespace out of it. With no node agent there is nothing to wait for: the label goes, a
line on stderr says why it did not wait (and which pods keep an earlier agent's mark),
exit 0. enable-ns --wait keeps its refusal: enrolling without an agent cannot be waited for.

Real parts: kmeshctl.cli.main in-process against the stand-in API server."""

from __future__ import annotations

import json

from standin_apiserver import app_pod, cluster, namespace  # noqa: F401 (fixture)
from test_cli_enable_ns_wait import kmesh_agent_installed

MODE = "istio.io/dataplane-mode"
NOTHING = ("--wait: nothing to wait for: the kmesh DaemonSet is not installed, so no node agent runs to unmark "
           "pods")


def _labels(server, name: str) -> dict:
    return server.get("v1", "Namespace", name)["metadata"].get("labels") or {}


def test_disable_wait_without_the_agent_removes_the_label_and_says_why_it_did_not_wait(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("f19g-demo", {MODE: "Kmesh"}))
    cluster.server.put(app_pod("fortio-v1", "f19g-demo"))
    result = cluster.kmeshctl("disable-ns", "f19g-demo", "--wait", "--timeout", "10")
    assert result.code == 0, result
    assert MODE not in _labels(cluster.server, "f19g-demo")
    assert "namespace f19g-demo released" in result.out and "fortio-v1" in result.out, result.out
    assert result.err.strip().splitlines() == [NOTHING], result.err
    assert "waiting for" not in result.err and "Error" not in result.err, result.err


def test_pods_still_marked_by_an_earlier_agent_are_named(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("f19g-demo", {MODE: "Kmesh"}))
    cluster.server.put(app_pod("fortio-v1", "f19g-demo", annotated=True))
    result = cluster.kmeshctl("disable-ns", "f19g-demo", "--wait", "-o", "json")
    assert result.code == 0, result
    assert result.err.strip().splitlines() == [
        f"{NOTHING}; 1 pod still carries kmesh.net/redirection from an earlier agent, which stays until it is "
        "restarted"], result.err
    data = json.loads(result.out)
    assert [n["name"] for n in data["namespaces"]] == ["f19g-demo"] and data["pods"][0]["annotated"] is True


def test_disable_wait_with_the_agent_still_waits(cluster) -> None:  # noqa: F811
    kmesh_agent_installed(cluster.server)
    cluster.server.put(namespace("f19g-demo", {MODE: "Kmesh"}))
    cluster.server.put(app_pod("fortio-v1", "f19g-demo"))
    result = cluster.kmeshctl("disable-ns", "f19g-demo", "--wait", "--timeout", "1")
    assert result.code == 0 and "nothing to wait for" not in result.err, result


def test_enable_wait_without_the_agent_is_still_refused(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("f19g-demo"))
    result = cluster.kmeshctl("enable-ns", "f19g-demo", "--wait")
    assert result.code == 1 and "--wait would wait for an agent that is not there" in result.err, result
    assert MODE not in _labels(cluster.server, "f19g-demo")
