"""Pass 41, fixer f41b: t41b findings 1, 8, 9, 10 (dump -n, install --timeout with
--dry-run), 13 and 14, and t40b 8. Every line offered is checked as a paste would be
(parsed with the checks the command runs, or run against the same kubeconfig).

Real parts: kmeshctl.cli.main in-process; kubeconfigs under tmp_path naming loopback
only (port 1, which refuses, or a listener of this test that accepts and never answers,
closed at the end). No root, no cluster, no sandbox."""

from __future__ import annotations

import os
import re
import shlex
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from listening import silent_listener
from test_cli_kinds import cli, no_env  # noqa: F401
from test_p41_f41c import _problems

PID = os.getpid()
REFUSED = "https://127.0.0.1:1"


def _kubeconfig(path: Path, server: str, namespace: str = "team-a") -> str:
    """Contexts `My Ctx` (its namespace ``namespace``), `Prod` (current) and `hang`."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "Prod",
        "clusters": [{"name": "c1", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u1", "user": {"token": "abc"}}],
        "contexts": [{"name": "My Ctx", "context": {"cluster": "c1", "user": "u1", "namespace": namespace}},
                     {"name": "Prod", "context": {"cluster": "c1", "user": "u1"}},
                     {"name": "hang", "context": {"cluster": "c1", "user": "u1"}}]}))
    return str(path)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback port that accepts connections and never answers; closed at the end."""
    with silent_listener() as port:
        yield f"https://127.0.0.1:{port}"


def _lines(err: str) -> list[str]:
    return re.findall(r"`([^`]*)`", err)


# ------------------------------------------------------------------ 1. a context's bad namespace


def test_1_kubectl_line_quotes_a_context_with_a_space_and_names_the_mended_namespace(tmp_path, capsys,  # noqa: F811
                                                                                     no_env) -> None:
    config = _kubeconfig(tmp_path / f"bad-ns-{PID}.yaml", REFUSED, namespace="Team_A")
    code, _, err = cli(capsys, "waypoint", "list", "--kubeconfig", config, "--context", "My Ctx")
    assert code == 2 and err.count("Error:") == 1, err
    assert "namespace Team_A of context 'My Ctx' in kubeconfig" in err, err
    kubectl = [line for line in _lines(err) if line.startswith("kubectl ")]
    assert kubectl and shlex.split(kubectl[0])[:5] == ["kubectl", "config", "set-context", "My Ctx",
                                                       "--namespace=team-a"], err
    assert "NAMESPACE" not in err, err
    ours = [line for line in _lines(err) if line.startswith("kmeshctl ")]
    assert ours == [f"kmeshctl waypoint list --kubeconfig {config} --context 'My Ctx' -n team-a"], err
    assert _problems(ours[0]) == [], ours
    code, _, err = cli(capsys, *shlex.split(ours[0])[1:])  # pasted: only the refused port is left
    assert code == 1 and "cannot reach the Kubernetes API" in err, err


def test_1_a_namespace_with_no_mended_form_keeps_the_placeholder_and_no_kmeshctl_line(tmp_path, capsys,  # noqa: F811
                                                                                      no_env) -> None:
    config = _kubeconfig(tmp_path / f"bad-ns2-{PID}.yaml", REFUSED, namespace="-")
    code, _, err = cli(capsys, "--kubeconfig", config, "--context", "My Ctx", "waypoint", "status")
    assert code == 2 and "pass -n NAMESPACE, or correct the context" in err, err
    assert not [line for line in _lines(err) if line.startswith("kmeshctl ")], err


# ------------------------------------------------------------------ 8. a look-up's own waiting note


def test_8_the_waiting_note_of_a_hint_look_up_says_what_it_asks_and_its_own_limit(
        tmp_path, capsys, no_env, silent_server) -> None:  # noqa: F811
    config = _kubeconfig(tmp_path / f"silent-{PID}.yaml", silent_server)
    code, _, err = cli(capsys, "waypoint", "apply", "foo", "--kubeconfig", config, "--request-timeout", "10s")
    assert code == 2, err
    assert "(asking whether foo is a namespace, up to 2s)" in err, err
    assert "--request-timeout 2s" not in err, err


def test_8_the_command_s_own_requests_still_name_the_request_timeout(monkeypatch, capsys) -> None:
    from kmeshctl import kube

    monkeypatch.setattr(kube, "WAITING_NOTE_AFTER_S", 0.01)
    for target, said in ((kube.KubeTarget(request_timeout=10), "(--request-timeout 10s)"),
                         (kube.KubeTarget(request_timeout=2, asking="asking whether x is a namespace"),
                          "(asking whether x is a namespace, up to 2s)")):
        done = threading.Event()
        with kube._waiting_note("https://127.0.0.1:1", target, done.set):
            assert done.wait(2)
        assert said in capsys.readouterr().err


# ------------------------------------------------------------------ 9 / t40b 8. a context split by the shell


