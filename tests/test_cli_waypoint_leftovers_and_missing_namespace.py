"""Waypoint debts (h92): `waypoint list -n NS` of a namespace that does not exist says so,
exit 2, in `waypoint status`'s words (never "No waypoints found"), -o json|yaml too; the
ClusterRoleBinding a deleted namespace's waypoint left (deleting a namespace deletes only
its namespaced objects) is removed by the next `waypoint delete`, one line each, so the
shared ClusterRole goes with the last waypoint, and `waypoint list` names it; the wait
timeout's default lives in kmeshctl.params; deploy's ownership check of a Gateway is
`made_by_waypoint_apply`, not a second `made_by_kmeshctl`."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from kmeshctl import params, render
from kmeshctl.render import COMMON_LABELS
from kmeshctl.waypoint import deploy
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd, with_context_namespaces

GONE = "h92-gone"  # the namespace deleted under its waypoint
RBAC = deploy.RBAC_API


def _ready(cluster, *namespaces: str) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    for ns in ("default", *namespaces):
        cluster.server.put(namespace(ns))


def _binding(name: str) -> Any:
    return lambda cluster: cluster.server.get(RBAC, "ClusterRoleBinding", name, "")  # noqa: F811


def _cluster_role(cluster) -> Any:  # noqa: F811
    return cluster.server.get(RBAC, "ClusterRole", deploy.CLUSTER_ROLE, "")


def _namespace_deleted(cluster, ns: str) -> None:  # noqa: F811
    """What the namespace controller does: the namespace and its namespaced objects go, its
    waypoint's cluster-scoped ClusterRoleBinding stays."""
    cluster.server.finalize_namespace(ns)
    assert cluster.server.get("v1", "Namespace", ns, "") is None


def _orphaned(cluster) -> str:  # noqa: F811
    """Waypoints in default and GONE, then GONE deleted: its binding's name."""
    _ready(cluster, GONE)
    for ns in ("default", GONE):
        assert cluster.kmeshctl("waypoint", "apply", "-n", ns).code == 0
    _namespace_deleted(cluster, GONE)
    left = deploy.binding_name(deploy.WaypointParams(GONE))
    assert _binding(left)(cluster) is not None
    return left


# ------------------------------------------------------------------ list -n of a missing namespace


@pytest.mark.parametrize("output", [[], ["-o", "json"], ["-o", "yaml"], ["-o", "wide"]],
                         ids=["table", "json", "yaml", "wide"])
def test_list_in_a_namespace_that_does_not_exist_says_so(cluster, output: list[str]) -> None:  # noqa: F811
    _ready(cluster)
    listed = cluster.kmeshctl("waypoint", "list", "-n", "nosuchns", *output)
    assert listed.code == 2 and listed.out == "", listed
    assert listed.err.startswith("Error: namespace nosuchns does not exist (namespaces: default, istio-system); "
                                 "create it with `kubectl create namespace nosuchns"), listed
    assert "No waypoints found" not in listed.err, listed
    # the same words as status's
    status = cluster.kmeshctl("waypoint", "status", "-n", "nosuchns")
    words = lambda err: err.split(" (see 'kmeshctl waypoint")[0]  # noqa: E731 (each names its own --help)
    assert status.code == 2 and words(status.err) == words(listed.err), (status, listed)


def test_list_in_a_context_namespace_that_does_not_exist_names_the_context(cluster) -> None:  # noqa: F811
    _ready(cluster)
    with_context_namespaces(cluster.kubeconfig, {"standin": "nosuchns"})
    listed = cluster.kmeshctl("waypoint", "list")
    assert listed.code == 2 and "namespace nosuchns (from context standin) does not exist" in listed.err, listed


def test_list_in_an_empty_namespace_that_exists_still_says_no_waypoints(cluster) -> None:  # noqa: F811
    _ready(cluster)
    listed = cluster.kmeshctl("waypoint", "list", "-n", "default")
    assert (listed.code, listed.out, listed.err.strip()) == (0, "", "No waypoints found in namespace default."), listed
    as_json = cluster.kmeshctl("waypoint", "list", "-n", "default", "-o", "json")
    assert as_json.code == 0 and json.loads(as_json.out) == [], as_json
    every = cluster.kmeshctl("waypoint", "list", "-A", "-o", "yaml")
    assert every.code == 0 and yaml.safe_load(every.out) == [], every


def _forbidden(monkeypatch, method: str, kind: str) -> None:
    """KubeClient's ``method`` (get, list) of ``kind`` answered 403, as for a user RBAC denies."""
    from kmeshctl.kube import ApiError, KubeClient

    real = getattr(KubeClient, method)

    def denied(self: KubeClient, api_version: str, asked: str, *args: Any, **kwargs: Any) -> Any:
        if asked == kind:
            raise ApiError(403, "Forbidden", f"{kind} is forbidden")
        return real(self, api_version, asked, *args, **kwargs)

    monkeypatch.setattr(KubeClient, method, denied)


