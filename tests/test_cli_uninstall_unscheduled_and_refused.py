"""Issue 14 (h73), uninstall's words for what it meets:

- M5: an agent pod no node ever took (Pending, Unschedulable, no nodeName) ran nowhere,
  so it left nothing to clean up: it counts as stopped, exit 0 (not "needs cleanup");
- M6: a 403 points at `kmeshctl precheck --uninstall`, which checks what uninstall needs
  (get and delete on each object, list pods everywhere) with a SelfSubjectAccessReview
  each, and names the permission refused;
- L1: kubectl's flags uninstall / status do not take (--ignore-not-found, --wait=false,
  -y, -w) say what the command does instead;
- L5: `disable-ns` of a namespace that does not exist says only to correct the name,
  listing the namespaces enrolled.

Real parts: kmeshctl.cli.main in-process against the stand-in API server (tests/standin)."""

from __future__ import annotations

import copy
import json
import shlex

import pytest

from standin_apiserver import cluster  # noqa: F401 (fixture)


@pytest.fixture
def installed(cluster):  # noqa: F811
    cluster.server.daemonset_controller = "ready"
    result = cluster.kmeshctl("install", "--cluster-id", "c-h73", "--timeout", "20", "-q")
    assert result.code == 0, result
    return cluster


def _unscheduled_agent(cluster) -> None:  # noqa: F811
    from standin.controllers import unscheduled_status

    pod = copy.deepcopy(cluster.server.get("v1", "Pod", "kmesh-node-b", "kmesh-system"))
    pod["metadata"]["name"] = "kmesh-h73-pending"
    del pod["metadata"]["uid"], pod["metadata"]["resourceVersion"]
    pod["spec"].pop("nodeName")
    pod["status"] = unscheduled_status()
    cluster.server.put(pod)


def test_an_agent_pod_never_scheduled_needs_no_cleanup(installed) -> None:
    _unscheduled_agent(installed)
    result = installed.kmeshctl("uninstall", "-o", "json")
    assert result.code == 0, result
    nodes = {n["agent"]: n for n in json.loads(result.out)["nodes"]}
    pending = nodes["node (unscheduled): agent pod kmesh-system/kmesh-h73-pending"]
    assert pending["outcome"] == "stopped" and "never scheduled" in pending["detail"], pending
    assert {n["outcome"] for n in nodes.values()} == {"stopped"}, nodes


def test_a_refused_delete_points_at_precheck_uninstall(installed, monkeypatch) -> None:
    """The DaemonSet's DELETE answered 403 as kube-apiserver words it (the stand-in's
    RBAC is its SelfSubjectAccessReviews only); the access review denies it too."""
    from kmeshctl import kube

    real_delete = kube.KubeClient.delete

    def delete(self, api_version, kind, name, namespace=None, *args, **kwargs):
        if kind == "DaemonSet":
            path = self.kind(api_version, kind).object_path(name, namespace)
            raise kube._api_error(403, "DELETE", path, {"reason": "Forbidden", "message": (
                f'daemonsets.apps "{name}" is forbidden: User "bob" cannot delete resource "daemonsets" in API '
                f'group "apps" in the namespace "{namespace}"')})
        return real_delete(self, api_version, kind, name, namespace, *args, **kwargs)

    monkeypatch.setattr(kube.KubeClient, "delete", delete)
    installed.server.deny("delete", "apps", "daemonsets")
    result = installed.kmeshctl("--context", "standin", "uninstall", "-n", "kmesh-system")
    assert result.code == 1, result
    line = result.err.strip().splitlines()[-1]
    assert "ask a cluster admin for RBAC permission to delete daemonsets.apps in namespace kmesh-system" in line, line
    assert "lists what install needs" not in line, line
    check = next(c for c in line.split("`")[1::2] if "precheck" in c)
    assert shlex.split(check) == ["kmeshctl", "--kubeconfig", str(installed.kubeconfig), "--context", "standin",
                                  "precheck", "-n", "kmesh-system", "--uninstall"], line
    assert line.endswith(f"(`{check}` lists what uninstall needs)"), line
    pasted = installed.kmeshctl(*shlex.split(check)[3:], "-o", "json")
    assert pasted.code == 1, pasted
    checks = {c["name"]: c for c in json.loads(pasted.out)["checks"]}
    assert list(checks) == ["API reachable", "namespaces of the install on the cluster", "permissions to uninstall"], \
        checks
    assert checks["permissions to uninstall"]["detail"] == "denied: delete daemonsets.apps in kmesh-system", checks


def test_precheck_uninstall_passes_when_every_delete_is_allowed(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("precheck", "--uninstall", "-o", "json")
    assert result.code == 0, result
    check = json.loads(result.out)["checks"][-1]
    assert check == {"name": "permissions to uninstall", "status": "pass",
                     "detail": "may get/delete every object install creates", "fix": None}, check
    reviews = [r for r in cluster.server.requests if "selfsubjectaccessreviews" in r.path]
    assert len(reviews) == 10 * 2 + 1  # get/delete on each object, list pods everywhere


def test_precheck_uninstall_names_list_pods_everywhere(cluster) -> None:  # noqa: F811
    cluster.server.deny("list", "", "pods")
    result = cluster.kmeshctl("precheck", "--uninstall")
    assert result.code == 1 and "list pods in every namespace" in result.out, result


@pytest.mark.parametrize("words, hint", [
    (("uninstall", "--ignore-not-found"), "uninstall is already idempotent (what is not found is skipped, exit 0): "
                                          "leave --ignore-not-found out"),
    (("uninstall", "--wait=false"), "uninstall always waits for each object to go"),
    (("uninstall", "-y"), "uninstall does not ask: leave -y out"),
    (("uninstall", "--yes"), "uninstall does not ask: leave --yes out"),
    (("status", "-w"), "status shows the state once, it has no watch mode: leave -w out and re-run it"),
    (("status", "--watch"), "leave --watch out"),
])
def test_kubectl_flags_the_command_lacks_say_what_it_does_instead(cluster, words, hint) -> None:  # noqa: F811
    result = cluster.kmeshctl(*words)
    assert result.code == 2 and result.out == "", result
    line = result.err.strip()
    assert "\n" not in line and hint in line and "did you mean" not in line, line
    assert line.startswith(f"Error: No such option: {words[1].partition('=')[0]}; {words[0]} "), line


def test_disable_ns_of_a_missing_namespace_says_only_to_correct_the_name(installed) -> None:
    from standin_apiserver import namespace

    for name in ("h73-a", "h73-b"):
        installed.server.put(namespace(name))
    assert installed.kmeshctl("enable-ns", "h73-a").code == 0
    result = installed.kmeshctl("disable-ns", "h73-nosuch")
    assert result.code == 2, result
    assert "namespace(s) not found: h73-nosuch (nothing was changed); correct the names (enrolled: h73-a)" \
        in result.err, result
    assert "create" not in result.err, result
    assert installed.kmeshctl("disable-ns", "h73-a").code == 0
    none = installed.kmeshctl("disable-ns", "h73-nosuch")
    assert "correct the names (none is enrolled; namespaces: default" in none.err or \
        "correct the names (none is enrolled; namespaces: h73-a" in none.err, none
    made = installed.kmeshctl("enable-ns", "h73-nosuch")
    # enable-ns offers the create line to paste (pass 38, t38c 11), disable-ns none
    assert "create it first: `kubectl create namespace h73-nosuch" in made.err, made
    assert "or correct the names" in made.err, made
