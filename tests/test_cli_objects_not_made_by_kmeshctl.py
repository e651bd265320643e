"""kmeshctl owns exactly the objects carrying its label app.kubernetes.io/managed-by=kmeshctl
(h84, found on the real cluster): it never deletes, overwrites or adopts one without it.

- H1: `uninstall -n NS` with nothing of kmeshctl's anywhere keeps the user's namespace NS
  and prints `Nothing to uninstall` (exit 0); --dry-run the same;
- H2: objects that only share kmesh's names (upstream Kmesh's YAML, kubectl-create) are
  left alone by uninstall, one line each; status and version do not count them: status
  names each as a conflict that blocks install, with the kubectl delete to paste;
- H3: install into an existing namespace of the user's neither labels it nor lets
  uninstall delete it; one enforcing a Pod Security level but privileged is refused
  before any write (exit 2) with the kubectl label fix; a namespace kmeshctl made that
  now holds the user's objects is kept by uninstall (kmesh's objects in it go);
- H4 / M7: install over a foreign object is refused before any write, --dry-run too
  (exit 2, the kubectl delete fix); kmeshctl's own binding with another roleRef says
  the roleRef cannot change, with the delete-and-reinstall fix;
- M12: SIGTERM / Ctrl-C while install applies: one Error line (applied, not applied,
  the two ways on), exit 143 / 130; status then says partly installed or partly uninstalled;
- lows: uninstall says what it waits for after a silent second (finalizers, limit) and
  its time-limit fix shows the finalizers; a DaemonSet wanting 0 pods prints no empty table.

Real parts: kmeshctl.cli.main in-process against the stand-in API server (tests/standin),
whose request log says what was written; signals are real ones sent to this process."""

from __future__ import annotations

import json
import os
import shlex
import signal

import pytest

from kmeshctl.kube import object_ref
from kmeshctl.uninstall import installed_objects
from standin_apiserver import cluster  # noqa: F401 (fixture)
from standin_apiserver import namespace as namespace_object

USER_MANAGER = "kubectl-create"
RBAC = "rbac.authorization.k8s.io/v1"
ORDER = [object_ref(o) for o in installed_objects("kmesh-system", "istio-system")]


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    return lines[0].removeprefix("Error: ")


def _commands(line: str, tool: str) -> list[list[str]]:
    return [shlex.split(c) for c in line.split("`")[1::2] if c.startswith(tool)]


def _writes(cluster) -> list:  # noqa: F811
    return cluster.server.writes()


def _config_map(name: str, namespace: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {"k": "v"}}


def _upstream_kmesh(cluster) -> None:  # noqa: F811
    """What upstream Kmesh's own YAML (kubectl create) makes under kmesh's names: no kmeshctl label."""
    server = cluster.server
    server.put(namespace_object("kmesh-system"), USER_MANAGER)
    server.put(_config_map("kmesh-config", "kmesh-system"), USER_MANAGER)
    server.put({"apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": "kmesh"},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}, USER_MANAGER)
    server.put({"apiVersion": RBAC, "kind": "ClusterRoleBinding", "metadata": {"name": "kmesh"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kmesh"},
                "subjects": [{"kind": "ServiceAccount", "name": "kmesh", "namespace": "kmesh-system"}]},
               USER_MANAGER)
    server.put({"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
                "metadata": {"name": "add-listener-filter", "namespace": "istio-system"}, "spec": {}}, USER_MANAGER)
    server.put(_user_daemonset("kmesh", "kmesh-system"), USER_MANAGER)


def _user_daemonset(name: str, namespace: str) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}}}


def _exists(cluster, api_version: str, kind: str, name: str, namespace: str = "") -> bool:  # noqa: F811
    return cluster.server.get(api_version, kind, name, namespace) is not None


# -- H1: nothing of kmeshctl's anywhere -----------------------------------------------------------


