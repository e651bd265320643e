"""Findings of a tester on a real cluster (h101), each against the stand-in API server:

1. `version -n NS` with kmesh installed in another namespace is refused as `status -n NS`
   is (exit 2, `pass -n kmesh-system` with the command to paste), not `Agents: none`;
2. install names EVERY object of its names it did not make in one error, with a kubectl
   delete for each, and offers -n only when all of them are in the install namespace;
3. precheck's row `objects install would write` fails where install would refuse, with
   the same fix;
4. status of a namespace stuck Terminating says so and why (its conditions), and does
   not suggest install (which refuses it) until it is gone;
5. a stopped or failed install over an earlier install never suggests uninstall (it
   would remove that install): the earlier install is unchanged / partly updated;
6. -n equal to the Istio namespace, or reserved, says that (not "uninstall deletes it");
7. install -q prints one summary line on stdout, as uninstall -q;
8. install into a namespace enrolled in a data plane is refused before any write, as
   enable-ns refuses the agent's namespace; enable-ns --overwrite records the label it
   replaced and disable-ns puts it back.

Real parts: kmeshctl.cli.main in-process against the stand-in API server (tests/standin),
whose request log says what was written; signals are real ones sent to this process."""

from __future__ import annotations

import json
import os
import signal

import pytest

from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_objects_not_made_by_kmeshctl import _commands, _one_error_line
from standin_apiserver import namespace as namespace_object

USER = "kubectl-create"
RBAC = "rbac.authorization.k8s.io/v1"


def _install(cluster, *args: str):  # noqa: F811
    return cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", *args)


def signal_when_applying(monkeypatch, kind: str, signum: int) -> None:
    """Make install's applier send this process the real signal `signum` as it reaches the
    first object of `kind` (the user's Ctrl-C or `kill` mid-install), then apply it."""
    from kmeshctl import apply as applier

    real = applier.apply_one

    def apply_one(client, obj):
        if obj["kind"] == kind:
            os.kill(os.getpid(), signum)
        return real(client, obj)

    monkeypatch.setattr(applier, "apply_one", apply_one)


def _user_objects(cluster) -> None:  # noqa: F811
    """The tester's three: a ServiceAccount in the install namespace, a cluster-scoped
    ClusterRole, an EnvoyFilter in Istio's namespace; none made by kmeshctl."""
    server = cluster.server
    server.put(namespace_object("kmesh-system"), USER)
    server.put({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "kmesh",
                                                                           "namespace": "kmesh-system"}}, USER)
    server.put({"apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": "kmesh"},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}, USER)
    server.put({"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
                "metadata": {"name": "skip-tunneling", "namespace": "istio-system"}, "spec": {}}, USER)


# -- 1 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("output", [(), ("-o", "json")], ids=["text", "json"])
def test_version_of_another_namespace_than_the_installs_is_refused_as_status(cluster, output) -> None:  # noqa: F811
    assert _install(cluster, "-q").code == 0
    cluster.server.put(namespace_object("team-plain"), USER)
    result = cluster.kmeshctl("version", "-n", "team-plain", *output)
    assert result.code == 2, result
    # -o json: the document says it (clusterError), as any cluster error of version -o json
    line = json.loads(result.out)["clusterError"] if output else _one_error_line(result.err)
    assert line.startswith("kmesh is installed in namespace kmesh-system, not team-plain; "
                           "pass -n kmesh-system: `"), line
    [command] = _commands(line, "kmeshctl")
    at = command.index("version")
    assert command[at:at + 3] == ["version", "-n", "kmesh-system"] and "--kubeconfig" in command, command
    assert "Agents: none" not in result.out, result.out
    status = cluster.kmeshctl("status", "-n", "team-plain")
    assert status.code == 2 and "pass -n kmesh-system" in status.err, status
    assert cluster.kmeshctl("version", "-n", "kmesh-system").code == 0


# -- 2, 3 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [(), ("--dry-run",)], ids=["real", "dry-run"])
def test_install_names_every_conflict_at_once_and_no_namespace_advice_for_cluster_ones(
        cluster, extra) -> None:  # noqa: F811
    _user_objects(cluster)
    result = _install(cluster, *extra)
    assert result.code == 2 and result.out == "", result
    line = _one_error_line(result.err)
    assert line.startswith("ServiceAccount kmesh-system/kmesh, ClusterRole kmesh and EnvoyFilter "
                           "istio-system/skip-tunneling exist and were not made by kmeshctl; delete them ("), line
    assert [c[:5] for c in _commands(line, "kubectl")] == [
        ["kubectl", "delete", "serviceaccount", "kmesh", "-n"], ["kubectl", "delete", "clusterrole", "kmesh",
                                                                 "--kubeconfig"],
        ["kubectl", "delete", "envoyfilter", "skip-tunneling", "-n"]], line
    assert "(-n)" not in line.replace("--help", "") and "); nothing was applied" in line, line
    assert not cluster.server.writes()


