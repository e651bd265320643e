"""One helper each for words two places built apart (r125): status's install and uninstall
commands add -n / --istio-namespace only when not the default (status.with_namespaces);
`waypoint delete`'s "what holds it" command names a kind as uninstall does
(uninstall.describe_args), with its group where the short kind is another API's too
(`gateway` is also Istio's Gateway)."""

from __future__ import annotations

import inspect
import time
from typing import Any

import pytest

from kmeshctl import status
from kmeshctl.params import DEFAULT_ISTIO_NAMESPACE, DEFAULT_NAMESPACE, INSTALL_COMMAND
from kmeshctl.waypoint import deploy
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd


@pytest.mark.parametrize("ns, istio, flags", [
    (DEFAULT_NAMESPACE, DEFAULT_ISTIO_NAMESPACE, ""),
    ("kmesh-f20c", DEFAULT_ISTIO_NAMESPACE, " -n kmesh-f20c"),
    (DEFAULT_NAMESPACE, "istio-f20c", " --istio-namespace istio-f20c"),
    ("kmesh-f20c", "istio-f20c", " -n kmesh-f20c --istio-namespace istio-f20c"),
])
def test_install_and_uninstall_commands_share_one_rule(ns: str, istio: str, flags: str) -> None:
    assert status.uninstall_command(ns, istio) == f"kmeshctl uninstall{flags}"
    assert status.bare_install_command(ns, istio) == f"{INSTALL_COMMAND}{flags}"
    words = ["kmeshctl", "x"]
    assert status.with_namespaces(words, ns, istio) == f"kmeshctl x{flags}" and words == ["kmeshctl", "x"]


def test_the_loop_is_written_once() -> None:
    for function in (status.bare_install_command, status.uninstall_command):
        assert "for flag" not in inspect.getsource(function), function.__name__


@pytest.mark.parametrize("kind, words", [
    ("Gateway", "kubectl describe gateway.gateway.networking.k8s.io waypoint -n default"),
    ("Deployment", "kubectl describe deployment waypoint -n default"),
])
def test_what_holds_an_object_is_described_by_its_unambiguous_kind(cluster, monkeypatch, kind: str,  # noqa: F811
                                                                    words: str) -> None:
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default").code == 0
    monkeypatch.setattr(deploy, "GONE_POLL_S", 0.01)
    real_live, deleting = deploy._live, []

    def held(client: Any, obj: dict) -> Any:  # the object stays after its delete, held by a finalizer
        live = real_live(client, obj)
        if obj["kind"] == kind and live is None and deleting:
            return {"metadata": {"name": "waypoint", "finalizers": ["example.com/f20c"]}}
        deleting.append(obj["kind"]) if obj["kind"] == kind and live is not None else None
        return live

    real_delete = deploy._delete_if_ours

    def deleted(client: Any, obj: dict, p: Any) -> str:
        outcome = real_delete(client, obj, p)
        time.sleep(0.06 if obj["kind"] == kind else 0)
        return outcome

    monkeypatch.setattr(deploy, "_live", held)
    monkeypatch.setattr(deploy, "_delete_if_ours", deleted)
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--timeout", "0.05s")
    assert result.code == 1, result
    assert f"{kind} default/waypoint still exists after the --timeout 0.05s limit (finalizers: example.com/f20c)" \
        in result.err, result
    assert f"see what holds it with `{words} --kubeconfig {cluster.kubeconfig}`" in result.err, result
