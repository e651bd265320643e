"""Fixer f37b, t37c's findings 2, 3, 4, 5, 6, 8 (pass 37).

2 precheck -n NS fails a row for NS being deleted (Terminating, a finalizer holds it), with
  what holds it, as install refuses it.
3 install into that namespace says the namespace is Terminating and what holds it (not
  `kmesh is being uninstalled`: kmesh may never have been there), with the install to re-run.
5 waypoint status -n NS (Terminating, no waypoint) says the namespace is being deleted and
  offers no `waypoint apply` (refused there).
6 enable-ns NS (with or without --wait) on a Terminating namespace is refused, nothing changed.
8 waypoint delete -n NOSUCH says the namespace does not exist, exit 2 (as list/status/apply).
4 install --kubernetes-version 1.28 over an install on a cluster serving the policy: the
  policy's objects stay (install deletes none), said so; `Nothing to do` does not claim the
  cluster matches; the fix line leaves --kubernetes-version out.

Real parts: kmeshctl.cli.main in-process against the stand-in API server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd
from test_p36_f36e import _terminating

HELD = "Terminating: Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"


def _last(result: Any) -> str:
    return result.err.strip().splitlines()[-1]


# -- 2: precheck ---------------------------------------------------------------------------------


def test_precheck_fails_a_namespace_being_deleted(cluster: Any) -> None:  # noqa: F811
    _terminating(cluster, "going")
    result = cluster.kmeshctl("precheck", "-n", "going", "-o", "json")
    assert result.code == 1, result
    data = json.loads(result.out)
    assert data["ok"] is False, data
    row = next(c for c in data["checks"] if c["name"] == "namespace not being deleted")
    assert row["status"] == "fail" and f"namespace going is being deleted ({HELD})" in row["detail"], row
    assert "kubectl get namespace going -o yaml" in row["fix"], row


def test_precheck_passes_an_open_or_absent_namespace(cluster: Any) -> None:  # noqa: F811
    cluster.server.put(namespace("open"))
    for ns, said in (("open", "namespace open is not being deleted"),
                     ("absent", "namespace absent does not exist: install creates it")):
        data = json.loads(cluster.kmeshctl("precheck", "-n", ns, "-o", "json").out)
        row = next(c for c in data["checks"] if c["name"] == "namespace not being deleted")
        assert row["status"] == "pass" and row["detail"] == said, row


# -- 3: install ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["apply", "dry-run"])
def test_install_into_a_terminating_namespace_says_why(cluster: Any, dry_run: list[str]) -> None:  # noqa: F811
    _terminating(cluster, "going")
    result = cluster.kmeshctl("install", "-n", "going", "--cluster-id", "c1", *dry_run)
    assert result.code == 1, result
    line = _last(result)
    assert line.startswith(f"Error: namespace going is being deleted ({HELD}): "), line
    assert "uninstall" not in line and "kubectl get namespace going -o yaml" in line, line
    assert "re-run `kmeshctl" in line and "-n going" in line and "--cluster-id c1" in line, line
    assert not cluster.server.all_of("apps/v1", "DaemonSet")


# -- 5: waypoint status --------------------------------------------------------------------------


def test_waypoint_status_in_a_terminating_namespace_offers_no_apply(cluster: Any) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    _terminating(cluster, "going")
    result = cluster.kmeshctl("waypoint", "status", "-n", "going")
    assert result.code == 1, result
    line = _last(result)
    assert f"namespace going is being deleted ({HELD})" in line and "waypoint apply" not in line, line


# -- 6: enable-ns --------------------------------------------------------------------------------


@pytest.mark.parametrize("wait", [[], ["--wait"]], ids=["plain", "wait"])
def test_enable_ns_refuses_a_terminating_namespace(cluster: Any, wait: list[str]) -> None:  # noqa: F811
    _terminating(cluster, "going")
    result = cluster.kmeshctl("enable-ns", "going", *wait)
    assert result.code == 1, result
    line = _last(result)
    assert line.startswith(f"Error: namespace going is being deleted ({HELD}): nothing there to enroll; nothing was "
                           "changed"), line
    labels = cluster.server.objects[("", "namespaces", "", "going")]["metadata"].get("labels") or {}
    assert "istio.io/dataplane-mode" not in labels, labels


# -- 8: waypoint delete -n NOSUCH ----------------------------------------------------------------


def test_waypoint_delete_in_a_namespace_that_does_not_exist_is_bad_input(cluster: Any) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    result = cluster.kmeshctl("waypoint", "delete", "-n", "nosuch")
    assert result.code == 2, result
    assert _last(result).startswith("Error: namespace nosuch does not exist (namespaces: "), result
    quiet = cluster.kmeshctl("waypoint", "delete", "-n", "nosuch", "--ignore-not-found")
    assert quiet.code == 0, quiet  # as kubectl delete --ignore-not-found


# -- 4: install --kubernetes-version older than the cluster's ------------------------------------


def test_install_typed_old_version_over_an_install_says_the_policy_stays(cluster: Any) -> None:  # noqa: F811
    first = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait")
    assert first.code == 0, first
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "--kubernetes-version", "1.28")
    assert result.code == 0, result
    assert "the agent may patch any pod" not in result.err and "already matches." not in result.out, result
    assert "install deletes none" in result.err and "still holds" in result.err, result
    fix = result.err.split("`")[-2]
    assert "--kubernetes-version" not in fix and "--cluster-id c1" in fix and "--no-wait" in fix, fix
    assert "Nothing to do: every object this install writes already matches (ValidatingAdmissionPolicy " in \
        result.out, result
    assert cluster.server.all_of("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy")


def test_install_typed_old_version_first_time_says_the_cluster_serves_it(cluster: Any) -> None:  # noqa: F811
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "--kubernetes-version", "1.28")
    assert result.code == 0, result
    assert "though the cluster serves them: the agent may patch any pod" in result.err, result
    fix = result.err.split("`")[-2]
    assert "--kubernetes-version" not in fix and "install" in fix, fix
