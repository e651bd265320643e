"""uninstall keeps the namespace kmeshctl made while it holds anything install did not make
(h98): every namespaced, listable kind the cluster serves is looked through (discovery), not
a fixed list, so a PVC, a Role, a CronJob, an Istio route or a `kmeshctl waypoint apply`
waypoint keeps it; what the cluster and istiod put in every namespace does not; a kind that
cannot be listed keeps it too ("could not check"). Also: `--timeout 0` with a slow object,
the agent DaemonSet read once, a 403 on the every-pod list after the DaemonSet went.

Real parts: kmeshctl.cli.main in-process against the stand-in API server, given the
built-in kinds it lacks (PersistentVolumeClaim, Role, CronJob, Gateway, ...) through its
`extra_resources`."""

from __future__ import annotations

import json
import math
import threading

import pytest

from kmeshctl.asciinum import limit_words
from kmeshctl.kube import ResourceKind
from kmeshctl.render import COMMON_LABELS, NOT_OURS
from kmeshctl.uninstall import NOT_OURS_REASON, DeleteResult, _users_of_kind
from kmeshctl.waypoint.deploy import WAYPOINT_LABEL
from standin import HttpError, Resource
from standin_apiserver import cluster  # noqa: F401 (fixture)

NS = "kmesh-system"
PVC = Resource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True)
SECRET = Resource("", "v1", "Secret", "secrets", True)
ENDPOINTS = Resource("", "v1", "Endpoints", "endpoints", True)
EVENT = Resource("", "v1", "Event", "events", True)
NEW_EVENT = Resource("events.k8s.io", "v1", "Event", "events", True)
ROLE = Resource("rbac.authorization.k8s.io", "v1", "Role", "roles", True)
CRONJOB = Resource("batch", "v1", "CronJob", "cronjobs", True)
GATEWAY = Resource("gateway.networking.k8s.io", "v1", "Gateway", "gateways", True)
EXTRA = [PVC, SECRET, ENDPOINTS, EVENT, NEW_EVENT, ROLE, CRONJOB, GATEWAY]
WAYPOINT_LABELS = {**COMMON_LABELS, WAYPOINT_LABEL: "waypoint"}


def _obj(res: Resource, name: str, labels: dict | None = None, **rest) -> dict:
    return {"apiVersion": res.api_version, "kind": res.kind,
            "metadata": {"name": name, "namespace": NS, **({"labels": labels} if labels else {})}, **rest}


def _installed(cluster) -> None:  # noqa: F811
    cluster.server.extra_resources.extend(EXTRA)
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0


def _uid(cluster, api_version: str, kind: str, name: str) -> str:  # noqa: F811
    found = cluster.server.get(api_version, kind, name, NS)
    return found["metadata"]["uid"] if found else ""


