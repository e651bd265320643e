"""p24 findings, one test (or more) per kind, each failing before its fix:

4  the cluster demo's `--waypoint NAME` against a Service label another field manager
   owns (`kubectl apply -f examples/fortio`): the message states the label as it is on
   the Service, the fix chain works when pasted (waypoint apply, `kubectl label
   --overwrite`, the demo again) and never names install's --force-conflicts; without
   --waypoint the Service keeps the waypoint its own label names;
5  `waypoint status`'s pod line (a stdout line, not an error) keeps the typed --kubeconfig
   in its `waypoint apply --image ...` fix (a real image since pass 41, f41e);
6  `waypoint apply --wait`'s timeout and `waypoint status` share one diagnosis;
11 `enable-ns` and `disable-ns` of a mistyped namespace both say `did you mean`, else list;
14 `enable-ns`'s sidecar warning gives the `kubectl label namespace ... istio-injection-` line."""

from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path
from typing import Iterator

import pytest

from kmeshctl import kube
from kmeshctl.demo_cluster import ClusterTarget
from kmeshctl.errors import KmeshctlError
from kmeshctl.kube import connect
from kmeshctl.render import COMMON_LABELS
from kmeshctl.waypoint import deploy
from demo_mesh_seed import fortio_docs, seed_mesh, standin_mesh, waypoint_gateway
from standin import StandinApiServer, namespace
from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd
from test_cli_enable_ns_wait import kmesh_agent_installed

USE = "istio.io/use-waypoint"
KUBECTL_APPLY = "kubectl-client-side-apply"
BACKTICKED = re.compile(r"`([^`]*)`")


# ------------------------------------------------------------------ 4. the demo's --waypoint


@pytest.fixture()
def server() -> Iterator[StandinApiServer]:
    with standin_mesh() as api:
        yield api


def _kubectl_applied_service(api: StandinApiServer, label: str = "waypoint") -> None:
    """`kubectl apply -f examples/fortio/` made the demo's Service: its label is kubectl's."""
    service = copy.deepcopy(next(d for d in fortio_docs() if d["kind"] == "Service"))
    service["metadata"].setdefault("namespace", "default")
    service["metadata"]["labels"][USE] = label
    api.put(service, manager=KUBECTL_APPLY)


def _target(api: StandinApiServer, tmp_path: Path, waypoint: str = "") -> ClusterTarget:
    client = connect(kube.KubeTarget(str(api.write_kubeconfig(tmp_path / "kubeconfig"))))
    target = ClusterTarget(client, fortio_docs(), ("default", "fortio"), settle_s=0, ready_timeout_s=10)
    target.waypoint = waypoint
    return target


def _label(api: StandinApiServer) -> str:
    return api.get("v1", "Service", "fortio", "default")["metadata"]["labels"][USE]


def test_waypoint_flag_against_kubectls_label_states_it_and_the_pasted_chain_works(server, tmp_path) -> None:
    _kubectl_applied_service(server)
    with pytest.raises(KmeshctlError) as refused:
        _target(server, tmp_path, "nosuch").prepare(lambda _: None)
    error = refused.value
    assert error.problem.startswith(f'Service default/fortio is labelled {USE}=waypoint by field manager '
                                    f'"{KUBECTL_APPLY}"'), error.problem
    assert f"{USE}=nosuch on" not in str(error) and "install --force-conflicts" not in str(error), error
    commands = BACKTICKED.findall(error.fix)
    assert commands[:3] == ["kmeshctl waypoint apply -n default --name nosuch --wait",
                            f"kubectl label service fortio -n default {USE}=nosuch --overwrite",
                            "kmeshctl demo traffic-shift --target cluster -n default --waypoint nosuch"], commands
    assert commands[3] == "kmeshctl demo traffic-shift --target cluster -n default --waypoint waypoint", commands
    assert _label(server) == "waypoint" and server.get("v1", "Service", "fortio", "default")  # nothing changed
    # pasted: the waypoint (istiod programs it), then kubectl's relabel (field manager kubectl-label)
    server.put(waypoint_gateway(name="nosuch"))
    relabelled = copy.deepcopy(server.get("v1", "Service", "fortio", "default"))
    relabelled["metadata"]["labels"][USE] = "nosuch"
    server.put(relabelled, manager="kubectl-label")
    said: list[str] = []
    _target(server, tmp_path, "nosuch").prepare(said.append)
    assert _label(server) == "nosuch", said


