"""`uninstall --dry-run` and `uninstall -o json|yaml` (h56): a dry run lists what would be
deleted in the order uninstall deletes, each delete sent with dryRun=All so nothing goes;
-o prints one document (docs/usage.md "Dry run and -o json|yaml") of what was (or would
be) deleted, what was already absent and the error that stopped it, whose commands carry
the user's --kubeconfig/--context.

Real parts: kmeshctl.cli.main in-process against the stand-in API server (it logs every
request with its dryRun=All), the same one the other uninstall tests use."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import yaml

from kmeshctl.uninstall import installed_objects
from kmeshctl.kube import object_ref
from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_kinds import cli, no_env  # noqa: F401
from test_cli_wait_limits import HELD, hold_on_delete

ORDER = [object_ref(o) for o in reversed(installed_objects("kmesh-system", "istio-system"))]


def _installed(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait").code == 0


def _deletes(cluster) -> list:  # noqa: F811
    return [r for r in cluster.server.requests if r.method == "DELETE"]


def test_dry_run_lists_each_object_in_delete_order_and_deletes_nothing(cluster) -> None:  # noqa: F811
    _installed(cluster)
    result = cluster.kmeshctl("uninstall", "--dry-run")
    lines = result.out.strip().splitlines()
    assert result.code == 0, result
    assert lines[:-1] == [f"{ref} would be deleted" for ref in ORDER], result.out
    assert lines[-1] == f"Dry run: {len(ORDER)} objects would be deleted; nothing deleted.", result.out
    assert _deletes(cluster) and all(r.dry_run for r in _deletes(cluster)), _deletes(cluster)
    again = cluster.kmeshctl("uninstall", "--dry-run")  # nothing went
    assert again.out == result.out, again


def test_dry_run_server_is_the_same_and_json_has_the_documented_fields(cluster) -> None:  # noqa: F811
    _installed(cluster)
    result = cluster.kmeshctl("uninstall", "--dry-run=server", "-o", "json")
    document = json.loads(result.out)
    assert result.code == 0, result
    assert document == {"dryRun": True, "checked": True, "deleted": ORDER, "absent": [], "spared": [], "nodes": [],
                        "enrolledNamespaces": [], "keptWaypoints": [], "errors": []}, document
    assert all(r.dry_run for r in _deletes(cluster)), _deletes(cluster)


def test_dry_run_with_nothing_installed_says_so(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("uninstall", "--dry-run", "-q")
    assert result.code == 0 and result.out.strip() == "Dry run: nothing to uninstall: none of kmeshctl's objects exist.", \
        result


def test_dry_run_client_is_one_line_of_usage_error(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("uninstall", "--dry-run=client")
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1, result
    assert "write --dry-run" in result.err and "no offline (client) form" in result.err, result
    assert not cluster.server.requests, cluster.server.requests


def test_dry_run_with_no_cluster_configured_lists_every_object_unchecked(tmp_path: Path, capsys, no_env,  # noqa: F811
                                                                          monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    code, out, err = cli(capsys, "uninstall", "--dry-run", "-o", "yaml")
    document = yaml.safe_load(out)
    assert code == 0 and document["checked"] is False and document["deleted"] == ORDER, (out, err)
    assert err.startswith("No cluster configured (") and "unchecked" in err, err


def test_json_reports_deleted_then_absent(cluster) -> None:  # noqa: F811
    _installed(cluster)
    first = cluster.kmeshctl("uninstall", "-o", "json", "--timeout", "20")
    document = json.loads(first.out)
    assert first.code == 0 and document["dryRun"] is False and document["deleted"] == ORDER, first
    assert document["absent"] == [] and document["errors"] == [], document
    again = json.loads(cluster.kmeshctl("uninstall", "-o", "json").out)
    assert again["deleted"] == [] and [a["object"] for a in again["absent"]] == ORDER, again
    assert {a["reason"] for a in again["absent"]} == {"not found"}, again


def test_yaml_is_the_same_document(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("uninstall", "-o", "yaml")
    document = yaml.safe_load(result.out)
    assert result.code == 0 and list(document) == ["dryRun", "checked", "deleted", "absent", "spared", "nodes",
                                                   "enrolledNamespaces", "keptWaypoints", "errors"], result


def test_json_after_a_timeout_has_what_was_deleted_and_the_error_with_the_users_flags(cluster) -> None:  # noqa: F811
    _installed(cluster)
    hold_on_delete(cluster.server, HELD)
    result = cluster.kmeshctl("--context", "standin", "uninstall", "--timeout", "1s", "-o", "json")
    document = json.loads(result.out)
    assert result.code == 1, result
    # the held object's delete was accepted but it is still there: named by the error, not as deleted
    assert document["deleted"] == ORDER[:ORDER.index(f"EnvoyFilter istio-system/{HELD}")], document
    [error] = document["errors"]
    assert error.startswith(f"EnvoyFilter istio-system/{HELD} still exists after the --timeout 1s limit"), error
    describe = next(c for c in error.split("`")[1::2] if c.startswith("kubectl get"))
    assert shlex.split(describe)[-4:] == ["--kubeconfig", str(cluster.kubeconfig), "--context", "standin"], error
    assert result.err.strip().splitlines()[-1] == f"Error: {error}", result.err  # the same line on stderr
