"""The eBPF data path on the real kernel: network namespaces as pods, the programs attached
to this run's cgroup, real TCP from a process in the client pod's cgroup and netns."""

from __future__ import annotations

import ctypes
import ipaddress
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest

from bpf_testlib import PodProcess, LoadedEnv, connect, loaded_dataplane, pod_network, start_connect
from kmeshctl import bpfsys
from kmeshctl.node import loader
from kmeshctl.node.ids import IdRegistry
from kmeshctl.maps import BackendValue, LbPolicy, ServiceValue, Tunnel, WaypointHeader

pytestmark = pytest.mark.root

SUBNET = "10.77.0.0/24"
VIP_SPREAD = "10.77.0.201"
VIP_STRICT = "10.77.0.202"
VIP_FAILOVER = "10.77.0.203"
VIP_WP_TLV = "10.77.0.204"
VIP_WP_PROXY = "10.77.0.205"
VIP_WL_WAYPOINT = "10.77.0.206"
VIP_FAILOVER_FIRST = "10.77.0.207"
POD_IP_WL_WAYPOINT = "10.77.0.210"  # a backend reached only through its waypoint
SUBNET6 = "fd00:77::/64"
VIP6_WP_TLV = "fd00:96::204"
VIP6_WP_PROXY = "fd00:96::205"
TLV_PORT = 15019
PROXY_PORT = 15021
PPV2_SIGNATURE = bytes.fromhex("0d0a0d0a000d0a515549540a")
DUAL_STACK = ("client", "wp")  # pods with an IPv6 address too


class Env:
    def __init__(self, dp: LoadedEnv, net, ids: IdRegistry) -> None:
        self.dp = dp
        self.net = net
        self.ids = ids
        self.maps = dp.maps
        self.servers: list[PodProcess] = []


@pytest.fixture(scope="module")
def dp(run_id: str) -> Iterator[LoadedEnv]:
    yield from loaded_dataplane(run_id, "dp")


@pytest.fixture(scope="module")
def env(run_id: str, dp: LoadedEnv) -> Iterator[Env]:
    for net in pod_network(f"km{run_id}d", SUBNET, dp.cgroup):
        env = Env(dp, net, IdRegistry(dp.maps))
        for name in ("client", "other", "vip", "be1", "be2", "be3", "wp"):
            net.add_pod(name)
        for name in ("client", "wp"):
            _add_ipv6(net.pods[name])
        try:
            _start_servers(env)
            _write_services(env)
            env.maps.enroll(net.pods["client"].netns_cookie())
            yield env
        finally:
            for server in env.servers:
                server.stop()


def ipv6_of(pod) -> ipaddress.IPv6Address:
    """The pod's IPv6 address in SUBNET6 (same host part as its IPv4 address)."""
    return ipaddress.IPv6Network(SUBNET6)[int(pod.ip) & 0xFF]


def _add_ipv6(pod) -> None:
    subprocess.run(["ip", "-n", pod.netns, "addr", "add", f"{ipv6_of(pod)}/64", "dev", "eth0",
                    "nodad"], check=True)


def _start_servers(env: Env) -> None:
    pods = env.net.pods
    env.servers.append(PodProcess(pods["vip"], "serve", "vip", "80", "81"))
    for name in ("be1", "be2", "be3"):
        env.servers.append(PodProcess(pods[name], "serve", name, "8080", "9090"))
    env.tlv_sink = PodProcess(pods["wp"], "sink", str(TLV_PORT))
    env.proxy_sink = PodProcess(pods["wp"], "sink", str(PROXY_PORT))
    env.servers += [env.tlv_sink, env.proxy_sink]


def _backend(env: Env, name: str, waypoint_id: int = 0, ip: str | None = None) -> int:
    uid = env.ids.backend_id(f"Kubernetes//Pod/default/{name}")
    pod = env.net.pods.get(name)
    addrs = (ip,) if ip else (pod.ip, ipv6_of(pod)) if name in DUAL_STACK else (pod.ip,)
    env.maps.set_backend(uid, BackendValue(addrs, waypoint_id=waypoint_id))
    for addr in addrs:
        env.maps.set_frontend(addr, uid)
    return uid


