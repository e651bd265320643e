"""`waypoint apply` and `waypoint delete` touch only waypoint X's own objects (the labels
render puts on them), never the user's objects that merely share its name (H1, H2 of a
new-user pass on a real cluster); and the smaller faults found with them: a re-apply that
changed nothing says so, `delete -q` is silent, a piped `--wait` prints on change only,
`status` table and json agree on Envoy's error, and a missing context namespace names the
context it came from."""

from __future__ import annotations

import json
from typing import Any, Optional

import pytest

from kmeshctl.render import COMMON_LABELS
from kmeshctl.waypoint import deploy
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd, with_context_namespaces

APPS = "apps/v1"


def _ready(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))


def _app_objects(name: str) -> list[dict]:
    """The user's application of ``name``: a Deployment, Service and ServiceAccount (not a waypoint)."""
    labels = {"app": name}
    meta = {"name": name, "namespace": "default", "labels": labels}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": dict(meta)},
        {"apiVersion": "v1", "kind": "Service", "metadata": dict(meta),
         "spec": {"selector": labels, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}},
        {"apiVersion": APPS, "kind": "Deployment", "metadata": dict(meta),
         "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"containers": [{"name": "app", "image": "fortio/fortio"}]}}}},
    ]


def _get(cluster, kind: str, name: str, ns: str = "default") -> Optional[dict]:  # noqa: F811
    version = {"Deployment": APPS, "Gateway": deploy.GATEWAY_API,
               "ClusterRoleBinding": "rbac.authorization.k8s.io/v1"}.get(kind, "v1")
    return cluster.server.get(version, kind, name, "" if kind == "ClusterRoleBinding" else ns)


# ------------------------------------------------------------------ H1: delete


def test_delete_of_a_name_with_no_waypoint_deletes_none_of_the_user_s_objects(cluster) -> None:  # noqa: F811
    _ready(cluster)
    for obj in _app_objects("plainapp"):
        cluster.server.put(obj)
    gone = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "plainapp")
    assert gone.code == 1 and "waypoint default/plainapp not found (waypoints in default: none" in gone.err, gone
    ignored = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "plainapp", "--ignore-not-found")
    assert ignored.code == 0 and ignored.out.strip() == \
        "Nothing to delete: waypoint default/plainapp does not exist.", ignored
    for kind in ("ServiceAccount", "Service", "Deployment"):
        assert _get(cluster, kind, "plainapp") is not None, kind
    assert not [r for r in cluster.server.requests if r.method == "DELETE"]


def test_delete_names_the_waypoints_there_when_the_name_is_only_an_app(cluster) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp-a").code == 0
    for obj in _app_objects("plainapp"):
        cluster.server.put(obj)
    gone = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "plainapp")
    assert gone.code == 1 and "waypoint default/plainapp not found (waypoints in default: wp-a)" in gone.err, gone
    assert _get(cluster, "Deployment", "plainapp") is not None


def test_an_object_with_the_waypoint_s_name_that_is_not_its_own_is_left_and_said_so(cluster) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp").code == 0
    # since then, the Service of that name became the user's own (another tool replaced it)
    cluster.server.delete_object("v1", "Service", "wp", "default")
    cluster.server.put(_app_objects("wp")[1])
    gone = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "wp")
    assert gone.code == 0, gone
    lines = gone.out.splitlines()
    assert "Service default/wp left: not waypoint wp's" in lines, lines
    assert {"Gateway default/wp deleted", "Deployment default/wp deleted", "ServiceAccount default/wp deleted",
            "ClusterRoleBinding kmeshctl-waypoint-default-wp deleted"} <= set(lines), lines
    assert _get(cluster, "Service", "wp")["spec"]["selector"] == {"app": "wp"}
    for kind in ("Gateway", "Deployment", "ServiceAccount"):
        assert _get(cluster, kind, "wp") is None, kind


def test_what_a_stopped_apply_left_without_its_gateway_is_still_deleted(cluster) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp").code == 0
    cluster.server.delete_object(deploy.GATEWAY_API, "Gateway", "wp", "default")
    gone = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "wp")
    assert gone.code == 0 and "Deployment default/wp deleted" in gone.out, gone
    assert _get(cluster, "Deployment", "wp") is None and _get(cluster, "ServiceAccount", "wp") is None


def test_delete_sends_the_uid_it_read_as_precondition(cluster, monkeypatch) -> None:  # noqa: F811
    """The uid only (h116): a Deployment's status changes right after an apply, which
    changes its resourceVersion but not whose it is (its labels, read again on a 409)."""
    from kmeshctl.kube import KubeClient

    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp").code == 0
    read = _get(cluster, "Deployment", "wp")["metadata"]
    sent: list[dict] = []
    real = KubeClient.request

    def spy(self: KubeClient, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if method == "DELETE" and path.endswith("/deployments/wp"):
            sent.append(kwargs.get("body") or {})
        return real(self, method, path, *args, **kwargs)

    monkeypatch.setattr(KubeClient, "request", spy)
    assert cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "wp").code == 0
    assert [b.get("preconditions") for b in sent] == [{"uid": read["uid"]}], sent


