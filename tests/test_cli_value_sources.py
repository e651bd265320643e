"""Issue 14, eighth new-user pass: a message names where a value came from and the fix
that helps, one test (or a few) per kind, every command the kind reaches:

1  an --admin-port the user gave that nothing answers at: the hint is about that address,
   never a command that starts another agent;
2  every command with a dry-run mode contacts the configured cluster: a broken flag the
   user typed is exit 2, a cluster that does not answer exit 1; offline only when no
   cluster is configured at all;
4  a namespace that is not a valid name names its source (-n, the kubeconfig context NAME
   in FILE, the pod's service-account file) and a fix that works;
5  precheck's FIX names the real cause (the credential plugin, the kubeconfig, no cluster);
10 a kubeconfig exec credential plugin that hangs, prints nothing, prints garbage or exits
   non-zero is told apart.

Real parts: the CLI through kmeshctl.cli.main in-process; real exec plugins (shell
scripts run as kubectl runs them); the stand-in API server (tests/standin, a named
stand-in) where a cluster must answer; a closed loopback port where one must not."""

from __future__ import annotations

import json
import shlex
import socket
from pathlib import Path

import pytest
import yaml

from kmeshctl import kube, sandboxes
from kmeshctl.cli.cmdline import walk
from kmeshctl.sandbox import state as state_mod
from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_kinds import ROOT, cli, no_env  # noqa: F401
from test_cli_kubeconfig import plugin


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_kubeconfig(path: Path, server: str, user: dict | None = None, context_namespace: str | None = None,
                     **cluster_extra: object) -> Path:
    context = {"cluster": "cl", "user": "me", **({"namespace": context_namespace} if context_namespace else {})}
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "ctx",
        "clusters": [{"name": "cl", "cluster": {"server": server, **cluster_extra}}],
        "contexts": [{"name": "ctx", "context": context}],
        "users": [{"name": "me", "user": user or {"token": "x"}}]}))
    return path


def exec_user(command: Path) -> dict:
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(command),
                     "interactiveMode": "Never"}}


@pytest.fixture
def no_sandboxes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(state_mod, "STATE_ROOT", tmp_path / "run")  # never this machine's sandboxes


# ------------------------------------------------------------------ 1. an --admin-port given


def test_an_admin_port_nothing_answers_at_is_the_message(capsys, no_env, no_sandboxes) -> None:
    port = closed_port()
    code, out, err = cli(capsys, "dump", "config", "--admin-port", str(port))
    assert code == 1 and not out, err
    # leaving --admin-port out finds an agent only on a node with a data path (p30: else not offered)
    leave_out = ", or leave out --admin-port to find the agent automatically" if sandboxes.DEFAULT_BPF_FS.exists() \
        else ""
    assert err.strip() == (f"Error: nothing answers at 127.0.0.1:{port} (connection refused), the address "
                           f"--admin-port {port} names: check the port{leave_out}"), err
    assert "sandbox up" not in err and "node run" not in err, err


def test_an_admin_port_nothing_answers_at_names_the_sandboxes_that_are_up(capsys, no_env, no_sandboxes,
                                                                          tmp_path: Path) -> None:
    record = tmp_path / "run" / "sandbox-h8up"
    record.mkdir(parents=True)
    (record / "state.json").write_text("{}")  # a record is enough for the names (never read here)
    port = closed_port()
    code, _, err = cli(capsys, "dump", "config", "--admin-port", str(port))
    assert code == 1 and f"nothing answers at 127.0.0.1:{port}" in err, err
    assert "; sandbox h8up is up: ask its agent with `kmeshctl dump config --sandbox h8up` (agent addresses: " \
           "`kmeshctl sandbox list -o wide`)" in err, err
    assert "sandbox up" not in err.replace("sandbox h8up is up", "") and "node run" not in err, err


def test_without_an_admin_port_the_hint_still_says_how_to_start_an_agent(capsys, no_env, no_sandboxes,
                                                                         monkeypatch) -> None:
    from kmeshctl.cli import dump as dump_cli

    monkeypatch.setattr(dump_cli, "ADMIN_PORT", closed_port())  # no agent of this node's own either
    monkeypatch.setattr("kmeshctl.sandboxes.DEFAULT_BPF_FS", Path("/"))  # "this node has a data path"
    code, _, err = cli(capsys, "dump", "config")
    assert code == 1 and "start the agent on this host" in err, err


# ------------------------------------------------------------------ 2. dry runs contact the cluster

