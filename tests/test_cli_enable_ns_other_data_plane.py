"""enable-ns never silently takes a namespace from another data plane (`kubectl label`
without --overwrite refuses too), never enrolls kmesh's, Istio's or Kubernetes' own
namespaces, and disable-ns leaves another data plane's label alone (stand-in API server)."""

from __future__ import annotations

import json

from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_enable_ns_wait import kmesh_agent_installed

MODE = "istio.io/dataplane-mode"


def labels_of(server, name: str) -> dict:
    return server.get("v1", "Namespace", name)["metadata"].get("labels") or {}


def test_ambient_namespace_refused_and_nothing_changed(cluster) -> None:  # noqa: F811
    server = cluster.server
    server.put(namespace("team-a"))
    server.put(namespace("team-b", {MODE: "ambient"}))
    result = cluster.kmeshctl("enable-ns", "team-a", "team-b")
    assert result.code == 2, result.err
    line = " ".join(result.err.split())
    assert "namespace team-b is enrolled in another data plane (istio.io/dataplane-mode=ambient)" in line
    assert "nothing was changed" in line and "pass --overwrite to move it to kmesh" in line
    # the pasteable command: the same names, every flag typed (the stand-in's kubeconfig too)
    assert f"`kmeshctl --kubeconfig {cluster.kubeconfig} enable-ns team-a team-b --overwrite`" in line
    assert labels_of(server, "team-b") == {MODE: "ambient"}
    assert MODE not in labels_of(server, "team-a")  # checked before any change
    assert server.writes() == []


def test_opted_out_namespace_is_refused_too(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("quiet", {MODE: "none"}))
    result = cluster.kmeshctl("enable-ns", "quiet")
    assert result.code == 2
    assert "opted out of every data plane (istio.io/dataplane-mode=none)" in " ".join(result.err.split())
    assert cluster.server.writes() == []


def test_overwrite_moves_it_to_kmesh_and_says_what_it_was(cluster) -> None:  # noqa: F811
    server = cluster.server
    server.put(namespace("team-b", {MODE: "ambient", "team": "b"}))
    result = cluster.kmeshctl("enable-ns", "team-b", "--overwrite")
    assert result.code == 0, result.err
    assert "namespace team-b enrolled (was istio.io/dataplane-mode=ambient)" in result.out
    assert labels_of(server, "team-b") == {MODE: "Kmesh", "team": "b"}


def test_overwrite_is_not_needed_for_kmesh_label_in_another_case(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("demo", {MODE: "kmesh"}))
    result = cluster.kmeshctl("enable-ns", "demo")
    assert result.code == 0, result.err
    assert "namespace demo already enrolled" in result.out


def test_disable_leaves_another_data_planes_label_and_says_so(cluster) -> None:  # noqa: F811
    server = cluster.server
    server.put(namespace("team-b", {MODE: "ambient"}))
    result = cluster.kmeshctl("disable-ns", "team-b")
    assert result.code == 0, result.err
    assert "namespace team-b not enrolled in kmesh (istio.io/dataplane-mode=ambient is another data plane's: " \
           "left as it is)" in " ".join(result.out.split())
    assert labels_of(server, "team-b") == {MODE: "ambient"}
    assert server.writes() == []
    as_json = cluster.kmeshctl("disable-ns", "team-b", "-o", "json")
    assert json.loads(as_json.out)["namespaces"] == [{"name": "team-b", "changed": False, "sidecarInjection": False,
                                                      "replacedLabel": None, "restoredLabel": None}]


def test_the_agents_own_namespace_is_refused_wherever_install_put_it(cluster) -> None:  # noqa: F811
    server = cluster.server
    kmesh_agent_installed(server, "kmesh-h86")
    server.put(namespace("demo"))
    result = cluster.kmeshctl("enable-ns", "demo", "kmesh-h86", "--no-wait")
    assert result.code == 2
    line = " ".join(result.err.split())
    assert "namespace kmesh-h86 is where the kmesh node agent runs (DaemonSet kmesh-h86/kmesh)" in line
    assert "enrolling it makes no sense (nothing was changed)" in line
    assert f"leave it out: `kmeshctl --kubeconfig {cluster.kubeconfig} enable-ns demo --no-wait`" in line
    assert MODE not in labels_of(server, "demo") and MODE not in labels_of(server, "kmesh-h86")
    assert server.writes() == []


def test_istio_and_kubernetes_namespaces_are_refused(cluster) -> None:  # noqa: F811
    server = cluster.server
    for name in ("istio-system", "kube-system", "kmesh-system"):
        if server.get("v1", "Namespace", name) is None:
            server.put(namespace(name))
        result = cluster.kmeshctl("enable-ns", name)
        assert result.code == 2, (name, result.out)
        assert "enrolling it makes no sense" in result.err and "enroll the namespaces your applications run in" \
            in " ".join(result.err.split())
        assert MODE not in labels_of(server, name)
    assert server.writes() == []