def test_list_where_namespaces_may_not_be_read_keeps_its_answer(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    _forbidden(monkeypatch, "get", "Namespace")
    listed = cluster.kmeshctl("waypoint", "list", "-n", "nosuchns")
    assert listed.code == 0 and listed.err.strip() == "No waypoints found in namespace nosuchns.", listed


# ------------------------------------------------------------------ the wait timeout, the ownership name


def test_the_wait_timeout_default_lives_in_params() -> None:
    from kmeshctl.cli.waypoint import apply_cmd
    import inspect

    assert not hasattr(deploy, "WAIT_TIMEOUT_S")
    default = inspect.signature(apply_cmd).parameters["timeout"].default
    assert default == params.WAYPOINT_WAIT_TIMEOUT_S == 180.0


def test_apply_help_shows_the_params_timeout(cluster) -> None:  # noqa: F811
    shown = cluster.kmeshctl("waypoint", "apply", "--help")
    assert shown.code == 0 and "180" in shown.out, shown


def test_the_gateway_check_is_named_for_waypoint_apply() -> None:
    labels = {**COMMON_LABELS, deploy.WAYPOINT_LABEL: "east"}
    gateway = {"metadata": {"name": "east", "labels": labels}}
    assert deploy.made_by_waypoint_apply(gateway, "east")
    assert not deploy.made_by_waypoint_apply(gateway, "west")
    assert not deploy.made_by_waypoint_apply({"metadata": {"labels": dict(COMMON_LABELS)}}, "east")
    # the one made_by_kmeshctl is render's (the managed-by label only)
    assert getattr(deploy, "made_by_kmeshctl", render.made_by_kmeshctl) is render.made_by_kmeshctl


# ------------------------------------------------------------------ leftover ClusterRoleBindings


def test_delete_removes_a_deleted_namespace_s_binding_and_the_cluster_role_goes(cluster) -> None:  # noqa: F811
    left = _orphaned(cluster)
    gone = cluster.kmeshctl("waypoint", "delete", "-n", "default")
    assert gone.code == 0, gone
    lines = gone.out.splitlines()
    assert f"removed ClusterRoleBinding {left} left by deleted namespace {GONE}" in lines, lines
    assert f"ClusterRole {deploy.CLUSTER_ROLE} deleted" in lines, lines
    assert _binding(left)(cluster) is None and _cluster_role(cluster) is None
    assert _binding(deploy.binding_name(deploy.WaypointParams("default")))(cluster) is None


def test_delete_json_names_the_leftover_it_removed(cluster) -> None:  # noqa: F811
    left = _orphaned(cluster)
    gone = cluster.kmeshctl("waypoint", "delete", "-n", "default", "-o", "json")
    document = json.loads(gone.out)
    assert gone.code == 0 and document["leftoversRemoved"] == [
        {"object": f"ClusterRoleBinding {left}", "namespace": GONE}], document
    assert f"ClusterRole {deploy.CLUSTER_ROLE}" in document["deleted"], document
    assert f"ClusterRoleBinding {left}" not in document["deleted"], document


def test_without_leftovers_the_delete_document_has_an_empty_list(cluster) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default").code == 0
    gone = cluster.kmeshctl("waypoint", "delete", "-n", "default", "-o", "json")
    assert gone.code == 0 and json.loads(gone.out)["leftoversRemoved"] == [], gone
    text_delete = cluster.kmeshctl("waypoint", "apply", "-n", "default")
    assert text_delete.code == 0
    assert "removed" not in cluster.kmeshctl("waypoint", "delete", "-n", "default").out


def test_delete_of_another_waypoint_removes_the_leftover_and_keeps_the_role_in_use(cluster) -> None:  # noqa: F811
    _ready(cluster, GONE)  # east applied before GONE goes (an apply after it removes the leftover itself: h110)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "east").code == 0
    left = _orphaned(cluster)
    gone = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "east")
    assert gone.code == 0 and f"removed ClusterRoleBinding {left} left by deleted namespace {GONE}" in gone.out, gone
    assert _binding(left)(cluster) is None
    assert _cluster_role(cluster) is not None  # default/waypoint still binds it
    assert f"ClusterRole {deploy.CLUSTER_ROLE}" not in gone.out


