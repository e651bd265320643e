"""Kind "precheck passes what install refuses" (h117, M6): kmesh installed with `-n OWN`,
then `precheck` with the defaults passed every row while `install --dry-run` was refused
(`kmesh is installed in namespace OWN, not kmesh-system; pass -n OWN`). precheck now has
a row running install's own check (kmeshctl.uninstall.check_install_namespaces), failing
with the same reason and fix.

Real parts: kmeshctl.cli.main in-process against the stand-in API server."""

from __future__ import annotations

import json

from kmeshctl import precheck
from standin_apiserver import cluster  # noqa: F401 (fixture)

OWN = "h117-own"


def _row(result) -> dict:
    [row] = [c for c in json.loads(result.out)["checks"] if c["name"] == precheck.INSTALL_NAMESPACES_CHECK]
    return row


def test_precheck_fails_where_install_refuses_the_namespace_with_the_same_reason(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "-n", OWN, "--no-wait", "-q").code == 0
    checked = cluster.kmeshctl("precheck", "-o", "json")
    assert checked.code == 1, checked
    row = _row(checked)
    assert row["status"] == "fail", row
    assert row["detail"] == f"kmesh is installed in namespace {OWN}, not kmesh-system: install would refuse it", row
    assert row["fix"].startswith(f"pass -n {OWN}"), row
    assert row["fix"] == (f"pass -n {OWN} (or uninstall it first): "
                          f"`kmeshctl --kubeconfig {cluster.kubeconfig} precheck -o json -n {OWN}`"), row
    refused = cluster.kmeshctl("install", "--cluster-id", "X", "--dry-run")
    assert refused.code == 2, refused
    problem = row["detail"].removesuffix(": install would refuse it")
    assert f"Error: {problem}; pass -n {OWN}" in refused.err, (refused.err, row)
    # the pasted fix passes this row
    fixed = cluster.kmeshctl("precheck", "-n", OWN, "-o", "json")
    assert _row(fixed)["status"] == "pass", _row(fixed)


def test_the_row_passes_with_no_install_and_in_the_table(cluster) -> None:  # noqa: F811
    row = _row(cluster.kmeshctl("precheck", "-o", "json"))
    assert row["status"] == "pass" and row["fix"] is None, row
    table = cluster.kmeshctl("precheck")
    assert any(ln.startswith(precheck.INSTALL_NAMESPACES_CHECK) for ln in table.out.splitlines()), table.out
