"""Helper h108, kind "a stopped demo still prints its one document": `demo traffic-shift
-o json` stopped (Ctrl-C, SIGTERM) during its start, before phase 1 (reading the
manifests, waiting on the cluster), printed nothing on stdout. Now, stopped at any point
of the command, -o json|yaml prints the one document of the documented schema with
`error` saying it was stopped and what was done, `passed` false, exit 130 (SIGINT) or 143
(SIGTERM).

Real parts: the real console script in a child process waiting on a loopback listener
that never answers (the cluster it was told to use), real kill(2); in-process runs
(kmeshctl.cli.main) for the moments a child cannot time. No root, no cluster."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from kmeshctl import demo, stopping
from test_cli_kinds import cli, no_env  # noqa: F401
from test_cli_signal_stop_any_moment import KMESHCTL, _env

WAITING = "waiting for the Kubernetes API at"


def _run_stopped_while_waiting(args: list[str], signum: int, env: dict[str, str]) -> tuple[int, str, str]:
    """The console script, signalled once its stderr says it waits on the API server."""
    process = subprocess.Popen([KMESHCTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    err: list[str] = []
    waiting = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            err.append(line)
            if line.startswith(WAITING):
                waiting.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert waiting.wait(60), "".join(err)
        time.sleep(0.3)
        process.send_signal(signum)
        out = process.stdout.read() if process.stdout else ""
        process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(10)
    return process.returncode, out, "".join(err)


def _check_document(data: dict, how: str) -> None:
    assert data["schema"] == demo.SCHEMA and data["passed"] is False and data["phases"] == []
    assert data["error"] == f"stopped by {how} before any request was sent", data
    assert data["totals"] == {"requests": 0, "failures": 0, "phases": 0, "during_changes": 0}


@pytest.fixture
def silent_api_server_h108() -> Iterator[int]:
    """A loopback listener that accepts and never answers: the demo waits on it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_a_demo_stopped_while_it_waits_for_the_cluster_prints_its_document(signum: int, silent_api_server_h108: int,
                                                                          tmp_path: Path) -> None:
    config = tmp_path / "h108-kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: h108\n"
        f"clusters: [{{name: h108, cluster: {{server: 'https://127.0.0.1:{silent_api_server_h108}', "
        "insecure-skip-tls-verify: true}}]\n"
        "users: [{name: h108, user: {token: x}}]\ncontexts: [{name: h108, context: {cluster: h108, user: h108}}]\n")
    args = ["--kubeconfig", str(config), "--request-timeout", "20s", "demo", "traffic-shift", "--target", "cluster",
            "-o", "json"]
    code, out, err = _run_stopped_while_waiting(args, signum, _env(tmp_path))
    how = stopping.Stopped(signum).how
    assert code == 128 + signum and err.strip().splitlines()[-1] == f"Error: stopped by {how} before any request " \
                                                                      "was sent", (code, err)
    data = json.loads(out)
    _check_document(data, how)
    assert data["target"] == "cluster" and data["cluster"] is None and data["subsets"]  # the manifests were read


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_a_stop_while_the_target_is_chosen_prints_the_document(output: str, capsys, monkeypatch, no_env) -> None:
    def stopped(*_args: object, **_kwargs: object) -> None:
        raise stopping.Stopped(signal.SIGTERM)

    monkeypatch.setattr(demo, "choose_target", stopped)
    code, out, err = cli(capsys, "demo", "traffic-shift", "-o", output)
    assert code == 143 and err.strip().splitlines() == ["Error: stopped by SIGTERM before any request was sent"], err
    data = json.loads(out) if output == "json" else yaml.safe_load(out)
    _check_document(data, "SIGTERM")
    assert data["target"] is None and data["sandbox"] is None and data["cluster"] is None  # auto: not chosen yet
    assert [s["subset"] for s in data["subsets"]] == ["v1", "v2"]


def test_a_ctrl_c_before_the_manifests_are_read_prints_the_document(capsys, monkeypatch, no_env) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "fortio_demo", interrupted)
    code, out, err = cli(capsys, "demo", "traffic-shift", "--target", "local", "-o", "json")
    assert code == 130 and err.strip().splitlines() == ["Error: stopped by Ctrl-C (SIGINT) before any request was "
                                                        "sent"], err
    data = json.loads(out)
    _check_document(data, "Ctrl-C (SIGINT)")
    assert data["target"] == "local" and data["subsets"] == []


def test_a_table_run_stopped_early_prints_nothing_on_stdout(capsys, monkeypatch, no_env) -> None:
    def stopped(*_args: object, **_kwargs: object) -> None:
        raise stopping.Stopped(signal.SIGINT)

    monkeypatch.setattr(demo, "choose_target", stopped)
    code, out, err = cli(capsys, "demo", "traffic-shift")
    assert code == 130 and not out and err.strip().endswith("before any request was sent"), err