def test_install_offers_another_namespace_only_when_every_conflict_is_in_it(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace_object("kmesh-system"), USER)
    cluster.server.put({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": "kmesh", "namespace": "kmesh-system"}}, USER)
    line = _one_error_line(_install(cluster).err)
    assert line.startswith("ServiceAccount kmesh-system/kmesh exists and was not made by kmeshctl; delete it (`"), line
    assert "or install into another namespace (-n); nothing was applied" in line, line


def test_precheck_fails_where_install_would_refuse_with_the_same_fix(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("precheck", "-o", "json").code == 0
    _user_objects(cluster)
    result = cluster.kmeshctl("precheck", "-o", "json")
    assert result.code == 1, result
    [row] = [c for c in json.loads(result.out)["checks"] if c["name"] == "objects install would write"]
    assert row["status"] == "fail", row
    assert row["detail"].startswith("ServiceAccount kmesh-system/kmesh, ClusterRole kmesh and EnvoyFilter "
                                    "istio-system/skip-tunneling exist and were not made by kmeshctl"), row
    install = _one_error_line(_install(cluster).err)
    assert row["fix"] in install, (row, install)
    assert row["fix"].startswith("delete them (`kubectl delete serviceaccount"), row
    others = [c for c in json.loads(result.out)["checks"] if c["name"] != "objects install would write"]
    assert all(c["status"] != "fail" for c in others), others


def test_precheck_row_passes_over_kmeshctls_own_install(cluster) -> None:  # noqa: F811
    assert _install(cluster, "-q").code == 0
    result = cluster.kmeshctl("precheck", "-o", "json")
    [row] = [c for c in json.loads(result.out)["checks"] if c["name"] == "objects install would write"]
    assert row["status"] == "pass", row


# -- 4 ----------------------------------------------------------------------------------------------


def test_status_of_a_namespace_stuck_terminating_says_why_and_suggests_no_install(cluster) -> None:  # noqa: F811
    held = "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    stuck = namespace_object("kmesh-system", {"app.kubernetes.io/managed-by": "kmeshctl"})
    stuck["metadata"]["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    stuck["status"] = {"phase": "Terminating", "conditions": [
        {"type": "NamespaceDeletionDiscoveryFailure", "status": "False", "message": "All resources discovered"},
        {"type": "NamespaceFinalizersRemaining", "status": "True", "message": held}]}
    cluster.server.put(stuck, USER)
    with cluster.server.lock:  # the conditions the namespace controller writes (the stand-in's create sets Active)
        cluster.server.objects[("", "namespaces", "", "kmesh-system")]["status"] = stuck["status"]
    result = cluster.kmeshctl("status")
    assert result.code == 1, result
    first = result.out.splitlines()[0]
    assert first.startswith(f"Being deleted: namespace kmesh-system is Terminating ({held}); install refuses it "
                            "until it is gone"), first
    assert "install" not in " ".join(c[1] for c in _commands(result.out, "kmeshctl")), result.out
    assert "Partly" not in result.out and "kmeshctl install" not in result.out, result.out
    state = json.loads(cluster.kmeshctl("status", "-o", "json").out)
    assert state["namespaceTerminating"] == held and "kmeshctl install" not in " ".join(state["problems"]), state
    install = _install(cluster)
    assert f"namespace kmesh-system is being deleted (Terminating: {held})" in install.err, install


# -- 5 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("at_kind,how", [("Namespace", "unchanged"), ("EnvoyFilter", "partly updated")])
def test_a_stopped_install_over_an_earlier_one_never_suggests_uninstall(cluster, monkeypatch, at_kind,
                                                                        how) -> None:  # noqa: F811
    assert _install(cluster, "-q").code == 0
    signal_when_applying(monkeypatch, at_kind, signal.SIGTERM)
    result = _install(cluster, "-q", "--image", "example.com/kmesh:h101" if at_kind == "EnvoyFilter" else
                      "docker.io/kmeshctl/kmeshctl-node:latest")
    assert result.code == 143, result
    # under -q too the image change is said (pass 31, a line with a fix): then the one error line
    noted, _, error = result.err.partition("\n")
    assert "the agents' image changes from" in noted and "uninstall" not in noted, result.err
    assert "(to keep it: `kmeshctl --kubeconfig " in noted, noted  # the --kubeconfig typed, as every fix line
    line = _one_error_line(error)
    assert "uninstall" not in line, line
    assert f"the earlier install is {how}: re-run `" in line and "to finish" in line, line


def test_a_stopped_first_install_still_offers_uninstall(cluster, monkeypatch) -> None:  # noqa: F811
    signal_when_applying(monkeypatch, "ClusterRole", signal.SIGTERM)
    line = _one_error_line(_install(cluster, "-q").err)
    assert "re-run `" in line and "or remove what was applied with `" in line and "uninstall" in line, line


@pytest.mark.parametrize("before", [True, False], ids=["over-an-install", "first"])
def test_a_failed_apply_suggests_uninstall_only_with_no_install_before(cluster, monkeypatch,
                                                                       before) -> None:  # noqa: F811
    from kmeshctl import apply as applier
    from kmeshctl.errors import KmeshctlError

    if before:
        assert _install(cluster, "-q").code == 0
    real = applier.apply_one

    def apply_one(client, obj):
        if obj["kind"] == "DaemonSet":
            raise KmeshctlError("the API server answered 500 (h101)")
        return real(client, obj)

    monkeypatch.setattr(applier, "apply_one", apply_one)
    result = _install(cluster, "-q")
    assert result.code == 1, result
    line = _one_error_line(result.err)
    assert line.startswith("DaemonSet kmesh-system/kmesh could not be applied: the API server answered 500"), line
    if before:
        assert "uninstall" not in line and "the earlier install is unchanged" in line, line
    else:
        assert "or remove what was applied with `" in line and "uninstall" in line, line


# -- 6 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("words,why", [
    (("install", "--cluster-id", "c1", "-n", "team-plain", "--istio-namespace", "team-plain"),
     "-n team-plain: the Istio namespace (--istio-namespace)"),
    (("uninstall", "-n", "team-plain", "--istio-namespace", "team-plain"),
     "-n team-plain: the Istio namespace (--istio-namespace)"),
    (("install", "--cluster-id", "c1", "-n", "default"), "-n default: reserved for Kubernetes (default, kube-*)"),
], ids=["install-istio", "uninstall-istio", "install-default"])
def test_a_namespace_refused_for_the_agent_says_the_real_reason(cluster, words, why) -> None:  # noqa: F811
    result = cluster.kmeshctl(*words)
    assert result.code == 2, result
    line = _one_error_line(result.err)
    assert line.startswith(why) and "uninstall deletes it" not in line, line
    assert "; use a dedicated one (default kmesh-system)" in line, line
    assert not cluster.server.writes()


