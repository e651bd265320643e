"""The connect hooks' scope on the real kernel (issue 10, items 6 and 7):

- only TCP is balanced: a connected UDP socket keeps the destination it asked for, to a
  Service VIP with endpoints and to one with a waypoint, over connect4 and connect6;
- a Service with no endpoint the policy may use and no waypoint refuses a TCP connect() at
  once (ECONNREFUSED), logged with a reason of its own; an endpoint added later is used,
  an unenrolled pod and a VIP outside the frontend map are left alone.

Every VIP here is a real address of the "vip" pod, which answers TCP on port 80 ("vip:80")
and records UDP on port 80: whatever the hook leaves alone visibly reaches it."""

from __future__ import annotations

import queue
import subprocess
import time
from typing import Iterator

import pytest

from bpf_testlib import LoadedEnv, PodProcess, connect, loaded_dataplane, pod_network, udp_send
from kmeshctl.node.ids import IdRegistry
from kmeshctl.maps import BackendValue, LbPolicy, LogEvent, Reason, ServiceValue
from kmeshctl.podnet import Pod, PodNetwork

pytestmark = pytest.mark.root

SUBNET = "10.74.0.0/24"
VIP_WEB = "10.74.0.201"  # endpoints: be1
VIP_WP = "10.74.0.202"  # endpoints: be1, and a service waypoint
VIP_EMPTY = "10.74.0.203"  # RANDOM, no endpoint
VIP_FAILOVER_EMPTY = "10.74.0.204"  # FAILOVER, every group empty
VIP_STRICT_EMPTY = "10.74.0.205"  # STRICT, group 0 empty, group 1 not
VIP_LATE = "10.74.0.206"  # empty until a test adds an endpoint
VIP_EMPTY_WP = "10.74.0.207"  # no endpoint, but a waypoint
VIP_UNKNOWN = "10.74.0.210"  # an address of the vip pod that is no frontend
VIP6_EMPTY = "fd00:74::203"  # the empty Service's IPv6 VIP (reached before any route)
TLV_PORT = 15019
REFUSAL_LIMIT_S = 0.25


class Env:
    def __init__(self, dp: LoadedEnv, net: PodNetwork) -> None:
        self.dp = dp
        self.net = net
        self.maps = dp.maps
        self.ids = IdRegistry(dp.maps)
        self.servers: list[PodProcess] = []
        self.events: list[LogEvent] = []
        self.be1 = 0

    @property
    def client(self) -> Pod:
        return self.net.pods["client"]

    def server(self, pod: str, *args: str) -> PodProcess:
        process = PodProcess(self.net.pods[pod], *args)
        self.servers.append(process)
        return process


@pytest.fixture(scope="module")
def dp(run_id: str) -> Iterator[LoadedEnv]:
    yield from loaded_dataplane(run_id, "scope", enable_bpf_log=True)


@pytest.fixture(scope="module")
def env(run_id: str, dp: LoadedEnv) -> Iterator[Env]:
    for net in pod_network(f"km{run_id}u", SUBNET, dp.cgroup):
        env = Env(dp, net)
        for name in ("client", "other", "vip", "be1", "wp"):
            net.add_pod(name)
        _add_vip_addresses(net.pods["vip"])
        try:
            _start_servers(env)
            _write_services(env)
            dp.dataplane.on_log(env.events.append)
            env.maps.enroll(env.client.netns_cookie())
            yield env
        finally:
            for server in env.servers:
                server.stop()


def _add_vip_addresses(pod: Pod) -> None:
    for vip in (VIP_WEB, VIP_WP, VIP_EMPTY, VIP_FAILOVER_EMPTY, VIP_STRICT_EMPTY, VIP_LATE,
                VIP_EMPTY_WP, VIP_UNKNOWN):
        subprocess.run(["ip", "-n", pod.netns, "addr", "add", f"{vip}/24", "dev", "eth0"],
                       check=True)


def _start_servers(env: Env) -> None:
    env.server("vip", "serve", "vip", "80")
    env.vip_udp = env.server("vip", "udpsink", "80")
    env.server("be1", "serve", "be1", "8080")
    env.be1_udp = env.server("be1", "udpsink", "8080")
    env.wp_tcp = env.server("wp", "sink", str(TLV_PORT))
    env.wp_udp = env.server("wp", "udpsink", str(TLV_PORT))