def _users_objects(cluster) -> dict[tuple[str, str, str], str]:  # noqa: F811
    """The reported findings' objects, put in kmesh-system: (apiVersion, kind, name) -> uid."""
    objs = [_obj(PVC, "data", spec={"accessModes": ["ReadWriteOnce"]}),
            _obj(ROLE, "reader", rules=[]),
            _obj(CRONJOB, "nightly", spec={"schedule": "0 3 * * *"}),
            {"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
             "metadata": {"name": "reviews", "namespace": NS}, "spec": {"hosts": ["reviews"]}},
            _obj(GATEWAY, "waypoint", WAYPOINT_LABELS, spec={"gatewayClassName": "istio-waypoint"})]
    for obj in objs:
        cluster.server.put(obj, "kubectl-client-side-apply")
    keys = [(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in objs]
    return {key: _uid(cluster, *key) for key in keys}


@pytest.mark.parametrize("args", [(), ("--dry-run",), ("-o", "json")], ids=["real", "dry-run", "json"])
def test_a_namespace_holding_the_users_kinds_is_kept_and_says_what_it_holds(cluster, args) -> None:  # noqa: F811
    _installed(cluster)
    uids = _users_objects(cluster)
    result = cluster.kmeshctl("uninstall", *args)
    assert result.code == 0, result
    if "json" in args:
        spared = {s["object"]: s for s in json.loads(result.out)["spared"]}
        reason = spared["Namespace kmesh-system"]["reason"]
        assert spared["Namespace kmesh-system"]["outcome"] == "kept", spared
    else:
        line = next(x for x in result.out.splitlines() if x.startswith("Namespace kmesh-system"))
        assert line.startswith("Namespace kmesh-system kept: it holds "), result.out
        reason = line.removeprefix("Namespace kmesh-system kept: ")
    for named in ("PersistentVolumeClaim data", "Role reader", "CronJob nightly", "Gateway waypoint",
                  "VirtualService reviews"):
        assert named in reason, reason
    assert reason.split("; ")[0].endswith("(not made by kmeshctl install)"), reason
    assert cluster.server.get("v1", "Namespace", NS) is not None
    assert {key: _uid(cluster, *key) for key in uids} == uids  # each object there, unchanged
    assert (cluster.server.get("apps/v1", "DaemonSet", "kmesh", NS) is None) == (args != ("--dry-run",))


def test_a_waypoint_kmeshctl_made_in_it_is_the_users_and_keeps_it(cluster) -> None:  # noqa: F811
    _installed(cluster)
    for res in (GATEWAY, Resource("", "v1", "ServiceAccount", "serviceaccounts", True)):
        cluster.server.put(_obj(res, "waypoint", WAYPOINT_LABELS), "kmeshctl")
    result = cluster.kmeshctl("uninstall")
    assert result.code == 0, result
    assert ("Namespace kmesh-system kept: it holds ServiceAccount waypoint, Gateway waypoint "
            "(not made by kmeshctl install); the Pod Security labels install added removed (") in result.out, result.out
    assert cluster.server.get("v1", "ServiceAccount", "kmesh", NS) is None  # install's own still go


def test_what_the_cluster_and_istiod_put_in_every_namespace_does_not_keep_it(cluster) -> None:  # noqa: F811
    _installed(cluster)
    put = cluster.server.put
    for name in ("kube-root-ca.crt", "istio-ca-root-cert", "istio-ca-crl"):
        put(_obj(Resource("", "v1", "ConfigMap", "configmaps", True), name), "kube-controller-manager")
    put(_obj(Resource("", "v1", "ServiceAccount", "serviceaccounts", True), "default"), "kube-controller-manager")
    put(_obj(SECRET, "default-token-x", type="kubernetes.io/service-account-token"), "kube-controller-manager")
    put(_obj(ENDPOINTS, "gone"), "kube-controller-manager")
    put(_obj(EVENT, "kmesh.1"), "kubelet")
    put(_obj(NEW_EVENT, "kmesh.2"), "kubelet")
    put(_obj(Resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True), "gone-x"), "kcm")
    result = cluster.kmeshctl("uninstall")
    assert result.code == 0, result
    assert "Namespace kmesh-system deleted" in result.out, result.out
    assert "kept" not in result.out, result.out


def test_a_kind_that_cannot_be_listed_keeps_it_and_is_named(cluster, monkeypatch) -> None:  # noqa: F811
    _installed(cluster)
    server, real_list = cluster.server, cluster.server.list

    def refused_list(res, namespace, labels, fields):
        if res.kind in ("Role", "CronJob"):
            raise HttpError(403, "Forbidden", f"{res.plural} is forbidden: User cannot list resource")
        return real_list(res, namespace, labels, fields)

    monkeypatch.setattr(server, "list", refused_list)
    result = cluster.kmeshctl("uninstall", "-o", "json")
    assert result.code == 0, result
    spared = {s["object"]: s for s in json.loads(result.out)["spared"]}
    reason = spared["Namespace kmesh-system"]["reason"]
    assert reason.startswith("could not list its Role, CronJob objects ") or \
        reason.startswith("could not list its CronJob, Role objects "), reason
    assert cluster.server.get("v1", "Namespace", NS) is not None