DRY_RUN_ARGS = {("install",): ["--cluster-id", "c1", "--xds-address", "istiod.istio-system.svc:15012"],
                ("waypoint", "apply"): ["-n", "default"], ("waypoint", "delete"): ["-n", "default"],
                ("uninstall",): []}


def dry_run_commands() -> list[tuple[str, ...]]:
    found = []
    for command in walk(ROOT):
        if any(p.name == "dry_run" for p in command.params):
            path = [c for c in _path_of(command)]
            found.append(tuple(path))
    return sorted(found)


def _path_of(target) -> list[str]:
    def visit(command, words):
        if command is target:
            return words
        for name, sub in getattr(command, "commands", {}).items():
            got = visit(sub, words + [name])
            if got is not None:
                return got
        return None

    return visit(ROOT, [])


def test_every_dry_run_command_is_covered() -> None:
    assert dry_run_commands() == sorted(DRY_RUN_ARGS), dry_run_commands()


@pytest.mark.parametrize("words", sorted(DRY_RUN_ARGS), ids=" ".join)
def test_a_dry_run_with_a_missing_kubeconfig_is_bad_input(words, tmp_path: Path, capsys, no_env) -> None:
    missing = tmp_path / "nope"
    code, out, err = cli(capsys, *words, *DRY_RUN_ARGS[words], "--dry-run", "--kubeconfig", str(missing))
    assert code == 2 and not out and f"--kubeconfig {missing}: does not exist" in err, err


@pytest.mark.parametrize("words", sorted(DRY_RUN_ARGS), ids=" ".join)
def test_a_dry_run_against_a_cluster_that_does_not_answer_fails(words, tmp_path: Path, capsys, no_env) -> None:
    dead = write_kubeconfig(tmp_path / "kc", f"https://127.0.0.1:{closed_port()}")
    code, out, err = cli(capsys, *words, *DRY_RUN_ARGS[words], "--dry-run", "--kubeconfig", str(dead))
    assert code == 1 and not out and "cannot reach the Kubernetes API" in err and "connection refused" in err, err


@pytest.mark.parametrize("words", sorted(DRY_RUN_ARGS), ids=" ".join)
def test_a_dry_run_with_a_failing_credential_plugin_fails(words, tmp_path: Path, capsys, no_env) -> None:
    broken = plugin(tmp_path / "cred.sh", "echo 'token expired' >&2\nexit 4\n")
    config = write_kubeconfig(tmp_path / "kc", "https://127.0.0.1:9", user=exec_user(broken))
    code, out, err = cli(capsys, *words, *DRY_RUN_ARGS[words], "--dry-run", "--kubeconfig", str(config))
    assert code == 1 and not out and f"exec plugin {broken}" in err and "exited with status 4" in err, err


