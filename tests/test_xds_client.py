"""The agent's delta ADS client against the in-process ADS server over loopback."""

from __future__ import annotations

import ipaddress

import itertools
import logging
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2

from kmeshctl.node import model
from kmeshctl.node.workload_cache import CacheDelta, WorkloadCache
from kmeshctl.xds import AUTHORIZATION_TYPE, WORKLOAD_ADDRESS_TYPE
from kmeshctl.xds.builders import (addresses, ports, service, waypoint_address,
                                   waypoint_hostname, workload)
from kmeshctl.xds.client import ClientConfig, Identity, XdsClient, next_backoff
from kmeshctl.xds.protos import authorization_pb2, workload_pb2
from kmeshctl.xds.server import TlsFiles, XdsServer

NS = "default"
HOST = "echo.default.svc.cluster.local"
KEY = f"{NS}/{HOST}"
IDENTITY = Identity(instance_ip="10.1.0.4", pod_name="kmesh-abc", pod_namespace="kmesh-system",
                    cluster_id="c1", node_name="node-1", service_account="kmesh")


def echo_service(**kw) -> workload_pb2.Service:
    return service(NS, HOST, "10.96.0.10", [(80, 8080)], **kw)


def echo_workload(n: int, ip: str) -> workload_pb2.Workload:
    return workload(f"Kubernetes//Pod/{NS}/echo-{n}", ip, {KEY: [(80, 8080)]})


class Recorder:
    """The sink: remembers every delta the client hands on."""

    def __init__(self) -> None:
        self.deltas: list[CacheDelta] = []
        self.lock = threading.Lock()

    def __call__(self, delta: CacheDelta) -> None:
        with self.lock:
            self.deltas.append(delta)


def start_server(address: str = "127.0.0.1:0", tls: TlsFiles | None = None) -> XdsServer:
    server = XdsServer()
    server.add_listener(address, tls)
    server.start()
    return server


@pytest.fixture
def server():
    srv = start_server()
    yield srv
    srv.stop()


@pytest.fixture
def token(tmp_path: Path) -> Path:
    path = tmp_path / "istio-token"
    path.write_text("tok-123\n")
    return path


def make_client(address: str, token: Path, **kw) -> tuple[XdsClient, WorkloadCache, Recorder]:
    cache, sink = WorkloadCache(), Recorder()
    config = ClientConfig(address=address, identity=IDENTITY, insecure=kw.pop("insecure", True),
                          token_path=token, backoff_initial=0.05, backoff_max=0.2, **kw)
    client = XdsClient(config, cache, sink)
    client.start()
    return client, cache, sink


@pytest.fixture
def connected(server: XdsServer, token: Path):
    server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(
        echo_service(), echo_workload(1, "10.0.0.1"), echo_workload(2, "10.0.0.2")))
    client, cache, sink = make_client(server.addresses[0], token)
    assert client.synced.wait(5)
    assert server.wait_acked(WORKLOAD_ADDRESS_TYPE)
    yield client, cache, sink
    client.stop()


def test_initial_sync_identity_and_metadata(server: XdsServer, connected) -> None:
    client, cache, sink = connected
    assert set(cache.services) == {KEY}
    assert cache.members(KEY) == {f"Kubernetes//Pod/{NS}/echo-1", f"Kubernetes//Pod/{NS}/echo-2"}
    stream = server.streams()[0]
    assert stream.node.id == "ztunnel~10.1.0.4~kmesh-abc.kmesh-system~kmesh-system.svc.cluster.local"
    meta = dict(stream.node.metadata)
    assert meta["CLUSTER_ID"] == "c1" and meta["NAMESPACE"] == "kmesh-system"
    assert meta["INSTANCE_IPS"] == "10.1.0.4" and meta["NODE_NAME"] == "node-1"
    assert meta["SERVICE_ACCOUNT"] == "kmesh"
    assert stream.metadata["authorization"] == "Bearer tok-123"
    assert stream.metadata["clusterid"] == "c1"
    assert set(stream.last_nonce) == {WORKLOAD_ADDRESS_TYPE, AUTHORIZATION_TYPE}
    opening = client._initial_requests()  # what every (re)connect starts with
    assert [(r.type_url, list(r.resource_names_subscribe)) for r in opening] == [
        (WORKLOAD_ADDRESS_TYPE, ["*"]), (AUTHORIZATION_TYPE, ["*"])]  # delta wildcard, both types
    assert client.stats.connected and client.stats.nacks == {}


