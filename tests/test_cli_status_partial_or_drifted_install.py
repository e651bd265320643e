"""Issue 14 (h73), kind "status says healthy, or not installed, when the install is half
there or not what install renders":

- M3: an uninstall stopped after the DaemonSet left the other objects: `partly
  installed or partly uninstalled: 6 of 10 objects exist (...); re-run `kmeshctl install ...` or
  `kmeshctl uninstall``, exit 1, the JSON lists them (h84: an interrupted install looks the same);
- M1: the ClusterRoleBinding binding another namespace's ServiceAccount, or the
  ClusterRole's rules emptied, is a problem naming the object and the install that
  restores it (its flags read back from the DaemonSet), exit 1;
- L7: an agent pod no node took shows `<not scheduled>` as its NODE and `not scheduled`
  in the problem line, never `on ?`.

Real parts: kmeshctl.cli.main in-process against the stand-in API server (tests/standin);
the agents' admin endpoint answers `connected synced` (the stand-in runs no agent)."""

from __future__ import annotations

import copy
import json
import shlex

import pytest

from kmeshctl.uninstall import installed_objects
from standin_apiserver import cluster  # noqa: F401 (fixture)

RBAC = "rbac.authorization.k8s.io/v1"
REMAINING = ["Namespace kmesh-system", "ServiceAccount kmesh-system/kmesh", "ClusterRole kmesh",
             "ClusterRoleBinding kmesh", "ValidatingAdmissionPolicy kmesh-pod-patch-own-node",
             "ValidatingAdmissionPolicyBinding kmesh-pod-patch-own-node"]


@pytest.fixture
def installed(cluster, monkeypatch):  # noqa: F811
    from kmeshctl import config_dump

    monkeypatch.setattr(config_dump, "fetch_from_pod", lambda path, pod, ns, port, target: {
        "address": "istiod-1-22-6.istio-system.svc:15012", "connected": True, "synced": True})
    cluster.server.daemonset_controller = "ready"
    result = cluster.kmeshctl("install", "--cluster-id", "c-h73", "--timeout", "20", "-q")
    assert result.code == 0, result
    assert cluster.kmeshctl("status").code == 0
    return cluster


def _not_healthy(result) -> str:
    return next(line for line in result.out.splitlines() if line.startswith("Not healthy:"))


def _pasted(text: str) -> list[str]:
    return shlex.split(next(c for c in text.split("`")[1::2] if c.startswith("kmeshctl")))


# -- M3: partly uninstalled -----------------------------------------------------------------------


def _stopped_after_the_daemonset(cluster) -> None:  # noqa: F811
    """What an uninstall interrupted once the DaemonSet went leaves (reverse apply order)."""
    for obj in installed_objects("kmesh-system", "istio-system"):
        if obj["kind"] in ("DaemonSet", "EnvoyFilter"):
            cluster.server.delete_object(obj["apiVersion"], obj["kind"], obj["metadata"]["name"],
                                         obj["metadata"].get("namespace", ""))


def test_a_partly_uninstalled_mesh_names_what_remains_and_the_uninstall(installed) -> None:
    _stopped_after_the_daemonset(installed)
    result = installed.kmeshctl("--context", "standin", "status")
    assert result.code == 1, result
    line = result.out.splitlines()[0]
    assert line.startswith(f"Partly installed or partly uninstalled: 6 of 10 objects exist ({', '.join(REMAINING)}); "
                           "re-run `"), line
    assert "Not installed" not in result.out, result
    commands = [shlex.split(c) for c in line.split("`")[1::2]]
    prefix = ["kmeshctl", "--kubeconfig", str(installed.kubeconfig), "--context", "standin"]
    # no DaemonSet nor agent pod to read the image back from: the default image's line, said so (t41c 3: never
    # an IMAGE to fill in, which pastes as an image named so)
    assert commands == [[*prefix, "install", "--cluster-id", "ID"], [*prefix, "uninstall"]], line
    assert "it puts in the default agent image" in line, line
    data = json.loads(installed.kmeshctl("status", "-o", "json").out)
    assert not data["installed"] and not data["healthy"], data
    assert data["remainingObjects"] == REMAINING, data
    assert data["problems"][0].startswith("partly installed or partly uninstalled: 6 of 10 objects exist"), data


def test_the_pasted_uninstall_finishes_it(installed) -> None:
    _stopped_after_the_daemonset(installed)
    line = installed.kmeshctl("status").out.splitlines()[0]
    words = shlex.split(line.split("`")[3])
    assert words[-1] == "uninstall", line
    assert installed.kmeshctl(*words[3:], "-q").code == 0
    result = installed.kmeshctl("status")
    assert result.code == 1 and result.out.startswith("Not installed:"), result


# -- M1: RBAC unlike what install renders ---------------------------------------------------------