def test_delete_of_the_gone_namespace_s_waypoint_removes_its_binding_as_its_own(cluster) -> None:  # noqa: F811
    left = _orphaned(cluster)
    gone = cluster.kmeshctl("waypoint", "delete", "-n", GONE)
    assert gone.code == 0 and f"ClusterRoleBinding {left} deleted" in gone.out, gone
    assert "removed ClusterRoleBinding" not in gone.out, gone  # not twice
    assert _binding(left)(cluster) is None and _cluster_role(cluster) is not None


def test_only_kmeshctl_s_waypoint_bindings_are_removed(cluster) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default").code == 0
    base = {"apiVersion": RBAC, "kind": "ClusterRoleBinding",
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": deploy.CLUSTER_ROLE},
            "subjects": [{"kind": "ServiceAccount", "name": "waypoint", "namespace": GONE}]}
    users = {"h92-users": {"app": "mine", deploy.WAYPOINT_LABEL: "waypoint"},  # not managed by kmeshctl
             "h92-nolabel": dict(COMMON_LABELS)}  # kmeshctl's, but no waypoint label
    for name, labels in users.items():
        cluster.server.put({**base, "metadata": {"name": name, "labels": labels}})
    other_role = {**base, "metadata": {"name": "h92-other-role",
                                       "labels": {**COMMON_LABELS, deploy.WAYPOINT_LABEL: "waypoint"}},
                  "roleRef": {**base["roleRef"], "name": "view"}}
    cluster.server.put(other_role)
    gone = cluster.kmeshctl("waypoint", "delete", "-n", "default")
    assert gone.code == 0 and "removed" not in gone.out, gone
    for name in (*users, "h92-other-role"):
        assert _binding(name)(cluster) is not None, name


def test_a_leftover_is_deleted_as_it_was_read(cluster, monkeypatch) -> None:  # noqa: F811
    from kmeshctl.kube import KubeClient

    left = _orphaned(cluster)
    read = _binding(left)(cluster)["metadata"]
    sent: list[dict] = []
    real = KubeClient.request

    def spy(self: KubeClient, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if method == "DELETE" and path.endswith(f"/clusterrolebindings/{left}"):
            sent.append(kwargs.get("body") or {})
        return real(self, method, path, *args, **kwargs)

    monkeypatch.setattr(KubeClient, "request", spy)
    assert cluster.kmeshctl("waypoint", "delete", "-n", "default").code == 0
    assert [b.get("preconditions") for b in sent] == [{"uid": read["uid"],
                                                       "resourceVersion": read["resourceVersion"]}], sent


def test_a_leftover_changed_since_it_was_read_is_left(cluster, monkeypatch) -> None:  # noqa: F811
    left = _orphaned(cluster)
    real = deploy.leftover_bindings

    reads: list[int] = []

    def read_then_changed(client: Any, keep: str = "") -> list:
        found = real(client, keep)
        reads.append(1)  # each read (delete's plan, then the delete) sees a version changed after it
        binding = _binding(left)(cluster)
        binding["metadata"]["annotations"] = {"h92": f"changed {len(reads)}"}
        cluster.server.put(binding)
        return found

    monkeypatch.setattr(deploy, "leftover_bindings", read_then_changed)
    gone = cluster.kmeshctl("waypoint", "delete", "-n", "default")
    assert gone.code == 0 and "removed" not in gone.out, gone
    assert _binding(left)(cluster) is not None


def test_list_names_the_leftover_and_the_command_that_removes_it(cluster) -> None:  # noqa: F811
    left = _orphaned(cluster)
    listed = cluster.kmeshctl("waypoint", "list", "-A", "-o", "json")
    assert listed.code == 0 and [w["namespace"] for w in json.loads(listed.out)] == ["default"], listed
    note = [line for line in listed.err.splitlines() if line.startswith("Note:")]
    assert len(note) == 1 and note[0].startswith(
        f"Note: ClusterRoleBinding {left} was left by deleted namespace {GONE}; `kmeshctl "), note
    command = note[0].split("`")[1]
    assert command.startswith("kmeshctl ") and command.endswith(f"waypoint delete -n {GONE} --name waypoint"), command
    quiet = cluster.kmeshctl("-q", "waypoint", "list", "-A")
    assert "Note:" not in quiet.err, quiet
    assert cluster.kmeshctl(*command.split()[1:]).code == 0
    assert _binding(left)(cluster) is None
    assert "Note:" not in cluster.kmeshctl("waypoint", "list", "-A").err


def test_list_where_bindings_may_not_be_listed_says_nothing_of_them(cluster, monkeypatch) -> None:  # noqa: F811
    _orphaned(cluster)
    _forbidden(monkeypatch, "list", "ClusterRoleBinding")
    listed = cluster.kmeshctl("waypoint", "list", "-A")
    assert listed.code == 0 and "Note:" not in listed.err and "default" in listed.out, listed
