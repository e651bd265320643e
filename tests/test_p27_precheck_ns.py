"""Pass 27 (F27-2).

1. precheck said pass for a check it could not make: with a token that may not list
   DaemonSets, `namespaces of the install on the cluster` passed ("none found"), since
   install's own lookup takes a refused read as nothing there. Now every row whose reads
   are refused is warn (the check install skips too) or fail, naming the refusal (the
   server's words: verb and resource) and, as FIX, the permission with kubectl's check of
   it (`kubectl auth can-i list daemonsets.apps -A`, the typed --kubeconfig kept).
2. enable-ns / disable-ns suggested a name already typed (`disable-ns a b nosuch` ->
   `did you mean b?` and a command naming b twice): a guess is never a name the command
   names already; when that is the only close one, the fix says to leave the typo out.

Real parts: kmeshctl.cli.main in-process against the stand-in API server; a refusal is
the stand-in answering 403 as kube-apiserver words it (the stand-in has no RBAC)."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import pytest

from standin import HttpError
from standin.frontend import _Handler
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)

_ROUTE = _Handler.route
BACKTICKED = re.compile(r"`([^`]+)`")
USER = "system:serviceaccount:default:t27-2"
MODE = "istio.io/dataplane-mode"


def _resource(parts: list[str]) -> tuple[str, str, str, str]:
    """(group, plural, namespace, name) of a resource path's parts."""
    group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
    where = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        where, rest = rest[1], rest[2:]
    return group, rest[0], where, rest[1] if len(rest) > 1 else ""


def _forbidden(group: str, plural: str, where: str, name: str) -> HttpError:
    """A 403 as kube-apiserver words it."""
    verb = "get" if name else "list"
    what = f'{plural}{"." + group if group else ""}' + (f' "{name}"' if name else "")
    scope = f'in the namespace "{where}"' if where else "at the cluster scope"
    return HttpError(403, "Forbidden", f'{what} is forbidden: User "{USER}" cannot {verb} resource "{plural}" in '
                                       f'API group "{group}" {scope}')


def _refuse(monkeypatch: Any, refused: Any) -> None:
    """Every GET of a resource ``refused(group, plural, namespace)`` is true for answers 403
    (the discovery documents, /version and the access reviews never are: every user may)."""

    def route(self, method, parts, query, values, body, dry_run):  # type: ignore[no-untyped-def]
        resource_path = len(parts) > (2 if parts[0] == "api" else 3) and parts[0] in ("api", "apis")
        if method == "GET" and resource_path:
            group, plural, where, name = _resource(parts)
            if refused(group, plural, where):
                raise _forbidden(group, plural, where, name)
        return _ROUTE(self, method, parts, query, values, body, dry_run)

    monkeypatch.setattr(_Handler, "route", route)


def _rows(result) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {row["name"]: row for row in json.loads(result.out)["checks"]}


def _can_i(cluster, fix: str) -> list[list[str]]:  # noqa: F811
    """The `kubectl auth can-i ...` lines of ``fix`` (words after can-i); each keeps the
    stand-in's --kubeconfig."""
    found = []
    for line in (c for c in BACKTICKED.findall(fix) if c.startswith("kubectl auth can-i ")):
        words = shlex.split(line)
        assert words[-2:] == ["--kubeconfig", str(cluster.kubeconfig)], fix
        found.append(words[3:-2])
    return found


# ------------------------------------------------------------------ 1. never pass unchecked


def test_a_token_with_no_rbac_gets_no_pass_for_the_install_namespaces(cluster, monkeypatch) -> None:  # noqa: F811
    _refuse(monkeypatch, lambda group, plural, where: True)
    monkeypatch.setattr(type(cluster.server), "access_review", lambda self, review: {**review, "status": {
        "allowed": False, "reason": "no RBAC"}})
    result = cluster.kmeshctl("precheck", "-o", "json")
    assert result.code == 1, result
    rows = _rows(result)
    passed = {name for name, row in rows.items() if row["status"] == "pass"}
    # what every user may read: /version and the discovery documents
    assert passed <= {"API reachable", "Kubernetes version", "Istio CRD EnvoyFilter", "Istio CRD VirtualService",
                      "Istio CRD DestinationRule"}, rows
    row = rows["namespaces of the install on the cluster"]
    assert row["status"] == "warn", row
    assert row["detail"].startswith("not checked: could not look for an install in other namespaces than "
                                    "-n kmesh-system, --istio-namespace istio-system: Forbidden: "), row
    assert 'cannot list resource "daemonsets" in API group "apps" at the cluster scope' in row["detail"], row
    assert "ask a cluster admin for RBAC permission to list daemonsets.apps" in row["fix"], row
    assert ["list", "daemonsets.apps", "-A"] in _can_i(cluster, row["fix"]), row