def test_an_object_changed_between_read_and_delete_is_read_again(cluster, monkeypatch) -> None:  # noqa: F811
    """The API server refuses the delete of a version that is no longer there (409); the
    object is read again, and deleted only if it is still the waypoint's."""
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp").code == 0
    real_live = deploy._live
    swapped: list[str] = []

    def live_then_replaced(client: Any, obj: dict) -> Optional[dict]:
        found = real_live(client, obj)
        if obj["kind"] == "Service" and not swapped:  # between this read and the delete: the user's Service
            swapped.append("yes")
            cluster.server.delete_object("v1", "Service", "wp", "default")
            cluster.server.put(_app_objects("wp")[1])
        return found

    monkeypatch.setattr(deploy, "_live", live_then_replaced)
    gone = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "wp")
    assert gone.code == 0 and "Service default/wp left: not waypoint wp's" in gone.out, gone
    assert _get(cluster, "Service", "wp")["spec"]["selector"] == {"app": "wp"}


# ------------------------------------------------------------------ H2: apply


def _demo_service(name: str) -> dict:
    """The app Service as the demo made it: server-side applied by field manager kmeshctl,
    with kmeshctl's common labels (but no waypoint label)."""
    service = _app_objects(name)[1]
    service["metadata"]["labels"] = {**COMMON_LABELS, "app": name}
    return service


@pytest.mark.parametrize("manager", ["kmeshctl", "kubectl-client-side-apply"])
@pytest.mark.parametrize("dry_run", [False, True], ids=["apply", "dry-run"])
def test_apply_refuses_a_name_whose_service_is_the_user_s(cluster, manager: str, dry_run: bool) -> None:  # noqa: F811
    _ready(cluster)
    cluster.server.put(_demo_service("fortio"), manager=manager)
    before = _get(cluster, "Service", "fortio")
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "fortio",
                              *(["--dry-run"] if dry_run else []))
    assert result.code == 2 and not result.out, result
    assert result.err.startswith("Error: Service default/fortio exists and was not made by kmeshctl waypoint "
                                 "apply --name fortio; choose another --name"), result.err
    assert "delete the object" not in result.err and "manager" not in result.err
    assert _get(cluster, "Service", "fortio") == before
    assert _get(cluster, "ServiceAccount", "fortio") is None and _get(cluster, "Gateway", "fortio") is None
    assert not cluster.server.writes()


def test_apply_refuses_another_tool_s_gateway_of_the_name(cluster) -> None:  # noqa: F811
    _ready(cluster)
    cluster.server.put({"apiVersion": deploy.GATEWAY_API, "kind": "Gateway",
                        "metadata": {"name": "east", "namespace": "default"},
                        "spec": {"gatewayClassName": "istio-waypoint", "listeners": []}})
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "east")
    assert result.code == 2 and "Gateway default/east exists and was not made by kmeshctl waypoint apply --name " \
        "east; choose another --name" in result.err, result
    assert _get(cluster, "ServiceAccount", "east") is None


def test_a_waypoint_s_own_objects_are_applied_again(cluster) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp").code == 0
    again = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp", "--replicas", "2")
    assert again.code == 0 and "Deployment default/wp configured" in again.out, again


# ------------------------------------------------------------------ L4: results said once


def test_a_second_apply_that_changed_nothing_says_nothing_to_do(cluster) -> None:  # noqa: F811
    _ready(cluster)
    first = cluster.kmeshctl("waypoint", "apply", "-n", "default")
    assert first.code == 0 and first.out.splitlines()[-1].startswith("waypoint default/waypoint applied."), first
    second = cluster.kmeshctl("waypoint", "apply", "-n", "default")
    assert second.code == 0 and second.out.splitlines()[-1] == \
        "Nothing to do: waypoint default/waypoint is up to date.", second
    assert "applied." not in second.out
    quiet = cluster.kmeshctl("waypoint", "apply", "-n", "default", "-q")
    assert quiet.out == "Nothing to do: waypoint default/waypoint is up to date.\n", quiet


@pytest.mark.parametrize("place", ["after", "before"])
def test_delete_q_prints_nothing_but_errors(cluster, place: str) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default").code == 0
    words = ["waypoint", "delete", "-n", "default"]
    gone = cluster.kmeshctl(*(words + ["-q"] if place == "after" else ["-q", *words]))
    assert (gone.code, gone.out, gone.err) == (0, "", ""), gone
    assert _get(cluster, "Deployment", "waypoint") is None
    missing = cluster.kmeshctl(*words, "-q", "--ignore-not-found")
    assert (missing.code, missing.out, missing.err) == (0, "", ""), missing
    failed = cluster.kmeshctl(*words, "-q")
    assert failed.code == 1 and "not found" in failed.err, failed


# ------------------------------------------------------------------ L3: --wait in a log


