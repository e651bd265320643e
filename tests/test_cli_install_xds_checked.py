"""Issue 14, kind "install checks what its flags name in the cluster before it applies":
an --xds-address that is a cluster Service name (NAME.NS.svc[.cluster.local]:PORT) whose
Service or port does not exist, and an --istio-namespace that does not exist, are refused
with exit 2 and one line naming the flag and what the cluster has (a paste-ready
command), nothing applied; an agent that cannot reach istiod once applied is blamed on
--xds-address, not on --image.

Real parts: kmeshctl.cli.main in-process against the stand-in API server (tests/standin)."""

from __future__ import annotations

from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)


def _writes(cluster) -> list:  # noqa: F811
    return [r for r in cluster.server.requests if r.method in ("POST", "PATCH", "PUT", "DELETE")
            and not r.dry_run and "selfsubjectaccessreviews" not in r.path]


def test_xds_address_naming_no_service_is_refused_before_anything(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--xds-address", "nowhere.istio-system.svc:15012")
    assert result.code == 2, result
    line = result.err.strip()
    assert len(line.splitlines()) == 1, line
    assert "--xds-address nowhere.istio-system.svc:15012: no Service nowhere in namespace istio-system" in line, line
    assert "istiod Services found: istiod-1-22-6.istio-system.svc:15012" in line, line
    assert (f"; use `kmeshctl --kubeconfig {cluster.kubeconfig} install --xds-address "
            "istiod-1-22-6.istio-system.svc:15012 --cluster-id c1`") in line, line  # paste-ready, the typed flags kept
    assert not _writes(cluster), _writes(cluster)


def test_xds_address_with_a_port_the_service_lacks_is_refused(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--xds-address",
                              "istiod-1-22-6.istio-system.svc.cluster.local:15099", "--dry-run")
    assert result.code == 2, result
    assert "Service istio-system/istiod-1-22-6 has no port 15099 (its ports: 15010, 15012)" in result.err, result.err
    assert not _writes(cluster)


def test_xds_address_outside_the_cluster_names_is_not_looked_up(cluster) -> None:  # noqa: F811
    for address in ("10.0.0.99:15012", "istiod.example.com:15012", "istiod-1-22-6.istio-system.svc:15012"):
        result = cluster.kmeshctl("install", "--cluster-id", "c1", "--xds-address", address, "--dry-run", "-q")
        assert result.code == 0, (address, result)


def test_istio_namespace_that_does_not_exist_is_refused(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--istio-namespace", "h60-none")
    assert result.code == 2, result
    line = result.err.strip()
    assert "--istio-namespace h60-none: no such namespace (namespaces with istiod: istio-system)" in line, line
    assert (f"; use `kmeshctl --kubeconfig {cluster.kubeconfig} install --cluster-id c1 --istio-namespace "
            "istio-system`") in line and "server objects" not in line, line
    assert not _writes(cluster)


def _running_not_ready(name: str, node: str):
    from kmeshctl.rollout import PodState

    return PodState(name, "kmesh-system", node, "Running", False, 0, "img",
                    "ContainersNotReady: containers with unready status: [kmesh]", "")


def test_agents_that_cannot_reach_istiod_are_blamed_on_xds_address(cluster, monkeypatch) -> None:  # noqa: F811
    from kmeshctl import config_dump, rollout

    stuck = rollout.RolloutState(True, 2, 2, 0, True, [_running_not_ready("kmesh-node-a", "node-a"),
                                                       _running_not_ready("kmesh-node-b", "node-b")])
    monkeypatch.setattr(rollout, "read_rollout", lambda *args: stuck)
    monkeypatch.setattr(config_dump, "fetch_from_pod", lambda path, pod, ns, port, target: {
        "address": "10.0.0.99:15012", "connected": False, "lastError": "dial tcp 10.0.0.99:15012: i/o timeout"})
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--xds-address", "10.0.0.99:15012", "--timeout", "1")
    assert result.code == 1, result
    last = result.err.strip().splitlines()[-1]
    assert "not ready after 1s (0/2 ready; Running)" in last, last
    assert "the agents cannot reach istiod (10.0.0.99:15012: dial tcp 10.0.0.99:15012: i/o timeout; istiod " \
           "Services found: istiod-1-22-6.istio-system.svc:15012): re-run install with istiod's address: " in last, last
    # the install to paste: every flag typed, the one istiod found as --xds-address (h86)
    assert f"`kmeshctl --kubeconfig {cluster.kubeconfig} install --xds-address istiod-1-22-6.istio-system.svc:15012 " \
           "--cluster-id c1 --timeout 1s`" in last, last
    assert "--image" not in last, last


def test_an_image_that_cannot_be_pulled_is_blamed_on_image(cluster) -> None:  # noqa: F811
    cluster.server.daemonset_controller = "stuck"
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--image", "registry.example/h60:typo",
                              "--timeout", "2")
    assert result.code == 1, result
    last = result.err.strip().splitlines()[-1]
    assert "(0/2 ready; ImagePullBackOff); the image cannot be pulled: fix --image" in last, last
    assert "--xds-address" not in last, last
