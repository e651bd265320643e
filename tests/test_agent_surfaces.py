"""The node agent's open surfaces that need no kernel: liveness, where metrics listen, and
that plaintext xDS never carries the service-account token (issue 12, items 4 and 9)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

from kmeshctl.node.admin import AdminServer, AdminSources
from kmeshctl.node.agent import Agent, AgentConfig
from kmeshctl.xds.client import Identity


def _get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _finished_thread(name: str) -> threading.Thread:
    thread = threading.Thread(target=lambda: None, name=name)
    thread.start()
    thread.join()
    return thread


def test_liveness_names_the_worker_that_died() -> None:
    agent = Agent(AgentConfig())
    stop = threading.Event()
    running = threading.Thread(target=stop.wait, name="xds-client", daemon=True)
    running.start()
    try:
        agent.client = SimpleNamespace(_thread=running)
        agent.podwatch = SimpleNamespace(_threads=[_finished_thread("pod-watch")])
        admin = AdminServer(AdminSources(cache_dump=dict, bpf_dump=dict, ready=lambda: (True, ""),
                                         version=dict, live=agent.live), port=0)
        admin.start()
        try:
            assert _get(admin.port, "/debug/live") == (503, {"live": False, "detail": "worker(s) stopped: pod-watch"})
            agent.podwatch = SimpleNamespace(_threads=[running])
            assert _get(admin.port, "/debug/live") == (200, {"live": True, "detail": "2 workers running"})
        finally:
            admin.stop()
    finally:
        stop.set()


def test_a_lost_istiod_connection_is_not_death() -> None:
    # The stream's thread keeps running (reconnecting) while disconnected: still alive,
    # only readiness reflects the first sync.
    agent = Agent(AgentConfig())
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="xds-client", daemon=True)
    thread.start()
    agent.client = SimpleNamespace(_thread=thread, stats=SimpleNamespace(last_error="connection refused"))
    try:
        assert agent.live()[0] is True
        assert agent.ready() == (False, "waiting for the first xDS sync (last error: connection refused)")
    finally:
        stop.set()


def test_metrics_listen_on_the_node_address_not_everywhere() -> None:
    node = Agent(AgentConfig(identity=Identity("10.0.0.7", "kmesh-x", "kmesh-system")))
    assert node.metrics_host() == "10.0.0.7"  # INSTANCE_IP: the pod IP, on the host network the node's
    sandbox = Agent(AgentConfig(identity=Identity("127.0.0.1", "kmesh-sandbox", "kmesh-system")))
    assert sandbox.metrics_host() == "127.0.0.1"
    assert AgentConfig().metrics_host == ""  # never 0.0.0.0 by default


def test_plaintext_xds_never_sends_the_token(tmp_path: Path) -> None:
    token = tmp_path / "istio-token"
    token.write_text("secret-token\n")
    insecure = Agent(AgentConfig(xds_insecure=True, token_path=token)).client_config()
    assert insecure.insecure and insecure.token_path is None
    from kmeshctl.xds.client import XdsClient

    metadata = dict(XdsClient(insecure, None, lambda delta: None)._metadata())
    assert "authorization" not in metadata
    tls = Agent(AgentConfig(xds_insecure=False, token_path=token)).client_config()
    assert tls.token_path == token
    assert dict(XdsClient(tls, None, lambda delta: None)._metadata())["authorization"] == "Bearer secret-token"