def _service(env: Env, name: str, vip: str, groups: list[list[int]],
             lb: LbPolicy = LbPolicy.RANDOM, waypoint_id: int = 0) -> int:
    sid = env.ids.service_id(f"default/{name}.default.svc.cluster.local")
    env.maps.write_service(sid, ServiceValue(lb_policy=lb, ports=((80, 8080),), waypoint_id=waypoint_id),
                           groups)
    env.maps.set_frontend(vip, sid)
    return sid


def _write_services(env: Env) -> None:
    be1, be2, be3 = (_backend(env, n) for n in ("be1", "be2", "be3"))
    # the waypoint pod twice: as a pod reading the Kmesh TLV (no application tunnel: port
    # 15019), and as a pod whose application tunnel is PROXY on PROXY_PORT
    wp_tlv = _backend(env, "wp")
    wp_proxy = _proxy_waypoint(env)
    wl = _backend(env, "wl", wp_proxy, ip=POD_IP_WL_WAYPOINT)
    _service(env, "web", str(env.net.pods["vip"].ip), [[be1]])
    _service(env, "spread", VIP_SPREAD, [[be1, be2, be3]])
    _service(env, "strict", VIP_STRICT, [[], [be2]], LbPolicy.STRICT)
    _service(env, "failover", VIP_FAILOVER, [[], [be3]], LbPolicy.FAILOVER)
    _service(env, "failover-first", VIP_FAILOVER_FIRST, [[be2], [be3]], LbPolicy.FAILOVER)
    _service(env, "wp-tlv", VIP_WP_TLV, [[be1]], waypoint_id=wp_tlv)
    _service(env, "wp-proxy", VIP_WP_PROXY, [[be1]], waypoint_id=wp_proxy)
    _service(env, "wl-waypoint", VIP_WL_WAYPOINT, [[wl]])
    _service(env, "wp-tlv6", VIP6_WP_TLV, [[be1]], waypoint_id=wp_tlv)
    _service(env, "wp-proxy6", VIP6_WP_PROXY, [[be1]], waypoint_id=wp_proxy)


def _proxy_waypoint(env: Env) -> int:
    """The wp pod's addresses as a second backend whose application tunnel is PROXY."""
    pod = env.net.pods["wp"]
    uid = env.ids.backend_id("Kubernetes//Pod/default/wp-proxy")
    env.maps.set_backend(uid, BackendValue((pod.ip, ipv6_of(pod)),
                                           tunnel=Tunnel(PROXY_PORT, WaypointHeader.PROXY_V2)))
    return uid


def _replies(results: list[dict]) -> list[str]:
    assert all(r["ok"] for r in results), results
    return [r["reply"] for r in results]


# ------------------------------------------------------------------- L4 balancing


def test_vip_port_reaches_backend_target_port(env: Env) -> None:
    vip = str(env.net.pods["vip"].ip)
    assert _replies(connect(env.net.pods["client"], vip, 80, count=3)) == ["be1:8080"] * 3


def test_ipv4_mapped_ipv6_connect_is_balanced_too(env: Env) -> None:
    vip = env.net.pods["vip"].ip
    assert _replies(connect(env.net.pods["client"], f"::ffff:{vip}", 80)) == ["be1:8080"]


def test_port_without_pair_is_left_alone(env: Env) -> None:
    vip = str(env.net.pods["vip"].ip)
    assert _replies(connect(env.net.pods["client"], vip, 81)) == ["vip:81"]


def test_pod_ip_access_goes_straight_to_the_pod(env: Env) -> None:
    be2 = str(env.net.pods["be2"].ip)
    assert _replies(connect(env.net.pods["client"], be2, 9090)) == ["be2:9090"]


def test_unmanaged_netns_is_untouched(env: Env) -> None:
    vip = str(env.net.pods["vip"].ip)
    assert _replies(connect(env.net.pods["other"], vip, 80)) == ["vip:80"]


def test_enroll_then_unenroll(env: Env) -> None:
    other = env.net.pods["other"]
    vip = str(env.net.pods["vip"].ip)
    cookie = other.netns_cookie()
    env.maps.enroll(cookie)
    try:
        assert env.maps.is_enrolled(cookie)
        assert _replies(connect(other, vip, 80)) == ["be1:8080"]
    finally:
        assert env.maps.unenroll(cookie)
    assert _replies(connect(other, vip, 80)) == ["vip:80"]