@pytest.mark.parametrize("dry_run", [(), ("--dry-run",)], ids=["real", "dry-run"])
def test_uninstall_of_a_users_namespace_with_nothing_installed_keeps_it(cluster, dry_run) -> None:  # noqa: F811
    cluster.server.put(namespace_object("h84-team-c"), USER_MANAGER)
    cluster.server.put(_config_map("app", "h84-team-c"), USER_MANAGER)
    result = cluster.kmeshctl("uninstall", "-n", "h84-team-c", *dry_run)
    assert result.code == 0, result
    assert "Namespace h84-team-c: not made by kmeshctl, kept" in result.out, result.out
    assert "deleted" not in result.out.replace("nothing deleted", ""), result.out
    assert result.out.strip().splitlines()[-1].lower().endswith("nothing to uninstall: none of kmeshctl's objects "
                                                                "exist."), result.out
    assert not _writes(cluster), _writes(cluster)
    assert _exists(cluster, "v1", "Namespace", "h84-team-c") and _exists(cluster, "v1", "ConfigMap", "app",
                                                                         "h84-team-c")


# -- H2: the same names, made by someone else --------------------------------------------------------


@pytest.mark.parametrize("dry_run", [(), ("--dry-run",)], ids=["real", "dry-run"])
def test_uninstall_leaves_objects_of_kmesh_names_it_did_not_make_alone(cluster, dry_run) -> None:  # noqa: F811
    _upstream_kmesh(cluster)
    result = cluster.kmeshctl("uninstall", *dry_run)
    assert result.code == 0, result
    for ref in ("ClusterRole kmesh", "ClusterRoleBinding kmesh", "EnvoyFilter istio-system/add-listener-filter",
                "DaemonSet kmesh-system/kmesh"):
        assert f"{ref}: not made by kmeshctl, left alone\n" in result.out, (ref, result.out)
    assert "Namespace kmesh-system: not made by kmeshctl, kept\n" in result.out, result.out
    assert "nothing to uninstall" in result.out.lower(), result.out
    assert not _writes(cluster), _writes(cluster)
    assert _exists(cluster, "apps/v1", "DaemonSet", "kmesh", "kmesh-system")
    assert _exists(cluster, RBAC, "ClusterRoleBinding", "kmesh")


def test_uninstall_json_lists_what_it_left_alone(cluster) -> None:  # noqa: F811
    _upstream_kmesh(cluster)
    document = json.loads(cluster.kmeshctl("uninstall", "-o", "json").out)
    assert document["deleted"] == []
    spared = {s["object"]: (s["outcome"], s["reason"]) for s in document["spared"]}
    assert spared["ClusterRole kmesh"] == ("left alone", "not made by kmeshctl"), spared
    assert spared["Namespace kmesh-system"] == ("kept", "not made by kmeshctl"), spared


def test_status_names_a_foreign_object_as_a_conflict_not_as_remaining(cluster) -> None:  # noqa: F811
    _upstream_kmesh(cluster)
    result = cluster.kmeshctl("--context", "standin", "status")
    assert result.code == 1, result
    assert "Partly" not in result.out and "remain" not in result.out, result.out
    assert result.out.startswith("Not installed: no DaemonSet kmesh in namespace kmesh-system"), \
        result.out
    conflict = next(line for line in result.out.splitlines() if line.startswith("Conflict: DaemonSet"))
    assert conflict.startswith("Conflict: DaemonSet kmesh-system/kmesh exists and was not made by kmeshctl, which "
                               "blocks install: delete it (`kubectl delete daemonset kmesh -n kmesh-system"), conflict
    assert _commands(conflict, "kubectl") == [["kubectl", "delete", "daemonset", "kmesh", "-n", "kmesh-system",
                                               "--kubeconfig", str(cluster.kubeconfig), "--context", "standin"]]
    assert "pause:3.10" not in result.out, result.out  # the user's image is never read into a restore command
    state = json.loads(cluster.kmeshctl("status", "-o", "json").out)
    assert state["installed"] is False and state["remainingObjects"] == [] and state["daemonset"] is None, state
    assert {c.split(" exists")[0] for c in state["conflictingObjects"]} == {
        "ClusterRole kmesh", "ClusterRoleBinding kmesh", "DaemonSet kmesh-system/kmesh",
        "EnvoyFilter istio-system/add-listener-filter"}, state


