"""The stand-in API server answers like the real API for what kmeshctl uses, checked
through kmeshctl's own client (kmeshctl/kube.py)."""

from __future__ import annotations

import pytest

from kmeshctl.kube import ApiError, ApplyConflict, KindNotServed, KubeTarget, connect
from standin_apiserver import app_pod, cluster, make_cluster, namespace  # noqa: F401 (fixtures)


@pytest.fixture
def client(cluster):
    return connect(KubeTarget(str(cluster.kubeconfig)))


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
    client = connect(KubeTarget(str(bare.kubeconfig)))
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


def test_dry_run_answers_like_a_write_and_stores_nothing(cluster, client):
    server = cluster.server
    would_be = client.apply(namespace("demo", {"a": "1"}), dry_run=True)
    assert would_be["metadata"]["uid"] and "resourceVersion" not in would_be["metadata"]  # only storage sets it
    assert would_be["metadata"]["managedFields"][0]["manager"] == "kmeshctl"
    assert server.get("v1", "Namespace", "demo") is None
    created = client.apply(namespace("demo", {"a": "1"}))
    changed = client.apply(namespace("demo", {"a": "2"}), dry_run=True)
    assert changed["metadata"]["labels"] == {"a": "2"}
    assert changed["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]  # not bumped
    assert server.get("v1", "Namespace", "demo") == created
    assert [r.dry_run for r in server.requests if r.method == "PATCH"] == [True, False, True]


def test_dry_run_create_in_a_missing_namespace_is_not_found(client):
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa", "namespace": "nowhere"}}
    with pytest.raises(ApiError) as missing:
        client.apply(sa, dry_run=True)
    assert missing.value.status == 404 and 'namespaces "nowhere" not found' in str(missing.value)


def test_conflict_status_names_each_manager_in_causes(cluster, client):
    mine = namespace("demo", {"a": "1", "b": "1"})
    client.apply(mine)
    theirs = cluster.server.get("v1", "Namespace", "demo")
    theirs["metadata"]["labels"] = {"a": "2", "b": "2"}
    cluster.server.put(theirs, manager="helm")
    for dry_run in (True, False):
        with pytest.raises(ApplyConflict) as conflict:
            client.apply(mine, dry_run=dry_run)
        assert conflict.value.status == 409
        assert [c["field"] for c in conflict.value.causes] == [".metadata.labels.a", ".metadata.labels.b"]
        assert {c["message"] for c in conflict.value.causes} == {'conflict with "helm" using v1'}
        assert conflict.value.problem == ('Namespace demo: field manager "helm" owns .metadata.labels.a, '
                                          ".metadata.labels.b (this command never takes another manager's "
                                          "fields)")  # a client with no force_command: no --force-conflicts
    assert cluster.server.get("v1", "Namespace", "demo")["metadata"]["labels"] == {"a": "2", "b": "2"}


def test_unknown_dry_run_value_is_a_bad_request(client):
    with pytest.raises(ApiError) as bad:
        client.request("PATCH", "/api/v1/namespaces/demo", {"fieldManager": "x", "dryRun": "Some"},
                       namespace("demo"), "application/apply-patch+yaml")
    assert bad.value.status == 400
