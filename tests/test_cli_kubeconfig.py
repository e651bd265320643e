"""Issue 14, fifth new-user pass, kubeconfig edge cases: one test per kind, each across
the commands that load a kubeconfig. What the user's kubeconfig names is checked before
the client library sees it (its own reports are a logged traceback line, urllib3 retry
warnings and "cannot reach" an empty address); the file is read once (a `<(...)` pipe).

Real parts: the console script or kmeshctl.cli.main in-process; real exec credential
plugins (shell scripts in tmp_path); the stand-in API server (tests/standin, which checks
the bearer token) where a cluster must answer; loopback port 1 where it must not."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml

from standin_apiserver import cluster  # noqa: F401 (fixture)
from standin.resources import TOKEN
from test_cli_kinds import cli, no_env, run  # noqa: F401

DEAD = "https://127.0.0.1:1"  # loopback port 1: nothing listens
# Every command that loads the kubeconfig, with what it needs before that.
LOADERS = [["status"], ["precheck"], ["version"], ["enable-ns", "default"], ["waypoint", "list"],
           ["dump", "config", "--pod", "kmesh-x"], ["uninstall"]]
NOISE = ("ERROR:root", "WARNING:", "Traceback", "Retrying", "FutureWarning")


def kubeconfig(path: Path, cluster: dict | None = None, user: dict | None = None) -> Path:
    """One context `ctx` (cluster `cl`, user `me`) with the given cluster and user bodies."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "ctx",
        "clusters": [{"name": "cl", "cluster": {"server": DEAD} if cluster is None else cluster}],
        "contexts": [{"name": "ctx", "context": {"cluster": "cl", "user": "me"}}],
        "users": [{"name": "me", "user": {"token": "x"} if user is None else user}]}))
    return path


def plugin(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def exec_user(command: str) -> dict:
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": command, "args": ["token"]}}


def first_output(args: list[str]) -> str:
    """What a command prints before a kubeconfig error: `version` the client's version
    (as `kubectl version`), every other command nothing."""
    from kmeshctl import __version__

    return f"Client: {__version__}\n" if args == ["version"] else ""


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and not any(n in err for n in NOISE), err
    return lines[0]


# ------------------------------------------------------------------ a. exec plugin missing


@pytest.mark.parametrize("args", LOADERS, ids=" ".join)
def test_a_missing_exec_plugin_is_named_in_one_line(args: list[str], tmp_path: Path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "kc", user=exec_user("kmesh-qa-no-such-plugin"))
    code, out, err = cli(capsys, "--kubeconfig", str(config), *args)
    line = one_line(err)
    assert code == 2 and out == first_output(args), err
    assert line.startswith("Error: exec: executable kmesh-qa-no-such-plugin not found (user me in kubeconfig "
                           f"{config}, context ctx)"), line


def test_a_missing_exec_plugin_in_the_default_kubeconfig_is_a_failure(tmp_path: Path) -> None:
    """Not named by the user (~/.kube/config): exit 1, as every other fault of that file."""
    (tmp_path / ".kube").mkdir()
    kubeconfig(tmp_path / ".kube" / "config", user=exec_user("./gone/plugin"))
    result = run("status", home=tmp_path)
    line = one_line(result.stderr)
    assert result.returncode == 1 and f"executable {tmp_path}/.kube/gone/plugin not found" in line, line


def test_an_exec_plugin_that_fails_says_why_once(tmp_path: Path, capsys, no_env) -> None:
    plugin(tmp_path / "login.sh", "echo 'token expired: run login' >&2\nexit 3\n")
    config = kubeconfig(tmp_path / "kc", user=exec_user("./login.sh"))  # relative: to the kubeconfig's directory
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    line = one_line(err)
    assert code == 1 and "exec plugin" in line and "exited with status 3 (token expired: run login)" in line, line
    assert line.count("token expired") == 1, line


def test_a_working_exec_plugin_relative_to_the_kubeconfig_logs_in(cluster, tmp_path: Path, monkeypatch) -> None:
    """The plugin's token reaches the API server (the stand-in answers 401 without it);
    the command path is resolved against the kubeconfig's directory, not the cwd."""
    home = tmp_path / "conf"
    home.mkdir()
    credential = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                  "status": {"token": TOKEN}}
    plugin(home / "cred.sh", f"echo '{json.dumps(credential)}'\n")
    entry = yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"]  # its server and CA
    config = kubeconfig(home / "kc", cluster=entry, user=exec_user("./cred.sh"))
    monkeypatch.chdir(tmp_path)
    cluster.kubeconfig = config
    result = cluster.kmeshctl("status", "-o", "json")
    assert json.loads(result.out)["namespace"] == "kmesh-system", result.err
    assert not any(n in result.err for n in NOISE) and "401" not in result.err


# ------------------------------------------------------------------ b. no server


@pytest.mark.parametrize("args", LOADERS, ids=" ".join)
def test_a_cluster_without_a_server_is_named(args: list[str], tmp_path: Path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "kc", cluster={"insecure-skip-tls-verify": True})
    code, out, err = cli(capsys, "--kubeconfig", str(config), *args)
    line = one_line(err)
    assert code == 2 and out == first_output(args)
    assert line.startswith(f"Error: the cluster cl in kubeconfig {config} has no server (context ctx)"), line
    assert "https://HOST:PORT" in line and "cannot reach" not in line


