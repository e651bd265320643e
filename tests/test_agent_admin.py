"""Admin HTTP and Prometheus endpoints over a live xDS client (no kernel needed)."""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kmeshctl.node.admin import NOT_A_NETNS, AdminServer, AdminSocketServer, AdminSources
from kmeshctl.node.metrics import MetricSources, MetricsServer, make_registry
from kmeshctl import unixsock
from kmeshctl.node.workload_cache import WorkloadCache
from kmeshctl.xds import WORKLOAD_ADDRESS_TYPE
from kmeshctl.xds.builders import addresses, service, workload
from kmeshctl.xds.client import ClientConfig, Identity, XdsClient, connection_status
from kmeshctl.xds.server import XdsServer

KEY = "default/echo.default.svc.cluster.local"


class Enrollments:
    """Records local enrollment calls the way the agent's enroller answers them."""

    def __init__(self) -> None:
        self.netns: dict[str, str] = {}

    def enroll(self, netns: str, pod: str = "") -> dict:
        if not Path(netns).exists():
            raise ValueError(f"{netns} does not exist")
        self.netns[netns] = pod
        return {"netns": netns, "pod": pod, "enrolled": True}

    def unenroll(self, netns: str) -> dict:
        self.netns.pop(netns, None)
        return {"netns": netns, "enrolled": False}


@pytest.fixture
def stack(tmp_path: Path):
    server = XdsServer()
    server.add_listener("127.0.0.1:0")
    server.start()
    server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(
        service("default", "echo.default.svc.cluster.local", "10.96.0.10", [(80, 8080)]),
        workload("Kubernetes//Pod/default/echo-1", "10.0.0.1", {KEY: [(80, 8080)]})))
    cache = WorkloadCache()
    client = XdsClient(ClientConfig(server.addresses[0], Identity("10.1.0.1", "agent", "kmesh-system"),
                                    insecure=True, token_path=None), cache, lambda delta: None)
    enrollments = Enrollments()
    admin = AdminServer(AdminSources(
        cache_dump=cache.to_json, bpf_dump=lambda: {"maps": "not loaded in this test"},
        ready=lambda: (client.synced.is_set(), "first xDS sync applied" if client.synced.is_set()
                       else "waiting for the first xDS sync"),
        version=lambda: {"version": "test"}, enroller=enrollments,
        xds=lambda: connection_status(server.addresses[0], client.stats, client.synced.is_set())), port=0)
    metrics = MetricsServer(make_registry(MetricSources(
        client_stats=lambda: client.stats, cache_counts=cache.counts,
        map_usage=lambda: {"km_service": (1, 5000)}, enrolled_pods=lambda: len(enrollments.netns),
        map_write_errors=lambda: 0, last_sync_seconds=lambda: max(client.stats.apply_seconds.values(), default=0.0))),
        port=0, host="127.0.0.1")
    sock = AdminSocketServer(admin.sources, tmp_path / "admin" / "admin.sock")
    admin.start()
    sock.start()
    metrics.start()
    yield server, client, admin, metrics, enrollments, tmp_path, sock
    client.stop()
    sock.stop()
    admin.stop()
    metrics.stop()
    server.stop()


def over_socket(sock: AdminSocketServer, path: str, method: str = "POST") -> tuple[int, str]:
    """A request on the admin unix socket, as root's tools (curl --unix-socket) make it."""
    status, body = unixsock.request(sock.path, method, path)
    return status, body.decode()


