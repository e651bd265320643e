"""Issue 10 item 3 on the real kernel: waypoints as istiod sends them (by hostname, with
hbone_mtls_port 15008) go through the agent's MapSync, and a redirected connect lands
where a waypoint really reads our header: one of the waypoint Service's pods, balanced,
at the Kmesh TLV port 15019, or at the port its Workload's application_tunnel names with
PROXY v2. Every waypoint pod also listens on 15008: nothing may arrive there."""

from __future__ import annotations

from collections import Counter
from typing import Iterator

import pytest

from agent_dataplane import AgentEnv, agent_env, drain, kmesh_tlv, nothing_more, proxy_v2
from bpf_testlib import connect
from kmeshctl.maps import ServiceKey
from kmeshctl.xds.builders import service, waypoint_hostname, workload

pytestmark = pytest.mark.root

SUBNET = "10.79.0.0/24"
SUBNET6 = "fd00:79::/64"
VIP_WEB = "10.79.0.201"  # waypoint: wp-tlv (pods without application tunnel)
VIP_API = "10.79.0.202"  # waypoint: wp-proxy (pods with application_tunnel PROXY 15021)
VIP_WP_TLV = "10.79.0.210"
VIP_WP_PROXY = "10.79.0.211"
VIP_EMPTY_WP = "10.79.0.203"  # its waypoint Service has no pod
VIP_UNKNOWN_WP = "10.79.0.204"  # its waypoint hostname is not known
HBONE = 15008
TLV_PORT = 15019
PROXY_PORT = 15021
NS = "default"


def host(name: str) -> str:
    return f"{name}.{NS}.svc.cluster.local"


def key(name: str) -> str:
    return f"{NS}/{host(name)}"


def wp_ref(name: str):
    return waypoint_hostname(NS, host(name), HBONE)  # what istiod sends


def uid(pod: str) -> str:
    return f"Kubernetes//Pod/{NS}/{pod}"


@pytest.fixture(scope="module")
def env(run_id: str) -> Iterator[AgentEnv]:
    pods = ["client", "be1", "be2", "tlv1", "tlv2", "px1", "px2"]
    for env in agent_env(run_id, "wpland", SUBNET, SUBNET6, pods):
        env.serve("be1", "serve", "be1", "8080")
        env.serve("be2", "serve", "be2", "8080")
        env.sinks = {}
        for pod in ("tlv1", "tlv2", "px1", "px2"):
            for port in (TLV_PORT, HBONE, PROXY_PORT):
                env.sinks[(pod, port)] = env.serve(pod, "sink", str(port))
        _publish(env)
        yield env


def _publish(env: AgentEnv) -> None:
    """What istiod sends for two waypoints and the services that use them."""
    wp_ports = [(HBONE, HBONE)]
    env.put(
        service(NS, host("wp-tlv"), VIP_WP_TLV, wp_ports),
        service(NS, host("wp-proxy"), VIP_WP_PROXY, wp_ports, waypoint=wp_ref("wp-proxy")),  # itself
        service(NS, host("wp-empty"), [], wp_ports),
        service(NS, host("web"), VIP_WEB, [(80, 8080)], waypoint=wp_ref("wp-tlv")),
        service(NS, host("api"), VIP_API, [(80, 8080)], waypoint=wp_ref("wp-proxy")),
        service(NS, host("empty-wp"), VIP_EMPTY_WP, [(80, 8080)], waypoint=wp_ref("wp-empty")),
        service(NS, host("lost-wp"), VIP_UNKNOWN_WP, [(80, 8080)], waypoint=wp_ref("nowhere")),
        *(workload(uid(p), env.ip(p), {key("wp-tlv"): wp_ports}) for p in ("tlv1", "tlv2")),
        *(workload(uid(p), env.ip(p), {key("wp-proxy"): wp_ports}, proxy_protocol_port=PROXY_PORT)
          for p in ("px1", "px2")),
        workload(uid("be1"), env.ip("be1"), {key(s): [(80, 8080)] for s in
                                            ("web", "api", "empty-wp", "lost-wp")}),
        # a workload-level waypoint: reached through it even by pod IP
        workload(uid("be2"), env.ip("be2"), {}, waypoint=wp_ref("wp-proxy")),
    )


def _sinks(env: AgentEnv, pods: tuple[str, ...], port: int) -> dict:
    return {(p, port): env.sinks[(p, port)] for p in pods}


def _all_sinks(env: AgentEnv) -> dict:
    return dict(env.sinks)


