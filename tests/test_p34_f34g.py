"""Pass 34 (issue 14), f34g: cluster flows against the stand-in API server.

1. install takes the cluster's Kubernetes version when --kubernetes-version is not typed (a
   1.28 cluster: the pod-patch policy left out, said so; precheck warns, permissions pass); a
   typed version the cluster cannot serve is exit 2 with the cluster's;
2. a DaemonSet deleted while install waits ends the wait at once, no empty header;
3. install -q says Installed only once the rollout succeeded;
4. an agent pod whose container backs off is said from its status before any port-forward
   (dump config --pod, status, version); a wrong --admin-port names the one the pod is given;
5. status's install line carries --force-conflicts when another field manager owns a
   DaemonSet field install sets (kubectl set image), and pasted it works;
6. waypoint status/list leave a Terminating pod out of the counts."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.standin.fixtures import cluster  # noqa: F401 (fixture)

VAP_KINDS = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")


def _older_cluster(cluster: Any, version: tuple[int, int] = (1, 28)) -> Any:
    """The stand-in as a cluster of ``version``: it does not serve admissionregistration.k8s.io/v1
    ValidatingAdmissionPolicy (1.30)."""
    server = cluster.server
    server.server_version = version
    served = server.served
    server.served = lambda: [r for r in served() if r.kind not in VAP_KINDS]
    return cluster


def test_install_on_a_1_28_cluster_takes_its_version_and_leaves_the_policy_out(cluster: Any) -> None:
    old = _older_cluster(cluster)
    result = old.kmeshctl("install", "--cluster-id", "c1", "--no-wait")
    assert result.code == 0, result.err
    assert "does not serve" not in result.err and "install Istio" not in result.err
    assert "ValidatingAdmissionPolicy kmesh-pod-patch-own-node and ValidatingAdmissionPolicyBinding " \
           "kmesh-pod-patch-own-node left out" in result.err
    assert "the cluster is Kubernetes 1.28" in result.err
    assert "--kubernetes-version 1.30" not in result.err  # that line would be refused on this cluster
    assert old.server.all_of("apps/v1", "DaemonSet")  # applied


def test_install_typed_version_the_cluster_cannot_serve_is_exit_2_with_its_version(cluster: Any) -> None:
    old = _older_cluster(cluster)
    result = old.kmeshctl("install", "--cluster-id", "c1", "--kubernetes-version", "1.31", "--no-wait")
    assert result.code == 2, result.err
    line = result.err.strip().splitlines()[-1]
    assert "--kubernetes-version 1.31: the cluster is Kubernetes 1.28 and does not serve " \
           "admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy" in line, line
    assert "--kubernetes-version 1.28" in line and "--no-wait" in line and "install Istio" not in line
    assert old.server.all_of("apps/v1", "DaemonSet") == []


def test_install_dry_run_on_a_1_28_cluster_passes(cluster: Any) -> None:
    result = _older_cluster(cluster).kmeshctl("install", "--cluster-id", "c1", "--dry-run")
    assert result.code == 0, result.err
    assert "kind: ValidatingAdmissionPolicy" not in result.out


def test_install_on_a_1_30_cluster_keeps_the_policy(cluster: Any) -> None:
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--dry-run")
    assert result.code == 0, result.err
    assert "kind: ValidatingAdmissionPolicy" in result.out and "left out" not in result.err


def test_precheck_on_a_1_28_cluster_warns_of_the_policy_not_of_permissions(cluster: Any) -> None:
    import json

    result = _older_cluster(cluster).kmeshctl("precheck", "-o", "json")
    checks = {c["name"]: c for c in json.loads(result.out)["checks"]}
    version = checks["Kubernetes version"]
    assert version["status"] == "warn" and "ValidatingAdmissionPolicy kmesh-pod-patch-own-node" in version["detail"]
    permissions = checks["permissions to install"]
    assert permissions["status"] == "pass", permissions
    assert "failed checks above" not in json.dumps(checks)



# -- 2/3: the rollout wait when an uninstall deletes the DaemonSet; install -q's summary -------------


def _delete_daemonset_once_applied(cluster: Any) -> threading.Thread:
    """What a concurrent `kmeshctl uninstall` does to install's wait: the DaemonSet goes
    once install applied it."""
    def delete() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if cluster.server.all_of("apps/v1", "DaemonSet"):
                time.sleep(0.3)
                cluster.server.delete_object("apps/v1", "DaemonSet", "kmesh", "kmesh-system")
                return
            time.sleep(0.05)

    thread = threading.Thread(target=delete, daemon=True)
    thread.start()
    return thread


def test_install_stops_at_once_when_its_daemonset_is_deleted(cluster: Any) -> None:
    cluster.server.daemonset_controller = "stuck"
    deleting = _delete_daemonset_once_applied(cluster)
    start = time.monotonic()
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "-q", "--timeout", "60s")
    deleting.join()
    assert time.monotonic() - start < 20, "waited for the --timeout"
    assert result.code == 1, result
    last = result.err.strip().splitlines()[-1]
    assert "DaemonSet kmesh-system/kmesh was deleted while install waited for its rollout" in last, last
    assert f"re-run `kmeshctl --kubeconfig {cluster.kubeconfig} install --cluster-id c1 -q --timeout " in last, last
    assert "Pods not ready:" not in result.err
    assert "Installed" not in result.out


def test_install_q_whose_rollout_fails_does_not_say_installed(cluster: Any) -> None:
    cluster.server.daemonset_controller = "stuck"
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "-q", "--timeout", "1s")
    assert result.code == 1, result
    assert "Installed" not in result.out
    assert result.out == "Applied, not ready: 10 objects applied (10 created).\n", result.out
    assert "Pods not ready:\n  kmesh-" in result.err


def test_install_q_whose_rollout_succeeds_says_installed_once(cluster: Any) -> None:
    cluster.server.daemonset_controller = "ready"
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "-q", "--timeout", "30s")
    assert result.code == 0, result
    assert result.out == "Installed: 10 objects applied (10 created).\n", result.out


# -- 4: an agent pod whose container backs off is said from its status, before any port-forward ----

CRASHING = {"phase": "Running", "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
            "containerStatuses": [{
                "name": "kmesh", "ready": False, "restartCount": 5, "image": "img",
                "state": {"waiting": {"reason": "CrashLoopBackOff",
                                      "message": "back-off 2m40s restarting failed container=kmesh"}},
                "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]}


def _installed_with_a_crashing_agent(cluster: Any, monkeypatch: Any) -> str:
    from kmeshctl import config_dump

    cluster.server.daemonset_controller = "ready"
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "-q", "--timeout", "30s").code == 0
    pod = sorted(p["metadata"]["name"] for p in cluster.server.all_of("v1", "Pod")
                 if p["metadata"]["namespace"] == "kmesh-system")[0]
    cluster.server.set_status("v1", "Pod", pod, "kmesh-system", CRASHING)

    def no_forward(path: str, name: str, *args: Any, **kwargs: Any) -> Any:
        assert name != pod, f"port-forward to the crashing pod {name}"
        return {"version": "x", "connected": True, "address": "istiod:15012"}

    monkeypatch.setattr(config_dump, "fetch_from_pod", no_forward)
    return pod


def test_dump_config_of_a_crashing_agent_pod_says_so_before_any_port_forward(cluster: Any, monkeypatch: Any) -> None:
    pod = _installed_with_a_crashing_agent(cluster, monkeypatch)
    result = cluster.kmeshctl("dump", "config", "--pod", pod, "-n", "kmesh-system")
    assert result.code == 1, result
    line = result.err.strip().splitlines()[-1]
    assert f"pod kmesh-system/{pod} is not running (CrashLoopBackOff: last exit Error, exit code 1)" in line, line
    assert "admin" not in line


def test_status_and_version_of_a_crashing_agent_pod_do_not_port_forward(cluster: Any, monkeypatch: Any) -> None:
    import json

    pod = _installed_with_a_crashing_agent(cluster, monkeypatch)
    version = cluster.kmeshctl("version", "-o", "json")
    rows = {row["pod"]: row for row in json.loads(version.out)["cluster"]["agents"]}
    assert rows[pod]["error"] == "pod is not running (CrashLoopBackOff: last exit Error, exit code 1)", rows
    status = cluster.kmeshctl("status")
    assert "admin endpoint" not in status.out + status.err and pod in status.out + status.err, status


def test_the_admin_port_hint_names_the_port_the_pod_is_given() -> None:
    from kmeshctl.config_dump import served_admin_port
    from kmeshctl.params import InstallParams
    from kmeshctl.render import render_manifests

    daemonset = next(o for o in render_manifests(InstallParams("istiod.istio-system.svc:15012", "c1"))
                     if o["kind"] == "DaemonSet")
    assert served_admin_port(daemonset["spec"]["template"]) == 15200
    assert served_admin_port({"spec": {"containers": [{"args": ["run", "--admin-port", "15300"]}]}}) == 15300
    assert served_admin_port({"spec": {"containers": [{"args": ["run"]}]}}) is None


# -- 5: status's install line after `kubectl set image` (another field manager owns the image) -------


def _set_image(cluster: Any, image: str) -> None:
    """`kubectl set image ds/kmesh kmesh=IMAGE -n kmesh-system`: an update by field manager
    kubectl-set; the agent pods then cannot pull it."""
    from tests.standin.resources import DAEMONSET

    server = cluster.server
    server.daemonset_controller = None
    key = ("apps", "daemonsets", "kmesh-system", "kmesh")
    containers = server.objects[key]["spec"]["template"]["spec"]["containers"]
    patched = [{**c, "image": image} for c in containers]
    server.merge_patch(DAEMONSET, key, {"spec": {"template": {"spec": {"containers": patched}}}}, "kubectl-set")
    for pod in [p for p in server.all_of("v1", "Pod") if p["metadata"]["namespace"] == "kmesh-system"]:
        pod["spec"]["containers"] = [{**c, "image": image} for c in pod["spec"]["containers"]]
        server.put(pod, "kubelet")
        server.set_status("v1", "Pod", pod["metadata"]["name"], "kmesh-system", {
            "phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{"name": "kmesh", "ready": False, "restartCount": 0, "image": image,
                                   "state": {"waiting": {"reason": "ImagePullBackOff",
                                                         "message": f'Back-off pulling image "{image}"'}}}]})


def test_status_fix_after_kubectl_set_image_works_when_pasted(cluster: Any) -> None:
    import json
    import shlex

    cluster.server.daemonset_controller = "ready"
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "-q", "--timeout", "30s").code == 0
    _set_image(cluster, "registry.example/kmesh:broken")
    status = cluster.kmeshctl("status", "-o", "json")
    fix = json.loads(status.out)["fix"]
    lines = [shlex.split(c) for c in fix.split("`")[1::2] if c.startswith("kmeshctl")]
    assert lines and "--force-conflicts" in lines[0], fix
    cluster.server.daemonset_controller = "ready"
    pasted = cluster.as_typed(*lines[0], "--timeout", "30s")
    assert pasted.code == 0, pasted
    assert "to keep it" not in pasted.err, pasted.err  # not the image the agents cannot pull


def test_other_managers_reads_kubectls_fields_v1() -> None:
    from kmeshctl.params import InstallParams
    from kmeshctl.render import render_manifests
    from kmeshctl.status import other_managers

    rendered = next(o for o in render_manifests(InstallParams("istiod.istio-system.svc:15012", "c1"))
                    if o["kind"] == "DaemonSet")
    image = {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"kmesh"}': {".": {}, "f:image": {}}}}}}}
    restarted = {"f:spec": {"f:template": {"f:metadata": {"f:annotations": {
        "f:kubectl.kubernetes.io/restartedAt": {}}}}}}
    current = {"metadata": {"managedFields": [
        {"manager": "kmeshctl", "operation": "Apply", "fieldsV1": image},
        {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
         "fieldsV1": {"f:status": {"f:numberReady": {}}}},
        {"manager": "kubectl-rollout", "operation": "Update", "fieldsV1": restarted}]}}
    assert other_managers(current, rendered) == []  # restartedAt is no field install sets
    current["metadata"]["managedFields"].append({"manager": "kubectl-set", "operation": "Update", "fieldsV1": image})
    assert other_managers(current, rendered) == ["kubectl-set"]


# -- 6: waypoint status / list right after a scale-down: a Terminating pod is counted by neither -----


def test_waypoint_status_and_list_leave_a_terminating_pod_out(cluster: Any, monkeypatch: Any) -> None:
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from test_waypoint_status_counts_only_its_deployments_pods import _applied, _pods_of

    asked = _applied(cluster, monkeypatch)
    first, second = _pods_of(cluster, "wp", 2)
    going = cluster.server.objects[("", "pods", "default", second)]
    going["metadata"]["deletionTimestamp"] = "2026-12-04T15:00:00Z"  # what a scale-down 2 -> 1 leaves for a while
    result = cluster.kmeshctl("waypoint", "status", "-n", "default", "--name", "wp", "-o", "json")
    assert result.code == 0, result
    document = json.loads(result.out)["waypoint"]
    assert document["pods"] == [first] and document["readyPods"] == 1, document
    assert document["terminatingPods"] == [second] and second not in asked, (document, asked)
    table = cluster.kmeshctl("waypoint", "status", "-n", "default", "--name", "wp")
    assert "1/1 pods ready (1 terminating)" in table.out, table
    listed = json.loads(cluster.kmeshctl("waypoint", "list", "-n", "default", "-o", "json").out)
    assert [(w["readyPods"], w["pods"]) for w in listed] == [(1, [first])], listed


def test_a_port_forwards_errno_text_is_in_kubectls_words() -> None:
    from kmeshctl.config_dump import kubectl_words

    assert kubectl_words("error reading from pod: [Errno 111] Connection refused") == \
        "error reading from pod: connection refused"
