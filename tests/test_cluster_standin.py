"""The stand-in API server answers like the real API for what kmeshctl uses, checked
through kmeshctl's own client (kmeshctl/kube.py)."""

from __future__ import annotations

import pytest

from kmeshctl.cli.common import GLOBAL
from kmeshctl.kube import ApiError, KindNotServed, connect
from standin_apiserver import app_pod, cluster, make_cluster, namespace  # noqa: F401 (fixtures)


@pytest.fixture
def client(cluster, monkeypatch):
    monkeypatch.setattr(GLOBAL, "kubeconfig", str(cluster.kubeconfig))
    monkeypatch.setattr(GLOBAL, "context", None)
    return connect()


def test_apply_create_merge_noop_and_managed_fields(client):
    ns = namespace("demo", {"a": "1"})
    created = client.apply(ns)
    assert created["metadata"]["managedFields"][0]["manager"] == "kmeshctl"
    assert created["metadata"]["managedFields"][0]["fieldsV1"] == {"f:metadata": {"f:labels": {"f:a": {}}}}
    same = client.apply(ns)
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    changed = client.apply(namespace("demo", {"b": "2"}))  # a no longer applied: removed
    assert changed["metadata"]["labels"] == {"b": "2"}
    assert int(changed["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])


def test_error_status_objects(client):
    client.apply(namespace("demo"))
    with pytest.raises(ApiError) as missing:
        client.merge_patch("v1", "Namespace", "nope", {"metadata": {"labels": {"x": "y"}}})
    assert missing.value.status == 404 and missing.value.reason == "NotFound"
    with pytest.raises(ApiError) as exists:
        client.create("v1", "Namespace", namespace("demo"))
    assert exists.value.status == 409 and exists.value.reason == "AlreadyExists"
    assert client.get("v1", "Namespace", "nope") is None
    assert client.delete("v1", "Namespace", "nope") is False


def test_label_selectors(client):
    for name, labels in (("a", {"mode": "Kmesh"}), ("b", {"mode": "none"}), ("c", {})):
        client.apply(namespace(name, labels))
    def names(selector: str) -> list[str]:
        return [n["metadata"]["name"] for n in client.list("v1", "Namespace", label_selector=selector)
                if n["metadata"]["name"] in {"a", "b", "c"}]
    assert names("mode=Kmesh") == ["a"]
    assert names("mode!=Kmesh") == ["b", "c"]
    assert names("mode") == ["a", "b"]
    assert names("!mode") == ["c"]
    assert names("mode notin (none)") == ["a", "c"]


def test_discovery_follows_the_crds(make_cluster, monkeypatch):
    bare = make_cluster(with_istio=False)
    monkeypatch.setattr(GLOBAL, "kubeconfig", str(bare.kubeconfig))
    client = connect()
    assert client.is_served("apps/v1", "DaemonSet")
    assert not client.is_served("networking.istio.io/v1alpha3", "EnvoyFilter")
    with pytest.raises(KindNotServed):
        client.kind("networking.istio.io/v1alpha3", "EnvoyFilter")


def test_field_selector_and_namespace_scoped_list(client):
    client.apply(namespace("demo"))
    for name, node in (("p1", "node-a"), ("p2", "node-b")):
        pod = app_pod(name, "demo", nodeName=node)
        client.create("v1", "Pod", pod, namespace="demo")
    on_a = client.list("v1", "Pod", namespace="demo", field_selector="spec.nodeName=node-a")
    assert [p["metadata"]["name"] for p in on_a] == ["p1"]
    assert len(client.list("v1", "Pod")) == 2
