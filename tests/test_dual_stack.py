"""Issue 10 item 5 on the real kernel, through the agent's MapSync: dual stack (a
Workload has up to one address per family; a connect to a Service's IPv6 VIP goes to the
backend's IPv6 address, to its IPv4 VIP the IPv4 one; `ip_families` honoured), CIDR
VIPs (NetworkAddress.length), LoadBalancing.mode PASSTHROUGH and the NETWORK routing
preference."""

from __future__ import annotations

import ipaddress
import subprocess
from typing import Iterator

import pytest

from agent_dataplane import AgentEnv, agent_env
from bpf_testlib import connect
from kmeshctl.maps import (BackendKey, BackendValue, EndpointKey, FrontendKey, ServiceKey,
                           ServiceValue)
from kmeshctl.node.translate import NodeInfo, priority, service_families, vips
from kmeshctl.xds.convert import service_of, workload_of
from kmeshctl.xds.builders import service, workload
from kmeshctl.xds.protos import workload_pb2

SUBNET = "10.81.0.0/24"
SUBNET6 = "fd00:81::/64"
VIP4 = "10.81.0.201"
VIP6 = "fd00:81::c9"
VIP4_ONLY = "10.81.0.202"
VIP6_OF_V4_ONLY = "fd00:81::ca"
VIP_PASS = "10.81.0.203"  # PASSTHROUGH: also a real address of the "orig" pod
CIDR_VIP = "10.81.1.0"
NS = "default"
Families = workload_pb2.IPFamilies
Scope = workload_pb2.LoadBalancing.Scope


def key(name: str) -> str:
    return f"{NS}/{name}.{NS}.svc.cluster.local"


def svc(name: str, vips_: list[str], **kw) -> workload_pb2.Service:
    return service(NS, f"{name}.{NS}.svc.cluster.local", vips_, [(80, 8080)], **kw)


def test_service_families_and_vips() -> None:
    dual = svc("d", [VIP4, VIP6])
    assert service_families(service_of(dual)) == {4, 6}
    v4_only = svc("d", [VIP4, VIP6])
    v4_only.ip_families = Families.IPV4_ONLY
    assert service_families(service_of(v4_only)) == {4} and vips(service_of(v4_only)) == {ipaddress.ip_address(VIP4)}
    cidr = svc("c", [CIDR_VIP, VIP4])
    cidr.addresses[0].length = 24
    assert vips(service_of(cidr)) == {ipaddress.ip_address(VIP4)}
    host = svc("c", [VIP4])
    host.addresses[0].length = 32  # a one-address "range" is that address
    assert vips(service_of(host)) == {ipaddress.ip_address(VIP4)}


@pytest.fixture(scope="module")
def env(run_id: str) -> Iterator[AgentEnv]:
    pods = ["client", "d1", "d2", "v4", "orig"]
    for env in agent_env(run_id, "dual", SUBNET, SUBNET6, pods):
        for name in ("client", "d1", "d2"):
            env.add_ipv6(name)
        for name in ("d1", "d2", "v4"):
            env.serve(name, "serve", name, "8080")
        env.serve("orig", "serve", "orig", "80")
        subprocess_addr(env, "orig", VIP_PASS)
        v4_only = svc("v4only", [VIP4_ONLY, VIP6_OF_V4_ONLY])
        v4_only.ip_families = Families.IPV4_ONLY
        cidr = svc("cidr", [CIDR_VIP])
        cidr.addresses[0].length = 24
        passthrough = svc("pass", [VIP_PASS], mode=workload_pb2.LoadBalancing.PASSTHROUGH)
        member_of = {key(s): [(80, 8080)] for s in ("dual", "v4only", "pass")}
        env.put(svc("dual", [VIP4, VIP6]), v4_only, cidr, passthrough,
                workload(f"Kubernetes//Pod/{NS}/d1", [env.ip("d1"), env.ip6("d1")], member_of),
                workload(f"Kubernetes//Pod/{NS}/d2", [env.ip6("d2"), env.ip("d2")], member_of),
                workload(f"Kubernetes//Pod/{NS}/v4", env.ip("v4"), member_of))
        yield env


def subprocess_addr(env: AgentEnv, pod: str, ip: str) -> None:
    subprocess.run(["ip", "-n", env.pods[pod].netns, "addr", "add", f"{ip}/32", "dev", "eth0"],
                   check=True)


def _group(env: AgentEnv, name: str) -> set[str]:
    sid = env.ids.service_id(key(name))
    count = env.maps.service.lookup(ServiceKey(sid)).prio_endpoint_count[0]
    return {env.ids.name_of(env.maps.endpoint.lookup(EndpointKey(sid, 0, i)).backend_uid).rsplit("/", 1)[1]
            for i in range(1, count + 1)}


