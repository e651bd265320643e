"""Pass 30, findings of tier tester t30c (kubectl/istioctl user on a real cluster), each
against the stand-in API server:

3. an install while an uninstall deletes kmeshctl's objects (deletionTimestamp set, or the
   namespace Terminating) refuses before applying anything: one line, exit 1, wait and
   re-run the same install line (before: `unchanged`, EnvoyFilters re-created, a wait for
   agents that never came);
4. with istiod's Deployment scaled to 0 the fix names it (0/0 ready replicas) and the
   kubectl line that scales it up, never istiod's log (no pod to read it from);
5. precheck fails when istiod's Service has no ready endpoints; a rollout held up by the
   agent pod's missing istio-ca-root-cert ConfigMap (FailedMount) says so, with the fix;
6. `dump` of an agent pod that is not running says so from the pod's status before any
   port-forward;
2. at uninstall, an agent pod that never started, of a DaemonSet that never had another
   template, made within a minute of it, is `stopped` (it never ran), exit 0; where an
   earlier agent may have run it (another template, a restart, a pod made later)
   stays `needs cleanup` with a line that works on a clean node (--ignore-not-found);
7. with kmesh not installed, dump's -n (an app pod's namespace) is not carried into the
   install suggested: kmesh-system is named;
8. two uninstalls at once count each delete once (one already being deleted is not
   counted; the Namespace DELETE carries its resourceVersion, the DaemonSet's its uid only,
   as its status keeps changing).

Real parts: kmeshctl.cli.main in-process against the stand-in API server (tests/standin)."""

from __future__ import annotations

import shlex

from kmeshctl.istiod import IstiodDeployment
from kmeshctl.rollout import IstiodUnreached, istiod_fix
from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_p24_install import ISTIOD, _agents_say, _fix_line

NS = "kmesh-system"


def _commands(line: str, tool: str) -> list[list[str]]:
    return [shlex.split(c) for c in line.split("`")[1::2] if c.startswith(tool)]


def _writes(cluster) -> list:  # noqa: F811
    return [r for r in cluster.server.requests if r.method in ("POST", "PATCH", "PUT", "DELETE")
            and not r.dry_run and "selfsubjectaccessreviews" not in r.path]


# -- 3: install while an uninstall deletes ---------------------------------------------------


def _mark_deleted(cluster, key: tuple[str, str, str, str]) -> None:  # noqa: F811
    with cluster.server.lock:
        meta = cluster.server.objects[key]["metadata"]
        meta["deletionTimestamp"] = "2026-12-04T05:00:00Z"
        meta["finalizers"] = ["foregroundDeletion"]


def test_3_install_refuses_while_the_daemonset_is_being_deleted(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    _mark_deleted(cluster, ("apps", "daemonsets", NS, "kmesh"))
    before = len(_writes(cluster))
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "30s")
    assert result.code == 1, result
    [line] = [ln for ln in result.err.splitlines() if ln.strip()]
    assert line.startswith("Error: kmesh is being uninstalled (DaemonSet kmesh-system/kmesh still being deleted); "
                           "nothing was applied"), line
    [status] = _commands(line, "kmeshctl")[:1]
    [again] = [c for c in _commands(line, "kmeshctl") if "install" in c]
    assert status[-1] == "status", line
    assert again[-5:] == ["install", "--cluster-id", "c1", "--timeout", "30s"], line
    assert len(_writes(cluster)) == before  # nothing applied
    dry = cluster.kmeshctl("install", "--cluster-id", "c1", "--dry-run")
    assert dry.code == 1 and "kmesh is being uninstalled" in dry.err, dry