def test_a_context_naming_a_cluster_that_is_not_there_is_named(tmp_path: Path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "kc")
    text = config.read_text().replace("cluster: cl\n", "cluster: elsewhere\n")
    config.write_text(text)
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    line = one_line(err)
    assert code == 2 and "names cluster elsewhere, which is not there (clusters: cl)" in line, line


def test_a_server_without_a_scheme_next_to_a_token_is_http_as_kubectl_takes_it(tmp_path: Path, capsys,
                                                                                 no_env) -> None:
    """client-go's DefaultServerURL: no CA, client certificate or insecure-skip-tls-verify
    means http:// (pass 30: tests/test_p30_kubeconfig.py)."""
    config = kubeconfig(tmp_path / "kc", cluster={"server": "127.0.0.1:1"})
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    assert code == 1 and "cannot reach the Kubernetes API at http://127.0.0.1:1 (" in one_line(err), err


# ------------------------------------------------------------------ c. files a user names


@pytest.mark.parametrize("args", LOADERS, ids=" ".join)
def test_a_token_file_that_does_not_exist_is_named(args: list[str], tmp_path: Path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "kc", user={"tokenFile": "secrets/token"})
    code, out, err = cli(capsys, "--kubeconfig", str(config), *args)
    line = one_line(err)
    assert code == 2 and out == first_output(args)
    assert f"tokenFile {tmp_path}/secrets/token does not exist" in line and "user me" in line, line


def test_certificate_files_that_do_not_exist_are_named(tmp_path: Path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "kc", cluster={"server": DEAD, "certificate-authority": "/nonexistent/ca.crt"})
    code, _, err = cli(capsys, "--kubeconfig", str(config), "status")
    assert code == 2 and "the cluster cl in kubeconfig" in err and "certificate-authority /nonexistent/ca.crt " \
        "does not exist" in one_line(err), err


def test_a_relative_token_file_is_read_from_the_kubeconfigs_directory(cluster, tmp_path: Path,
                                                                       monkeypatch) -> None:
    home = tmp_path / "conf"
    (home / "secrets").mkdir(parents=True)
    (home / "secrets" / "token").write_text(TOKEN)
    entry = yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"]  # its server and CA
    cluster.kubeconfig = kubeconfig(home / "kc", cluster=entry, user={"tokenFile": "secrets/token"})
    monkeypatch.chdir(tmp_path)
    result = cluster.kmeshctl("status", "-o", "json")
    assert json.loads(result.out)["namespace"] == "kmesh-system", result.err


# ------------------------------------------------------------------ d. a pipe is read once


def _piped(text: str) -> str:
    """`<(cat FILE)` as bash passes it: /dev/fd/N of a pipe holding ``text``."""
    read, write = os.pipe()
    os.write(write, text.encode())
    os.close(write)
    return f"/dev/fd/{read}"


def test_a_piped_kubeconfig_is_read_once(cluster, tmp_path: Path) -> None:
    path = _piped(cluster.kubeconfig.read_text())
    try:
        cluster.kubeconfig = Path(path)
        result = cluster.kmeshctl("status", "-o", "json")
        assert json.loads(result.out)["namespace"] == "kmesh-system", result.err
        assert cluster.server.requests  # the stand-in answered
    finally:
        os.close(int(path.rsplit("/", 1)[1]))


def test_a_piped_kubeconfig_from_the_shell(tmp_path: Path) -> None:
    """The console script with bash's own `<(...)`: the error names the cluster, not an empty file."""
    config = kubeconfig(tmp_path / "kc")
    import subprocess

    from test_cli_kinds import KMESHCTL

    result = subprocess.run(["bash", "-c", f"{KMESHCTL} status --kubeconfig <(cat {config})"],
                            capture_output=True, text=True, timeout=120,
                            env={k: v for k, v in os.environ.items() if k != "KUBECONFIG"})
    line = one_line(result.stderr)
    assert result.returncode == 1 and f"cannot reach the Kubernetes API at {DEAD}" in line, line
    assert "file is empty" not in line


# ------------------------------------------------------------------ 2. version and an unreachable cluster


def test_version_reports_an_unreachable_cluster_after_the_client(tmp_path: Path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "kc")
    code, out, err = cli(capsys, "--kubeconfig", str(config), "version")
    assert code == 1 and out.startswith("Client: "), (out, err)
    assert one_line(err).startswith(f"Error: cannot reach the Kubernetes API at {DEAD}")
    code, out, _ = cli(capsys, "--kubeconfig", str(config), "version", "-o", "json")
    report = json.loads(out)
    assert code == 1 and report["clusterConfigured"] and report["cluster"] is None and report["clusterError"]
    code, out, _ = cli(capsys, "--kubeconfig", str(config), "version", "--client")
    assert code == 0 and out.startswith("Client: ")


def test_version_without_any_cluster_is_the_client_alone(tmp_path: Path) -> None:
    result = run("version", home=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("Client: ")
    data = run("version", "-o", "json", home=tmp_path)
    assert data.returncode == 0 and json.loads(data.stdout)["clusterConfigured"] is False


def test_version_with_a_reachable_cluster_exits_0(cluster) -> None:
    result = cluster.kmeshctl("version", "-o", "json")
    report = json.loads(result.out)
    assert result.code == 0 and report["clusterConfigured"] and report["cluster"]["server"], result.err