def test_hostname_waypoint_lands_on_its_pods_at_15019_with_kmesh_tlv(env: AgentEnv) -> None:
    n = 20
    results = connect(env.pods["client"], VIP_WEB, 80, count=n, send="hello")
    assert all(r["ok"] and r["reply"] == "ok" for r in results), results
    got = drain(_sinks(env, ("tlv1", "tlv2"), TLV_PORT), n)
    assert len(got) == n
    assert all(bytes.fromhex(rec["data"]) == kmesh_tlv(VIP_WEB, 80) + b"hello" for _, rec in got)
    assert set(Counter(sink for sink, _ in got)) == {("tlv1", TLV_PORT), ("tlv2", TLV_PORT)}
    nothing_more(_all_sinks(env))  # in particular nothing at 15008


def test_application_tunnel_lands_at_its_port_with_proxy_v2(env: AgentEnv) -> None:
    n = 20
    results = connect(env.pods["client"], VIP_API, 80, count=n, send="hello")
    assert all(r["ok"] and r["reply"] == "ok" for r in results), results
    got = drain(_sinks(env, ("px1", "px2"), PROXY_PORT), n)
    assert len(got) == n
    locals_ = {tuple(r["local"]) for r in results}
    for _, rec in got:
        data = bytes.fromhex(rec["data"])
        src_port = int.from_bytes(data[24:26], "big")
        assert (env.ip("client"), src_port) in locals_
        assert data == proxy_v2(env.ip("client"), src_port, VIP_API, 80) + b"hello"
    assert set(Counter(sink for sink, _ in got)) == {("px1", PROXY_PORT), ("px2", PROXY_PORT)}
    nothing_more(_all_sinks(env))


def test_workload_waypoint_by_pod_ip(env: AgentEnv) -> None:
    [result] = connect(env.pods["client"], env.ip("be2"), 8080, send="x")
    assert result["ok"], result
    [(sink, rec)] = drain(_sinks(env, ("px1", "px2"), PROXY_PORT), 1)
    src, src_port = result["local"]
    assert bytes.fromhex(rec["data"]) == proxy_v2(src, src_port, env.ip("be2"), 8080) + b"x"
    nothing_more(_all_sinks(env))


def test_a_waypoint_service_is_not_redirected_to_itself(env: AgentEnv) -> None:
    """wp-proxy names itself as its waypoint: a connect to it is balanced over its pods at
    its own port mapping, with no header."""
    n = 10
    results = connect(env.pods["client"], VIP_WP_PROXY, HBONE, count=n, send="plain")
    assert all(r["ok"] for r in results), results
    got = drain(_sinks(env, ("px1", "px2"), HBONE), n)
    assert len(got) == n and all(bytes.fromhex(rec["data"]) == b"plain" for _, rec in got)
    sid = env.ids.service_id(key("wp-proxy"))
    assert env.maps.service.lookup(ServiceKey(sid)).waypoint_id == 0
    nothing_more(_all_sinks(env))


@pytest.mark.parametrize("vip", [VIP_EMPTY_WP, VIP_UNKNOWN_WP])
def test_a_waypoint_without_pods_or_name_refuses_at_once(env: AgentEnv, vip: str) -> None:
    """Never sent past the waypoint: no pod of the waypoint (or an unknown hostname)
    refuses the connect at once, though the service has an endpoint."""
    results = connect(env.pods["client"], vip, 80, count=3, timed=True)
    assert [r["error"] for r in results] == ["ECONNREFUSED"] * 3
    assert all(r["seconds"] < 0.25 for r in results), results
    nothing_more(_all_sinks(env))


def test_waypoint_pod_changes_are_followed(env: AgentEnv) -> None:
    """tlv2 goes away: everything lands on tlv1; it comes back: both again."""
    env.remove(uid("tlv2"))
    try:
        connect(env.pods["client"], VIP_WEB, 80, count=10, send="a")
        got = drain(_sinks(env, ("tlv1", "tlv2"), TLV_PORT), 10)
        assert {s for s, _ in got} == {("tlv1", TLV_PORT)} and len(got) == 10
    finally:
        env.put(workload(uid("tlv2"), env.ip("tlv2"), {key("wp-tlv"): [(HBONE, HBONE)]}))
    connect(env.pods["client"], VIP_WEB, 80, count=20, send="b")
    got = drain(_sinks(env, ("tlv1", "tlv2"), TLV_PORT), 20)
    assert {s for s, _ in got} == {("tlv1", TLV_PORT), ("tlv2", TLV_PORT)}
    nothing_more(_all_sinks(env))