@pytest.mark.parametrize("words", sorted(DRY_RUN_ARGS), ids=" ".join)
def test_a_dry_run_from_kubeconfig_env_contacts_that_cluster(words, tmp_path: Path, capsys, no_env,
                                                            monkeypatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kc", f"https://127.0.0.1:{closed_port()}")))
    code, out, err = cli(capsys, *words, *DRY_RUN_ARGS[words], "--dry-run")
    assert code == 1 and not out and "cannot reach the Kubernetes API" in err, err


OFFLINE_DRY_RUNS = sorted(w for w in DRY_RUN_ARGS if w != ("waypoint", "delete"))  # it must read what it deletes


@pytest.mark.parametrize("words", OFFLINE_DRY_RUNS, ids=" ".join)
def test_a_dry_run_without_any_cluster_configured_is_offline(words, tmp_path: Path, capsys, no_env,
                                                            monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    code, out, err = cli(capsys, *words, *DRY_RUN_ARGS[words], "--dry-run", "-o", "json")
    document = json.loads(out)  # the manifests; uninstall's: its report, every object listed unchecked (h56)
    assert code == 0 and (document.get("kind") == "List" or document.get("checked") is False), err


def test_a_waypoint_delete_dry_run_without_any_cluster_says_so_in_one_line(tmp_path: Path, capsys, no_env,
                                                                          monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    code, out, err = cli(capsys, "waypoint", "delete", "-n", "default", "--dry-run", "-o", "json")
    assert code == 1 and not out and err.startswith("Error: no cluster configured: "), err
    assert len(err.strip().splitlines()) == 1, err


def test_a_waypoint_dry_run_is_checked_by_the_cluster(cluster) -> None:  # noqa: F811
    """The stand-in is asked: a namespace it does not have is named, nothing printed."""
    dry = cluster.kmeshctl("waypoint", "apply", "--dry-run", "-n", "nosuchns")
    assert dry.code == 2 and not dry.out and "namespace nosuchns does not exist" in dry.err, dry


# ------------------------------------------------------------------ 4. where a namespace came from

CONTEXT_NAMESPACE_COMMANDS = [["waypoint", "apply", "--dry-run"], ["waypoint", "list"], ["waypoint", "status"],
                              ["waypoint", "delete"]]


def test_the_context_namespace_commands_are_every_one_that_reads_it() -> None:
    """Every non-hidden command whose -n defaults to the context's namespace (None) is listed."""
    from test_cli_kinds import leaf_commands

    reading = sorted(w for w, c in leaf_commands() if not c.hidden and any(
        p.name == "namespace" and p.default is None for p in c.params) and w != ["sandbox", "exec"])
    assert reading == sorted(c[:2] for c in CONTEXT_NAMESPACE_COMMANDS), reading


@pytest.mark.parametrize("words", CONTEXT_NAMESPACE_COMMANDS, ids=" ".join)
def test_a_bad_context_namespace_names_the_context_and_file(words, tmp_path: Path, capsys, no_env) -> None:
    config = write_kubeconfig(tmp_path / "kc", f"https://127.0.0.1:{closed_port()}", context_namespace="Bad_NS")
    code, out, err = cli(capsys, *words, "--kubeconfig", str(config))
    assert code == 2 and not out, err  # before any connection (the server is closed: that would be exit 1)
    line = err.strip()
    assert line.startswith(f"Error: namespace Bad_NS of context ctx in kubeconfig {config}: not a valid namespace "
                           "name (an RFC 1123 label"), line
    # the name it most likely means, with the line typed so mended (pass 41: no NAMESPACE placeholder)
    mended = shlex.join(["kmeshctl", *words, "--kubeconfig", str(config), "-n", "bad-ns"])
    assert f"; pass -n bad-ns: `{mended}`, or correct the context: `kubectl config set-context ctx " \
           f"--namespace=bad-ns --kubeconfig {config}`" in line, line
    assert "--namespace 'Bad_NS'" not in line and "fix it" not in line, line


def test_a_bad_context_namespace_from_kubeconfig_env_says_so(tmp_path: Path, capsys, no_env,
                                                             monkeypatch) -> None:
    config = write_kubeconfig(tmp_path / "kc", "https://127.0.0.1:9", context_namespace="Bad_NS")
    monkeypatch.setenv("KUBECONFIG", str(config))
    code, _, err = cli(capsys, "waypoint", "list")
    assert code == 2 and f"context ctx in kubeconfig {config} (from $KUBECONFIG)" in err, err
    assert "`kubectl config set-context ctx --namespace=bad-ns`" in err, err  # kubectl reads $KUBECONFIG too
    assert "pass -n bad-ns: `kmeshctl waypoint list -n bad-ns`" in err, err


def test_a_bad_service_account_namespace_names_the_file(tmp_path: Path, capsys, no_env, monkeypatch) -> None:
    account = tmp_path / "namespace"
    account.write_text("Bad_NS\n")
    monkeypatch.setattr(kube, "running_in_cluster", lambda: True)
    monkeypatch.setattr(kube, "IN_CLUSTER_NAMESPACE", str(account))
    code, _, err = cli(capsys, "waypoint", "apply", "--dry-run")
    assert code == 2 and err.startswith(f"Error: namespace Bad_NS in {account} (this pod's service account): "
                                        "not a valid namespace name"), err
    assert "pass -n bad-ns: `kmeshctl waypoint apply --dry-run -n bad-ns`" in err, err


def test_a_bad_namespace_flag_names_the_flag(capsys, no_env) -> None:
    code, _, err = cli(capsys, "waypoint", "list", "-n", "Bad_NS")
    assert code == 2 and err.startswith("Error: -n Bad_NS: not a valid namespace name"), err
    assert "did you mean -n bad-ns? `kmeshctl waypoint list -n bad-ns`" in err, err
    code, _, err = cli(capsys, "waypoint", "list", "-n", "Bad_NS_")
    assert code == 2 and "e.g. default" in err and "did you mean" not in err, err


# ------------------------------------------------------------------ 5/10. exec plugins, precheck's FIX

PLUGIN_FAILURES = {  # script body -> what the message says
    "echo 'token expired: run login' >&2\nexit 3\n": "exited with status 3 (token expired: run login)",
    "exec sleep 30\n": "did not answer within 1s",
    "sleep 30 &\nwait\n": "did not answer within 1s",  # a child holding the pipe: stopped too
    "true\n": "printed nothing on stdout",
    "echo 'Please log in at https://login'\n": "printed something that is not JSON ('Please log in at "
                                               "https://login';",
    "echo '{\"kind\": \"Other\"}'\n": "printed JSON that is not an ExecCredential JSON object",
    "kill -9 $$\n": "was killed by signal 9",
}


@pytest.mark.parametrize("body", sorted(PLUGIN_FAILURES), ids=lambda b: b.split()[0])
def test_each_way_a_credential_plugin_fails_is_told_apart(body: str, tmp_path: Path, capsys, no_env,
                                                          monkeypatch) -> None:
    import time

    script = plugin(tmp_path / "cred.sh", body)
    config = write_kubeconfig(tmp_path / "kc", "https://127.0.0.1:9", user=exec_user(script))
    started = time.monotonic()
    code, out, err = cli(capsys, "--kubeconfig", str(config), "--request-timeout", "1s", "waypoint", "list", "-n",
                         "default")
    assert time.monotonic() - started < 15, "the plugin was not stopped"
    assert code == 1 and not out and err.count("\n") == 1, err
    assert f"Error: getting credentials: exec plugin {script} of user me in kubeconfig {config} (context ctx) " \
           f"{PLUGIN_FAILURES[body]}" in err, err
    # one context in the kubeconfig: no "or pass --context NAME of another context" (pass 48, t47a 15)
    assert err.strip().endswith("fix the credential plugin (run it by hand to see what it does)"), err


def test_a_plugin_with_a_token_logs_in(cluster, tmp_path: Path) -> None:  # noqa: F811
    """The token the plugin prints (run once, by kmeshctl) reaches the stand-in (401 without it)."""
    from standin.resources import TOKEN

    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": TOKEN}}
    script = plugin(tmp_path / "cred.sh", f"echo '{json.dumps(credential)}'\n")
    entry = dict(yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"])  # the stand-in, its CA
    cluster.kubeconfig = write_kubeconfig(tmp_path / "kc", entry.pop("server"), user=exec_user(script), **entry)
    result = cluster.kmeshctl("status", "-o", "json")
    assert result.code in (0, 1) and json.loads(result.out)["namespace"] == "kmesh-system", result.err


def _precheck_row(capsys, *args: str) -> dict:
    code, out, err = cli(capsys, *args, "precheck", "-o", "json")
    assert code == 1, err
    checks = json.loads(out)["checks"]
    assert len(checks) == 1 and checks[0]["name"] == "API reachable" and checks[0]["status"] == "fail", checks
    return checks[0]


def test_precheck_fix_names_a_failing_credential_plugin(tmp_path: Path, capsys, no_env) -> None:
    script = plugin(tmp_path / "cred.sh", "exit 3\n")
    config = write_kubeconfig(tmp_path / "kc", "https://127.0.0.1:9", user=exec_user(script))
    row = _precheck_row(capsys, "--kubeconfig", str(config))
    assert row["fix"] == "fix the credential plugin (run it by hand to see what it does)", row  # its only context
    assert f"exec plugin {script} " in row["detail"] and "exited with status 3" in row["detail"], row
    assert "run it by hand" not in row["detail"], row  # the fix once, in FIX


def test_precheck_fix_of_each_other_cause_names_it(tmp_path: Path, capsys, no_env, monkeypatch) -> None:
    # no cluster configured at all
    monkeypatch.setenv("HOME", str(tmp_path))
    row = _precheck_row(capsys)
    assert row["fix"] == "pass --kubeconfig PATH (or set KUBECONFIG) and --context NAME", row
    assert "--kubeconfig" not in row["detail"], row
    # the default kubeconfig is broken (a context naming a cluster that is not there)
    kube_dir = tmp_path / ".kube"
    kube_dir.mkdir()
    (kube_dir / "config").write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "ctx", "clusters": [],
        "contexts": [{"name": "ctx", "context": {"cluster": "gone", "user": "me"}}],
        "users": [{"name": "me", "user": {"token": "x"}}]}))
    row = _precheck_row(capsys)
    assert "names cluster gone, which is not there" in row["detail"], row
    assert row["fix"] == "add it" and "add it" not in row["detail"], row  # ctx is its only context
    # a cluster that does not answer
    write_kubeconfig(kube_dir / "config", f"https://127.0.0.1:{closed_port()}")
    row = _precheck_row(capsys)
    assert "connection refused" in row["detail"] and row["fix"].startswith("check that the cluster is up"), row