def get(port: int, path: str, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_xds_endpoint_reports_the_connection(stack) -> None:
    server, client, admin, *_ = stack
    before = json.loads(get(admin.port, "/debug/xds")[1])
    assert (before["connected"], before["synced"], before["nacks"]) == (False, False, 0)
    client.start()
    assert client.synced.wait(5)
    status, body = get(admin.port, "/debug/xds")
    after = json.loads(body)
    assert status == 200
    assert (after["address"], after["connected"], after["synced"]) == (server.addresses[0], True, True)
    assert after["acks"][WORKLOAD_ADDRESS_TYPE] >= 1 and after["nacks"] == 0


def test_ready_turns_200_after_first_sync_and_dump_shows_cache(stack) -> None:
    server, client, admin, *_ = stack
    status, body = get(admin.port, "/debug/ready")
    assert status == 503 and json.loads(body)["ready"] is False
    client.start()
    assert client.synced.wait(5)
    status, body = get(admin.port, "/debug/ready")
    assert status == 200
    dump = json.loads(get(admin.port, "/debug/config_dump/dual-engine")[1])
    assert dump["services"][0]["hostname"] == "echo.default.svc.cluster.local"
    assert dump["services"][0]["addresses"] == ["10.96.0.10"]
    assert dump["workloads"][0]["addresses"] == ["10.0.0.1"]
    assert get(admin.port, "/nope")[0] == 404


def test_loggers_can_be_read_and_changed(stack) -> None:
    admin, sock = stack[2], stack[6]
    assert json.loads(get(admin.port, "/debug/loggers")[1])["kmeshctl"]  # reading: the port
    status, body = over_socket(sock, "/debug/loggers?name=kmeshctl.xds.client&level=debug")
    assert status == 200 and json.loads(body)["kmeshctl.xds.client"] == "debug"
    assert logging.getLogger("kmeshctl.xds.client").level == logging.DEBUG
    status, body = over_socket(sock, "/debug/loggers?name=kmeshctl&level=loud")
    assert status == 400 and "unknown level 'loud'" in json.loads(body)["error"]
    logging.getLogger("kmeshctl.xds.client").setLevel(logging.NOTSET)


def test_local_enrollment_endpoints(stack) -> None:
    sock, enrollments = stack[6], stack[4]
    netns = "/proc/self/ns/net"  # a real network namespace file (the agent's own)
    status, body = over_socket(sock, f"/enroll?netns={netns}&pod=client")
    assert status == 200 and enrollments.netns == {netns: "client"}
    assert over_socket(sock, "/enroll")[0] == 400
    assert over_socket(sock, f"/unenroll?netns={netns}")[0] == 200 and not enrollments.netns


def test_the_admin_port_refuses_every_state_change(stack) -> None:
    admin, enrollments = stack[2], stack[4]
    for path in ("/enroll?netns=/proc/self/ns/net", "/unenroll?netns=/proc/self/ns/net",
                 "/debug/loggers?name=kmeshctl&level=debug"):
        status, body = get(admin.port, path, "POST")
        assert status == 403 and "admin socket" in json.loads(body)["error"], body
    assert not enrollments.netns and logging.getLogger("kmeshctl").level != logging.DEBUG
    assert get(admin.port, "/debug/ready")[0] in (200, 503)  # reads still work


def test_the_admin_socket_is_root_only(stack) -> None:
    import os
    import stat

    sock = stack[6]
    assert stat.S_IMODE(sock.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(sock.path.parent.stat().st_mode) == 0o700
    assert sock.path.stat().st_uid == os.geteuid()


def test_enrollment_answers_nothing_about_files_that_are_not_network_namespaces(stack, tmp_path: Path) -> None:
    sock, enrollments = stack[6], stack[4]
    empty = tmp_path / "empty"
    empty.write_text("")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    answers = set()
    for probe in ("/etc/shadow", "/nonexistent", str(empty), str(fifo), "/proc/self/ns/mnt", str(tmp_path)):
        status, body = over_socket(sock, f"/enroll?netns={probe}")
        assert status == 400, (probe, body)
        answers.add(json.loads(body)["error"])
    assert answers == {NOT_A_NETNS} and not enrollments.netns


def scrape(port: int) -> dict[str, object]:
    """Families by name, parsed the way Prometheus reads /status/metric."""
    status, text = get(port, "/status/metric")
    assert status == 200
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(families: dict, name: str, **labels: str) -> float:
    family = families[name.removesuffix("_total")]
    [value] = [s.value for s in family.samples if s.name == name and s.labels == labels]
    return value


# Every metric the node agent issue lists: xDS connected, pushes, ACK/NACK counts,
# resources by type, map entries and capacity per map, enrolled pods, map write errors,
# last sync duration.
ISSUE_METRICS = {
    "kmesh_xds_connected": "gauge", "kmesh_xds_pushes": "counter", "kmesh_xds_acks": "counter",
    "kmesh_xds_nacks": "counter", "kmesh_xds_resources": "gauge", "kmesh_bpf_map_entries": "gauge",
    "kmesh_bpf_map_capacity": "gauge", "kmesh_enrolled_pods": "gauge",
    "kmesh_bpf_map_write_errors": "counter", "kmesh_xds_last_sync_duration_seconds": "gauge",
}


def test_metrics_reflect_xds_state(stack) -> None:
    server, client, _, metrics, *_ = stack
    before = scrape(metrics.port)
    assert {name: f.type for name, f in before.items() if name in ISSUE_METRICS} == ISSUE_METRICS
    assert all(before[name].documentation for name in ISSUE_METRICS)
    assert sample(before, "kmesh_xds_connected") == 0
    # NACKs of both subscribed types exist at 0 before anything happened
    assert sample(before, "kmesh_xds_nacks_total", type="istio.workload.Address") == 0
    assert sample(before, "kmesh_xds_nacks_total", type="istio.security.Authorization") == 0

    client.start()
    assert client.synced.wait(5) and server.wait_acked(WORKLOAD_ADDRESS_TYPE)
    after = scrape(metrics.port)
    assert sample(after, "kmesh_xds_connected") == 1
    assert sample(after, "kmesh_xds_pushes_total", type="istio.workload.Address") == 1
    assert sample(after, "kmesh_xds_acks_total", type="istio.workload.Address") == 1
    assert sample(after, "kmesh_xds_resources", kind="services") == 1
    assert sample(after, "kmesh_xds_resources", kind="workloads") == 1
    assert sample(after, "kmesh_bpf_map_entries", map="km_service") == 1
    assert sample(after, "kmesh_bpf_map_capacity", map="km_service") == 5000
    assert sample(after, "kmesh_enrolled_pods") == 0
    assert sample(after, "kmesh_bpf_map_write_errors_total") == 0
    assert sample(after, "kmesh_xds_service_ports_truncated_total") == 0
    assert 0 < sample(after, "kmesh_xds_last_sync_duration_seconds") < 5

    server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(
        service("default", "bad.default.svc.cluster.local", "10.96.0.11", [(80, 70000)])))
    assert server.wait_nacked(WORKLOAD_ADDRESS_TYPE) is not None
    nacked = scrape(metrics.port)
    assert sample(nacked, "kmesh_xds_nacks_total", type="istio.workload.Address") == 1
    assert sample(nacked, "kmesh_xds_pushes_total", type="istio.workload.Address") == 2
    assert get(metrics.port, "/metrics")[0] == 404


def test_agent_ready_only_once_the_maps_hold_a_sync_and_says_why_not() -> None:
    """The agent's own readiness source (the DaemonSet's probe): 503 with the reason while
    the first xDS sync is not in the BPF maps, here because istiod cannot be reached."""
    import socket

    from kmeshctl.node.agent import Agent, AgentConfig

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    agent = Agent(AgentConfig(xds_address=dead, xds_insecure=True, token_path=None))
    admin = AdminServer(agent._admin_sources(), port=0)
    admin.start()
    try:
        status, body = get(admin.port, "/debug/ready")
        assert status == 503 and json.loads(body) == {"ready": False, "detail": "waiting for the first xDS sync"}
        agent.client = XdsClient(ClientConfig(dead, agent.config.identity, insecure=True, token_path=None),
                                 agent.cache, lambda delta: None)
        agent.client.start()
        assert _eventually(lambda: agent.client.stats.last_error)
        status, body = get(admin.port, "/debug/ready")
        assert status == 503 and "(last error: UNAVAILABLE" in json.loads(body)["detail"]
        assert json.loads(get(admin.port, "/debug/config_dump/dual-engine")[1])["node"]["locality"] is None
    finally:
        if agent.client is not None:
            agent.client.stop()
        admin.stop()


def _eventually(predicate, timeout: float = 5.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_the_agent_doc_lists_every_metric() -> None:
    from kmeshctl.node.metrics import AgentCollector
    from kmeshctl.xds.client import ClientStats

    collector = AgentCollector(MetricSources(
        client_stats=ClientStats, cache_counts=dict, map_usage=dict, enrolled_pods=lambda: 0,
        map_write_errors=lambda: 0, last_sync_seconds=lambda: 0.0))
    doc = (Path(__file__).resolve().parent.parent / "docs" / "agent.md").read_text()
    for family in collector.collect():
        exposed = f"{family.name}_total" if family.type == "counter" else family.name
        assert f"`{exposed}`" in doc, f"docs/agent.md does not list {exposed}"