def test_an_existing_waypoint_needs_only_the_relabel(server, tmp_path) -> None:
    _kubectl_applied_service(server)
    server.put(waypoint_gateway(name="wp2"))
    with pytest.raises(KmeshctlError) as refused:
        _target(server, tmp_path, "wp2").prepare(lambda _: None)
    commands = BACKTICKED.findall(refused.value.fix)
    assert commands[0] == f"kubectl label service fortio -n default {USE}=wp2 --overwrite", commands
    assert "waypoint apply" not in refused.value.fix, refused.value.fix


def test_without_waypoint_flag_the_service_keeps_the_waypoint_its_label_names(server, tmp_path) -> None:
    server.put(waypoint_gateway(name="wp-mine"))
    _kubectl_applied_service(server, "wp-mine")
    labelled = namespace("default")
    labelled["metadata"].setdefault("labels", {})[USE] = "waypoint"  # found_waypoint would pick this one
    server.put(labelled)
    said: list[str] = []
    _target(server, tmp_path).prepare(said.append)
    assert f'Service default/fortio uses waypoint default/wp-mine (its own label {USE}=wp-mine, set by field ' \
           f'manager "{KUBECTL_APPLY}")' in said, said
    assert _label(server) == "wp-mine"


def test_a_label_the_demo_set_itself_is_still_relabelled_and_said_as_it_is(server, tmp_path) -> None:
    _target(server, tmp_path).prepare(lambda _: None)  # the demo's own apply: kmeshctl owns the label
    assert _label(server) == "waypoint"
    with pytest.raises(KmeshctlError) as refused:
        _target(server, tmp_path, "nosuch").prepare(lambda _: None)
    problem = refused.value.problem
    assert problem.startswith(f"Service default/fortio is labelled {USE}=waypoint; the demo would relabel it "
                              f"{USE}=nosuch, and the waypoint default/nosuch does not exist"), problem
    assert BACKTICKED.findall(refused.value.fix) == [  # the Service's own, ready, before making another (f43e)
        "kmeshctl demo traffic-shift --target cluster -n default --waypoint waypoint",
        "kmeshctl waypoint apply -n default --name nosuch --wait"]


def test_another_conflict_in_the_demo_never_names_installs_flag(server, tmp_path) -> None:
    _target(server, tmp_path).prepare(lambda _: None)
    # (a `kubectl scale` is no conflict now: the demo keeps the replicas another manager set, p46_lead)
    changed = copy.deepcopy(server.get("apps/v1", "Deployment", "netutils", "default"))
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "example.test/netutils:other"
    server.put(changed, manager="kubectl-set")  # `kubectl set image`: kubectl-set owns the image now
    with pytest.raises(KmeshctlError) as refused:
        _target(server, tmp_path).prepare(lambda _: None)
    line = str(refused.value)
    assert 'field manager "kubectl-set" owns .spec.template.spec.containers' in line, line
    assert "--force-conflicts" not in line and "the demo never takes another manager's fields" in line, line


def test_the_demos_fix_lines_paste_with_the_kubeconfig(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("default"))
    seed_mesh(cluster.server)
    _kubectl_applied_service(cluster.server)
    result = cluster.kmeshctl("demo", "traffic-shift", "--target", "cluster", "--waypoint", "nosuch")
    assert result.code == 1 and f"labelled {USE}=waypoint by field manager" in result.err, result
    commands = [shlex.split(c) for c in BACKTICKED.findall(result.err)]
    assert ["kubectl", "label", "service", "fortio", "-n", "default", f"{USE}=nosuch", "--overwrite",
            "--kubeconfig", str(cluster.kubeconfig)] in commands, commands
    assert commands and all("--kubeconfig" in c and str(cluster.kubeconfig) in c for c in commands), result.err
    assert "install --force-conflicts" not in result.err, result.err


# ------------------------------------------------------------------ 5, 6. waypoint status and apply --wait


def _ready(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))


