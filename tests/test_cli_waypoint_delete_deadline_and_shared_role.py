"""Waypoint delete faults a reviewer found (h116): no delete is sent once --timeout has
passed (the error names what was not deleted and the pasteable command, typed flags
kept); the wait looks again after a delete before it gives up; a Deployment whose status
changes is still deleted at once (uid precondition only), one replaced each time says
what was and was not deleted; a binding of the waypoint's name that is not its own keeps
the shared ClusterRole; a binding-name collision names the waypoint that owns it; the
waypoint defaults live in kmeshctl.params."""

from __future__ import annotations

import inspect
import shlex
import time
from typing import Any, Optional

from kmeshctl import params
from kmeshctl.render import COMMON_LABELS
from kmeshctl.waypoint import deploy
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd

NS = "h116-team"


def _ready(cluster, *namespaces: str) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    for ns in ("default", *namespaces):
        cluster.server.put(namespace(ns))


def _error_line(result: Any) -> str:
    return next(line for line in result.err.splitlines() if line.startswith("Error:"))


def _rerun(line: str) -> list[str]:
    return shlex.split(line.split("re-run `")[1].split("`")[0])


# ------------------------------------------------------------------ H2: the deadline before each delete


def test_no_delete_is_sent_after_the_deadline(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default").code == 0
    real = deploy._delete_if_ours

    def slow_gateway(client: Any, obj: dict, p: Any) -> str:
        outcome = real(client, obj, p)
        if obj["kind"] == "Gateway":
            time.sleep(2.1)  # the limit passes while the Gateway's delete is answered
        return outcome

    monkeypatch.setattr(deploy, "_delete_if_ours", slow_gateway)
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--timeout", "2s")
    assert result.code == 1, result
    line = _error_line(result)
    assert line.startswith("Error: waypoint delete stopped by the --timeout 2s limit before deleting Deployment "
                           "default/waypoint; deleted Gateway default/waypoint; not deleted: Deployment "
                           "default/waypoint, Service default/waypoint, ClusterRoleBinding "
                           "kmeshctl-waypoint-default-waypoint, ClusterRole kmeshctl-waypoint, ServiceAccount "
                           "default/waypoint; re-run `"), line
    assert cluster.server.get("apps/v1", "Deployment", "waypoint", "default") is not None
    again = _rerun(line)
    assert again == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "waypoint", "delete", "-n", "default",
                     "--timeout", "2s"], again
    monkeypatch.undo()
    assert cluster.kmeshctl(*again[3:]).code == 0
    assert cluster.server.get("v1", "ServiceAccount", "waypoint", "default") is None


def test_the_wait_names_what_was_not_deleted_and_keeps_typed_flags(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default").code == 0
    monkeypatch.setattr(deploy, "GONE_POLL_S", 0.01)
    real_live = deploy._live

    def held(client: Any, obj: dict) -> Any:  # the Gateway stays after its delete, held by a finalizer
        live = real_live(client, obj)
        if obj["kind"] == "Gateway" and live is None:
            return {"metadata": {"name": "waypoint", "finalizers": ["example.com/h116"]}}
        return live

    monkeypatch.setattr(deploy, "_live", held)
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--timeout", "0.05s")
    assert result.code == 1, result
    line = _error_line(result)
    assert "Gateway default/waypoint still exists after the --timeout 0.05s limit (finalizers: example.com/h116); " \
        "not deleted: Deployment default/waypoint, Service default/waypoint" in line, line
    assert "deleted Gateway" not in line, line
    assert _rerun(line)[1:] == ["--kubeconfig", str(cluster.kubeconfig), "waypoint", "delete", "-n", "default",
                                "--timeout", "0.05s"], line


class _Gets:
    """A client whose get answers from ``answers`` in turn (None: gone)."""

    def __init__(self, answers: list[Optional[dict]]) -> None:
        self.answers, self.calls = answers, 0

    def get(self, *_: Any) -> Optional[dict]:
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]


def _deletion(client: Any, deadline: float) -> Any:
    return deploy._Deletion(client, deploy.WaypointParams(), lambda ref, outcome: None, lambda ref: None,
                            lambda ref, ns: None, False, deadline, 1.0, "kmeshctl waypoint delete -n default")


GATEWAY = {"apiVersion": deploy.GATEWAY_API, "kind": "Gateway",
           "metadata": {"name": "waypoint", "namespace": "default"}}


def test_the_wait_looks_again_after_the_delete_before_it_gives_up(monkeypatch) -> None:
    monkeypatch.setattr(deploy, "GONE_POLL_S", 0)
    client = _Gets([GATEWAY, None])  # still there at the first look, gone at the second
    _deletion(client, deadline=0).wait_gone(GATEWAY)  # the deadline passed long ago
    assert client.calls == 2


def test_the_wait_gives_up_after_the_second_look(monkeypatch) -> None:
    monkeypatch.setattr(deploy, "GONE_POLL_S", 0)
    client = _Gets([GATEWAY])
    try:
        _deletion(client, deadline=0).wait_gone(GATEWAY)
    except deploy.KmeshctlError as err:
        assert str(err).startswith("Gateway default/waypoint still exists after the --timeout 1s limit"), err
    else:
        raise AssertionError("no error")
    assert client.calls == 2


