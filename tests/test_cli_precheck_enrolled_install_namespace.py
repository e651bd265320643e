"""Kind "precheck passes what install refuses" (h110): an install namespace enrolled in a
data plane (istio.io/dataplane-mode=Kmesh or ambient; `none` is an opt-out) is refused by
install (kmesh's own pods must not be redirected). precheck now has a row for it, failing
with install's reason and fix: one function (kmeshctl.apply.enrolled_refusal) for both.

Real parts: kmeshctl.cli.main in-process against the stand-in API server."""

from __future__ import annotations

import json

import pytest

from kmeshctl import apply, precheck
from standin_apiserver import cluster  # noqa: F401 (fixture)
from standin_apiserver import namespace as namespace_object

USER_MANAGER = "kubectl-create"
TEAM = "h110-team"
LABEL = "istio.io/dataplane-mode"


def _row(result) -> dict:
    [row] = [c for c in json.loads(result.out)["checks"] if c["name"] == precheck.ENROLLED_CHECK]
    return row


@pytest.mark.parametrize("value", ["Kmesh", "ambient"])
def test_an_enrolled_install_namespace_fails_with_install_s_reason_and_fix(cluster, value: str) -> None:  # noqa: F811
    cluster.server.put(namespace_object(TEAM, {LABEL: value}), USER_MANAGER)
    checked = cluster.kmeshctl("precheck", "-n", TEAM, "-o", "json")
    assert checked.code == 1, checked
    row = _row(checked)
    assert row["status"] == "fail", row
    assert row["detail"] == (f"namespace {TEAM} is enrolled in a data plane ({LABEL}={value}), and the node agent's "
                             "own pods must not be redirected: install would refuse it"), row
    assert row["fix"].startswith(f"remove the label (`kubectl label namespace {TEAM} {LABEL}-"), row
    assert row["fix"].endswith("or install into another namespace (-n)"), row
    refused = cluster.kmeshctl("install", "--cluster-id", "c1", "-n", TEAM, "--no-wait")
    assert refused.code == 2, refused
    problem = row["detail"].removesuffix(": install would refuse it")
    assert f"Error: {problem}; nothing was applied; {row['fix']}" in refused.err, (refused.err, row)
    table = cluster.kmeshctl("precheck", "-n", TEAM)
    assert table.code == 1, table
    [line] = [ln for ln in table.out.splitlines() if ln.startswith(precheck.ENROLLED_CHECK)]
    assert " fail " in line, table.out


def test_install_s_own_namespace_enrolled_is_refused_by_both(cluster) -> None:  # noqa: F811
    """A kmesh-system that kmeshctl made and someone enrolled: install refuses it too."""
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    ns = cluster.server.get("v1", "Namespace", "kmesh-system")
    ns["metadata"].setdefault("labels", {})[LABEL] = "Kmesh"
    cluster.server.put(ns, USER_MANAGER)
    assert _row(cluster.kmeshctl("precheck", "-o", "json"))["status"] == "fail"
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 2


@pytest.mark.parametrize("labels,words", [
    ({LABEL: "none"}, f"opted out ({LABEL}=none)"),
    ({"team": "h110"}, f"has no {LABEL} label"),
], ids=["opted-out", "unlabelled"])
def test_a_namespace_install_accepts_passes(cluster, labels: dict, words: str) -> None:  # noqa: F811
    cluster.server.put(namespace_object(TEAM, labels), USER_MANAGER)
    checked = cluster.kmeshctl("precheck", "-n", TEAM, "-o", "json")
    row = _row(checked)
    assert row == {"name": precheck.ENROLLED_CHECK, "status": "pass", "detail": f"namespace {TEAM} {words}",
                   "fix": None}, row
    assert checked.code == 0, checked.out
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "-n", TEAM, "--no-wait", "-q").code == 0


def test_a_missing_namespace_passes_and_uninstall_has_no_such_row(cluster) -> None:  # noqa: F811
    row = _row(cluster.kmeshctl("precheck", "-n", "kmesh-h110", "-o", "json"))
    assert row["status"] == "pass" and "does not exist" in row["detail"], row
    cluster.server.put(namespace_object(TEAM, {LABEL: "Kmesh"}), USER_MANAGER)
    checks = json.loads(cluster.kmeshctl("precheck", "--uninstall", "-n", TEAM, "-o", "json").out)["checks"]
    assert precheck.ENROLLED_CHECK not in [c["name"] for c in checks], checks


def test_one_function_decides_for_install_and_precheck(cluster, monkeypatch) -> None:  # noqa: F811
    """precheck's row is apply.enrolled_refusal itself, and install refuses through it:
    with it changed, install accepts what it refused."""
    assert precheck.enrolled_refusal is apply.enrolled_refusal
    cluster.server.put(namespace_object(TEAM, {LABEL: "Kmesh"}), USER_MANAGER)
    monkeypatch.setattr(apply, "enrolled_refusal", lambda ns: None)
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "-n", TEAM, "--no-wait", "-q").code == 0