def test_incremental_add_update_remove_exact_deltas(server: XdsServer, connected) -> None:
    client, cache, sink = connected
    before = len(sink.deltas)
    server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(echo_workload(3, "10.0.0.3")))
    assert server.wait_until(lambda: len(sink.deltas) == before + 1, 5)
    assert list(sink.deltas[-1].workloads) == [f"Kubernetes//Pod/{NS}/echo-3"]
    assert sink.deltas[-1].workloads[f"Kubernetes//Pod/{NS}/echo-3"].old is None

    server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(echo_service(mode=2)))
    assert server.wait_until(lambda: len(sink.deltas) == before + 2, 5)
    change = sink.deltas[-1].services[KEY]
    assert change.old.load_balancing.mode == 0 and change.new.load_balancing.mode == 2

    server.remove_resources(WORKLOAD_ADDRESS_TYPE, [f"Kubernetes//Pod/{NS}/echo-1"])
    assert server.wait_until(lambda: len(sink.deltas) == before + 3, 5)
    assert sink.deltas[-1].workloads[f"Kubernetes//Pod/{NS}/echo-1"].new is None
    assert f"Kubernetes//Pod/{NS}/echo-1" not in cache.workloads
    assert server.wait_acked(WORKLOAD_ADDRESS_TYPE)


def test_authorizations_are_cached(server: XdsServer, connected) -> None:
    client, cache, _ = connected
    policy = authorization_pb2.Authorization(name="deny-all", namespace=NS,
                                             action=authorization_pb2.DENY)
    server.set_resources(AUTHORIZATION_TYPE, {f"{NS}/deny-all": policy})
    assert server.wait_until(lambda: f"{NS}/deny-all" in cache.authorizations, 5)
    assert cache.to_json()["policies"][0]["action"] == "DENY"


@pytest.mark.parametrize("bad, expected", [
    (workload("Kubernetes//Pod/default/bad", "10.0.0.9", {KEY: [(80, 8080)]}), "address 0 has 5 bytes"),
    (workload("Kubernetes//Pod/default/bad", "10.0.0.9", {KEY: [(80, 70000)]}), "target_port 70000 is over 65535"),
])
def test_invalid_resource_is_nacked_and_others_applied(server: XdsServer, connected, bad, expected) -> None:
    client, cache, _ = connected
    if "bytes" in expected:
        bad.addresses[0] = b"\x0a\x00\x00\x09\x00"
    resources = addresses(bad, echo_workload(4, "10.0.0.4"))
    server.set_resources(WORKLOAD_ADDRESS_TYPE, resources)
    nack = server.wait_nacked(WORKLOAD_ADDRESS_TYPE)
    bad_name = next(n for n in resources if "echo-4" not in n)
    assert nack is not None and nack.error_code == 3
    assert nack.error_message.startswith(f"{bad_name}: ") and expected in nack.error_message
    assert f"Kubernetes//Pod/{NS}/echo-4" in cache.workloads  # the valid one went in
    assert bad_name not in cache.workloads and bad_name not in cache.services
    assert client.stats.connected and client.stats.nacks[WORKLOAD_ADDRESS_TYPE] == 1