def _edit(cluster, kind: str, change, manager: str = "kmeshctl") -> None:  # noqa: F811
    obj = copy.deepcopy(cluster.server.get(RBAC, kind, "kmesh"))
    change(obj)
    cluster.server.put(obj, manager=manager)


def test_a_binding_of_another_namespace_s_account_is_a_problem(installed) -> None:
    _edit(installed, "ClusterRoleBinding", lambda o: o["subjects"][0].update(namespace="h73-other"))
    result = installed.kmeshctl("status")
    assert result.code == 1, result
    line = _not_healthy(result)
    restore = (f"`kmeshctl --kubeconfig {installed.kubeconfig} install --cluster-id c-h73 --xds-address "
               "istiod-1-22-6.istio-system.svc:15012 --force-conflicts`")
    assert ("ClusterRoleBinding kmesh binds ServiceAccount h73-other/kmesh, not ServiceAccount kmesh-system/kmesh "
            f"(restore it with {restore})") in line, line
    data = json.loads(installed.kmeshctl("status", "-o", "json").out)
    assert data["differingObjects"] == ["ClusterRoleBinding kmesh binds ServiceAccount h73-other/kmesh, not "
                                        "ServiceAccount kmesh-system/kmesh"], data


def test_emptied_role_rules_are_a_problem_and_the_install_restores_them(installed) -> None:
    # as `kubectl patch clusterrole kmesh --type=json ...` does: another field manager owns .rules
    _edit(installed, "ClusterRole", lambda o: o.update(rules=[]), manager="kubectl-patch")
    result = installed.kmeshctl("status")
    assert result.code == 1, result
    line = _not_healthy(result)
    assert "ClusterRole kmesh has no rules (install renders 5 rules): the agent is refused (restore it with `" in line
    pasted = _pasted(line.split("restore it with ")[1])
    assert pasted[-1] == "--force-conflicts", pasted
    assert installed.kmeshctl(*pasted[3:], "-q", "--timeout", "20").code == 0
    assert installed.kmeshctl("status").code == 0
    owners = {m["manager"]: json.dumps(m.get("fieldsV1", {}))
              for m in installed.server.get(RBAC, "ClusterRole", "kmesh")["metadata"]["managedFields"]}
    assert '"f:rules"' in owners["kmeshctl"] and '"f:rules"' not in owners.get("kubectl-patch", ""), owners


def test_an_install_refused_by_a_conflict_offers_force_conflicts(installed) -> None:
    _edit(installed, "ClusterRole", lambda o: o.update(rules=[]), manager="kubectl-patch")
    result = installed.kmeshctl("install", "--cluster-id", "c-h73", "--timeout", "20", "-q")
    assert result.code == 1, result
    line = result.err.strip().splitlines()[-1]
    assert 'field manager "kubectl-patch" owns .rules' in line and "nothing was applied" in line, line
    assert "; to take them back for kmeshctl, re-run with --force-conflicts: `" in line, line
    words = _pasted(line.split("re-run with --force-conflicts: ")[1])
    assert words[:6] == ["kmeshctl", "--kubeconfig", str(installed.kubeconfig), "install", "--cluster-id", "c-h73"]
    assert sorted(words[6:]) == sorted(["--timeout", "20s", "-q", "--force-conflicts"]), words
    dry = installed.kmeshctl(*words[3:], "--dry-run", "-o", "json")
    assert dry.code == 0, dry
    assert installed.server.get(RBAC, "ClusterRole", "kmesh")["rules"] == [], "a dry run changed the object"
    assert installed.kmeshctl(*words[3:]).code == 0
    assert installed.kmeshctl("status").code == 0


def test_a_rule_taken_away_is_named(installed) -> None:
    _edit(installed, "ClusterRole", lambda o: o.update(rules=[r for r in o["rules"] if "nodes" not in r["resources"]]))
    line = _not_healthy(installed.kmeshctl("status"))
    assert "ClusterRole kmesh lacks get nodes (restore it with `" in line, line


# -- L7: an agent pod no node took ----------------------------------------------------------------


def test_an_unscheduled_agent_pod_says_so(installed) -> None:
    from standin.controllers import unscheduled_status

    pod = copy.deepcopy(installed.server.get("v1", "Pod", "kmesh-node-b", "kmesh-system"))
    pod["metadata"]["name"] = "kmesh-h73-pending"
    del pod["metadata"]["uid"], pod["metadata"]["resourceVersion"]
    pod["spec"].pop("nodeName")
    pod["status"] = unscheduled_status()
    installed.server.put(pod)
    result = installed.kmeshctl("status")
    assert result.code == 1, result
    row = next(line for line in result.out.splitlines() if "kmesh-h73-pending" in line)
    assert row.split()[:3] == ["<not", "scheduled>", "kmesh-h73-pending"], row
    line = _not_healthy(result)
    assert "pod kmesh-h73-pending not scheduled (Unschedulable" in line and " on ?" not in line, line