def test_only_the_daemonset_list_refused_warns_and_exits_0(cluster, monkeypatch) -> None:  # noqa: F811
    """install goes on without that read (its writes say what is denied): warn, not fail."""
    _refuse(monkeypatch, lambda group, plural, where: plural == "daemonsets" and not where)
    result = cluster.kmeshctl("precheck", "-o", "json")
    assert result.code == 0, result
    rows = _rows(result)
    assert [name for name, row in rows.items() if row["status"] != "pass"] == \
        ["namespaces of the install on the cluster"], rows
    assert rows["namespaces of the install on the cluster"]["status"] == "warn"
    table = cluster.kmeshctl("precheck")
    assert table.code == 0 and "none found in other namespaces" not in table.out, table


def test_an_install_found_elsewhere_still_fails_with_a_read_refused(cluster, monkeypatch) -> None:  # noqa: F811
    """What could be read still decides: the EnvoyFilters of an install in another Istio
    namespace refuse the flag even when the DaemonSets may not be listed."""
    assert cluster.kmeshctl("install", "--cluster-id", "c-t27", "--no-wait", "-q").code == 0
    _refuse(monkeypatch, lambda group, plural, where: plural == "daemonsets" and not where)
    cluster.server.put(namespace("istio-other"))
    row = _rows(cluster.kmeshctl("precheck", "--istio-namespace", "istio-other", "-o", "json"))[
        "namespaces of the install on the cluster"]
    assert row["status"] == "fail" and "not istio-other" in row["detail"], row


def _reads_of_a_clean_precheck(cluster) -> list[tuple[str, str, str]]:  # noqa: F811
    """(group, plural, namespace) of every resource GET a precheck makes on a cluster that lets it."""
    before = len(cluster.server.requests)
    assert cluster.kmeshctl("precheck", "--cluster-id", "c-t27").code == 0
    reads = []
    for request in cluster.server.requests[before:]:
        parts = request.path.strip("/").split("/")
        if request.method == "GET" and len(parts) > (2 if parts[0] == "api" else 3):
            reads.append(_resource(parts)[:3])
    return list(dict.fromkeys(reads))


def test_every_read_refused_leaves_a_row_that_says_so(cluster, monkeypatch) -> None:  # noqa: F811
    """The kind, not the one row: for each read precheck makes, refused alone, some row is
    not pass and names it (the server's words), with the permission and kubectl's check."""
    istiod_deployment(cluster)
    reads = _reads_of_a_clean_precheck(cluster)
    assert ("apps", "daemonsets", "") in reads and ("apps", "deployments", "istio-system") in reads, reads
    for read in reads:
        _refuse(monkeypatch, lambda *asked: asked == read)
        rows = _rows(cluster.kmeshctl("precheck", "--cluster-id", "c-t27", "-o", "json")).values()
        saying = [row for row in rows if f'resource "{read[1]}"' in row["detail"]]
        assert saying and all(row["status"] != "pass" for row in saying), (read, rows)
        resource = f"{read[1]}.{read[0]}" if read[0] else read[1]
        for row in saying:
            assert any(words[1] == resource for words in _can_i(cluster, row["fix"])), row


def istiod_deployment(cluster, cluster_id: str = "c-t27") -> None:  # noqa: F811
    """istiod's Deployment (the Service's selector matches it), CLUSTER_ID set."""
    cluster.server.put({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "istiod-1-22-6", "namespace": "istio-system"},
                        "spec": {"selector": {"matchLabels": {"app": "istiod"}},
                                 "template": {"metadata": {"labels": {"app": "istiod"}}, "spec": {"containers": [
                                     {"name": "discovery", "image": "istio/pilot",
                                      "env": [{"name": "CLUSTER_ID", "value": cluster_id}]}]}}}})


@pytest.mark.parametrize("args", [(), ("--cluster-id", "c-other")], ids=["no id", "an id given"])
def test_istiods_deployment_unreadable_is_a_warn_row(cluster, monkeypatch, args) -> None:  # noqa: F811
    """Before, no row at all: a --cluster-id istiod does not use went unnoticed."""
    istiod_deployment(cluster)
    _refuse(monkeypatch, lambda group, plural, where: plural == "deployments")
    result = cluster.kmeshctl("precheck", *args, "-o", "json")
    assert result.code == 0, result
    row = _rows(result)["istiod cluster id"]
    assert row["status"] == "warn" and "could not read istiod's Service and Deployment" in row["detail"], row
    assert _can_i(cluster, row["fix"]) == [["list", "deployments.apps", "-n", "istio-system"]], row


