"""Waypoint findings of a real-cluster tester (h102): every command a waypoint message
suggests is one the CLI accepts, pasted as printed (--kubeconfig kept): `status` of a
name whose objects are the user's suggests the kmeshctl waypoint there and a free name;
of a waypoint whose Deployment the user replaced, the kubectl delete that lets apply
work; of a deleted namespace's leftover binding, not found with the delete that removes
it; `status -A`'s hint keeps --kubeconfig. A stopped delete lists only what it would
have deleted; `delete --dry-run` and `--timeout`; `apply` refuses the system namespaces
(dry runs too); the wait's limit is spelled by asciinum.limit_words."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest

from kmeshctl import params
from kmeshctl.waypoint import deploy
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd

NS = "h102-team"


def _ready(cluster, *namespaces: str) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    for ns in ("default", *namespaces):
        cluster.server.put(namespace(ns))


def _users(cluster, ns: str, name: str, *kinds: str) -> None:  # noqa: F811
    """The user's own objects of ``name`` (no kmeshctl labels)."""
    for kind in kinds:
        obj: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": ns}}
        if kind == "Service":
            obj["spec"] = {"ports": [{"port": 80}]}
        cluster.server.put(obj)


def _commands(err: str) -> list[list[str]]:
    """Each backticked command of an error line, as words."""
    return [shlex.split(part) for part in err.split("`")[1::2]]


def _pasted(cluster, words: list[str]):  # noqa: F811
    assert words[:3] == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig)], words
    return cluster.kmeshctl(*words[3:])


# ------------------------------------------------------------------ 1: status suggests what apply accepts


def test_status_of_a_name_the_user_holds_suggests_the_waypoint_there_and_a_free_name(cluster) -> None:  # noqa: F811
    _ready(cluster, NS)
    _users(cluster, NS, "waypoint", "ServiceAccount", "Service")
    assert cluster.kmeshctl("waypoint", "apply", "-n", NS, "--name", "wp3").code == 0
    status = cluster.kmeshctl("waypoint", "status", "-n", NS)
    assert status.code == 1, status
    assert status.err.startswith(f"Error: waypoint {NS}/waypoint not found (waypoints in {NS}: wp3); "), status.err
    assert f"ServiceAccount {NS}/waypoint, Service {NS}/waypoint are not kmeshctl's" in status.err, status.err
    look, create = _commands(status.err)
    assert look[3:] == ["waypoint", "status", "-n", NS, "--name", "wp3"], look
    assert create[3:] == ["waypoint", "apply", "-n", NS, "--name", "waypoint-kmesh"], create
    assert _pasted(cluster, look).code != 2  # wp3 has no pods here: exit 1, never a refusal
    assert _pasted(cluster, create).code == 0


