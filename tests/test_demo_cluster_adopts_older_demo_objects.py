"""Kind "refuses its own objects" (h110): the cluster demo refused a namespace holding the
objects an OLDER kmeshctl demo applied (before it labelled them app.kubernetes.io/part-of=
kmeshctl-demo), with a `kubectl delete` fix. Now an object whose managedFields show only a
server-side apply by kmeshctl's field manager (the one the demo applies with), and without
the managed-by label install's and waypoint's objects carry, is the demo's own: adopted,
said on the progress stream, and labelled by the apply. The same object made or touched by
anyone else (kubectl create / apply / scale, another tool) stays refused as before.

Stand-in API server (its managedFields: one entry per manager with its operation; it
records no status-subresource writes, so the rule for those is checked on a literal in
the real API server's format). No root."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kmeshctl import kube
from kmeshctl.demo_cluster import DEMO_LABEL, ClusterTarget, ForeignObjects, applied_only_by_demo, made_by_demo
from kmeshctl.kube import FIELD_MANAGER, connect
from kmeshctl.render import COMMON_LABELS
from test_demo_cluster_foreign_objects import _refused
from test_demo_cluster_refusals import VS_API, _documents, _flags, make  # noqa: F401 (fixture)

KINDS = (("Service", "v1", "fortio"), ("Deployment", "apps/v1", "fortio-v1"), ("Deployment", "apps/v1", "fortio-v2"),
         ("Deployment", "apps/v1", "netutils"), ("DestinationRule", VS_API, "fortio"),
         ("VirtualService", VS_API, "fortio"))


def _unlabelled(doc: dict) -> dict:
    """``doc`` as an older demo's examples/fortio had it: no part-of label."""
    old = copy.deepcopy(doc)
    labels = old["metadata"].get("labels") or {}
    labels.pop(DEMO_LABEL[0], None)
    if not labels:
        old["metadata"].pop("labels", None)
    return old


def _client(cluster: Any) -> kube.KubeClient:
    return connect(kube.KubeTarget(str(cluster.kubeconfig)))


def _older_demo_applied(cluster: Any) -> None:
    """What an older `kmeshctl demo traffic-shift --target cluster` left: every object of
    the example (the Namespace aside: the user's) server-side applied by kmeshctl's field
    manager, without the demo's label."""
    client = _client(cluster)
    for doc in _documents():
        if doc["kind"] != "Namespace":
            client.apply(_unlabelled(doc))


def _target(cluster: Any) -> ClusterTarget:
    return ClusterTarget(_client(cluster), _documents(), ("default", "fortio"), settle_s=0, ready_timeout_s=10)


def _labels(cluster: Any, api: str, kind: str, name: str) -> dict:
    return cluster.server.get(api, kind, name, "default")["metadata"].get("labels") or {}


def test_an_older_demo_s_objects_are_adopted_labelled_and_said(make) -> None:
    cluster = make()
    _older_demo_applied(cluster)
    for kind, api, name in KINDS:
        live = cluster.server.get(api, kind, name, "default")
        assert DEMO_LABEL[0] not in _labels(cluster, api, kind, name), (kind, name)
        assert {(e["manager"], e["operation"]) for e in live["metadata"]["managedFields"]} == \
            {(FIELD_MANAGER, "Apply")}, live["metadata"]
    lines: list[str] = []
    _target(cluster).prepare(lines.append)
    for kind, api, name in KINDS:
        assert _labels(cluster, api, kind, name)[DEMO_LABEL[0]] == DEMO_LABEL[1], (kind, name)
    adopted = [line for line in lines if "older kmeshctl demo" in line]
    assert adopted == ["Service default/fortio, Deployment default/fortio-v1, Deployment default/fortio-v2, "
                       "VirtualService default/fortio, DestinationRule default/fortio, Deployment default/netutils: "
                       "an older kmeshctl demo's (applied only by field manager kmeshctl, without the label "
                       "app.kubernetes.io/part-of=kmeshctl-demo), the demo's own: labelled by this apply"], lines
    # the next run finds them labelled: nothing more to adopt
    again: list[str] = []
    _target(cluster).prepare(again.append)
    assert not [line for line in again if "older kmeshctl demo" in line], again