# ------------------------------------------------------------------ Low: a changing Deployment


def test_a_deployment_whose_status_changes_is_deleted_at_once(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp").code == 0
    real_live = deploy._live
    reads: list[str] = []

    def status_moves(client: Any, obj: dict) -> Optional[dict]:
        found = real_live(client, obj)
        if obj["kind"] == "Deployment" and found is not None and not reads:  # its controller writes status
            reads.append(found["metadata"]["resourceVersion"])
            cluster.server.set_status("apps/v1", "Deployment", "wp", "default", {"observedGeneration": 2})
        return found

    monkeypatch.setattr(deploy, "_live", status_moves)
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "wp")
    assert result.code == 0 and "Deployment default/wp deleted" in result.out, result
    deletes = [r for r in cluster.server.writes() if r.method == "DELETE" and r.path.endswith("/deployments/wp")]
    assert len(deletes) == 1, deletes
    assert cluster.server.get("apps/v1", "Deployment", "wp", "default") is None


def test_a_deployment_replaced_each_time_says_what_was_deleted(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp").code == 0
    real_live = deploy._live

    def replaced(client: Any, obj: dict) -> Optional[dict]:
        found = real_live(client, obj)
        if obj["kind"] == "Deployment" and found is not None:  # a new object of the same labels: a new uid
            cluster.server.delete_object("apps/v1", "Deployment", "wp", "default")
            again = {k: v for k, v in found.items() if k != "status"}
            again["metadata"] = {k: found["metadata"][k] for k in ("name", "namespace", "labels")}
            cluster.server.put(again)
        return found

    monkeypatch.setattr(deploy, "_live", replaced)
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "wp")
    assert result.code == 1, result
    line = _error_line(result)
    assert line.startswith(f"Error: Deployment default/wp was replaced each time it was read "
                           f"({params.WAYPOINT_DELETE_ATTEMPTS} times); deleted Gateway default/wp; not deleted: "
                           "Deployment default/wp, Service default/wp"), line
    assert _rerun(line)[3:] == ["waypoint", "delete", "-n", "default", "--name", "wp"], line


# ------------------------------------------------------------------ Low: the shared ClusterRole


def test_a_binding_of_the_name_that_is_not_the_waypoint_s_keeps_the_clusterrole(cluster) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp").code == 0
    name = deploy.binding_name(deploy.WaypointParams("default", "wp"))
    binding = cluster.server.get(deploy.RBAC_API, "ClusterRoleBinding", name)
    binding["metadata"] = {"name": name, "labels": {**COMMON_LABELS, deploy.WAYPOINT_LABEL: "someone-else"}}
    cluster.server.delete_object(deploy.RBAC_API, "ClusterRoleBinding", name)
    cluster.server.put(binding)
    for dry_run in (["--dry-run"], []):
        result = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "wp", *dry_run)
        assert result.code == 0, result
        assert f"ClusterRoleBinding {name} left: not waypoint wp's" in result.out, result
        assert "ClusterRole kmeshctl-waypoint " not in result.out, result
    assert cluster.server.get(deploy.RBAC_API, "ClusterRole", deploy.CLUSTER_ROLE) is not None


def test_the_last_waypoint_still_takes_the_clusterrole(cluster) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp").code == 0
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "wp")
    assert result.code == 0 and f"ClusterRole {deploy.CLUSTER_ROLE} deleted" in result.out, result


# ------------------------------------------------------------------ Low: binding-name collision


def test_a_binding_name_collision_names_the_waypoint_that_owns_it(cluster) -> None:  # noqa: F811
    _ready(cluster, "h116-a", "h116-a-b")
    assert cluster.kmeshctl("waypoint", "apply", "-n", "h116-a", "--name", "b-c").code == 0
    result = cluster.kmeshctl("waypoint", "apply", "-n", "h116-a-b", "--name", "c")
    assert result.code == 2, result
    assert result.err.startswith("Error: ClusterRoleBinding kmeshctl-waypoint-h116-a-b-c exists and is waypoint "
                                 "h116-a/b-c's: a waypoint's binding is named kmeshctl-waypoint-NAMESPACE-NAME, the "
                                 "same for waypoint h116-a-b/c; choose another --name"), result.err
    assert cluster.server.get("v1", "ServiceAccount", "c", "h116-a-b") is None


# ------------------------------------------------------------------ style: defaults in params


def test_the_waypoint_defaults_live_in_params() -> None:
    assert deploy.DEFAULT_IMAGE == params.WAYPOINT_DEFAULT_IMAGE
    assert (deploy.DEFAULT_NAME, deploy.DEFAULT_NAMESPACE, deploy.DEFAULT_REPLICAS) == \
        (params.WAYPOINT_DEFAULT_NAME, params.WAYPOINT_DEFAULT_NAMESPACE, params.WAYPOINT_DEFAULT_REPLICAS)
    source = inspect.getsource(deploy)
    assert "\nimport kmeshctl\n" not in source
    for name in ("POLL_S", "GONE_POLL_S", "DELETE_ATTEMPTS", "NAMESPACES_SHOWN", "DEFAULT_NAME"):
        assert f"\n{name} = " not in source, name