def test_a_service_with_more_than_10_ports_is_accepted_with_its_workloads(
        server: XdsServer, connected, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 10 item 2: never a NACK for it nor for the pods that list it; one warning and
    one count per version of the service, none when only its pods change."""
    client, cache, _ = connected
    wide_key = f"{NS}/wide.default.svc.cluster.local"
    eleven = [(80 + i, 8080 + i) for i in range(11)]
    wide = service(NS, "wide.default.svc.cluster.local", "10.96.0.11", eleven)
    both = workload(f"Kubernetes//Pod/{NS}/both-0", "10.0.0.7", {wide_key: eleven, KEY: [(80, 8080)]})
    caplog.set_level(logging.WARNING, logger="kmeshctl.xds.client")
    server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(wide, both))
    assert server.wait_acked(WORKLOAD_ADDRESS_TYPE)
    assert client.stats.nacks == {} and len(cache.services[wide_key].ports) == 11
    assert cache.members(wide_key) == {both.uid} and both.uid in cache.members(KEY)
    assert client.stats.ports_truncated == 1
    warnings = [r.getMessage() for r in caplog.records if "service_ports_truncated" in r.getMessage()]
    assert warnings == [f"event=service_ports_truncated service={wide_key} ports=11 kept=10 dropped=1"]

    server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(workload(
        f"Kubernetes//Pod/{NS}/both-1", "10.0.0.8", {wide_key: eleven})))
    assert server.wait_acked(WORKLOAD_ADDRESS_TYPE) and client.stats.ports_truncated == 1
    wide.ports.extend(ports([(91, 8091)]))  # a new version of the service: warned again
    server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(wide))
    assert server.wait_acked(WORKLOAD_ADDRESS_TYPE) and client.stats.ports_truncated == 2


def test_nack_keeps_last_good_version(server: XdsServer, connected) -> None:
    client, cache, _ = connected
    broken = echo_service()
    broken.ports.extend(ports([(1, 70000)]))
    server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(broken))
    assert server.wait_nacked(WORKLOAD_ADDRESS_TYPE) is not None
    assert cache.services[KEY].ports == (model.Port(80, 8080),)
    # The held version stays the good one, so a reconnect asks for the new one again.
    assert client.held[WORKLOAD_ADDRESS_TYPE][KEY] != server.version(WORKLOAD_ADDRESS_TYPE, KEY)
    server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(echo_service(mode=1)))
    assert server.wait_acked(WORKLOAD_ADDRESS_TYPE)
    assert cache.services[KEY].load_balancing.mode == 1


def test_malformed_resources_do_not_crash(server: XdsServer, connected) -> None:
    client, cache, _ = connected
    garbage = any_pb2.Any(type_url=WORKLOAD_ADDRESS_TYPE, value=b"\xff\xff\xff")
    server.set_resources(WORKLOAD_ADDRESS_TYPE, {"junk": garbage})
    nack = server.wait_nacked(WORKLOAD_ADDRESS_TYPE)
    assert nack is not None and nack.error_message.startswith("junk: cannot decode")
    empty = any_pb2.Any(); empty.Pack(workload_pb2.Address())
    server.set_resources(WORKLOAD_ADDRESS_TYPE, {"empty": empty})
    nack = server.wait_nacked(WORKLOAD_ADDRESS_TYPE)
    assert nack is not None and "neither workload nor service" in nack.error_message
    server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(echo_workload(5, "10.0.0.5")))
    assert server.wait_until(lambda: f"Kubernetes//Pod/{NS}/echo-5" in cache.workloads, 5)
    assert client.stats.connected


def test_unknown_waypoint_applied_once_it_arrives(server: XdsServer, connected) -> None:
    client, cache, _ = connected
    wp_host = "waypoint.default.svc.cluster.local"
    waiting = service(NS, "late.default.svc.cluster.local", "10.96.0.20", [(80, 80)],
                      waypoint=waypoint_hostname(NS, wp_host))
    server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(waiting))
    # Issue 10 item 3: istiod often sends a Service before its waypoint's: no NACK, held.
    assert server.wait_acked(WORKLOAD_ADDRESS_TYPE)
    assert client.stats.nacks == {} and client.stats.waypoint_pending == 1
    assert f"{NS}/late.default.svc.cluster.local" not in cache.services
    server.set_resources(WORKLOAD_ADDRESS_TYPE,
                         addresses(service(NS, wp_host, "10.96.0.30", [(15008, 15008)])))
    assert server.wait_until(lambda: f"{NS}/late.default.svc.cluster.local" in cache.services, 5)
    assert client.stats.nacks == {} and client.stats.waypoint_pending == 0
    assert client.held[WORKLOAD_ADDRESS_TYPE][f"{NS}/late.default.svc.cluster.local"] == \
        server.version(WORKLOAD_ADDRESS_TYPE, f"{NS}/late.default.svc.cluster.local")


def test_waypoint_by_address_is_accepted(server: XdsServer, connected) -> None:
    _, cache, _ = connected
    server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(echo_service(waypoint=waypoint_address("10.0.0.50"))))
    assert server.wait_acked(WORKLOAD_ADDRESS_TYPE)
    assert cache.services[KEY].waypoint.address == ipaddress.ip_address("10.0.0.50")


def test_server_restart_resync_with_initial_versions(server: XdsServer, connected) -> None:
    client, cache, sink = connected
    address = server.addresses[0]
    held_before = dict(client.held[WORKLOAD_ADDRESS_TYPE])
    server.stop()
    assert _wait(lambda: not client.stats.connected)
    # While the agent is away: echo-2 is deleted, echo-3 is added, the service unchanged.
    restarted = start_server(address)
    try:
        restarted.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(
            echo_service(), echo_workload(1, "10.0.0.1"), echo_workload(3, "10.0.0.3")))
        assert restarted.wait_acked(WORKLOAD_ADDRESS_TYPE, 10)
        stream = restarted.streams()[0]
        assert stream.initial_versions[WORKLOAD_ADDRESS_TYPE] == held_before
        assert set(cache.workloads) == {f"Kubernetes//Pod/{NS}/echo-1", f"Kubernetes//Pod/{NS}/echo-3"}
        resync = sink.deltas[-1]
        assert set(resync.workloads) == {f"Kubernetes//Pod/{NS}/echo-2", f"Kubernetes//Pod/{NS}/echo-3"}
        assert not resync.services  # unchanged: not re-sent
        assert client.stats.reconnects >= 1
    finally:
        restarted.stop()


def self_signed(directory: Path, cn: str, dns: str | None = "localhost") -> tuple[Path, Path]:
    key, cert = directory / f"{cn}-key.pem", directory / f"{cn}-cert.pem"
    san = ["-addext", f"subjectAltName=DNS:{dns}"] if dns else []
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={cn}", *san, "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return key, cert


def test_tls_verifies_the_root_cert(tmp_path: Path, token: Path) -> None:
    key, cert = self_signed(tmp_path, "istiod")
    server = start_server("127.0.0.1:0", TlsFiles(cert_chain=cert, private_key=key))
    server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(echo_service()))
    port = server.addresses[0].rsplit(":", 1)[1]
    try:
        client, cache, _ = make_client(f"localhost:{port}", token, insecure=False, root_cert=cert)
        assert client.synced.wait(5) and KEY in cache.services
        client.stop()
        # istiod reached by IP: its certificate names a host, given as the TLS server name
        client, cache, _ = make_client(f"127.0.0.1:{port}", token, insecure=False, root_cert=cert)
        assert not client.synced.wait(1) and client.stats.last_error.startswith("UNAVAILABLE")
        client.stop()
        client, cache, _ = make_client(f"127.0.0.1:{port}", token, insecure=False, root_cert=cert,
                                       tls_server_name="localhost")
        assert client.synced.wait(5) and KEY in cache.services
        client.stop()
        _, other = self_signed(tmp_path, "evil", dns=None)
        client, cache, _ = make_client(f"localhost:{port}", token, insecure=False, root_cert=other)
        assert not client.synced.wait(1)
        assert client.stats.last_error.startswith("UNAVAILABLE") and not cache.services
        client.stop()
    finally:
        server.stop()


def test_tls_server_requiring_bearer_token_and_clusterid(tmp_path: Path, token: Path) -> None:
    """Like istiod: TLS, and a stream is refused unless it carries the istio-ca token and
    the cluster id. The token file is read again at every reconnect (projected tokens rotate)."""
    def authenticate(metadata: dict[str, str]) -> str | None:
        if metadata.get("authorization") != "Bearer tok-123":
            return "authentication failure: bearer token missing or not valid"
        if metadata.get("clusterid") != IDENTITY.cluster_id:
            return f"unknown clusterid {metadata.get('clusterid')!r}"
        return None

    key, cert = self_signed(tmp_path, "istiod")
    server = XdsServer(authenticate=authenticate)
    port = server.add_listener("127.0.0.1:0", TlsFiles(cert_chain=cert, private_key=key)).rsplit(":", 1)[1]
    server.start()
    server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(echo_service()))
    try:
        client, cache, _ = make_client(f"localhost:{port}", token, insecure=False, root_cert=cert)
        assert client.synced.wait(5) and KEY in cache.services
        assert server.streams()[0].metadata["clusterid"] == "c1"
        client.stop()

        token.write_text("expired-token\n")
        client, cache, _ = make_client(f"localhost:{port}", token, insecure=False, root_cert=cert)
        try:
            assert not client.synced.wait(1) and not cache.services
            assert client.stats.last_error.startswith("UNAUTHENTICATED: authentication failure")
            assert "check that CLUSTER_ID 'c1'" in client.stats.last_error  # what istiod only logs
            token.write_text("tok-123\n")  # the kubelet rotated the token: the next attempt uses it
            assert client.synced.wait(5) and KEY in cache.services
        finally:
            client.stop()
    finally:
        server.stop()


def test_backoff_grows_with_jitter_within_bounds() -> None:
    assert next_backoff(0, 1, 30, rand=lambda: 0.0) == 1
    assert next_backoff(0, 1, 30, rand=lambda: 1.0) == 2  # even the first wait is jittered
    assert next_backoff(3, 1, 30, rand=lambda: 0.0) == 8
    assert next_backoff(3, 1, 30, rand=lambda: 1.0) == 16
    assert next_backoff(4, 1, 30, rand=lambda: 0.0) == 15
    assert next_backoff(10, 1, 30, rand=lambda: 1.0) == 30
    assert all(1 <= next_backoff(a, 1, 30) <= 30 for a in range(40))
    assert len({next_backoff(0, 1, 30) for _ in range(20)}) > 1


class RecordedWaits:
    """The client's wait between attempts: records each delay, sleeps only a moment."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        time.sleep(0.01)


def test_reconnect_backoff_series_against_a_dead_address() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"  # nothing listens once closed
    waits, jitter = RecordedWaits(), itertools.cycle([0.0, 1.0])
    client = XdsClient(ClientConfig(address=dead, identity=IDENTITY, insecure=True, token_path=None),
                       WorkloadCache(), Recorder(), rand=lambda: next(jitter), wait=waits)
    client.start()
    try:
        assert _wait(lambda: len(waits.delays) >= 8)
    finally:
        client.stop()
    # Default bounds (1 s .. 30 s): each wait in the upper half of 2^(n+1) s, capped at 30.
    assert waits.delays[:8] == [1, 4, 4, 16, 15, 30, 15, 30]
    assert client.stats.last_error.startswith("UNAVAILABLE") and not client.stats.connected


def test_backoff_starts_again_after_a_stream_that_worked(server: XdsServer, token: Path) -> None:
    waits = RecordedWaits()
    address = server.addresses[0]
    client = XdsClient(ClientConfig(address=address, identity=IDENTITY, insecure=True, token_path=token),
                       WorkloadCache(), Recorder(), rand=lambda: 0.0, wait=waits)
    client.start()
    restarted = None
    try:
        assert client.synced.wait(5)
        server.stop()
        assert _wait(lambda: len(waits.delays) >= 3)
        restarted = start_server(address)
        assert _wait(lambda: client.stats.connected)
        before = len(waits.delays)
        restarted.stop()
        assert _wait(lambda: len(waits.delays) > before)
    finally:
        client.stop()
        if restarted is not None:
            restarted.stop()
    assert waits.delays[:3] == [1, 2, 4]
    assert waits.delays[before] == 1  # the series restarted: the stream had worked


def _wait(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_first_sync_of_an_empty_mesh_reaches_the_sink(server: XdsServer, token: Path) -> None:
    client, cache, sink = make_client(server.addresses[0], token)
    try:
        assert client.synced.wait(5)
        [first] = sink.deltas
        # a first sync is reconciled whole: it says so instead of listing each resource
        assert first.everything and not (first.services or first.workloads or first.authorizations)
    finally:
        client.stop()
