"""Issue 14, kind "a table cell is a few words, names are never cut": `status` in an
80-column terminal with every agent unreachable shows `unknown (port-forward failed)` in
ISTIOD, the port-forward error once under the table, and each node and pod name whole.

Real parts: kmeshctl.cli.main in-process against the stand-in API server (tests/standin),
whose pods cannot be port-forwarded to (no kubelet backend): the agents cannot be asked."""

from __future__ import annotations

from standin_apiserver import cluster, node  # noqa: F401 (fixture)

LONG_NODE = "ip-10-0-12-34.eu-west-1.compute.internal"  # as EKS names its nodes


def _installed(cluster) -> None:  # noqa: F811
    cluster.server.daemonset_controller = "ready"
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "20", "-q").code == 0


def test_status_at_80_columns_keeps_cells_short_and_names_whole(cluster, monkeypatch) -> None:  # noqa: F811
    cluster.server.put(node(LONG_NODE))
    _installed(cluster)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich draws as for a terminal
    monkeypatch.setenv("TTY_INTERACTIVE", "0")
    result = cluster.kmeshctl("status")
    assert result.code == 1, result
    text = result.out
    assert "…" not in text, text
    table = text.split("\nAgent ")[0]
    assert table.count("(port-forward") == 3 and len(table.splitlines()) <= 14, table  # a few words a cell
    for name in ("node-a", "node-b", "kmesh-node-a", "kmesh-node-b", LONG_NODE):
        assert f" {name} " in f" {table} ".replace("\n", " "), (name, table)
    assert text.count("cannot port-forward to kmesh-system/kmesh-node-a") == 1, text  # once, below the table
    assert "cannot port-forward" not in table and "kubectl" not in table, table


def test_status_piped_gives_the_detail_once_too(cluster) -> None:  # noqa: F811
    _installed(cluster)
    result = cluster.kmeshctl("status")
    assert result.code == 1 and result.out.count("cannot port-forward to kmesh-system/kmesh-node-b") == 1, result
    assert "unknown (port-forward failed)" in result.out, result
    assert f"`kubectl get pods -n kmesh-system --kubeconfig {cluster.kubeconfig}`" in result.out, result