def test_9_an_unquoted_context_in_the_wrong_case_gets_the_existing_name_at_once(tmp_path, capsys, no_env,  # noqa: F811
                                                                                monkeypatch) -> None:
    config = _kubeconfig(tmp_path / f"ctx-{PID}.yaml", REFUSED)
    monkeypatch.setenv("KUBECONFIG", config)
    code, _, err = cli(capsys, "status", "--context", "my", "ctx")
    assert code == 2 and "'My Ctx' is one" in err, err
    assert _lines(err) == ["kmeshctl status --context 'My Ctx'"], err
    assert _problems(_lines(err)[0]) == []


def test_t40b_8_every_stray_word_after_an_unknown_context_is_in_its_quoted_guess(tmp_path, capsys,  # noqa: F811
                                                                                  no_env) -> None:
    config = _kubeconfig(tmp_path / f"ctx2-{PID}.yaml", REFUSED)
    code, _, err = cli(capsys, "version", "--kubeconfig", config, "--context", "nope", "extra", "words")
    assert code == 2 and "--context 'nope extra words'" in err, err
    assert "were read as arguments" in err, err
    code, _, err = cli(capsys, "version", "--kubeconfig", config, "--context", "nope", "extra")
    assert code == 2 and "(extra after it was read as an argument" in err and "'nope extra'" in err, err


# ------------------------------------------------------------------ 10. lines that keep what was typed


def test_10_dump_s_kubectl_line_lists_the_agent_pods_in_the_namespace_typed(tmp_path, capsys, no_env) -> None:  # noqa: F811
    config = _kubeconfig(tmp_path / f"dump-{PID}.yaml", REFUSED)
    code, _, err = cli(capsys, "dump", "maps", "--kubeconfig", config, "--context", "My Ctx", "-n", "foo")
    assert code == 2, err
    kubectl = [line for line in _lines(err) if line.startswith("kubectl ")]
    assert kubectl and shlex.split(kubectl[0])[:4] == ["kubectl", "get", "pods", "-n"], err
    assert shlex.split(kubectl[0])[4] == "foo", err
    code, _, err = cli(capsys, "dump", "maps", "--kubeconfig", config, "--context", "My Ctx")
    assert code == 2 and "kubectl get pods -n kmesh-system" in err, err


def test_10_install_s_offline_warning_line_leaves_out_what_a_dry_run_warns_of(capsys, no_env, tmp_path,  # noqa: F811
                                                                              monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config: offline
    code, _, err = cli(capsys, "install", "--cluster-id", "c1", "--timeout", "0", "--dry-run", "--xds-address",
                       "a:1")
    assert code == 0 and "Warning: --timeout has no effect with --dry-run" in err, err
    warning = next(line for line in err.splitlines() if "not schema-validated" in line)
    lines = _lines(warning)
    assert len(lines) == 1 and "--timeout" not in lines[0], warning
    words = shlex.split(lines[0])
    pairs = {(w, words[i + 1]) for i, w in enumerate(words[:-1]) if w in ("--cluster-id", "--xds-address")}
    assert words[:2] == ["kmeshctl", "install"] and "--dry-run" in words, warning
    assert pairs == {("--cluster-id", "c1"), ("--xds-address", "a:1")} and len(words) == 7, warning
    assert _problems(lines[0]) == []


# ------------------------------------------------------------------ 13. uninstall --keep-namespace


def test_13_keep_namespace_says_what_uninstall_does_with_the_namespace(capsys, no_env) -> None:  # noqa: F811
    code, _, err = cli(capsys, "uninstall", "-n", "kmesh-x", "--keep-namespace")
    assert code == 2 and err.count("Error:") == 1, err
    assert "did you mean --namespace" not in err, err
    assert "deletes namespace kmesh-x only when install made it and it holds nothing else" in err, err
    assert _lines(err) == ["kmeshctl uninstall -n kmesh-x --dry-run"], err
    assert _problems(_lines(err)[0]) == []
    code, _, err = cli(capsys, "uninstall", "--dry-run", "--keep-namespace")
    assert _lines(err) == ["kmeshctl uninstall --dry-run"], err


# ------------------------------------------------------------------ 14. uninstall stopped before any delete


@pytest.mark.parametrize("dry_run", [False, True])
def test_14_a_stop_while_the_api_is_asked_says_nothing_was_deleted_and_the_whole_line(
        tmp_path, capsys, no_env, monkeypatch, dry_run) -> None:  # noqa: F811
    from kmeshctl.cli import cluster

    def stopped(*_args: Any, **_kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cluster, "connect_reachable", stopped)
    config = _kubeconfig(tmp_path / f"stop-{PID}.yaml", REFUSED)
    words = ["uninstall", "-n", "kmesh-x", "--kubeconfig", config, "--timeout", "2m", *(["--dry-run"] * dry_run)]
    code, _, err = cli(capsys, *words)
    assert code == 130 and err.count("Error:") == 1, err
    said = "uninstall --dry-run stopped by Ctrl-C (SIGINT); nothing was deleted" if dry_run else \
        "uninstall stopped by Ctrl-C (SIGINT) before anything was deleted"
    assert said in err, err
    line = _lines(err)[0]
    assert sorted(shlex.split(line)[1:]) == sorted(words), err
    assert _problems(line) == []