def test_random_spreads_uniformly_over_three_backends(env: Env) -> None:
    n = 300
    counts = Counter(_replies(connect(env.net.pods["client"], VIP_SPREAD, 80, count=n)))
    assert set(counts) == {"be1:8080", "be2:8080", "be3:8080"}, counts
    expected = n / 3
    chi_square = sum((c - expected) ** 2 / expected for c in counts.values())
    # 2 degrees of freedom: P(chi2 > 13.8) = 0.001 for a uniform choice
    assert chi_square < 13.8, (counts, chi_square)


def test_strict_with_empty_group_zero_fails_the_connect(env: Env) -> None:
    # the hook fails the connect() itself with bpf_set_retval(-ECONNREFUSED)
    assert connect(env.net.pods["client"], VIP_STRICT, 80) == [{"ok": False, "error": "ECONNREFUSED"}]
    assert connect(env.net.pods["client"], f"::ffff:{VIP_STRICT}", 80) == \
        [{"ok": False, "error": "ECONNREFUSED"}]


def test_failover_uses_the_next_non_empty_group(env: Env) -> None:
    client = env.net.pods["client"]
    assert _replies(connect(client, VIP_FAILOVER, 80, count=5)) == ["be3:8080"] * 5
    assert _replies(connect(client, VIP_FAILOVER_FIRST, 80, count=5)) == ["be2:8080"] * 5


# ------------------------------------------------------------------- waypoints


def _ip4(addr: str | ipaddress.IPv4Address) -> bytes:
    return ipaddress.IPv4Address(str(addr)).packed


def kmesh_tlv(dst: str, port: int) -> bytes:
    return (b"\x01" + (6).to_bytes(4, "big") + _ip4(dst) + port.to_bytes(2, "big")
            + b"\xfe" + b"\0\0\0\0")


def proxy_v2(src: str, src_port: int, dst: str, dst_port: int) -> bytes:
    return (PPV2_SIGNATURE + b"\x21\x11" + (12).to_bytes(2, "big") + _ip4(src) + _ip4(dst)
            + src_port.to_bytes(2, "big") + dst_port.to_bytes(2, "big"))


def _through_waypoint(env: Env, sink: PodProcess, host: str, port: int) -> tuple[dict, bytes]:
    """Connect, send two separate messages, return (client result, bytes the sink got)."""
    [result] = connect(env.net.pods["client"], host, port, send="hello,world")
    assert result["ok"] and result["reply"] == "ok", result
    received = sink.next_json()
    client = env.net.pods["client"]
    assert received["peer"][0] in (str(client.ip), str(ipv6_of(client)))
    return result, bytes.fromhex(received["data"])


def test_service_waypoint_gets_kmesh_tlv_once_then_payload(env: Env) -> None:
    _, data = _through_waypoint(env, env.tlv_sink, VIP_WP_TLV, 80)
    assert len(kmesh_tlv(VIP_WP_TLV, 80)) == 16
    assert data == kmesh_tlv(VIP_WP_TLV, 80) + b"helloworld"


def test_service_waypoint_gets_proxy_v2_once_then_payload(env: Env) -> None:
    result, data = _through_waypoint(env, env.proxy_sink, VIP_WP_PROXY, 80)
    src, src_port = result["local"]
    header = proxy_v2(src, src_port, VIP_WP_PROXY, 80)
    assert len(header) == 28
    assert data == header + b"helloworld"


def test_ipv6_socket_to_mapped_vip_gets_ipv4_tlv(env: Env) -> None:
    _, data = _through_waypoint(env, env.tlv_sink, f"::ffff:{VIP_WP_TLV}", 80)
    assert data == kmesh_tlv(VIP_WP_TLV, 80) + b"helloworld"


def test_ipv6_service_waypoint_gets_28_byte_kmesh_tlv(env: Env) -> None:
    _, data = _through_waypoint(env, env.tlv_sink, VIP6_WP_TLV, 80)
    header = (b"\x01" + (18).to_bytes(4, "big") + ipaddress.IPv6Address(VIP6_WP_TLV).packed
              + (80).to_bytes(2, "big") + b"\xfe" + b"\0\0\0\0")
    assert len(header) == 28
    assert data == header + b"helloworld"


