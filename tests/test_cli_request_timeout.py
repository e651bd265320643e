"""Issue 14, kind "waiting on the API server": kubectl's global --request-timeout (a
duration in kubectl's syntax, 0 = no limit, default 30s) bounds every Kubernetes API
request of every command, before or after the command, and a server that is slow to
answer gets a line saying what is awaited.

Stand-in: a loopback TCP server that accepts connections and never answers (nor
closes them) plays an API server that hangs: a real one cannot be made to hang on
demand. The one of test_zero_means_no_limit closes each connection after a delay."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from listening import close_listener
from standin_apiserver import cluster  # noqa: F401
from test_cli_kinds import cli, leaf_commands, no_env  # noqa: F401


class SilentApiServer:
    """Stand-in: accepts on 127.0.0.1 and never answers; ``close_after`` seconds set: each
    connection is closed then, still without an answer."""

    def __init__(self, close_after: float | None = None) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.close_after = close_after
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        self.accepting = threading.Thread(target=self._accept, daemon=True)
        self.accepting.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(conn)
            if self.close_after is not None:
                threading.Timer(self.close_after, conn.close).start()

    def stop(self) -> None:
        self.stopped.set()
        close_listener(self.listener, self.accepting)
        for conn in self.held:
            conn.close()


def _kubeconfig(path: Path, port: int) -> Path:
    path.write_text(f"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: "
                    f"'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}\ncontexts:\n- name: silent\n"
                    "  context: {cluster: c, user: u}\ncurrent-context: silent\nusers:\n- name: u\n  user: {token: x}\n")
    return path


@pytest.fixture()
def silent(tmp_path: Path) -> Iterator[tuple[SilentApiServer, Path]]:
    server = SilentApiServer()
    try:
        yield server, _kubeconfig(tmp_path / "silent.yaml", server.port)
    finally:
        server.stop()


# every command that talks to the cluster, with the arguments it needs
CLUSTER_COMMANDS = [["status"], ["precheck"], ["uninstall"], ["version"], ["enable-ns", "default"],
                    ["disable-ns", "default"], ["install", "--cluster-id", "c1"],
                    ["install", "--cluster-id", "c1", "--dry-run"], ["waypoint", "list"], ["waypoint", "status"],
                    ["waypoint", "apply"], ["waypoint", "apply", "--dry-run"], ["waypoint", "delete"],
                    ["demo", "traffic-shift", "--target", "cluster"], ["dump", "config", "--pod", "kmesh-x"]]


@pytest.mark.parametrize("words", CLUSTER_COMMANDS, ids=" ".join)
def test_every_cluster_command_gives_up_after_the_request_timeout_and_says_what_it_waits_for(
        words: list[str], silent, capsys, no_env) -> None:
    server, kubeconfig = silent
    url = f"https://127.0.0.1:{server.port}"
    started = time.monotonic()
    code, out, err = cli(capsys, "--kubeconfig", str(kubeconfig), *words, "--request-timeout", "1s")
    took = time.monotonic() - started
    assert code == 1 and took < 8, (took, err)
    assert f"waiting for the Kubernetes API at {url} (--request-timeout 1s)" in err, err
    said = err + out  # precheck reports it as its failed first check, in the table
    assert f"cannot reach the Kubernetes API at {url} (i/o timeout: no answer within 1s;" in said, said
    assert "wait longer with --request-timeout DURATION" in said, said


def test_the_flag_goes_before_the_command_too_and_takes_kubectls_durations(silent, capsys, no_env) -> None:
    server, kubeconfig = silent
    for value, words in (("1500ms", "1.5s"), ("1", "1s")):
        started = time.monotonic()
        code, _, err = cli(capsys, "--request-timeout", value, "--kubeconfig", str(kubeconfig), "status")
        assert code == 1 and time.monotonic() - started < 8, err
        assert f"no answer within {words};" in err and f"(--request-timeout {words})" in err, err


def test_zero_means_no_limit(tmp_path: Path, capsys, no_env) -> None:
    server = SilentApiServer(close_after=3.0)  # never answers; hangs up after 3 s
    try:
        kubeconfig = _kubeconfig(tmp_path / "slow.yaml", server.port)
        started = time.monotonic()
        code, _, err = cli(capsys, "--kubeconfig", str(kubeconfig), "--request-timeout", "0", "status")
        took = time.monotonic() - started
        assert code == 1 and took >= 2.9 and "i/o timeout" not in err, (took, err)
        assert "(--request-timeout 0: no limit)" in err, err  # the waiting line
        started = time.monotonic()
        code, _, err = cli(capsys, "--kubeconfig", str(kubeconfig), "--request-timeout", "1s", "status")
        assert code == 1 and time.monotonic() - started < 2.9 and "i/o timeout" in err, err
    finally:
        server.stop()


def test_the_default_is_30s_and_shown_in_help(capsys, no_env) -> None:
    code, out, _ = cli(capsys, "--help")
    text = " ".join(out.split())
    assert code == 0 and "--request-timeout DURATION" in text and "[default: 30s; 0s to 24h]" in text, out
    from kmeshctl.params import DEFAULT_REQUEST_TIMEOUT_S

    assert DEFAULT_REQUEST_TIMEOUT_S == 30


@pytest.mark.parametrize("value,problem", [("abc", "not a duration"), ("5x", "not a duration"),
                                           ("25h", "out of range"), ("nan", "not a number")])
def test_a_bad_request_timeout_is_bad_input(value: str, problem: str, capsys, no_env) -> None:
    for args in (["--request-timeout", value, "status"], ["status", "--request-timeout", value]):
        code, out, err = cli(capsys, *args)
        assert code == 2 and not out and err.startswith(f"Error: --request-timeout {value}: {problem}"), err


def test_a_server_that_answers_quickly_prints_no_waiting_line(tmp_path: Path, capsys, no_env) -> None:
    from test_cli_kinds import _dead_kubeconfig

    code, _, err = cli(capsys, "--kubeconfig", str(_dead_kubeconfig(tmp_path / "dead")), "status")
    assert code == 1 and "connection refused" in err and "waiting for" not in err, err


def test_every_command_takes_the_flag_after_it(capsys, no_env) -> None:
    for words, _ in leaf_commands():
        code, _, err = cli(capsys, *words, "--request-timeout", "abc")
        assert code == 2 and "--request-timeout abc: not a duration" in err, (words, err)


def test_a_suggested_command_keeps_the_request_timeout(cluster, monkeypatch) -> None:  # noqa: F811
    # the stand-in API server (tests/standin): kmesh is not installed there
    monkeypatch.delenv("KUBECONFIG", raising=False)
    status = cluster.kmeshctl("status", "--request-timeout", "7500ms")
    line = next(line for line in status.out.splitlines() if line.startswith("Not installed"))
    assert "`kmeshctl --kubeconfig " in line and " --request-timeout 7.5s install --cluster-id ID`" in line, line