def _service(env: Env, name: str, vips: tuple[str, ...], groups: list[list[int]],
             lb: LbPolicy = LbPolicy.RANDOM, waypoint_id: int = 0) -> int:
    sid = env.ids.service_id(f"default/{name}.default.svc.cluster.local")
    env.maps.write_service(sid, ServiceValue(lb_policy=lb, ports=((80, 8080),),
                                             waypoint_id=waypoint_id), groups)
    for vip in vips:
        env.maps.set_frontend(vip, sid)
    return sid


def _write_services(env: Env) -> None:
    be1_ip = env.net.pods["be1"].ip
    env.be1 = env.ids.backend_id("Kubernetes//Pod/default/be1")
    env.maps.set_backend(env.be1, BackendValue(be1_ip))
    env.maps.set_frontend(be1_ip, env.be1)
    # the waypoint pod: no application tunnel, so it is reached at 15019 with the Kmesh TLV
    waypoint = env.ids.backend_id("Kubernetes//Pod/default/wp")
    env.maps.set_backend(waypoint, BackendValue(env.net.pods["wp"].ip))
    _service(env, "web", (VIP_WEB,), [[env.be1]])
    _service(env, "wp", (VIP_WP,), [[env.be1]], waypoint_id=waypoint)
    _service(env, "empty", (VIP_EMPTY, VIP6_EMPTY), [])
    _service(env, "failover-empty", (VIP_FAILOVER_EMPTY,), [[], [], []], LbPolicy.FAILOVER)
    _service(env, "strict-empty", (VIP_STRICT_EMPTY,), [[], [env.be1]], LbPolicy.STRICT)
    env.late = _service(env, "late", (VIP_LATE,), [])
    _service(env, "empty-wp", (VIP_EMPTY_WP,), [], waypoint_id=waypoint)


def _no_datagram(sink: PodProcess, wait: float = 0.3) -> None:
    try:
        line = sink.lines.get(timeout=wait)
    except queue.Empty:
        return
    raise AssertionError(f"a datagram reached {sink.proc.args}: {line}")


def _decisions(env: Env, vip: str, port: int, count: int) -> list[LogEvent]:
    """The client's logged decisions for vip:port, once at least ``count`` arrived."""
    cookie = env.client.netns_cookie()

    def mine() -> list[LogEvent]:
        return [e for e in env.events if e.netns_cookie == cookie
                and (str(e.orig_addr), e.orig_port) == (vip, port)]

    deadline = time.monotonic() + 5
    while len(mine()) < count and time.monotonic() < deadline:
        env.dp.dataplane.poll_log(100)
    env.dp.dataplane.poll_log(0)
    return mine()


# ------------------------------------------------------------------- item 6: TCP only


@pytest.mark.parametrize("host", [VIP_WEB, f"::ffff:{VIP_WEB}"], ids=["connect4", "connect6"])
def test_udp_to_a_service_vip_is_not_rewritten(env: Env, host: str) -> None:
    marker = f"udp-web-{host}"
    assert udp_send(env.client, host, 80, marker) == {"peer": [VIP_WEB, 80]}
    got = env.vip_udp.next_json()
    assert (got["peer"][0], got["data"]) == (str(env.client.ip), marker)
    _no_datagram(env.be1_udp)
    # TCP to the same VIP and port is still balanced
    [result] = connect(env.client, host, 80)
    assert result["ok"] and result["reply"] == "be1:8080", result


def test_udp_to_a_waypoint_service_is_not_sent_to_the_waypoint(env: Env) -> None:
    assert udp_send(env.client, VIP_WP, 80, "udp-wp") == {"peer": [VIP_WP, 80]}
    assert env.vip_udp.next_json()["data"] == "udp-wp"
    _no_datagram(env.wp_udp)
    _no_datagram(env.be1_udp)
    [result] = connect(env.client, VIP_WP, 80, send="tcp")
    assert result["ok"] and result["reply"] == "ok", result
    data = bytes.fromhex(env.wp_tcp.next_json()["data"])
    assert data[:1] == b"\x01" and data.endswith(b"tcp")  # TCP: TLV header, then payload


