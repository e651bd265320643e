"""`waypoint apply` that applied every object, then failed to remove a deleted namespace's
leftover ClusterRoleBinding (a 500, an unanswered request): one warning line, --wait still
runs, -o json still prints its document, exit 0 (r125); a 403 stays silent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmeshctl.kube import ApiUnreachable
from kmeshctl.waypoint import deploy
from standin import HttpError
from standin.frontend import _Handler
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd

GONE = "f20c-gone"
LEFT = deploy.binding_name(deploy.WaypointParams(GONE))


def _left_binding(cluster) -> None:  # noqa: F811
    """default ready for a waypoint; the binding of a waypoint whose namespace was deleted."""
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    gone = deploy.render(deploy.WaypointParams(GONE))
    cluster.server.put(next(o for o in gone if o["kind"] == "ClusterRoleBinding"))


def _refuse_its_delete(monkeypatch: pytest.MonkeyPatch, status: int, reason: str) -> None:
    real = _Handler.on_object

    def on_object(self: Any, method: str, res: Any, ns: Any, name: str, *args: Any) -> Any:
        if method == "DELETE" and res.plural == "clusterrolebindings" and name == LEFT:
            raise HttpError(status, reason, "etcdserver: request timed out" if status == 500 else "forbidden")
        return real(self, method, res, ns, name, *args)

    monkeypatch.setattr(_Handler, "on_object", on_object)


def _waits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    waited: list[str] = []
    monkeypatch.setattr(deploy, "wait_ready", lambda client, p, *args, **kwargs: waited.append(p.name))
    return waited


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("Warning:")]


@pytest.mark.parametrize("output", [[], ["-o", "json"]], ids=["text", "json"])
def test_a_failed_tidy_up_is_a_warning_and_the_wait_still_runs(cluster, monkeypatch, output: list[str]) -> None:  # noqa: F811
    _left_binding(cluster)
    _refuse_its_delete(monkeypatch, 500, "InternalError")
    waited = _waits(monkeypatch)
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--wait", *output)
    assert result.code == 0, result
    assert waited == ["waypoint"], result
    warnings = _warnings(result.err)
    assert warnings == [f"Warning: could not remove ClusterRoleBinding {LEFT} left by a deleted namespace (the API "
                        f"server at {warnings[0].split('the API server at ')[1].split(' ')[0]} answered 500 "
                        "(etcdserver: request timed out) to DELETE /apis/rbac.authorization.k8s.io/v1/"
                        f"clusterrolebindings/{LEFT}); the next waypoint apply or delete tries again"], result
    assert "Error:" not in result.err, result
    if output:
        document = json.loads(result.out)
        assert "error" not in document and document["leftoversRemoved"] == [], document
        assert len(document["applied"]) == 6, document
    else:
        assert result.out.splitlines()[-1].startswith("waypoint default/waypoint applied."), result
    assert cluster.server.get("apps/v1", "Deployment", "waypoint", "default") is not None


def test_an_unanswered_look_for_leftovers_is_a_warning(cluster, monkeypatch) -> None:  # noqa: F811
    _left_binding(cluster)

    def unanswered(*args: Any, **kwargs: Any) -> Any:
        raise ApiUnreachable("cannot reach the Kubernetes API (i/o timeout)", fix="check that the cluster is up")

    monkeypatch.setattr(deploy, "leftover_bindings", unanswered)
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "-q")
    assert result.code == 0, result
    assert _warnings(result.err) == ["Warning: could not look for the ClusterRoleBindings deleted namespaces' waypoints "
                                     "left (cannot reach the Kubernetes API (i/o timeout)); the next waypoint apply or "
                                     "delete tries again"], result


def test_a_dry_run_s_failed_look_is_a_warning_too(cluster, monkeypatch) -> None:  # noqa: F811
    _left_binding(cluster)

    def unanswered(*args: Any, **kwargs: Any) -> Any:
        raise ApiUnreachable("no answer")

    monkeypatch.setattr(deploy, "leftover_bindings", unanswered)
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--dry-run")
    assert result.code == 0 and "kind: Gateway" in result.out, result
    assert _warnings(result.err) == ["Warning: could not look for the ClusterRoleBindings deleted namespaces' waypoints "
                                     "left (no answer); the next waypoint apply or delete tries again"], result


def test_a_403_stays_silent(cluster, monkeypatch) -> None:  # noqa: F811
    _left_binding(cluster)
    _refuse_its_delete(monkeypatch, 403, "Forbidden")
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default")
    assert result.code == 0 and not _warnings(result.err), result


def test_those_removed_before_the_failure_are_returned(monkeypatch) -> None:
    seen: list[str] = []

    def partly(client: Any, on_removed: Any, on_start: Any, keep: str = "", dry_run: bool = False) -> list[str]:
        on_start("ClusterRoleBinding a")
        on_removed("ClusterRoleBinding a", "ns-a")
        on_start("ClusterRoleBinding b")
        raise ApiUnreachable("no answer")

    monkeypatch.setattr(deploy, "remove_leftovers", partly)
    removed = deploy.remove_leftovers_if_listed(None, lambda ref, ns: None, on_failed=seen.append)  # type: ignore[arg-type]
    assert removed == ["a"], removed
    assert seen == ["could not remove ClusterRoleBinding b left by a deleted namespace (no answer); the next waypoint "
                    "apply or delete tries again"], seen
