"""Issue 14, kind "status says healthy only when the whole install is there": `status`
checks every object install creates (uninstall.installed_objects: the one list install
applies and uninstall deletes), not only the DaemonSet; the missing ones make it not
healthy (exit 1) with the `kmeshctl install ...` that puts them back, its flags read
back from the DaemonSet and the user's --kubeconfig kept.

Real parts: kmeshctl.cli.main in-process against the stand-in API server (tests/standin);
the agents' admin endpoint answers `connected synced` (the stand-in runs no agent)."""

from __future__ import annotations

import json

import pytest

from standin_apiserver import cluster  # noqa: F401 (fixture)

GONE = [("rbac.authorization.k8s.io/v1", "ClusterRole", "kmesh", ""),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "kmesh", ""),
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", "kmesh-pod-patch-own-node", ""),
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding", "kmesh-pod-patch-own-node", ""),
        ("networking.istio.io/v1alpha3", "EnvoyFilter", "add-listener-filter", "istio-system"),
        ("networking.istio.io/v1alpha3", "EnvoyFilter", "skip-tunneling", "istio-system"),
        ("networking.istio.io/v1alpha3", "EnvoyFilter", "add-original-dst-cluster", "istio-system")]


@pytest.fixture
def installed(cluster, monkeypatch):  # noqa: F811
    from kmeshctl import config_dump

    monkeypatch.setattr(config_dump, "fetch_from_pod", lambda path, pod, ns, port, target: {
        "address": "istiod-1-22-6.istio-system.svc:15012", "connected": True, "synced": True})
    cluster.server.daemonset_controller = "ready"
    result = cluster.kmeshctl("install", "--cluster-id", "c-h60", "--enable-bypass", "--timeout", "20", "-q")
    assert result.code == 0, result
    return cluster


def test_a_whole_install_is_healthy(installed) -> None:
    result = installed.kmeshctl("status")
    assert result.code == 0 and "Not healthy" not in result.out, result
    data = json.loads(installed.kmeshctl("status", "-o", "json").out)
    assert data["healthy"] and data["missingObjects"] == [], data


def test_missing_objects_are_named_with_the_install_that_restores_them(installed) -> None:
    for api_version, kind, name, namespace in GONE:
        installed.server.delete_object(api_version, kind, name, namespace)
    result = installed.kmeshctl("status")
    assert result.code == 1, result
    line = next(line for line in result.out.splitlines() if line.startswith("Not healthy:"))
    assert "7 of the 10 objects install creates missing: ClusterRole kmesh, ClusterRoleBinding kmesh, " \
           "ValidatingAdmissionPolicy kmesh-pod-patch-own-node, ValidatingAdmissionPolicyBinding " \
           "kmesh-pod-patch-own-node, EnvoyFilter istio-system/add-listener-filter" in line, line
    restore = (f"`kmeshctl --kubeconfig {installed.kubeconfig} install --cluster-id c-h60 --xds-address "
               "istiod-1-22-6.istio-system.svc:15012 --enable-bypass`")
    assert f"(put them back with {restore})" in line, line
    data = json.loads(installed.kmeshctl("status", "-o", "json").out)
    assert not data["healthy"] and len(data["missingObjects"]) == 7, data
    assert any(restore in problem for problem in data["problems"]), data["problems"]


def test_the_restoring_command_restores_them(installed) -> None:
    for api_version, kind, name, namespace in GONE[:2]:
        installed.server.delete_object(api_version, kind, name, namespace)
    line = next(line for line in installed.kmeshctl("status").out.splitlines() if line.startswith("Not healthy:"))
    command = line.split("put them back with `")[1].split("`")[0].split()
    assert command[:3] == ["kmeshctl", "--kubeconfig", str(installed.kubeconfig)], command
    assert installed.kmeshctl(*command[3:], "-q", "--timeout", "20").code == 0
    assert installed.kmeshctl("status").code == 0


def test_a_lost_istio_crd_is_a_missing_object_too(installed) -> None:
    installed.server.delete_object("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                                   "envoyfilters.networking.istio.io")
    data = json.loads(installed.kmeshctl("status", "-o", "json").out)
    assert not data["healthy"], data
    assert "EnvoyFilter istio-system/skip-tunneling (kind not served)" in data["missingObjects"], data