def test_no_istiod_never_says_none_anywhere_when_it_could_not_look(cluster, monkeypatch) -> None:  # noqa: F811
    _refuse(monkeypatch, lambda group, plural, where: plural == "services" and not where)
    row = _rows(cluster.kmeshctl("precheck", "--istio-namespace", "nosuch", "-o", "json"))["istiod Service :15012"]
    assert row["status"] == "fail", row
    assert "no istiod Service found in any namespace" not in row["detail"], row
    assert "namespace nosuch does not exist (other namespaces not looked at: Forbidden: " in row["detail"], row
    assert row["fix"].startswith("give --istio-namespace the namespace istiod runs in, or ask a cluster admin"), row
    assert _can_i(cluster, row["fix"]) == [["list", "services", "-A"]], row


def test_a_check_that_could_not_run_gives_kubectls_check_too(cluster, monkeypatch) -> None:  # noqa: F811
    _refuse(monkeypatch, lambda group, plural, where: plural == "nodes")
    row = _rows(cluster.kmeshctl("precheck", "-o", "json"))["node kernels >= 5.10"]
    assert row["status"] == "fail" and row["detail"].startswith("could not check: Forbidden: "), row
    assert row["fix"].startswith("ask a cluster admin for RBAC permission to list nodes (`kubectl auth can-i"), row
    assert _can_i(cluster, row["fix"]) == [["list", "nodes", "-A"]], row


# ------------------------------------------------------------------ 2. no name suggested twice


def _fix_commands(result) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [shlex.split(c) for c in BACKTICKED.findall(result.err) if c.startswith("kmeshctl ")]


def _names_once(cluster, result, command: str) -> list[list[str]]:  # noqa: F811
    """Each suggested command names every namespace once (the names after the command word)."""
    fixes = _fix_commands(result)
    for words in fixes:
        names = words[words.index(command) + 1:]
        assert len(names) == len(set(names)), result.err
    return fixes


@pytest.mark.parametrize("command", ["enable-ns", "disable-ns"])
def test_a_typo_of_a_name_typed_too_is_left_out_not_repeated(cluster, command: str) -> None:  # noqa: F811
    for name in ("t27b-amb", "t27b-sc"):
        cluster.server.put(namespace(name, {MODE: "Kmesh"}))
    result = cluster.kmeshctl(command, "t27b-amb", "t27b-sc", "t27b-nosuch")
    assert result.code == 2, result
    line = " ".join(result.err.split())
    assert "did you mean t27b-sc" not in line, line
    assert "leave out t27b-nosuch (close to t27b-sc, named already)?" in line, line
    for words in _names_once(cluster, result, command):  # a pasted fix is accepted
        assert words[words.index(command) + 1:] == ["t27b-amb", "t27b-sc"], words
        assert cluster.as_typed(*words).code == 0


@pytest.mark.parametrize("command", ["enable-ns", "disable-ns"])
def test_two_typos_of_one_name_are_not_both_guessed_as_it(cluster, command: str) -> None:  # noqa: F811
    cluster.server.put(namespace("t27b-amb", {MODE: "Kmesh"}))
    cluster.server.put(namespace("t27b-sc", {MODE: "Kmesh"}))
    result = cluster.kmeshctl(command, "t27b-amb", "t27b-scc", "t27b-sc0")
    assert result.code == 2, result
    line = " ".join(result.err.split())
    assert "did you mean t27b-sc (for t27b-scc)? leave out t27b-sc0 (close to t27b-sc, named already)?" in line, line
    for words in _names_once(cluster, result, command):
        assert words[words.index(command) + 1:] == ["t27b-amb", "t27b-sc"], words
        assert cluster.as_typed(*words).code == 0


def test_another_close_name_not_typed_is_guessed_and_pasted_works(cluster) -> None:  # noqa: F811
    for name in ("t27b-sc", "t27b-sd"):
        cluster.server.put(namespace(name))
    result = cluster.kmeshctl("enable-ns", "t27b-sc", "t27b-sx")
    assert result.code == 2, result
    assert "did you mean t27b-sd?" in " ".join(result.err.split()), result
    [words] = _names_once(cluster, result, "enable-ns")
    assert words[-2:] == ["t27b-sc", "t27b-sd"], words
    assert cluster.as_typed(*words).code == 0
    assert cluster.server.get("v1", "Namespace", "t27b-sd")["metadata"]["labels"][MODE] == "Kmesh"


def test_corrected_names_drop_the_repeats() -> None:
    from kmeshctl.namespaces import NamespacesNotFound

    error = NamespacesNotFound(["t27b-scc", "t27b-sc0"], {"t27b-scc": "t27b-sc"}, "namespaces: t27b-sc", True,
                               {"t27b-sc0": "t27b-sc"})
    assert error.corrected(["t27b-a", "t27b-scc", "t27b-sc0"]) == ["t27b-a", "t27b-sc"]
    assert NamespacesNotFound(["x"], {}, "namespaces: y", True).corrected(["x"]) is None
