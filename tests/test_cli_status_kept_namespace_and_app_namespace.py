"""Kind "status reports a finished uninstall as a half one" (h117): uninstall keeps the
namespace kmeshctl made while it holds the user's objects (a ConfigMap); status then said
`Partly installed or partly uninstalled: 1 of 10 objects exist (Namespace kmesh-system);
re-run ... uninstall`, a fix that deletes nothing, forever (M3). It now says Not
installed, the namespace kept and why, and the labels install set that it still carries
(L14b: pod-security privileged). Also L12: `status -n` of an app namespace enrolled in the
mesh suggested an install into it, which install refuses.

Real parts: kmeshctl.cli.main in-process against the stand-in API server."""

from __future__ import annotations

import json

from standin_apiserver import cluster  # noqa: F401 (fixture)
from standin_apiserver import namespace as namespace_object

NS = "kmesh-system"
MINE = "h117-mine"
APP = "h117-app"
PSA = "pod-security.kubernetes.io/enforce=privileged"
MANAGED = "app.kubernetes.io/managed-by=kmeshctl"


def _refused() -> None:
    from standin import HttpError

    raise HttpError(403, "Forbidden", 'namespaces is forbidden: User "h119" cannot patch resource "namespaces"')


def _keep_and_uninstall(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    cluster.server.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": MINE, "namespace": NS},
                        "data": {"a": "b"}}, "kubectl-create")
    # h119: uninstall removes install's labels from a namespace it keeps; status's Kept: line is for one whose
    # labels stayed (this user may not patch namespaces, or an older kmeshctl uninstalled)
    real_patch = cluster.server.merge_patch
    cluster.server.merge_patch = lambda res, *rest: _refused() if res.kind == "Namespace" else real_patch(res, *rest)
    gone = cluster.kmeshctl("uninstall")
    cluster.server.merge_patch = real_patch
    assert gone.code == 0, gone
    assert f"Namespace {NS} kept: it holds ConfigMap {MINE}" in gone.out, gone.out
    # As an uninstall that could not take install's labels off (refused) or an older one left it
    ns = cluster.server.get("v1", "Namespace", NS)
    ns["metadata"].setdefault("labels", {}).update(dict(label.split("=") for label in (MANAGED, PSA)))
    cluster.server.put(ns, "kmeshctl")


def test_a_namespace_kept_for_the_users_objects_is_not_installed(cluster) -> None:  # noqa: F811
    _keep_and_uninstall(cluster)
    shown = cluster.kmeshctl("status")
    assert shown.code == 1, shown  # as for not installed
    assert "Partly installed" not in shown.out and "uninstall" not in shown.out.replace("kept by uninstall", ""), \
        shown.out
    assert shown.out.startswith(f"Not installed: no DaemonSet"), shown.out
    [kept] = [ln for ln in shown.out.splitlines() if ln.startswith("Kept:")]
    assert f"namespace {NS} is still there, kept by uninstall: it holds ConfigMap {MINE} (not made by kmeshctl " \
           "install)" in kept, kept
    assert f"it still carries install's Pod Security label {PSA}, which lets its pods run privileged" in kept, kept
    assert (f"`kubectl label namespace {NS} pod-security.kubernetes.io/enforce- "
            f"--kubeconfig {cluster.kubeconfig}` removes it") in kept, kept
    data = json.loads(cluster.kmeshctl("status", "-o", "json").out)
    assert data["installed"] is False and data["remainingObjects"] == [], data
    assert data["namespaceKept"]["labels"] == [PSA], data
    assert MINE in data["namespaceKept"]["reason"], data


def test_the_pasted_label_fix_leaves_plain_not_installed(cluster) -> None:  # noqa: F811
    """Also what status shows after an uninstall that took install's labels off itself."""
    _keep_and_uninstall(cluster)
    ns = cluster.server.get("v1", "Namespace", NS)
    for label in (MANAGED, PSA):
        ns["metadata"]["labels"].pop(label.partition("=")[0])
    cluster.server.put(ns, "kubectl-label")
    shown = cluster.kmeshctl("status")
    assert shown.code == 1 and "Kept:" not in shown.out and shown.out.startswith("Not installed:"), shown.out


def test_a_half_uninstall_is_partial_with_its_namespace_not_said_kept(cluster) -> None:  # noqa: F811
    """f19k: uninstall never reached the namespace, so it is a part of the install still there."""
    _keep_and_uninstall(cluster)
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    cluster.server.delete_object("apps/v1", "DaemonSet", "kmesh", NS)
    shown = cluster.kmeshctl("status")
    assert shown.code == 1 and shown.out.startswith("Partly installed or partly uninstalled:"), shown.out
    assert f"(Namespace {NS}," in shown.out and "Kept:" not in shown.out, shown.out


def test_status_of_an_enrolled_app_namespace_suggests_no_install_into_it(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace_object(APP, {"istio.io/dataplane-mode": "Kmesh"}), "kubectl-create")
    shown = cluster.kmeshctl("status", "-n", APP)
    assert shown.code == 1, shown
    assert f"--namespace {APP}" not in shown.out and f"-n {APP}" not in shown.out, shown.out
    assert (f"Not installed: namespace {APP} is an app namespace enrolled in a data plane "
            "(istio.io/dataplane-mode=Kmesh), not kmesh's: kmesh is not installed there") in shown.out, shown.out
    assert f"`kmeshctl --kubeconfig {cluster.kubeconfig} install -n {NS} --cluster-id ID`" in shown.out, shown.out
    # installed elsewhere: the line names where
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    elsewhere = cluster.kmeshctl("status", "-n", APP)
    assert elsewhere.code == 2 and f"kmesh is installed in namespace {NS}, not {APP}" in elsewhere.err, elsewhere
