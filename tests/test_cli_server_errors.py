"""Issue 14, kind "an API server answering 5xx": every cluster command (and precheck's
FIX) says the same kubectl-like line naming the API server, its status and message, and
the pasteable health check with the user's --kubeconfig/--context (one function,
kmeshctl.kube.server_error_fix) - never the raw request alone (h49).

Real parts: kmeshctl.cli.main in-process; a loopback HTTP server answering 500 with a
Kubernetes Status (test_cli_cluster_errors' `web` fixture), stopped after each test."""

from __future__ import annotations

import json

import pytest

from test_cli_cluster_errors import kubeconfig, status_body, url, web  # noqa: F401 (fixture)
from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_kinds import cli, no_env  # noqa: F401

ETCD = "etcdserver: request timed out"
COMMANDS = [["status"], ["version"], ["uninstall"], ["enable-ns", "default"], ["waypoint", "list"],
            ["install", "--cluster-id", "c1"]]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_500_names_the_server_and_the_pasteable_health_check(args, web, tmp_path, capsys,  # noqa: F811
                                                               no_env) -> None:
    server = web(500, status_body(500, "InternalError", ETCD))
    config = kubeconfig(tmp_path / "h49-500.yaml", url(server))
    code, out, err = cli(capsys, "--kubeconfig", str(config), "--context", "ctx", *args)
    error = err.strip().splitlines()[-1]
    assert code == 1, err
    assert error.startswith(f"Error: the API server at {url(server)} answered 500 ({ETCD}) to GET /"), error
    assert f"check its health with `kubectl get --raw /readyz --kubeconfig {config} --context ctx`, then retry" \
        in error, error
    assert " failed: " not in error, error


def test_precheck_gives_the_same_fix(web, tmp_path, capsys, no_env) -> None:  # noqa: F811
    server = web(500, status_body(500, "InternalError", ETCD))
    config = kubeconfig(tmp_path / "h49-500.yaml", url(server))
    code, out, _ = cli(capsys, "--kubeconfig", str(config), "precheck", "-o", "json")
    check = json.loads(out)["checks"][0]
    assert code == 1 and check["status"] == "fail", out
    assert f"answered 500 ({ETCD})" in check["detail"], check
    assert check["fix"] == f"check its health with `kubectl get --raw /readyz --kubeconfig {config}`, then retry", check


def test_the_fix_is_one_function_for_every_kind_of_caller(web, tmp_path, capsys, no_env) -> None:  # noqa: F811
    """kube.server_error_fix writes the plain `kubectl ...`; the CLI adds the user's
    --kubeconfig/--context (quoted when it must be) to the line it prints, in every format."""
    from kmeshctl.kube import ApiError, diagnosis, server_error_fix

    assert diagnosis(ApiError(500, "InternalError", "GET /x failed"))[1] == server_error_fix()  # raised without one
    server = web(500, status_body(500, "InternalError", ETCD))
    config = kubeconfig(tmp_path / "h56 my config.yaml", url(server))
    flags = ["--kubeconfig", str(config), "--context", "ctx"]
    printed = f"check its health with `kubectl get --raw /readyz --kubeconfig '{config}' --context ctx`, then retry"
    code, _, err = cli(capsys, *flags, "status")
    assert code == 1 and err.strip().splitlines()[-1].endswith(printed), err
    code, out, err = cli(capsys, *flags, "status", "-o", "json")  # an error of a JSON command: the same line
    assert code == 1 and not out and err.strip().splitlines()[-1].endswith(printed), (out, err)
    code, out, _ = cli(capsys, *flags, "precheck", "-o", "json")  # the JSON field too
    assert code == 1 and json.loads(out)["checks"][0]["fix"] == printed, out
    code, out, err = cli(capsys, *flags, "uninstall", "-o", "json")  # no cluster to ask: no document, the line
    assert code == 1 and not out and err.strip().splitlines()[-1].endswith(printed), (out, err)


def test_install_json_error_field_carries_the_users_flags(cluster) -> None:  # noqa: F811
    """install -o json|yaml after a failure mid-apply: the document's error is the stderr
    line, its kubectl health check with the user's --kubeconfig/--context (h56)."""
    import yaml

    from test_cli_partial_apply import fail_real_daemonset_apply

    fail_real_daemonset_apply(cluster.server)
    for fmt, load in (("json", json.loads), ("yaml", yaml.safe_load)):
        result = cluster.kmeshctl("--context", "standin", "install", "--cluster-id", "c1", "--no-wait", "-o", fmt)
        error = load(result.out)["error"]
        assert result.code == 1 and result.err.strip().splitlines()[-1] == f"Error: {error}", result
        health = next(c for c in error.split("`")[1::2] if c.startswith("kubectl get --raw /readyz"))
        assert health.endswith(f"--kubeconfig {cluster.kubeconfig} --context standin"), error