def test_version_shows_no_agent_for_a_users_daemonset(cluster) -> None:  # noqa: F811
    _upstream_kmesh(cluster)
    cluster.server.put({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "kmesh-x", "namespace": "kmesh-system", "labels": {"app": "kmesh"}},
        "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
        "status": {"phase": "Running"}}, USER_MANAGER)
    result = cluster.kmeshctl("version", "-o", "json")
    report = json.loads(result.out)
    assert report["cluster"]["agents"] == [], report


# -- H4 / M7: install over an object it did not make ----------------------------------------------


@pytest.mark.parametrize("extra", [(), ("--dry-run",), ("--dry-run", "-o", "json")], ids=["real", "dry-run", "json"])
def test_install_over_a_foreign_daemonset_is_refused_before_any_write(cluster, extra) -> None:  # noqa: F811
    cluster.server.put(namespace_object("kmesh-system"), USER_MANAGER)
    cluster.server.put(_user_daemonset("kmesh", "kmesh-system"), USER_MANAGER)
    result = cluster.kmeshctl("--context", "standin", "install", "--cluster-id", "c1", "--no-wait", *extra)
    assert result.code == 2 and result.out == "", result
    line = _one_error_line(result.err)
    assert line.startswith("DaemonSet kmesh-system/kmesh exists and was not made by kmeshctl; delete it (`kubectl "
                           "delete daemonset kmesh -n kmesh-system"), line
    assert "or install into another namespace (-n)" in line and "--force-conflicts" not in line, line
    assert _commands(line, "kubectl")[0][-4:] == ["--kubeconfig", str(cluster.kubeconfig), "--context", "standin"]
    assert not _writes(cluster) and not cluster.server.dry_runs(), _writes(cluster)
    assert cluster.server.get("apps/v1", "DaemonSet", "kmesh", "kmesh-system")["metadata"].get("labels") is None


def test_install_over_a_foreign_cluster_role_binding_has_only_the_delete_fix(cluster) -> None:  # noqa: F811
    cluster.server.put({"apiVersion": RBAC, "kind": "ClusterRoleBinding", "metadata": {"name": "kmesh"},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                        "subjects": [{"kind": "ServiceAccount", "name": "kmesh", "namespace": "kmesh-system"}]},
                       USER_MANAGER)
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait")
    assert result.code == 2, result
    line = _one_error_line(result.err)
    assert line.startswith("ClusterRoleBinding kmesh exists and was not made by kmeshctl; delete it (`kubectl delete "
                           "clusterrolebinding kmesh"), line
    assert "(-n)" not in line and "--force-conflicts" not in line, line
    assert not _writes(cluster)


def test_own_binding_with_another_role_says_the_role_ref_cannot_change() -> None:
    from kmeshctl.apply import DryRunRejected, server_dry_run
    from kmeshctl.kube import ApiError

    binding = next(o for o in installed_objects("kmesh-system", "istio-system") if o["kind"] == "ClusterRoleBinding")

    class Refusing:
        def apply(self, obj, dry_run=False):
            raise ApiError(422, "Invalid", 'ClusterRoleBinding.rbac.authorization.k8s.io "kmesh" is invalid: '
                                           "roleRef: Invalid value: ...: cannot change roleRef")

    with pytest.raises(DryRunRejected) as refused:
        server_dry_run(Refusing(), [binding])  # type: ignore[arg-type]
    assert str(refused.value) == ("ClusterRoleBinding kmesh grants another role than install's, and a binding's "
                                  "roleRef cannot change; nothing was applied; delete it (`kubectl delete "
                                  "clusterrolebinding kmesh`), then re-run install")


# -- H3: the user's namespace, and the user's objects in kmeshctl's ----------------------------------


