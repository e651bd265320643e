"""f19k, findings A and D of `kmeshctl status`:

- A: after an uninstall stopped part-way (the EnvoyFilters and the DaemonSet gone, the rest
  still there) with a ConfigMap of the user's in kmesh-system, status said the namespace
  was `kept by uninstall` (and told the user to remove install's Pod Security label by
  hand), though uninstall never reached it: that is said only once nothing else of the
  install is left;
- D: while an uninstall deletes the DaemonSet (it carries a deletionTimestamp: foreground
  deletion waits for its pods), status said `Not healthy: ... missing ... (put them back
  with kmeshctl install ...)`: it now says the install is being removed, names what is
  being deleted, and points at waiting or `kmeshctl uninstall`, never at install.

Real parts: kmeshctl.cli.main in-process against the stand-in API server."""

from __future__ import annotations

import json

from kmeshctl.kube import object_ref
from kmeshctl.uninstall import installed_objects
from standin_apiserver import cluster  # noqa: F401 (fixture)

NS = "kmesh-system"
OBJS = installed_objects(NS, "istio-system")
DS = "DaemonSet kmesh-system/kmesh"
MINE = "f19k-mine"


def _installed_with_users_config_map(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c-f19k", "--no-wait", "-q").code == 0
    cluster.server.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": MINE, "namespace": NS},
                        "data": {"a": "b"}}, "kubectl-create")


def _delete(cluster, kinds: tuple[str, ...]) -> list[str]:  # noqa: F811
    """Deletes install's objects of ``kinds`` as an uninstall would; the refs of the others."""
    for obj in OBJS:
        if obj["kind"] in kinds:
            meta = obj["metadata"]
            cluster.server.delete_object(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace", ""))
    return [object_ref(o) for o in OBJS if o["kind"] not in kinds]


# -- A: an uninstall stopped before the namespace ------------------------------------------------


def test_a_partly_uninstalled_namespace_is_not_said_kept_by_uninstall(cluster) -> None:  # noqa: F811
    _installed_with_users_config_map(cluster)
    left = _delete(cluster, ("EnvoyFilter", "DaemonSet"))
    shown = cluster.kmeshctl("status")
    assert shown.code == 1, shown
    first = shown.out.splitlines()[0]
    assert first.startswith(f"Partly installed or partly uninstalled: {len(left)} of {len(OBJS)} objects exist"), \
        first
    assert f"Namespace {NS}" in first, first  # it is a part of the install still there
    assert "kept by uninstall" not in shown.out and "Kept:" not in shown.out, shown.out
    document = json.loads(cluster.kmeshctl("status", "-o", "json").out)
    assert document["namespaceKept"] is None and f"Namespace {NS}" in document["remainingObjects"], document


def test_once_uninstall_finished_the_namespace_is_said_kept(cluster) -> None:  # noqa: F811
    _installed_with_users_config_map(cluster)
    assert cluster.kmeshctl("uninstall", "-q").code == 0
    shown = cluster.kmeshctl("status")
    kept = [ln for ln in shown.out.splitlines() if ln.startswith("Kept:")]
    assert kept and f"kept by uninstall: it holds ConfigMap {MINE}" in kept[0], shown.out


# -- D: the DaemonSet being deleted --------------------------------------------------------------


def _being_deleted(cluster) -> None:  # noqa: F811
    """The DaemonSet as foreground deletion leaves it until its pods are gone."""
    key = ("apps", "daemonsets", NS, "kmesh")
    with cluster.server.lock:
        meta = cluster.server.objects[key]["metadata"]
        meta["deletionTimestamp"] = "2026-12-02T08:00:00Z"
        meta["finalizers"] = ["foregroundDeletion"]


def test_status_while_uninstall_deletes_the_daemonset(cluster) -> None:  # noqa: F811
    _installed_with_users_config_map(cluster)
    _delete(cluster, ("EnvoyFilter",))
    _being_deleted(cluster)
    shown = cluster.kmeshctl("status")
    assert shown.code == 1, shown
    [last] = [ln for ln in shown.out.splitlines() if ln.startswith("Being uninstalled:")]
    assert f"{DS} being deleted" in last, last
    assert last.endswith(" uninstall` to remove the rest (it is safe to repeat)"), last
    assert "install --cluster-id" not in shown.out, shown.out
    assert "Not healthy:" not in shown.out and "put them back" not in shown.out, shown.out
    document = json.loads(cluster.kmeshctl("status", "-o", "json").out)
    assert document["beingDeleted"] == [DS], document
    assert document["problems"][0].startswith(f"being uninstalled: {DS} being deleted"), document["problems"]
    assert all("install --cluster-id" not in p for p in document["problems"]), document["problems"]


def test_an_installed_daemonset_is_not_said_being_deleted(cluster) -> None:  # noqa: F811
    _installed_with_users_config_map(cluster)
    document = json.loads(cluster.kmeshctl("status", "-o", "json").out)
    assert document["beingDeleted"] == [], document
    assert "Being uninstalled:" not in cluster.kmeshctl("status").out