class _States:
    """waypoint_state answers, one per poll (the last repeated)."""

    def __init__(self, *states: tuple[int, list[str], str]) -> None:
        self.states = list(states)

    def __call__(self, _client: Any, namespace: str, name: str, **_: Any) -> deploy.WaypointState:
        ready, addresses, reason = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return deploy.WaypointState(namespace, name, True, ready, [], addresses, reason)


def test_wait_in_a_log_prints_a_line_only_when_its_state_changes(monkeypatch) -> None:
    monkeypatch.setattr(deploy, "POLL_S", 0)
    polls = [(0, [], "Pending")] * 5 + [(1, [], "Pending")] * 5 + [(1, ["10.0.0.9"], "Programmed")]
    lines: list[str] = []
    monkeypatch.setattr(deploy, "waypoint_state", _States(*polls))
    deploy.wait_ready(None, deploy.WaypointParams(), 60, lines.append, every_poll=False)  # type: ignore[arg-type]
    assert [line.split(" (")[0] for line in lines] == [
        "waiting for waypoint default/waypoint: 0/1 pods ready, Gateway Pending",
        "waiting for waypoint default/waypoint: 1/1 pods ready, Gateway Pending",
        "waypoint default/waypoint: 1 pod ready; istiod: 10.0.0.9"], lines
    every: list[str] = []
    monkeypatch.setattr(deploy, "waypoint_state", _States(*polls))
    deploy.wait_ready(None, deploy.WaypointParams(), 60, every.append, every_poll=True)  # type: ignore[arg-type]
    assert len(every) == len(polls), every  # a terminal: a line each poll, as before


def test_piped_apply_wait_repeats_no_line(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    monkeypatch.setattr(deploy, "POLL_S", 0)
    monkeypatch.setattr(deploy, "waypoint_state", _States(*[(0, [], "Pending")] * 6, (1, ["10.0.0.9"], "Programmed")))
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--wait")
    waiting = [line for line in result.err.splitlines() if line.startswith("waiting for")]  # progress: stderr (t38c 4)
    assert result.code == 0 and len(waiting) == 1, result


# ------------------------------------------------------------------ L7: status agrees with itself


def _report(error: str, services: list[str]) -> dict:
    return {"waypoint": "default/wp", "port": 15019, "services": services,
            "envoy": {"ready": True, "acked": True, "error": error}, "routes": {}, "pushes": 1,
            "lastChange": "", "problems": [], "kinds": {}}


@pytest.mark.parametrize("services, shown", [([], False), (["default/fortio"], True)], ids=["unused", "used"])
def test_status_table_and_json_agree_on_envoy_s_error(cluster, monkeypatch, services: list[str],  # noqa: F811
                                                      shown: bool) -> None:
    _ready(cluster)
    cluster.server.put({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "wp-1", "namespace": "default",
        "labels": {deploy.GATEWAY_LABEL: "wp", **COMMON_LABELS, deploy.WAYPOINT_LABEL: "wp"}},
        "spec": {"containers": [{"name": "envoy", "image": "x"}]}, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    cluster.server.put({"apiVersion": deploy.GATEWAY_API, "kind": "Gateway", "metadata": {
        "name": "wp", "namespace": "default", "labels": {**COMMON_LABELS, deploy.WAYPOINT_LABEL: "wp"}},
        "spec": {"gatewayClassName": "istio-waypoint", "listeners": []}})
    error = "Envoy admin /config_dump answered 404"
    monkeypatch.setattr(deploy, "pod_status", lambda *_: _report(error, services))
    table = cluster.kmeshctl("waypoint", "status", "-n", "default", "--name", "wp")
    as_json = cluster.kmeshctl("waypoint", "status", "-n", "default", "--name", "wp", "-o", "json")
    envoy = json.loads(as_json.out)["pods"]["wp-1"]["envoy"]
    assert envoy["error"] == (error if shown else ""), envoy
    assert ("cannot read Envoy's routes: " + error in table.out) is shown, table
    assert "Envoy ready, in sync (ACKed)" in table.out, table


# ------------------------------------------------------------------ the namespace's origin


def test_a_missing_context_namespace_names_the_context(cluster) -> None:  # noqa: F811
    _ready(cluster)
    with_context_namespaces(cluster.kubeconfig, {"kmeshctl-tier": "nosuchns"})
    result = cluster.kmeshctl("waypoint", "apply")
    assert result.code == 2 and result.err.startswith(
        "Error: namespace nosuchns (from context kmeshctl-tier) does not exist (namespaces: default, istio-system); "
        "create it with `kubectl create namespace nosuchns"), result
    assert "or pass -n NAMESPACE" in result.err, result
    dry = cluster.kmeshctl("waypoint", "apply", "--dry-run")
    assert dry.code == 2 and "namespace nosuchns (from context kmeshctl-tier) does not exist" in dry.err, dry
    typed = cluster.kmeshctl("waypoint", "apply", "-n", "nosuchns")
    assert typed.code == 2 and "Error: namespace nosuchns does not exist (namespaces: " in typed.err, typed
