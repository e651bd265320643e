"""Issue 14, kind "a long wait is never silent, and never repeated in vain": precheck
against an API server whose /version answers but whose every other request hangs says
on stderr what it waits for, and once the API is known not to answer the remaining
checks do not each wait out --request-timeout again; install's rollout progress with
stderr not a terminal (a CI log) is plain lines (no box drawing, no trailing spaces),
written as the state changes (h49).

Real parts: kmeshctl.cli.main in-process; a loopback HTTP server that answers /version
and holds every other request open (released and stopped after the test); the stand-in
API server's DaemonSet controller."""

from __future__ import annotations

import http.server
import json
import threading
import time
from typing import Iterator

import pytest

from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_cluster_errors import kubeconfig, url
from test_cli_kinds import cli, no_env  # noqa: F401

ANSWERS = {"/version": {"gitVersion": "v1.30.2", "major": "1", "minor": "30"},
           "/api": {"kind": "APIVersions", "versions": ["v1"]},
           "/apis": {"kind": "APIGroupList", "groups": []},
           "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
               {"name": plural, "kind": kind, "namespaced": namespaced, "verbs": ["get", "list"]}
               for plural, kind, namespaced in (("namespaces", "Namespace", False), ("nodes", "Node", False),
                                                ("services", "Service", True), ("pods", "Pod", True))]}}


class _VersionThenSilence(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path in ANSWERS:  # the version and the discovery roots answer; the rest hangs
            body = json.dumps(ANSWERS[self.path]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.server.held += 1  # type: ignore[attr-defined]
        self.server.release.wait(30)  # type: ignore[attr-defined]

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def silent_api() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _VersionThenSilence)
    server.daemon_threads = True
    server.release, server.held = threading.Event(), 0  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.release.set()  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def test_precheck_says_what_it_waits_for_and_waits_once(silent_api, tmp_path, capsys, no_env) -> None:
    config = kubeconfig(tmp_path / "h49-silent.yaml", url(silent_api))
    started = time.monotonic()
    code, out, err = cli(capsys, "--kubeconfig", str(config), "--request-timeout", "2s", "precheck", "-o", "json")
    took = time.monotonic() - started
    checks = json.loads(out)["checks"]
    assert code == 1 and checks[0]["status"] == "pass", out
    assert f"waiting for the Kubernetes API at {url(silent_api)} (--request-timeout 2s)" in err, err
    assert took < 8, f"{took:.1f} s: the checks each waited again"
    assert silent_api.held == 1, silent_api.held  # type: ignore[attr-defined]
    hung = next(i for i, c in enumerate(checks) if "i/o timeout" in c["detail"])
    rest = checks[hung + 1:]
    assert rest and all(c["status"] == "fail" and c["detail"].startswith("not checked: the API server stopped "
                                                                          "answering") for c in rest), checks


def test_rollout_progress_in_a_log_is_plain_lines(cluster) -> None:  # noqa: F811
    cluster.server.daemonset_controller = "ready"
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "20")
    assert result.code == 0, result.err
    assert not set("┃━│╇┏┓┗┛─") & set(result.err), result.err
    assert all(line == line.rstrip() for line in result.err.splitlines()), result.err
    # the live view's words (and status's): one wording of the counts
    assert "DaemonSet kmesh-system/kmesh: desired 2  updated 2  ready 2\nwaited " in result.err, result.err
    assert "s, limit 20s\n" in result.err and "  pod kmesh-" in result.err, result.err


def test_rollout_lines_are_flushed_as_the_state_changes(capsys) -> None:
    """Each change is written (and flushed) when seen, not at the end."""
    from rich.console import Console

    from kmeshctl import rollout

    states = iter([rollout.RolloutState(True, 0, 0, 0, False), rollout.RolloutState(True, 1, 0, 0, True),
                   rollout.RolloutState(True, 1, 1, 1, True)])
    written: list[tuple[float, str]] = []

    class Log:
        def write(self, text: str) -> int:
            written.append((time.monotonic(), text))
            return len(text)

        def flush(self) -> None:
            pass

    original = rollout.read_rollout
    rollout.read_rollout = lambda *a: next(states)
    try:
        rollout.wait_for_rollout(None, "kmesh-system", "kmesh", 10, console=Console(file=Log()), poll=0.2)
    finally:
        rollout.read_rollout = original
    text = "".join(t for _, t in written)
    assert text.count("DaemonSet kmesh-system/kmesh") == 3, text
    assert written[-1][0] - written[0][0] >= 0.3, written  # written over time, not at once