def test_status_pod_line_fix_keeps_the_kubeconfig(cluster, monkeypatch) -> None:  # noqa: F811
    _ready(cluster)
    ours = {**COMMON_LABELS, deploy.WAYPOINT_LABEL: "wp2"}
    cluster.server.put({"apiVersion": deploy.GATEWAY_API, "kind": "Gateway", "metadata": {
        "name": "wp2", "namespace": "default", "labels": ours}, "spec": {"gatewayClassName": "istio-waypoint",
                                                                         "listeners": []}})
    cluster.server.put({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "wp2-1", "namespace": "default", "labels": {deploy.GATEWAY_LABEL: "wp2", **ours}},
        "spec": {"containers": [{"name": "envoy", "image": "x"}]}, "status": {
            "phase": "Pending", "containerStatuses": [{"name": "envoy", "state": {"waiting": {
                "reason": "ImagePullBackOff", "message": 'Back-off pulling image "x:typo"'}}}]}})
    monkeypatch.setattr(deploy, "pod_status", lambda *_: pytest.fail("asked a pod that is not running"))
    result = cluster.kmeshctl("waypoint", "status", "-n", "default", "--name", "wp2")
    assert result.code == 1 and "ImagePullBackOff" in result.out, result
    [fix] = [c for c in BACKTICKED.findall(result.out) if "--image" in c]
    assert shlex.split(fix) == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "waypoint", "apply", "-n",
                                "default", "--name", "wp2", "--image", deploy.DEFAULT_IMAGE], fix  # no IMAGE (t41c 3)


def test_apply_wait_timeout_gives_the_status_diagnosis(cluster) -> None:  # noqa: F811
    _ready(cluster)
    cluster.server.deployment_controller = "stuck"
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp2", "--wait", "--timeout", "1s")
    assert result.code == 1 and "not ready after 1s" in result.err, result
    said = " ".join(result.err.split())
    assert "cannot be pulled" in said and "IMAGE" not in said, result  # no placeholder line (t41c 3)
    # the default image itself: the nodes' registry access, by the kubelet's events (as install's image_fix)
    assert "it is the default one: check the nodes' registry access" in said and "istiod's log" not in said, result
    status = cluster.kmeshctl("waypoint", "status", "-n", "default", "--name", "wp2")
    assert "cannot be pulled" in status.out and "IMAGE" not in status.out, status


def test_stuck_fix_is_one_diagnosis() -> None:
    from kmeshctl.rollout import PodState

    p = deploy.WaypointParams("ns", "wp")
    pulled = PodState("wp-1", "ns", "", "Pending", False, 0, "x", "ImagePullBackOff: Back-off pulling image", "")
    crash = PodState("wp-2", "ns", "", "Running", False, 3, "x", "CrashLoopBackOff: back-off", "")
    assert "`kmeshctl waypoint apply -n ns --name wp --image docker.io/" in deploy.stuck_fix(p, [pulled, crash])
    assert deploy.stuck_fix(p, [crash]) == "see `kubectl describe pod wp-2 -n ns`"
    assert deploy.stuck_fix(p, []).endswith("and istiod's log")


# ------------------------------------------------------------------ 11, 14. enable-ns / disable-ns


@pytest.mark.parametrize("command", ["enable-ns", "disable-ns"])
def test_a_mistyped_namespace_gets_did_you_mean_with_the_command(cluster, command: str) -> None:  # noqa: F811
    cluster.server.put(namespace("default"))
    result = cluster.kmeshctl(command, "defualt")
    assert result.code == 2, result
    assert "namespace(s) not found: defualt (nothing was changed); did you mean default? " in result.err, result
    [fix] = BACKTICKED.findall(result.err)
    assert shlex.split(fix) == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), command, "default"], fix


@pytest.mark.parametrize("command, listed", [("enable-ns", "namespaces: default"),
                                             ("disable-ns", "none is enrolled; namespaces: default")])
def test_a_name_close_to_none_lists_the_namespaces(cluster, command: str, listed: str) -> None:  # noqa: F811
    cluster.server.put(namespace("default"))
    result = cluster.kmeshctl(command, "nosuch")
    assert result.code == 2 and "did you mean" not in result.err, result
    assert f"correct the names ({listed}" in result.err, result


def test_sidecar_warning_gives_the_kubectl_line(cluster) -> None:  # noqa: F811
    kmesh_agent_installed(cluster.server)  # else a not-installed warning comes too
    cluster.server.put(namespace("legacy", {"istio-injection": "enabled", "istio.io/rev": "1-22"}))
    result = cluster.kmeshctl("enable-ns", "legacy")
    assert result.code == 0, result
    assert "Warning: namespace legacy also has Istio sidecar injection on" in result.err, result
    [line] = BACKTICKED.findall(result.err)
    assert shlex.split(line) == ["kubectl", "label", "namespace", "legacy", "istio-injection-", "istio.io/rev-",
                                 "--kubeconfig", str(cluster.kubeconfig)], line
    only_rev = namespace("rev-only", {"istio.io/rev": "1-22"})
    cluster.server.put(only_rev)
    again = cluster.kmeshctl("enable-ns", "rev-only")
    assert "`kubectl label namespace rev-only istio.io/rev- --kubeconfig" in again.err, again