def test_udp_decisions_are_never_logged(env: Env) -> None:
    """The protocol is checked before anything else: only the TCP connect is decided."""
    udp_send(env.client, VIP_WEB, 80, "udp-log")
    env.vip_udp.next_json()
    connect(env.client, VIP_WEB, 80)
    before = len(_decisions(env, VIP_WEB, 80, 0))
    udp_send(env.client, VIP_WEB, 80, "udp-log-2")
    env.vip_udp.next_json()
    connect(env.client, VIP_WEB, 80)
    after = _decisions(env, VIP_WEB, 80, before + 1)
    assert len(after) == before + 1
    assert after[-1].reason == Reason.ENDPOINT


def test_sinks_hear_direct_datagrams(env: Env) -> None:
    """The 'nothing arrived' checks above are real: these listeners do receive."""
    for pod, port, sink in (("be1", 8080, env.be1_udp), ("wp", TLV_PORT, env.wp_udp)):
        ip = str(env.net.pods[pod].ip)
        assert udp_send(env.client, ip, port, f"direct-{pod}") == {"peer": [ip, port]}
        assert sink.next_json()["data"] == f"direct-{pod}"


# ------------------------------------------------------------------- item 7: refuse


def _refused_at_once(results: list[dict]) -> None:
    [result] = results
    assert (result["ok"], result.get("error")) == (False, "ECONNREFUSED"), result
    assert result["seconds"] < REFUSAL_LIMIT_S, result


@pytest.mark.parametrize("host", [VIP_EMPTY, f"::ffff:{VIP_EMPTY}", VIP6_EMPTY],
                         ids=["connect4", "connect6-mapped", "connect6"])
def test_service_without_endpoints_refuses_at_once(env: Env, host: str) -> None:
    _refused_at_once(connect(env.client, host, 80, timeout=3, timed=True))


@pytest.mark.parametrize("vip", [VIP_FAILOVER_EMPTY, VIP_STRICT_EMPTY],
                         ids=["failover-all-groups-empty", "strict-group-0-empty"])
def test_no_endpoint_in_the_groups_the_policy_allows_refuses(env: Env, vip: str) -> None:
    _refused_at_once(connect(env.client, vip, 80, timeout=3, timed=True))


def test_refusal_is_logged_with_its_own_reason(env: Env) -> None:
    before = len(_decisions(env, VIP_EMPTY, 80, 0))
    connect(env.client, VIP_EMPTY, 80, timeout=3)
    [*_, event] = _decisions(env, VIP_EMPTY, 80, before + 1)
    assert event.reason == Reason.NO_ENDPOINT_REFUSED
    assert event.new_addr is None and event.new_port == 0


def test_an_endpoint_added_later_is_used(env: Env) -> None:
    _refused_at_once(connect(env.client, VIP_LATE, 80, timeout=3, timed=True))
    env.maps.write_service(env.late, ServiceValue(ports=((80, 8080),)), [[env.be1]])
    try:
        [result] = connect(env.client, VIP_LATE, 80)
        assert result["ok"] and result["reply"] == "be1:8080", result
    finally:
        env.maps.write_service(env.late, ServiceValue(ports=((80, 8080),)), [])
    _refused_at_once(connect(env.client, VIP_LATE, 80, timeout=3, timed=True))


def test_unenrolled_pod_reaches_the_vip_itself(env: Env) -> None:
    [result] = connect(env.net.pods["other"], VIP_EMPTY, 80)
    assert result["ok"] and result["reply"] == "vip:80", result


def test_vip_outside_the_frontend_map_is_untouched(env: Env) -> None:
    [result] = connect(env.client, VIP_UNKNOWN, 80)
    assert result["ok"] and result["reply"] == "vip:80", result


def test_service_without_endpoints_but_a_waypoint_goes_to_the_waypoint(env: Env) -> None:
    [result] = connect(env.client, VIP_EMPTY_WP, 80, send="wp")
    assert result["ok"] and result["reply"] == "ok", result
    data = bytes.fromhex(env.wp_tcp.next_json()["data"])
    assert data[:1] == b"\x01" and data.endswith(b"wp")


def test_udp_to_a_service_without_endpoints_is_not_refused(env: Env) -> None:
    assert udp_send(env.client, VIP_EMPTY, 80, "udp-empty") == {"peer": [VIP_EMPTY, 80]}
    assert env.vip_udp.next_json()["data"] == "udp-empty"