def test_3_install_refuses_while_its_namespace_terminates(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    _mark_deleted(cluster, ("", "namespaces", "", NS))
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait")
    # the namespace alone is being deleted (no uninstall of the rest): said as such (f37b)
    assert result.code == 1 and f"namespace {NS} is being deleted (Terminating" in result.err, result
    assert "nothing was applied" in result.err, result


# -- 4: istiod scaled to 0 -------------------------------------------------------------------


def _istiod_scaled(cluster, replicas: int, ready: int = 0) -> None:  # noqa: F811
    cluster.server.put({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "istiod-1-22-6", "namespace": "istio-system"},
                        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "istiod"}},
                                 "template": {"metadata": {"labels": {"app": "istiod"}}, "spec": {"containers": [
                                     {"name": "discovery", "image": "istio/pilot",
                                      "env": [{"name": "CLUSTER_ID", "value": "c1"}]}]}}},
                        "status": {"observedGeneration": 1, **({"readyReplicas": ready} if ready else {})}},
                       "kubectl-create")


def test_4_istiod_scaled_to_0_is_named_with_the_scale_line(cluster, monkeypatch) -> None:  # noqa: F811
    _istiod_scaled(cluster, 0)
    _agents_say(monkeypatch, ISTIOD, "UNAVAILABLE: connection refused")
    # scaled to 0 after install's own check (which refuses it up front since p38: test_p38_f38b)
    monkeypatch.setattr("kmeshctl.install.idle_istiod", lambda client, address: None)
    last = _fix_line(cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "1"))
    assert "Deployment istio-system/istiod-1-22-6 has 0/0 ready replicas" in last, last
    assert ["kubectl", "-n", "istio-system", "scale", "deploy", "istiod-1-22-6", "--replicas=1"] \
        in [c[:7] for c in _commands(last, "kubectl")], last
    assert "logs" not in last, last


def test_4_istiod_with_no_ready_pod_points_at_its_deployment() -> None:
    agent = IstiodUnreached(ISTIOD, "UNAVAILABLE: connection refused", "c1", (ISTIOD,),
                            IstiodDeployment("istio-system", "istiod", "c1", replicas=1, ready=0))
    fix = istiod_fix(agent, NS)
    assert "has 0/1 ready replicas" in fix and "`kubectl -n istio-system describe deploy istiod`" in fix, fix
    ready = IstiodUnreached(ISTIOD, "UNAVAILABLE: connection refused", "c1", (ISTIOD,),
                            IstiodDeployment("istio-system", "istiod", "c1", replicas=1, ready=1))
    assert "logs deploy/istiod" in istiod_fix(ready, NS)  # a ready istiod: its log says why


# -- 5: istiod with no ready pod: precheck, and the pods' missing istio-ca-root-cert ---------


def _istiod_slice(cluster, ready: bool) -> None:  # noqa: F811
    cluster.server.put({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                        "metadata": {"name": "istiod-1-22-6-abcde", "namespace": "istio-system",
                                     "labels": {"kubernetes.io/service-name": "istiod-1-22-6"}},
                        "endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": ready}}] if ready else [],
                        "ports": [{"name": "grpc-xds", "port": 15012, "protocol": "TCP"}]}, "kubectl-create")


def _istiod_row(cluster) -> dict:  # noqa: F811
    import json

    result = cluster.kmeshctl("precheck", "--cluster-id", "c1", "-o", "json")
    rows = {row["name"]: row for row in json.loads(result.out)["checks"]}
    return rows["istiod Service :15012"] | {"code": result.code}


def test_5_precheck_fails_when_istiod_has_no_ready_endpoint(cluster) -> None:  # noqa: F811
    _istiod_scaled(cluster, 0)
    _istiod_slice(cluster, ready=False)
    row = _istiod_row(cluster)
    assert row["status"] == "fail" and row["code"] == 1, row
    assert "no ready istiod pod" in row["detail"] and "0/0 ready replicas" in row["detail"], row
    assert "`kubectl -n istio-system scale deploy istiod-1-22-6 --replicas=1 " in row["fix"], row


def test_5_precheck_passes_with_a_ready_endpoint_or_none_to_read(cluster) -> None:  # noqa: F811
    assert _istiod_row(cluster)["status"] == "pass"  # no EndpointSlice (istiod elsewhere): not judged
    _istiod_slice(cluster, ready=True)
    assert _istiod_row(cluster)["status"] == "pass"