def test_ipv6_service_waypoint_gets_proxy_v2_tcp6(env: Env) -> None:
    result, data = _through_waypoint(env, env.proxy_sink, VIP6_WP_PROXY, 80)
    src, src_port = result["local"]
    header = (PPV2_SIGNATURE + b"\x21\x21" + (36).to_bytes(2, "big")
              + ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(VIP6_WP_PROXY).packed
              + src_port.to_bytes(2, "big") + (80).to_bytes(2, "big"))
    assert len(header) == 52
    assert data == header + b"helloworld"


def test_workload_waypoint_via_service_vip(env: Env) -> None:
    result, data = _through_waypoint(env, env.proxy_sink, VIP_WL_WAYPOINT, 80)
    src, src_port = result["local"]
    assert data == proxy_v2(src, src_port, VIP_WL_WAYPOINT, 80) + b"helloworld"


def test_workload_waypoint_via_pod_ip(env: Env) -> None:
    result, data = _through_waypoint(env, env.proxy_sink, POD_IP_WL_WAYPOINT, 8080)
    src, src_port = result["local"]
    assert data == proxy_v2(src, src_port, POD_IP_WL_WAYPOINT, 8080) + b"helloworld"


def test_waypoint_connections_leave_the_sockhash(env: Env) -> None:
    # every connection above has sent its header: none is tracked any more
    assert list(env.maps.socket.keys()) == []


# A client that connects, then sends one message per line it reads on stdin.
STEPPED_CLIENT = """
import json, socket, sys
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print(json.dumps(sock.getsockname()[:2]), flush=True)
for line in sys.stdin:
    sock.sendall(line.strip().encode())
    print("sent", flush=True)
sock.shutdown(socket.SHUT_WR)
print(sock.recv(100).decode().strip(), flush=True)
"""