def test_install_into_a_users_namespace_neither_labels_it_nor_lets_uninstall_delete_it(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace_object("h84-team-a", {"team": "a"}), USER_MANAGER)
    before = cluster.server.get("v1", "Namespace", "h84-team-a")
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-n", "h84-team-a")
    assert result.code == 0, result
    assert "Namespace h84-team-a: not made by kmeshctl, used as is" in result.err, result.err
    assert "Namespace h84-team-a" not in result.out, result.out
    after = cluster.server.get("v1", "Namespace", "h84-team-a")
    assert after["metadata"]["labels"] == before["metadata"]["labels"] == {"team": "a"}, after
    assert _exists(cluster, "apps/v1", "DaemonSet", "kmesh", "h84-team-a")

    gone = cluster.kmeshctl("uninstall", "-n", "h84-team-a")
    assert gone.code == 0, gone
    assert "Namespace h84-team-a: not made by kmeshctl, kept" in gone.out, gone.out
    assert "DaemonSet h84-team-a/kmesh deleted" in gone.out, gone.out
    assert _exists(cluster, "v1", "Namespace", "h84-team-a")
    assert not _exists(cluster, "apps/v1", "DaemonSet", "kmesh", "h84-team-a")


@pytest.mark.parametrize("extra", [(), ("--dry-run",)], ids=["real", "dry-run"])
def test_a_namespace_enforcing_another_pod_security_level_is_refused_before_any_write(cluster,  # noqa: F811
                                                                                     extra) -> None:
    cluster.server.put(namespace_object("h84-team-b", {"pod-security.kubernetes.io/enforce": "baseline"}),
                       USER_MANAGER)
    result = cluster.kmeshctl("--context", "standin", "install", "--cluster-id", "c1", "-n", "h84-team-b",
                              "--no-wait", *extra)
    assert result.code == 2, result
    line = _one_error_line(result.err)
    assert line.startswith("namespace h84-team-b enforces Pod Security level baseline, and the agent pods need "
                           "privileged"), line
    assert _commands(line, "kubectl") == [["kubectl", "label", "namespace", "h84-team-b",
                                           "pod-security.kubernetes.io/enforce=privileged", "--overwrite",
                                           "--kubeconfig", str(cluster.kubeconfig), "--context", "standin"]], line
    assert not _writes(cluster) and not cluster.server.dry_runs()


@pytest.mark.parametrize("dry_run", [(), ("--dry-run",)], ids=["real", "dry-run"])
def test_uninstall_keeps_its_namespace_when_it_holds_the_users_objects(cluster, dry_run) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    cluster.server.put(_config_map("h84-user", "kmesh-system"), USER_MANAGER)
    cluster.server.put(_config_map("kube-root-ca.crt", "kmesh-system"), "kube-controller-manager")
    result = cluster.kmeshctl("uninstall", *dry_run)
    assert result.code == 0, result
    assert ("Namespace kmesh-system kept: it holds ConfigMap h84-user (not made by kmeshctl install)"
            + "; the Pod Security labels install added " + ("would be removed (" if dry_run else "removed (")
            ) in result.out, result.out  # h119, f19b: the dry run says what the real run does to its labels
    assert "kube-root-ca.crt" not in result.out
    assert "DaemonSet kmesh-system/kmesh " + ("would be deleted" if dry_run else "deleted") in result.out, result.out
    assert _exists(cluster, "v1", "Namespace", "kmesh-system")
    assert _exists(cluster, "v1", "ConfigMap", "h84-user", "kmesh-system")
    assert _exists(cluster, "apps/v1", "DaemonSet", "kmesh", "kmesh-system") == bool(dry_run)


# -- M12: stopped while applying -----------------------------------------------------------------------


@pytest.mark.parametrize("signum,code,how", [(signal.SIGTERM, 143, "SIGTERM"),
                                             (signal.SIGINT, 130, "Ctrl-C (SIGINT)")], ids=["sigterm", "sigint"])
def test_a_signal_while_install_applies_says_what_was_applied_and_the_ways_on(cluster, monkeypatch, signum, code,
                                                                               how) -> None:  # noqa: F811
    from kmeshctl import apply as applier

    real = applier.apply_one

    def apply_one(client, obj):
        if obj["kind"] == "ClusterRoleBinding":
            os.kill(os.getpid(), signum)
        return real(client, obj)

    monkeypatch.setattr(applier, "apply_one", apply_one)
    result = cluster.kmeshctl("--context", "standin", "install", "--cluster-id", "c1", "--no-wait", "-q")
    assert result.code == code, result
    line = _one_error_line(result.err)
    assert line.startswith(f"install stopped by {how}: applied {', '.join(ORDER[:3])}; not applied: "
                           f"{', '.join(ORDER[3:])} ({ORDER[3]} may have been, as it was being sent); re-run `"), line
    prefix = ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "--context", "standin"]
    assert _commands(line, "kmeshctl") == [[*prefix, "install", "--cluster-id", "c1", "--no-wait", "-q"],
                                           [*prefix, "uninstall", "-q"]], line
    monkeypatch.undo()
    status = cluster.kmeshctl("status")
    assert status.code == 1, status
    assert status.out.startswith("Partly installed or partly uninstalled: 3 of 10 objects exist"), status.out