@pytest.mark.root
def test_ipv6_vip_goes_to_the_backends_ipv6_address(env: AgentEnv) -> None:
    results = connect(env.pods["client"], VIP6, 80, count=20)
    assert all(r["ok"] for r in results), results
    assert {r["reply"] for r in results} == {"d1:8080", "d2:8080"}
    # the connection is IPv6 end to end (not an IPv4-mapped detour)
    assert {r["local"][0] for r in results} == {env.ip6("client")}


@pytest.mark.root
def test_ipv4_vip_goes_to_the_backends_ipv4_address(env: AgentEnv) -> None:
    results = connect(env.pods["client"], VIP4, 80, count=20)
    assert all(r["ok"] for r in results), results
    assert {r["reply"] for r in results} == {"d1:8080", "d2:8080"}
    assert {r["local"][0] for r in results} == {env.ip("client")}


@pytest.mark.root
def test_a_backend_lacking_a_served_family_is_left_out(env: AgentEnv) -> None:
    """v4 has no IPv6 address: it serves the IPv4-only Service, not the dual one."""
    assert _group(env, "dual") == {"d1", "d2"}
    assert _group(env, "v4only") == {"d1", "d2", "v4"}
    backend = env.maps.backend.lookup(env_backend_key(env, "d2"))
    assert {str(a) for a in backend.addresses} == {env.ip("d2"), env.ip6("d2")}


def env_backend_key(env: AgentEnv, pod: str) -> BackendKey:
    return BackendKey(env.ids.backend_id(f"Kubernetes//Pod/{NS}/{pod}"))


@pytest.mark.root
def test_ip_families_ipv4_only_maps_no_ipv6_vip(env: AgentEnv) -> None:
    assert env.maps.frontend.lookup(FrontendKey(ipaddress.ip_address(VIP4_ONLY))) is not None
    assert env.maps.frontend.lookup(FrontendKey(ipaddress.ip_address(VIP6_OF_V4_ONLY))) is None
    results = connect(env.pods["client"], VIP4_ONLY, 80, count=10)
    assert {r["reply"] for r in results} <= {"d1:8080", "d2:8080", "v4:8080"}


@pytest.mark.root
def test_a_backend_without_the_vips_family_is_refused_not_misrouted(env: AgentEnv) -> None:
    """Written directly (the agent never does): the hook refuses rather than connect an
    IPv6 VIP to nothing."""
    sid = env.ids.service_id("default/raw6.default.svc.cluster.local")
    bid = env.ids.backend_id("raw-v4-only")
    env.maps.set_backend(bid, BackendValue(env.ip("v4")))
    env.maps.write_service(sid, ServiceValue(ports=((80, 8080),)), [[bid]])
    env.maps.set_frontend("fd00:81::cb", sid)
    try:
        assert [r.get("error") for r in connect(env.pods["client"], "fd00:81::cb", 80, count=3)] == \
            ["ECONNREFUSED"] * 3
    finally:
        env.maps.delete_frontend("fd00:81::cb")
        env.maps.delete_service(sid)
        env.maps.delete_backend(bid)
        env.ids.release("default/raw6.default.svc.cluster.local")
        env.ids.release("raw-v4-only")


@pytest.mark.root
def test_cidr_vip_is_not_mapped_and_counted(env: AgentEnv) -> None:
    assert env.maps.frontend.lookup(FrontendKey(ipaddress.ip_address(CIDR_VIP))) is None
    assert env.sync.cidr_vips_unmapped == 1
    env.put(workload(f"Kubernetes//Pod/{NS}/v4", env.ip("v4"), {key("cidr"): [(80, 8080)]}))
    assert env.sync.cidr_vips_unmapped == 1  # once per range, not per update


@pytest.mark.root
def test_passthrough_connects_to_the_original_destination(env: AgentEnv) -> None:
    results = connect(env.pods["client"], VIP_PASS, 80, count=10)
    assert [r.get("reply") for r in results] == ["orig:80"] * 10, results
    assert _group(env, "pass")  # it has endpoints; PASSTHROUGH does not use them


def test_network_preference_uses_the_nodes_network() -> None:
    """NodeInfo.network (the agent's --network / NETWORK env) decides Scope.NETWORK."""
    node = NodeInfo(node_name="n", network="net-a")
    here = workload("u1", "10.0.0.1", {})
    here.network = "net-a"
    there = workload("u2", "10.0.0.2", {})
    there.network = "net-b"
    assert priority([Scope.NETWORK], workload_of(here), node, None) == 0
    assert priority([Scope.NETWORK], workload_of(there), node, None) == 1
