"""`precheck --istio-namespace nosuch` says the namespace does not exist and which ones
have istiod, and its FIX is the same precheck on that namespace with every other flag typed
(never the wrong namespace again, never a placeholder); a check with no fix has
`"fix": null` in JSON, as `node preflight -o json` (stand-in API server)."""

from __future__ import annotations

import json
import shlex

from standin_apiserver import cluster, make_cluster, namespace  # noqa: F401 (fixture)


def _istiod_row(result) -> dict:
    return next(c for c in json.loads(result.out)["checks"] if c["name"].startswith("istiod"))


def test_a_missing_istio_namespace_is_named_with_the_one_that_has_istiod(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("precheck", "--istio-namespace", "nosuch", "-n", "kmesh-h86", "-o", "json")
    assert result.code == 1
    row = _istiod_row(result)
    assert row["status"] == "fail"
    assert row["detail"] == "namespace nosuch does not exist (namespaces with istiod: istio-system)", row
    # every flag typed kept as typed, -o json too (h93)
    assert row["fix"] == (f"check with the namespace istiod runs in: `kmeshctl --kubeconfig {cluster.kubeconfig} "
                          "precheck -n kmesh-h86 --istio-namespace istio-system -o json`"), row
    assert "nosuch" not in row["fix"] and "HOST:PORT" not in row["fix"] and " ID" not in row["fix"]
    pasted = shlex.split(row["fix"].split("`")[1])[1:]
    again = cluster.kmeshctl(*pasted[2:])  # the fixture adds its own --kubeconfig
    assert _istiod_row(again)["status"] == "pass", again.out


def test_a_namespace_without_istiod_says_so_and_where_istiod_is(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("apps-h86"))
    result = cluster.kmeshctl("precheck", "--istio-namespace", "apps-h86", "-o", "json")
    row = _istiod_row(result)
    assert row["detail"] == ("no istiod* Service exposing 15012 in namespace apps-h86 (namespaces with istiod: "
                             "istio-system)"), row
    assert "`kmeshctl --kubeconfig" in row["fix"] and "precheck --istio-namespace istio-system" in row["fix"], row


def test_no_istiod_anywhere_says_what_to_do_in_words(make_cluster) -> None:  # noqa: F811
    bare = make_cluster(istiod_names=())
    result = bare.kmeshctl("precheck", "-o", "json")
    row = _istiod_row(result)
    assert "no istiod Service found in any namespace" in row["detail"], row
    assert "`" not in row["fix"] and "install Istio" in row["fix"], row


def test_a_passing_check_has_fix_null(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("precheck", "-o", "json")
    rows = json.loads(result.out)["checks"]
    passing = [r for r in rows if r["status"] == "pass"]
    assert passing and all(r["fix"] is None for r in passing), rows
    table = cluster.kmeshctl("precheck")
    assert "None" not in table.out
