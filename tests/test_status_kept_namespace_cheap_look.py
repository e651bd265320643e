"""f19b: with no DaemonSet, `kmeshctl status` ran uninstall's whole look through a kept
namespace on every run: the discovery of every API group the cluster serves, then one list
per namespaced kind. Saying the namespace is kept needs one of the user's objects: status
now lists the core and apps kinds (discovered for its own objects anyway) only until one
holds some, and looks through everything, as uninstall does, only when none does. Its
words are uninstall's (the same reason as `uninstall --dry-run -o json` gives).

Real parts: kmeshctl.cli.main in-process against the stand-in API server, its request log."""

from __future__ import annotations

import json

from kmeshctl.uninstall import installed_objects
from standin import HttpError
from standin_apiserver import cluster  # noqa: F401 (fixture)

NS = "kmesh-system"
MINE = "f19b-mine"
PREFIX = f"Kept: namespace {NS} is still there, kept by uninstall: "


def _kept_for(cluster, obj: dict) -> None:  # noqa: F811
    """Installed, ``obj`` of the user's put in the namespace, uninstalled: the namespace kept."""
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    cluster.server.put(obj, "kubectl-create")
    gone = cluster.kmeshctl("uninstall", "-q")
    assert gone.code == 0 and f"namespace {NS} kept" in gone.out, gone


def _config_map() -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": MINE, "namespace": NS}, "data": {"a": "b"}}


def _uninstalls_reason(cluster) -> str:  # noqa: F811
    """What `uninstall --dry-run` says the namespace is kept for (its labels are gone already)."""
    document = json.loads(cluster.kmeshctl("uninstall", "--dry-run", "-o", "json").out)
    [kept] = [s for s in document["spared"] if s["object"] == f"Namespace {NS}"]
    return kept["reason"]


def _status(cluster) -> tuple[list, str, dict]:  # noqa: F811
    """The requests one `status` made, its Kept: line, its -o json document."""
    sent = len(cluster.server.requests)
    shown = cluster.kmeshctl("status")
    asked = cluster.server.requests[sent:]
    assert shown.code == 1 and shown.out.startswith("Not installed:"), shown
    [kept] = [ln for ln in shown.out.splitlines() if ln.startswith("Kept:")]
    return asked, kept, json.loads(cluster.kmeshctl("status", "-o", "json").out)


def _discovered(asked: list) -> set[str]:
    """The group versions whose kinds were asked for (GET /api/v1, GET /apis/GROUP/VERSION)."""
    paths = {r.path for r in asked if r.method == "GET"}
    return {p.removeprefix("/api/") for p in paths if p.count("/") == 2 and p.startswith("/api/")} | \
           {p.removeprefix("/apis/") for p in paths if p.count("/") == 3 and p.startswith("/apis/")}


def _listed_in_namespace(asked: list) -> list[str]:
    """The paths of the lists of the namespace's objects, in order."""
    return [r.path for r in asked if r.method == "GET" and f"/namespaces/{NS}/" in r.path
            and r.path.count("/") == (5 if r.path.startswith("/api/") else 6)]


def test_status_stops_at_the_first_kind_holding_the_users_objects(cluster) -> None:  # noqa: F811
    _kept_for(cluster, _config_map())
    asked, kept, _ = _status(cluster)
    assert kept == f"{PREFIX}it holds ConfigMap {MINE} (not made by kmeshctl install)", kept
    listed = _listed_in_namespace(asked)
    assert listed and listed[-1] == f"/api/v1/namespaces/{NS}/configmaps", listed  # none after the one that held it
    assert all(p.startswith(f"/api/v1/namespaces/{NS}/") for p in listed), listed  # core kinds only
    # no discovery beyond the APIs of install's own objects (status reads those anyway) and core / apps
    own = {o["apiVersion"] for o in installed_objects(NS, "istio-system")} | {"v1", "apps/v1"}
    assert _discovered(asked) <= own, _discovered(asked) - own


def test_the_reason_is_uninstalls(cluster) -> None:  # noqa: F811
    _kept_for(cluster, _config_map())
    _, kept, document = _status(cluster)
    reason = _uninstalls_reason(cluster)
    assert kept == PREFIX + reason and document["namespaceKept"] == {"reason": reason, "labels": []}, \
        (kept, reason, document)


def test_objects_only_of_other_apis_are_still_found_by_the_whole_look(cluster) -> None:  # noqa: F811
    _kept_for(cluster, {"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
                        "metadata": {"name": "reviews", "namespace": NS}, "spec": {"hosts": ["reviews"]}})
    asked, kept, document = _status(cluster)
    reason = _uninstalls_reason(cluster)
    assert "VirtualService reviews" in reason and kept == PREFIX + reason, (kept, reason)
    assert document["remainingObjects"] == [] and document["namespaceKept"]["reason"] == reason, document
    assert any("/virtualservices" in p for p in _listed_in_namespace(asked)), asked


def test_a_kind_that_cannot_be_listed_keeps_its_words(cluster) -> None:  # noqa: F811
    """Nothing of the user's found, a kind refused: may hold objects (the whole look's words)."""
    _kept_for(cluster, _config_map())
    server, real_list = cluster.server, cluster.server.list

    def refused_list(res, namespace, *rest):
        if res.kind == "ConfigMap" and namespace == NS:
            raise HttpError(403, "Forbidden", "configmaps is forbidden: User cannot list resource")
        return real_list(res, namespace, *rest)

    server.list = refused_list
    _, kept, _ = _status(cluster)
    reason = _uninstalls_reason(cluster)
    assert kept == PREFIX + reason, (kept, reason)
    assert "could not list its ConfigMap objects" in reason and "it holds" not in reason, reason