# -- 7 ----------------------------------------------------------------------------------------------


def test_install_quiet_prints_one_summary_line(cluster) -> None:  # noqa: F811
    first = _install(cluster, "-q")
    assert first.code == 0 and first.out == "Installed: 10 objects applied (10 created).\n", first
    again = _install(cluster, "-q")
    assert again.code == 0 and again.out == "Nothing to do: the cluster already matches.\n", again
    loud = _install(cluster, "--image", "example.com/kmesh:h101")
    assert "DaemonSet kmesh-system/kmesh configured" in loud.out, loud


# -- 8 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["Kmesh", "ambient"])
def test_install_into_an_enrolled_namespace_is_refused_before_any_write(cluster, mode) -> None:  # noqa: F811
    cluster.server.put(namespace_object("team-x", {"istio.io/dataplane-mode": mode}), USER)
    result = _install(cluster, "-n", "team-x")
    assert result.code == 2, result
    line = _one_error_line(result.err)
    assert line.startswith(f"namespace team-x is enrolled in a data plane (istio.io/dataplane-mode={mode})"), line
    assert _commands(line, "kubectl")[0][:5] == ["kubectl", "label", "namespace", "team-x",
                                                 "istio.io/dataplane-mode-"], line
    assert not cluster.server.writes()


def test_install_into_an_opted_out_namespace_proceeds(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace_object("team-x", {"istio.io/dataplane-mode": "none"}), USER)
    assert _install(cluster, "-n", "team-x", "-q").code == 0


def test_disable_ns_puts_back_the_opt_out_enable_ns_overwrite_replaced(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace_object("team-y", {"istio.io/dataplane-mode": "none"}), USER)
    enabled = cluster.kmeshctl("enable-ns", "team-y", "--overwrite")
    assert enabled.code == 0 and "namespace team-y enrolled (was istio.io/dataplane-mode=none)" in enabled.out, enabled
    ns = cluster.server.get("v1", "Namespace", "team-y")
    assert ns["metadata"]["annotations"]["kmeshctl.io/previous-dataplane-mode"] == "none", ns
    released = cluster.kmeshctl("disable-ns", "team-y")
    assert released.code == 0, released
    assert "namespace team-y released (istio.io/dataplane-mode=none put back" in released.out, released.out
    ns = cluster.server.get("v1", "Namespace", "team-y")
    assert ns["metadata"]["labels"]["istio.io/dataplane-mode"] == "none", ns
    assert "kmeshctl.io/previous-dataplane-mode" not in (ns["metadata"].get("annotations") or {}), ns


def test_disable_ns_without_a_record_removes_the_label(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace_object("team-z"), USER)
    assert cluster.kmeshctl("enable-ns", "team-z").code == 0
    released = cluster.kmeshctl("disable-ns", "team-z")
    assert released.code == 0 and "namespace team-z released\n" in released.out, released
    ns = cluster.server.get("v1", "Namespace", "team-z")
    assert "istio.io/dataplane-mode" not in (ns["metadata"].get("labels") or {}), ns