# -- lows --------------------------------------------------------------------------------------------


def test_uninstall_says_what_it_waits_for_and_the_fix_shows_the_finalizers(monkeypatch) -> None:
    from kmeshctl import uninstall
    from kmeshctl.errors import KmeshctlError

    held = {"metadata": {"name": "kmesh", "namespace": "kmesh-system", "finalizers": ["h84.test/hold"]}}
    account = next(o for o in installed_objects("kmesh-system", "istio-system") if o["kind"] == "ServiceAccount")

    class Holding:
        def get(self, *args):
            return held

    monkeypatch.setattr(uninstall, "WAITING_NOTE_AFTER_S", 0.0)
    notes: list[str] = []
    import time

    with pytest.raises(KmeshctlError) as late:
        uninstall.wait_gone(Holding(), account, time.monotonic() + 0.2, poll=0.05, timeout=60,  # type: ignore[arg-type]
                            on_wait=notes.append)
    assert notes == ["waiting for ServiceAccount kmesh-system/kmesh to go (finalizers: h84.test/hold), limit 1m"]
    assert "(finalizers: h84.test/hold)" in str(late.value), late.value
    assert ("`kubectl get serviceaccount kmesh -n kmesh-system -o jsonpath='{.metadata.finalizers}'`"
            in str(late.value)), late.value


def test_status_of_a_daemonset_wanting_no_pod_prints_no_empty_table(cluster, monkeypatch) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    cluster.server.set_status("apps/v1", "DaemonSet", "kmesh", "kmesh-system",
                              {"desiredNumberScheduled": 0, "updatedNumberScheduled": 0, "numberReady": 0})
    for pod in cluster.server.all_of("v1", "Pod"):
        cluster.server.delete_object("v1", "Pod", pod["metadata"]["name"], pod["metadata"]["namespace"])
    result = cluster.kmeshctl("status")
    assert result.code == 1, result
    assert "NODE" not in result.out and "Agent pods: (none)" in result.out, result.out
    assert "Not healthy: the DaemonSet wants 0 pods: no node matches its nodeSelector / tolerations (compare " \
           "`kubectl get daemonset kmesh -n kmesh-system" in result.out, result.out


def test_a_refused_port_forward_says_permission_not_the_pod_name(monkeypatch) -> None:
    """status asks each agent through a port-forward: a 403 there is this user's
    permission (the pod name is right), with the check to run."""
    import kubernetes.stream

    from kmeshctl import config_dump, kube
    from kmeshctl.errors import KmeshctlError

    class Forbidden(Exception):
        status_code = 403
        resp_body = json.dumps({"message": 'pods "kmesh-x" is forbidden: cannot create resource "pods/portforward"'})

    def portforward(*args, **kwargs):
        try:
            raise Forbidden()
        except Forbidden:
            raise RuntimeError("handshake failed")  # noqa: B904 - the client's own: the 403 is its context

    monkeypatch.setattr(kubernetes.stream, "portforward", portforward)
    monkeypatch.setattr(kube, "core_v1_api", lambda target: type("Core", (), {
        "connect_get_namespaced_pod_portforward": None})())
    with pytest.raises(KmeshctlError) as refused:
        config_dump.fetch_from_pod("/debug/xds", "kmesh-x", "kmesh-system", 15200, target=kube.KubeTarget())
    text = str(refused.value)
    assert "the pod name" not in text, text
    assert text.endswith("this user may not port-forward to pods in kmesh-system: grant it create on "
                         "pods/portforward (`kubectl auth can-i create pods --subresource=portforward -n "
                         "kmesh-system` checks it)"), text