def test_timeout_0_waits_for_an_object_slower_than_a_second_without_a_traceback(cluster) -> None:  # noqa: F811
    """--timeout 0 is no limit (math.inf): the waiting line says so instead of failing to
    spell an infinite duration (reviewer r94)."""
    _installed(cluster)
    server, real_delete = cluster.server, cluster.server.delete

    def slow_delete(res, key, dry_run=False):
        if key[-1] == "skip-tunneling" and not dry_run:
            threading.Timer(2.0, real_delete, [res, key, dry_run]).start()
            return dict(server.objects[key])
        return real_delete(res, key, dry_run)

    server.delete = slow_delete
    result = cluster.kmeshctl("uninstall", "--timeout", "0")
    assert result.code == 0, result
    assert "waiting for EnvoyFilter istio-system/skip-tunneling to go" in result.err, result.err
    assert "no limit" in result.err and "Traceback" not in result.err, result.err
    assert server.get("networking.istio.io/v1alpha3", "EnvoyFilter", "skip-tunneling", "istio-system") is None


def test_the_agent_daemonset_is_read_once_before_its_delete(cluster) -> None:  # noqa: F811
    _installed(cluster)
    path = f"/apis/apps/v1/namespaces/{NS}/daemonsets/kmesh"
    assert cluster.kmeshctl("uninstall").code == 0
    log = [(r.method, r.path) for r in cluster.server.requests]
    sent = log.index(("DELETE", path))
    before = max(i for i, (method, _) in enumerate(log[:sent]) if method == "DELETE")  # the last EnvoyFilter's
    assert log[before:sent].count(("GET", path)) == 1, log[before:sent]


def test_a_403_on_every_pod_after_the_daemonset_went_is_said_and_uninstall_goes_on(cluster,  # noqa: F811
                                                                                      monkeypatch) -> None:
    cluster.server.daemonset_controller = "ready"
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "20", "-q").code == 0
    server, real_list = cluster.server, cluster.server.list

    def no_cluster_wide_pods(res, namespace, labels, fields):
        if res.kind == "Pod" and not namespace:
            raise HttpError(403, "Forbidden", 'pods is forbidden: cannot list resource "pods" at the cluster scope')
        return real_list(res, namespace, labels, fields)

    monkeypatch.setattr(server, "list", no_cluster_wide_pods)
    result = cluster.kmeshctl("uninstall", "-o", "json")
    doc = json.loads(result.out)
    assert doc["nodes"] and all("could not check pods" in n["detail"] for n in doc["nodes"]), doc
    assert "Namespace kmesh-system" in doc["deleted"] and "ServiceAccount kmesh-system/kmesh" in doc["deleted"], doc
    assert result.code == 0, result


class _Pages:
    """A client answering one list with the given pages (continue tokens between them)."""

    def __init__(self, pages: list[list[dict]]) -> None:
        self.pages, self.queries = pages, []

    def request(self, method: str, path: str, query: dict) -> dict:
        self.queries.append(query)
        index = int(query.get("continue", "0"))
        more = str(index + 1) if index + 1 < len(self.pages) else ""
        return {"items": self.pages[index], "metadata": {"continue": more}}


def test_the_list_pages_past_the_clusters_objects_and_stops_once_enough_are_found() -> None:
    kind = ResourceKind("", "v1", "ConfigMap", "configmaps", True, ("list",))
    cluster_made = [{"metadata": {"name": "kube-root-ca.crt"}}, {"metadata": {"name": "istio-ca-root-cert"}}]
    users = [{"metadata": {"name": f"user-{i}"}} for i in range(3)]
    client = _Pages([cluster_made, users[:1], users[1:], [{"metadata": {"name": "never-read"}}]])
    found = _users_of_kind(client, kind, NS, set())  # type: ignore[arg-type]
    assert found == [(False, "ConfigMap user-0"), (False, "ConfigMap user-1")]
    assert len(client.queries) == 3 and all(q["limit"] for q in client.queries), client.queries


def test_the_not_ours_line_follows_the_reason_not_the_words() -> None:
    assert DeleteResult("ClusterRole kmesh", "left alone", NOT_OURS, NOT_OURS_REASON).text == \
        "ClusterRole kmesh: not made by kmeshctl, left alone"
    assert DeleteResult("ClusterRole kmesh", "left alone", NOT_OURS).text == \
        "ClusterRole kmesh left alone (not made by kmeshctl)"


def test_limit_words_say_no_limit_for_0_and_inf() -> None:
    assert [limit_words(t) for t in (0, math.inf, 60, 1.5)] == ["no limit", "no limit", "limit 1m", "limit 1.5s"]
