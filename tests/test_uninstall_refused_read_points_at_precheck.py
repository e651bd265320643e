"""f19k, findings B and C: a 403 on the read uninstall makes before each delete (is it
kmeshctl's?) ended `uninstall` (and --dry-run, -q, -o json) with no pointer, where every
other 403 points at `kmeshctl precheck --uninstall` (the user's --kubeconfig / --context
kept); and the dry run said "nothing more was deleted", though a dry run deletes nothing.

Real parts: kmeshctl.cli.main in-process against the stand-in API server; the 403 is the
stand-in's answer to the GET of one EnvoyFilter, worded as kube-apiserver words it."""

from __future__ import annotations

import json
import shlex

import pytest

from standin import HttpError
from standin.frontend import _Handler
from standin_apiserver import cluster  # noqa: F401 (fixture)

_REAL_ON_OBJECT = _Handler.on_object
REFUSED = "add-listener-filter"  # the first object uninstall reads (the EnvoyFilters go first)
ARGS = {"real": (), "dry run": ("--dry-run",), "quiet": ("-q",), "quiet dry run": ("--dry-run", "-q")}


@pytest.fixture
def refused(cluster, monkeypatch):  # noqa: F811
    """Installed, then every GET of that EnvoyFilter answered 403."""
    assert cluster.kmeshctl("install", "--cluster-id", "c-f19k", "--no-wait", "-q").code == 0
    def on_object(self, method, res, namespace, name, *args):  # type: ignore[no-untyped-def]
        if method == "GET" and res.plural == "envoyfilters" and name == REFUSED:
            raise HttpError(403, "Forbidden", f'envoyfilters.networking.istio.io "{name}" is forbidden: User '
                            '"system:serviceaccount:default:f19k" cannot get resource "envoyfilters" in API group '
                            f'"networking.istio.io" in the namespace "{namespace}"')
        return _REAL_ON_OBJECT(self, method, res, namespace, name, *args)

    monkeypatch.setattr(_Handler, "on_object", on_object)
    return cluster


def _pointer(cluster, line: str) -> None:  # noqa: F811
    check = next((c for c in line.split("`")[1::2] if "precheck" in c), "")
    words = shlex.split(check)  # with -o json: precheck's -o kept too
    assert words[:6] == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "--context", "standin", "precheck"] \
        and words[-1] == "--uninstall", line
    assert line.endswith(f"(`{check}` lists what uninstall needs)"), line


@pytest.mark.parametrize("args", ARGS.values(), ids=ARGS.keys())
def test_a_refused_read_points_at_precheck_uninstall(refused, args: tuple[str, ...]) -> None:
    result = refused.kmeshctl("--context", "standin", "uninstall", *args)
    assert result.code == 1, result
    line = result.err.strip().splitlines()[-1]
    assert f"cannot tell whether kmeshctl made EnvoyFilter istio-system/{REFUSED}" in line, line
    assert "ask a cluster admin for RBAC permission to get envoyfilters.networking.istio.io in namespace " \
           "istio-system" in line, line
    _pointer(refused, line)
    assert refused.server.get("apps/v1", "DaemonSet", "kmesh", "kmesh-system") is not None


@pytest.mark.parametrize("args", [(), ("--dry-run",)], ids=["real", "dry run"])
def test_the_document_error_has_the_pointer_too(refused, args: tuple[str, ...]) -> None:
    result = refused.kmeshctl("--context", "standin", "uninstall", "-o", "json", *args)
    assert result.code == 1, result
    [error] = json.loads(result.out)["errors"]
    _pointer(refused, error)


def test_the_dry_run_says_it_stops_not_that_nothing_more_was_deleted(refused) -> None:
    line = refused.kmeshctl("uninstall", "--dry-run").err.strip().splitlines()[-1]
    assert "so the dry run stops here" in line and "deleted" not in line, line
    real = refused.kmeshctl("uninstall").err.strip().splitlines()[-1]
    assert "so nothing more was deleted" in real, real


def test_any_403_reworded_without_a_pointer_gets_it(refused, monkeypatch) -> None:
    """The kind, not the one read: a 403 some step re-raised with its own words and no
    pointer still ends with precheck --uninstall's."""
    from kmeshctl import uninstall
    from kmeshctl.kube import ApiError

    def agent_pods(client, ds):  # type: ignore[no-untyped-def]
        raise ApiError(403, "Forbidden", "f19k: cannot list the agent pods: Forbidden", fix="ask a cluster admin")

    monkeypatch.setattr(_Handler, "on_object", _REAL_ON_OBJECT)  # the reads answered again
    monkeypatch.setattr(uninstall, "agent_pods", agent_pods)
    result = refused.kmeshctl("--context", "standin", "uninstall")
    assert result.code == 1, result
    line = result.err.strip().splitlines()[-1]
    assert "f19k: cannot list the agent pods" in line, line
    _pointer(refused, line)