def test_the_cli_run_over_an_older_demo_is_not_refused(make) -> None:
    cluster = make()
    _older_demo_applied(cluster)
    result = cluster.kmeshctl("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "3")
    assert "was not made by kmeshctl demo" not in result.err and "were not made by" not in result.err, result
    assert "an older kmeshctl demo's" in result.err, result
    assert result.code in (0, 1) and "Traceback" not in result.err, result  # -c 3: too few to judge, not refused
    assert _labels(cluster, "apps/v1", "Deployment", "netutils")[DEMO_LABEL[0]] == DEMO_LABEL[1]


@pytest.mark.parametrize("manager,server_side", [("kubectl-client-side-apply", False), ("kubectl", True),
                                                 ("kubectl-create", False), ("helm", True)])
def test_the_same_objects_made_by_another_manager_stay_refused(make, manager: str, server_side: bool) -> None:
    """The same unlabelled Deployment netutils and Service fortio, made by kubectl (client-side
    or server-side apply, create) or another tool: refused, exit 2, nothing written, as before."""
    cluster = make()
    for doc in _documents():
        if doc["kind"] in ("Service", "Deployment") and doc["metadata"]["name"] in ("fortio", "netutils"):
            obj = _unlabelled(doc)
            if server_side:  # `kubectl apply --server-side` (manager kubectl), a tool's own apply
                res = cluster.server.resource_for(obj["apiVersion"], obj["kind"])
                cluster.server.create(res, obj, manager, operation="Apply")
            else:
                cluster.server.put(obj, manager=manager)
    line = _refused(cluster, 2)
    assert line.startswith(
        "Error: Service default/fortio, Deployment default/netutils exist and were not made by kmeshctl demo (nothing "
        "was changed); run the demo in another namespace (-n) or delete them: `kubectl delete -n default "
        f"service/fortio deployment/netutils {_flags(cluster)}`"), line
    assert DEMO_LABEL[0] not in _labels(cluster, "apps/v1", "Deployment", "netutils")


def test_an_older_demo_s_object_someone_changed_since_stays_refused(make) -> None:
    """kubectl scale (or edit, patch) on an older demo's Deployment: no longer the demo's alone."""
    cluster = make()
    _older_demo_applied(cluster)
    scaled = cluster.server.get("apps/v1", "Deployment", "netutils", "default")
    scaled["spec"]["replicas"] = 2
    cluster.server.put(scaled, manager="kubectl")
    managers = {e["manager"] for e in cluster.server.get("apps/v1", "Deployment", "netutils",
                                                          "default")["metadata"]["managedFields"]}
    assert managers == {FIELD_MANAGER, "kubectl"}, managers
    with pytest.raises(ForeignObjects) as refused:
        _target(cluster).prepare(lambda _: None)
    assert [o["metadata"]["name"] for o in refused.value.found] == ["netutils"]
    assert cluster.server.get("apps/v1", "Deployment", "netutils", "default")["spec"]["replicas"] == 2


def test_a_waypoint_s_object_of_a_demo_name_is_not_adopted(make) -> None:
    """`waypoint apply --name fortio` makes a Service fortio with the same field manager, and
    the managed-by label: a waypoint's, never the demo's."""
    cluster = make()
    service = _unlabelled(next(d for d in _documents() if d["kind"] == "Service"))
    service["metadata"]["labels"] = {**COMMON_LABELS, "kmeshctl.io/waypoint": "fortio"}
    _client(cluster).apply(service)
    with pytest.raises(ForeignObjects) as refused:
        _target(cluster).prepare(lambda _: None)
    assert [o["metadata"]["name"] for o in refused.value.found] == ["fortio"]


# ------------------------------------------------------------------ the rule on the real server's format


def _entry(manager: str, operation: str = "Apply", subresource: str = "") -> dict:
    entry = {"manager": manager, "operation": operation, "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:spec": {}}}
    return {**entry, "subresource": subresource} if subresource else entry


def _deployment(*entries: dict, labels: dict | None = None) -> dict:
    return {"kind": "Deployment", "metadata": {"name": "netutils", "labels": labels or {"app": "netutils"},
                                               "managedFields": list(entries)}}


def test_status_subresource_writes_do_not_count_anything_else_does() -> None:
    # a real Deployment: the controller writes status and the revision annotation through /status
    controller = _entry("kube-controller-manager", "Update", "status")
    assert applied_only_by_demo(_deployment(_entry(FIELD_MANAGER), controller))
    assert made_by_demo(_deployment(_entry(FIELD_MANAGER), controller))
    for other in (_entry("kubectl", "Update", "scale"), _entry("kubectl-client-side-apply", "Update"),
                  _entry("kube-controller-manager", "Update"), _entry("kubectl")):
        assert not applied_only_by_demo(_deployment(_entry(FIELD_MANAGER), other)), other
    assert not applied_only_by_demo(_deployment(_entry(FIELD_MANAGER, "Update")))  # a patch, not an apply
    assert not applied_only_by_demo(_deployment(controller))  # nobody applied it
    assert not applied_only_by_demo(_deployment())  # managedFields stripped: nothing shows who made it
    assert not applied_only_by_demo(_deployment(_entry(FIELD_MANAGER), labels=dict(COMMON_LABELS)))
