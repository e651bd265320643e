"""`waypoint apply` removes the ClusterRoleBindings that deleted namespaces' waypoints left,
by the one rule `waypoint delete` uses (deploy.remove_leftovers), and says so: one line
each as delete's, `leftoversRemoved` in -o json, `changed` when only they went, a line on
stderr with --dry-run (which removes nothing) (h110)."""

from __future__ import annotations

import json
from typing import Any

from kmeshctl.waypoint import deploy
from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_waypoint_leftovers_and_missing_namespace import GONE, _binding, _cluster_role, _orphaned, _ready


def test_apply_removes_a_deleted_namespace_s_binding_and_says_so(cluster) -> None:  # noqa: F811
    left = _orphaned(cluster)
    applied = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "east")
    assert applied.code == 0, applied
    lines = applied.out.splitlines()
    assert f"removed ClusterRoleBinding {left} left by deleted namespace {GONE}" in lines, lines
    assert lines[-1].startswith("waypoint default/east applied."), lines
    assert _binding(left)(cluster) is None
    assert _cluster_role(cluster) is not None  # the waypoints that exist still bind it
    # list has nothing more to say of it
    assert "Note:" not in cluster.kmeshctl("waypoint", "list", "-A").err


def test_an_up_to_date_apply_that_only_removed_leftovers_says_that_not_nothing_to_do(cluster) -> None:  # noqa: F811
    left = _orphaned(cluster)
    again = cluster.kmeshctl("waypoint", "apply", "-n", "default")
    assert again.code == 0, again
    lines = again.out.splitlines()
    assert lines == [*lines[:-2], f"removed ClusterRoleBinding {left} left by deleted namespace {GONE}",
                     "waypoint default/waypoint is up to date; removed 1 leftover ClusterRoleBinding of deleted "
                     "namespaces."], lines
    assert "Nothing to do" not in again.out
    # the next one has nothing left to remove
    third = cluster.kmeshctl("waypoint", "apply", "-n", "default")
    assert third.code == 0 and third.out.splitlines()[-1] == "Nothing to do: waypoint default/waypoint is up to date."
    assert "removed" not in third.out, third


def test_apply_json_names_the_leftovers_it_removed(cluster) -> None:  # noqa: F811
    left = _orphaned(cluster)
    applied = cluster.kmeshctl("waypoint", "apply", "-n", "default", "-o", "json")
    assert applied.code == 0, applied
    document = json.loads(applied.out)
    assert document["leftoversRemoved"] == [{"object": f"ClusterRoleBinding {left}", "namespace": GONE}], document
    assert document["changed"] is True, document  # every object unchanged, the leftover removed
    assert all(a["action"] == "unchanged" for a in document["applied"]), document
    again = json.loads(cluster.kmeshctl("waypoint", "apply", "-n", "default", "-o", "json").out)
    assert again["leftoversRemoved"] == [] and again["changed"] is False, again


def test_apply_and_delete_share_one_rule(cluster, monkeypatch) -> None:  # noqa: F811
    """apply calls the function delete calls (not a copy of it): a leftover it rules out is
    kept by both."""
    left = _orphaned(cluster)
    calls: list[str] = []
    real = deploy.leftover_bindings

    def spy(client: Any, keep: str = "") -> list:
        calls.append(keep)
        return real(client, keep)

    monkeypatch.setattr(deploy, "leftover_bindings", spy)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default").code == 0
    assert calls == [deploy.binding_name(deploy.WaypointParams("default"))], calls
    assert _binding(left)(cluster) is None


def test_apply_dry_run_says_what_it_would_remove_and_removes_nothing(cluster) -> None:  # noqa: F811
    left = _orphaned(cluster)
    dry = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--dry-run")
    assert dry.code == 0, dry
    assert f"would remove ClusterRoleBinding {left} left by deleted namespace {GONE}" in dry.err.splitlines(), dry
    assert "would remove" not in dry.out  # stdout: only the manifests
    assert _binding(left)(cluster) is not None
    quiet = cluster.kmeshctl("-q", "waypoint", "apply", "-n", "default", "--dry-run")
    assert quiet.code == 0 and "would remove" not in quiet.err, quiet


def test_apply_where_bindings_may_not_be_listed_still_succeeds(cluster, monkeypatch) -> None:  # noqa: F811
    from kmeshctl.kube import ApiError, KubeClient

    left = _orphaned(cluster)
    real = KubeClient.list

    def denied(self: KubeClient, api_version: str, kind: str, *args: Any, **kwargs: Any) -> Any:
        if kind == "ClusterRoleBinding":
            raise ApiError(403, "Forbidden", "clusterrolebindings is forbidden")
        return real(self, api_version, kind, *args, **kwargs)

    monkeypatch.setattr(KubeClient, "list", denied)
    applied = cluster.kmeshctl("waypoint", "apply", "-n", "default", "-o", "json")
    assert applied.code == 0 and json.loads(applied.out)["leftoversRemoved"] == [], applied
    assert _binding(left)(cluster) is not None


def test_a_fresh_apply_without_leftovers_has_an_empty_list(cluster) -> None:  # noqa: F811
    _ready(cluster)
    applied = cluster.kmeshctl("waypoint", "apply", "-n", "default", "-o", "json")
    assert applied.code == 0 and json.loads(applied.out)["leftoversRemoved"] == [], applied
    assert "removed" not in cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "east").out