class SteppedClient:
    """One connection from the client pod, sending when told; ``local`` is its address."""

    def __init__(self, env: Env, host: str, port: int) -> None:
        self.proc = env.net.pods["client"].popen(
            [sys.executable, "-c", STEPPED_CLIENT, host, str(port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.local = tuple(json.loads(self.stdout.readline()))

    def send(self, payload: str) -> None:
        self.stdin.write(payload + "\n")
        self.stdin.flush()
        assert self.stdout.readline().strip() == "sent"

    def finish(self) -> str:
        """Half-close and return the peer's reply."""
        self.stdin.close()
        return self.stdout.readline().strip()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.mark.parametrize("vip", [VIP_WP_PROXY, VIP6_WP_PROXY])
def test_socket_leaves_the_sockhash_after_its_header(env: Env, vip: str) -> None:
    """Only the first send pays for sk_msg: the socket is tracked from established until
    its header is written, then the rest of the connection takes the plain TCP path."""
    wp = env.net.pods["wp"]
    wp_ip = str(wp.ip) if vip == VIP_WP_PROXY else str(ipv6_of(wp))
    client = SteppedClient(env, vip, 80)
    try:
        src, src_port = client.local
        tracked = list(env.maps.socket.keys())
        assert [(str(k.local), k.local_port, str(k.remote), k.remote_port) for k in tracked] == \
            [(src, src_port, wp_ip, PROXY_PORT)]
        for payload in ("first", "second"):
            client.send(payload)
            assert list(env.maps.socket.keys()) == []
        assert client.finish() == "ok"
    finally:
        client.kill()
    data = bytes.fromhex(env.proxy_sink.next_json()["data"])
    header_len = 28 if vip == VIP_WP_PROXY else 52
    assert data[:12] == PPV2_SIGNATURE and data[header_len:] == b"firstsecond"
    if vip == VIP_WP_PROXY:
        assert data[:header_len] == proxy_v2(src, src_port, vip, 80)


BPF_ENABLE_STATS = 32  # bpf(2) command: run counts are kept while the returned fd is open


def _sockops_runs(env: Env) -> int:
    fd = bpfsys.obj_get(env.dp.bpf_fs / "km_sockops")
    try:
        return bpfsys.prog_info(fd).run_cnt
    finally:
        os.close(fd)


def test_no_sockops_run_per_packet_after_the_header(env: Env) -> None:
    """The header-option callback that takes the socket out is switched off with it: later
    packets of the connection run no BPF program at all."""
    attr = ctypes.create_string_buffer(16)  # BPF_STATS_RUN_TIME = 0
    stats_fd = bpfsys.bpf(BPF_ENABLE_STATS, attr, "enable BPF run-time stats")
    client = SteppedClient(env, VIP_WP_PROXY, 80)
    try:
        client.send("first")
        after_header = _sockops_runs(env)
        for _ in range(20):
            client.send("more")
        after_more = _sockops_runs(env)
        assert client.finish() == "ok"
    finally:
        client.kill()
        os.close(stats_fd)
    env.proxy_sink.next_json()
    assert after_header > 0  # the connection's own callbacks were counted
    assert after_more == after_header


def test_a_data_path_at_another_cgroup_level_leaves_our_sockets_alone(run_id: str,
                                                                       env: Env) -> None:
    """A second data path (the node agent at the root while a sandbox or a test runs
    below it) sees our sockets in its sockops too: it must not switch off the callback
    that takes them out of our sockhash once their header is written."""
    client = env.net.pods["client"]
    other_fs = env.dp.bpf_fs.with_name(env.dp.bpf_fs.name + "-nested")
    other = loader.load(other_fs, client.cgroup)
    try:
        stepped = SteppedClient(env, VIP_WP_PROXY, 80)
        try:
            assert len(list(env.maps.socket.keys())) == 1
            stepped.send("first")
            assert list(env.maps.socket.keys()) == []
            assert stepped.finish() == "ok"
        finally:
            stepped.kill()
            env.proxy_sink.next_json()  # its one connection, even after a failure
    finally:
        other.close()
        loader.cleanup(other_fs, client.cgroup)


def test_two_hook_generations_back_to_back_rewrite_once(env: Env) -> None:
    """While programs are swapped, an old and a new connect hook may both run for one
    connect (e.g. attached at different cgroup levels): the result must not change."""
    client = env.net.pods["client"]
    prog_fd = bpfsys.obj_get(env.dp.bpf_fs / "km_connect4")
    cgroup_fd = os.open(client.cgroup, os.O_RDONLY | os.O_DIRECTORY)
    bpfsys.prog_attach(cgroup_fd, prog_fd, bpfsys.CGROUP_INET4_CONNECT, bpfsys.BPF_F_ALLOW_MULTI)
    try:
        vip = str(env.net.pods["vip"].ip)
        assert _replies(connect(client, vip, 80, count=5)) == ["be1:8080"] * 5
        _, data = _through_waypoint(env, env.tlv_sink, VIP_WP_TLV, 80)
        assert data == kmesh_tlv(VIP_WP_TLV, 80) + b"helloworld"
        result, data = _through_waypoint(env, env.proxy_sink, VIP_WL_WAYPOINT, 80)
        src, src_port = result["local"]
        assert data == proxy_v2(src, src_port, VIP_WL_WAYPOINT, 80) + b"helloworld"
    finally:
        bpfsys.prog_detach(cgroup_fd, prog_fd, bpfsys.CGROUP_INET4_CONNECT)
        os.close(cgroup_fd)
        os.close(prog_fd)


# ------------------------------------------------------------------- restart


def _attached(cgroup: Path) -> dict[int, list[int]]:
    fd = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return {t: bpfsys.prog_query(fd, t) for t in
                (bpfsys.CGROUP_INET4_CONNECT, bpfsys.CGROUP_INET6_CONNECT, bpfsys.CGROUP_SOCK_OPS)}
    finally:
        os.close(fd)


def test_agent_restart_keeps_service(env: Env) -> None:
    before = _attached(env.dp.cgroup)
    proc = start_connect(env.net.pods["client"], VIP_SPREAD, 80, count=150, interval=0.02)
    for _ in range(2):
        assert env.dp.reload().replaced
    out, err = proc.communicate(timeout=60)
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == 150, err
    assert set(_replies(results)) <= {"be1:8080", "be2:8080", "be3:8080"}
    after = _attached(env.dp.cgroup)
    assert {t: len(ids) for t, ids in after.items()} == {t: 1 for t in before}
    assert after != before  # the programs were swapped, one for one
    # ids and entries survived: a fresh registry resolves the same ids
    assert IdRegistry(env.maps).service_id("default/spread.default.svc.cluster.local") == \
        env.ids.service_id("default/spread.default.svc.cluster.local")
    assert _replies(connect(env.net.pods["client"], VIP_WP_TLV, 80, send="x"))  # waypoint path too
    env.tlv_sink.next_json()
