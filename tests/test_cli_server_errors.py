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


def test_the_fix_is_one_function_for_every_kind_of_caller() -> None:
    from kmeshctl.kube import ApiError, TARGET, diagnosis, server_error_fix

    saved = (TARGET.kubeconfig, TARGET.context)
    TARGET.kubeconfig, TARGET.context = "my config.yaml", "prod"
    try:
        fix = server_error_fix()
        assert fix == "check its health with `kubectl get --raw /readyz --kubeconfig 'my config.yaml' --context " \
                      "prod`, then retry", fix
        assert diagnosis(ApiError(500, "InternalError", "GET /x failed"))[1] == fix  # raised without a fix
    finally:
        TARGET.kubeconfig, TARGET.context = saved