class _Events:
    """A client whose FailedMount events are ``events`` (the stand-in serves no Events)."""

    def __init__(self, events: list[dict]) -> None:
        self.events = events

    def is_served(self, api_version: str, kind: str) -> bool:
        return (api_version, kind) == ("v1", "Event")

    def list(self, api_version: str, kind: str, namespace: str, field_selector: str = "") -> list[dict]:
        assert field_selector == "reason=FailedMount"
        return self.events


def test_5_a_missing_root_cert_config_map_is_named_with_istiod_as_the_fix() -> None:
    from kmeshctl.rollout import PodState, RolloutState, missing_configmap, timeout_fix

    pod = PodState("kmesh-q5bwb", NS, "node-a", "Pending", False, 0, "img", "ContainerCreating", "")
    event = {"involvedObject": {"name": "kmesh-q5bwb"}, "message": 'MountVolume.SetUp failed for volume '
             '"istiod-ca-cert" : configmap "istio-ca-root-cert" not found'}
    assert missing_configmap(_Events([event]), [pod]) == "istio-ca-root-cert"
    assert missing_configmap(_Events([{**event, "involvedObject": {"name": "other"}}]), [pod]) == ""
    fix = timeout_fix(RolloutState(True, 1, 1, 0, True, [pod]), NS, unmounted="istio-ca-root-cert")
    assert fix.startswith(f"ConfigMap istio-ca-root-cert not found in namespace {NS}"), fix
    assert "istiod writes it to every namespace" in fix and "`kubectl get deploy -A -l app=istiod`" in fix, fix


# -- 6: dump of an agent pod not running ------------------------------------------------------


def test_6_dump_of_an_agent_pod_not_running_says_so_before_any_port_forward(cluster, monkeypatch) -> None:  # noqa: F811
    from kmeshctl import config_dump

    def forwarded(*args, **kwargs):
        raise AssertionError("no port-forward to a pod not running")

    monkeypatch.setattr(config_dump, "fetch_from_pod", forwarded)
    cluster.server.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}, "kubectl-create")
    cluster.server.put({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": "kmesh-bx8fc", "namespace": NS, "labels": {"app": "kmesh"}},
                        "spec": {"nodeName": "node-a", "containers": [{"name": "kmesh", "image": "bad:0"}]},
                        "status": {"phase": "Pending", "containerStatuses": [
                            {"name": "kmesh", "ready": False, "restartCount": 0,
                             "state": {"waiting": {"reason": "ErrImagePull", "message": "pull failed"}}}]}},
                       "kubectl-create")
    for what in ("maps", "config"):
        result = cluster.kmeshctl("dump", what, "--pod", "kmesh-bx8fc", "-n", NS)
        assert result.code == 1, result
        assert f"Error: pod {NS}/kmesh-bx8fc is not running (ErrImagePull): see `kmeshctl" in result.err, result.err
        assert "admin endpoint" not in result.err and f"status -n {NS}`" in result.err, result.err


# -- 2: an agent pod that never ran, at uninstall ---------------------------------------------


class _Lists:
    """A client listing ``pods`` and ``revisions`` (ControllerRevisions), recording DELETEs."""

    def __init__(self, pods: list[dict], revisions: int) -> None:
        self.pods, self.deletes = pods, []
        self.revisions = [{"metadata": {"name": f"kmesh-{n}", "creationTimestamp": TEMPLATE_MADE, "ownerReferences": [
            {"kind": "DaemonSet", "name": "kmesh"}]}} for n in range(revisions)]

    def list(self, api_version: str, kind: str, namespace: str = "", label_selector: str = "") -> list[dict]:
        return self.pods if kind == "Pod" else self.revisions

    def delete(self, *args, **kwargs) -> bool:
        self.deletes.append(kwargs.get("preconditions"))
        return True


TEMPLATE_MADE = "2026-12-04T05:00:00Z"