def test_status_of_a_waypoint_whose_deployment_the_user_replaced_says_so(cluster) -> None:  # noqa: F811
    _ready(cluster, NS)
    assert cluster.kmeshctl("waypoint", "apply", "-n", NS, "--name", "wp3").code == 0
    cluster.server.delete_object("apps/v1", "Deployment", "wp3", NS)
    cluster.server.put({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "wp3", "namespace": NS},
                        "spec": {"selector": {"matchLabels": {"app": "mine"}}, "template": {
                            "metadata": {"labels": {"app": "mine"}},
                            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    status = cluster.kmeshctl("waypoint", "status", "-n", NS, "--name", "wp3")
    assert status.code == 1, status
    assert status.err.startswith(f"Error: waypoint {NS}/wp3 has no pods: Deployment {NS}/wp3 was replaced by an "
                                 "object kmeshctl did not make"), status.err
    kubectl, apply, delete = _commands(status.err)
    assert kubectl[:5] == ["kubectl", "delete", "deployment", "wp3", "-n"] and "--kubeconfig" in kubectl, kubectl
    assert apply[3:] == ["waypoint", "apply", "-n", NS, "--name", "wp3"], apply
    assert delete[3:] == ["waypoint", "delete", "-n", NS, "--name", "wp3"], delete
    refused = _pasted(cluster, apply)
    assert refused.code == 2 and "was not made by kmeshctl" in refused.err  # why kubectl delete comes first
    cluster.server.delete_object("apps/v1", "Deployment", "wp3", NS)  # what the kubectl command does
    assert _pasted(cluster, apply).code == 0


# ------------------------------------------------------------------ 2: a deleted namespace's leftover binding


def test_status_in_a_deleted_namespace_names_the_leftover_binding(cluster) -> None:  # noqa: F811
    _ready(cluster, NS)
    assert cluster.kmeshctl("waypoint", "apply", "-n", NS).code == 0
    cluster.server.finalize_namespace(NS)
    status = cluster.kmeshctl("waypoint", "status", "-n", NS)
    assert status.code == 1, status
    binding = deploy.binding_name(deploy.WaypointParams(NS))
    assert status.err.startswith(f"Error: waypoint {NS}/waypoint not found: namespace {NS} does not exist; "
                                 f"leftovers: ClusterRoleBinding {binding}; "), status.err
    assert "has no pods" not in status.err and "waypoint apply" not in status.err, status.err
    (delete,) = _commands(status.err)
    assert delete[3:] == ["waypoint", "delete", "-n", NS, "--name", "waypoint"], delete
    assert _pasted(cluster, delete).code == 0
    assert cluster.server.get(deploy.RBAC_API, "ClusterRoleBinding", binding, "") is None
    again = cluster.kmeshctl("waypoint", "status", "-n", NS)
    assert again.code == 2 and f"namespace {NS} does not exist" in again.err, again


def test_status_of_a_stopped_apply_without_gateway_is_not_found_with_its_leftovers(cluster) -> None:  # noqa: F811
    _ready(cluster, NS)
    assert cluster.kmeshctl("waypoint", "apply", "-n", NS).code == 0
    cluster.server.delete_object(deploy.GATEWAY_API, "Gateway", "waypoint", NS)
    status = cluster.kmeshctl("waypoint", "status", "-n", NS)
    assert status.code == 1 and f"waypoint {NS}/waypoint not found (waypoints in {NS}: none; its leftovers: " \
        f"ServiceAccount {NS}/waypoint" in status.err, status
    apply = _commands(status.err)[0]
    assert apply[3:] == ["waypoint", "apply", "-n", NS, "--name", "waypoint"] and _pasted(cluster, apply).code == 0


# ------------------------------------------------------------------ 3: -A's hint keeps --kubeconfig


def test_status_all_namespaces_hint_keeps_the_kubeconfig(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("waypoint", "status", "-A")
    assert result.code == 2, result
    listed, without = _commands(result.err)  # every namespace's list, or status without -A (p48 f48b)
    assert listed[1:] == ["--kubeconfig", str(cluster.kubeconfig), "waypoint", "list", "-A"], listed
    assert without[1:] == ["--kubeconfig", str(cluster.kubeconfig), "waypoint", "status"], without


# ------------------------------------------------------------------ 4: a stop lists only what would go


def test_a_stopped_delete_does_not_list_the_clusterrole_others_use(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    for name in ("h102-a", "h102-b"):
        assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", name).code == 0
    real = deploy._delete_if_ours

    def stopping(client: Any, obj: dict, p: Any) -> str:
        if obj["kind"] == "Service":
            raise KeyboardInterrupt
        return real(client, obj, p)

    monkeypatch.setattr(deploy, "_delete_if_ours", stopping)
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "h102-a")
    assert result.code == 130, result
    line = next(line for line in result.err.splitlines() if line.startswith("Error:"))
    assert "not deleted: ClusterRoleBinding kmeshctl-waypoint-default-h102-a, ServiceAccount default/h102-a;" \
        in line, line
    assert "ClusterRole kmeshctl-waypoint" not in line.replace("ClusterRoleBinding", ""), line


def test_a_stop_while_reading_the_plan_says_nothing_was_deleted(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default").code == 0

    def stopped(*_: Any) -> list[str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(deploy, "delete_plan", stopped)
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default")
    assert result.code == 130 and "stopped by Ctrl-C (SIGINT) before anything was deleted" in result.err, result
    assert cluster.server.get(deploy.GATEWAY_API, "Gateway", "waypoint", "default") is not None


# ------------------------------------------------------------------ 5: delete --dry-run, --timeout


def test_delete_dry_run_says_what_would_go_and_writes_nothing(cluster) -> None:  # noqa: F811
    _ready(cluster)
    for name in ("waypoint", "h102-other"):
        assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", name).code == 0
    dry = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--dry-run")
    assert dry.code == 0, dry
    assert dry.out.splitlines() == ["Gateway default/waypoint would be deleted",
                                    "Deployment default/waypoint would be deleted",
                                    "Service default/waypoint would be deleted",
                                    "ClusterRoleBinding kmeshctl-waypoint-default-waypoint would be deleted",
                                    "ServiceAccount default/waypoint would be deleted"], dry.out
    assert cluster.server.get(deploy.GATEWAY_API, "Gateway", "waypoint", "default") is not None
    document = json.loads(cluster.kmeshctl("waypoint", "delete", "-n", "default", "--dry-run", "-o", "json").out)
    real = json.loads(cluster.kmeshctl("waypoint", "delete", "-n", "default", "-o", "json").out)
    assert list(document) == list(real) and document["dryRun"] is True and real["dryRun"] is False, (document, real)
    assert document["deleted"] == real["deleted"] and document["left"] == real["left"] == [], (document, real)


def test_delete_dry_run_of_the_last_waypoint_includes_the_clusterrole_and_leftovers(cluster) -> None:  # noqa: F811
    _ready(cluster, NS)
    for ns in ("default", NS):
        assert cluster.kmeshctl("waypoint", "apply", "-n", ns).code == 0
    cluster.server.finalize_namespace(NS)
    dry = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--dry-run", "-o", "json")
    document = json.loads(dry.out)
    leftover = f"ClusterRoleBinding {deploy.binding_name(deploy.WaypointParams(NS))}"
    assert document["leftoversRemoved"] == [{"object": leftover, "namespace": NS}], document
    assert f"ClusterRole {deploy.CLUSTER_ROLE}" in document["deleted"], document
    assert cluster.server.get(deploy.RBAC_API, "ClusterRoleBinding", leftover.split()[1], "") is not None
    text = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--dry-run")
    assert f"would remove {leftover} left by deleted namespace {NS}" in text.out, text


def test_delete_dry_run_leaves_the_user_s_objects_as_delete_does(cluster) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "h102-w").code == 0
    cluster.server.delete_object("v1", "ServiceAccount", "h102-w", "default")
    _users(cluster, "default", "h102-w", "ServiceAccount")
    dry = json.loads(cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "h102-w", "--dry-run",
                                      "-o", "json").out)
    real = json.loads(cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "h102-w", "-o", "json").out)
    assert dry["left"] == real["left"] == [{"object": "ServiceAccount default/h102-w",
                                             "reason": "not waypoint h102-w's"}], (dry, real)


def test_delete_timeout_names_what_holds_an_object(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default").code == 0
    monkeypatch.setattr(deploy, "GONE_POLL_S", 0.01)
    real_live = deploy._live
    seen: list[str] = []

    def held(client: Any, obj: dict) -> Any:  # the Gateway stays, held by a finalizer
        live = real_live(client, obj)
        if obj["kind"] == "Gateway" and live is None and seen:
            return {"metadata": {"name": "waypoint", "finalizers": ["example.com/hold"]}}
        if obj["kind"] == "Gateway":
            seen.append("read")
        return live

    monkeypatch.setattr(deploy, "_live", held)
    result = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--timeout", "0.05s")
    assert result.code == 1, result
    assert "Gateway default/waypoint still exists after the --timeout 0.05s limit (finalizers: example.com/hold)" \
        in result.err, result
    assert "kubectl describe gateway.gateway.networking.k8s.io waypoint -n default" in result.err, result


def test_delete_timeout_default_lives_in_params(cluster) -> None:  # noqa: F811
    help_text = cluster.kmeshctl("waypoint", "delete", "--help").out
    assert "--timeout" in help_text and "--dry-run" in help_text, help_text
    assert params.WAYPOINT_DELETE_TIMEOUT_S > 0


# ------------------------------------------------------------------ 6: apply refuses the system namespaces


@pytest.mark.parametrize("ns", ["kube-system", "kube-public", "kube-node-lease", "istio-system", "kmesh-system"])
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["apply", "dry-run"])
def test_apply_refuses_the_system_namespaces(cluster, ns: str, dry_run: list[str]) -> None:  # noqa: F811
    _ready(cluster, ns)
    result = cluster.kmeshctl("waypoint", "apply", "-n", ns, *dry_run)
    assert result.code == 2 and result.out == "", result
    assert result.err.startswith(f"Error: namespace {ns} "), result
    assert "nothing was applied); pass -n with the namespace of the Services that will use it" in result.err
    assert cluster.server.get("v1", "ServiceAccount", "waypoint", ns) is None


def test_apply_refuses_the_namespace_where_the_agent_runs(cluster) -> None:  # noqa: F811
    from kmeshctl.render import COMMON_LABELS, DAEMONSET_NAME

    _ready(cluster, "h102-kmesh")
    cluster.server.put({"apiVersion": "apps/v1", "kind": "DaemonSet",
                        "metadata": {"name": DAEMONSET_NAME, "namespace": "h102-kmesh", "labels": COMMON_LABELS},
                        "spec": {"selector": {"matchLabels": {"app": "kmesh"}}, "template": {
                            "metadata": {"labels": {"app": "kmesh"}},
                            "spec": {"containers": [{"name": "kmesh", "image": "kmesh"}]}}}})
    result = cluster.kmeshctl("waypoint", "apply", "-n", "h102-kmesh")
    assert result.code == 2 and "is where the kmesh node agent runs" in result.err, result


# ------------------------------------------------------------------ 7: the wait's limit


@pytest.mark.parametrize("timeout, words", [(300.0, "limit 5m"), (float("inf"), "no limit")])
def test_the_wait_line_spells_its_limit_with_limit_words(cluster, monkeypatch, timeout: float,  # noqa: F811
                                                         words: str) -> None:
    _ready(cluster)
    lines: list[str] = []
    calls: list[int] = []

    def state(*_: Any, **__: Any) -> deploy.WaypointState:
        calls.append(1)
        ready = len(calls) > 1
        return deploy.WaypointState("default", "waypoint", True, ready_pods=1 if ready else 0,
                                    addresses=["10.0.0.1"] if ready else [], gateway_reason="Pending")

    monkeypatch.setattr(deploy, "waypoint_state", state)
    monkeypatch.setattr(deploy, "POLL_S", 0)
    deploy.wait_ready(None, deploy.WaypointParams(), timeout, lines.append)  # type: ignore[arg-type]
    assert lines[0].endswith(f"(0s, {words})"), lines