def _waiting_pod(restarts: int = 0, created: str = "2026-12-04T05:00:02Z") -> dict:
    return {"metadata": {"name": "kmesh-q5bwb", "creationTimestamp": created}, "spec": {"nodeName": "n1"},
            "status": {"phase": "Pending", "containerStatuses": [
                {"name": "kmesh", "restartCount": restarts, "state": {"waiting": {"reason": "ContainerCreating"}}}]}}


def _node_result(pods: list[dict], revisions: int):
    from kmeshctl.uninstall import agent_pods, installed_objects, node_results

    ds = next(o for o in installed_objects(NS, "istio-system") if o["kind"] == "DaemonSet")
    [result] = node_results(NS, agent_pods(_Lists(pods, revisions), ds), {})
    return result


def test_2_an_agent_of_the_first_template_that_never_started_is_stopped_never_ran() -> None:
    result = _node_result([_waiting_pod()], revisions=1)
    assert result.outcome == "stopped" and result.detail.startswith("it never ran: ContainerCreating"), result


def test_2_after_another_template_a_start_or_a_later_pod_it_still_needs_cleanup_with_a_line_that_works() -> None:
    # a pod made 10 minutes after the template may replace a deleted one that ran (reviewer R30 #2)
    for result in (_node_result([_waiting_pod()], revisions=2), _node_result([_waiting_pod(restarts=1)], 1),
                   _node_result([_waiting_pod(created="2026-12-04T05:10:00Z")], 1),
                   _node_result([_waiting_pod(created="")], 1)):
        assert result.outcome == "needs cleanup", result
        assert "`kmeshctl node cleanup --ignore-not-found`" in result.detail, result


# -- 8: two uninstalls at once count each delete once ----------------------------------------


def test_8_an_object_already_being_deleted_is_not_counted_deleted_again() -> None:
    from kmeshctl.uninstall import BEING_DELETED, _delete_as_read

    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    going = {"metadata": {"name": NS, "uid": "u1", "resourceVersion": "7", "deletionTimestamp": "2026-12-04T05:00:00Z"}}
    client = _Lists([], 0)
    result = _delete_as_read(client, namespace, going, False, lambda ref: None)
    assert result.outcome == BEING_DELETED and client.deletes == [], result
    fresh = {"metadata": {"name": NS, "uid": "u1", "resourceVersion": "7"}}
    assert _delete_as_read(client, namespace, fresh, False, lambda ref: None).outcome == "deleted"
    # another run's DELETE in between changes the resourceVersion: this one is refused (409), read again
    assert client.deletes == [{"uid": "u1", "resourceVersion": "7"}]


def test_8_the_daemonset_is_deleted_by_uid_only_as_its_status_keeps_changing() -> None:
    """reviewer R30 #3: a resourceVersion precondition would be refused at each status update."""
    from kmeshctl.uninstall import _delete_as_read, installed_objects

    ds = next(o for o in installed_objects(NS, "istio-system") if o["kind"] == "DaemonSet")
    client = _Lists([], 0)
    read = {"metadata": {"name": "kmesh", "uid": "u2", "resourceVersion": "9"}}
    assert _delete_as_read(client, ds, read, False, lambda ref: None).outcome == "deleted"
    assert client.deletes == [{"uid": "u2"}]



# -- 7: kmesh not installed, dump -n of an app pod's namespace ---------------------------------


def test_7_dump_of_an_app_pod_suggests_the_install_into_kmesh_system(cluster) -> None:  # noqa: F811
    cluster.server.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t30c-app"}}, "kubectl-create")
    cluster.server.put({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "t30c-p", "namespace": "t30c-app"},
                        "spec": {"nodeName": "node-a", "containers": [{"name": "a", "image": "x"}]},
                        "status": {"phase": "Running"}}, "kubectl-create")
    for pod in ("t30c-p", "t30c-gone"):
        result = cluster.kmeshctl("dump", "config", "--pod", pod, "-n", "t30c-app")
        [install] = [c for c in _commands(result.err, "kmeshctl") if "--help" not in c]
        assert install[-5:] == ["install", "-n", NS, "--cluster-id", "ID"], result.err
        assert "t30c-app" not in " ".join(install), result.err
