"""Workload cache -> BPF maps: the pure rules, then exact writes into real pinned maps."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Iterator

import pytest
from google.protobuf import any_pb2

from kmeshctl.node.ids import IdRegistry
from kmeshctl.maps import (BackendKey, EndpointKey, FrontendKey, IdKind, LbPolicy, ServiceKey,
                           WaypointHeader)
from kmeshctl.node import model
from kmeshctl.node import mapsync
from kmeshctl.node.mapsync import RECONCILE_CHUNK, MapSync, regroup
from kmeshctl.node.translate import NodeInfo, lb_policy, priority, service_ports
from kmeshctl.xds.convert import models, service_of, workload_of
from kmeshctl.node.workload_cache import WorkloadCache
from kmeshctl.xds import WORKLOAD_ADDRESS_TYPE
from kmeshctl.xds.builders import addresses, service, waypoint_hostname, workload
from kmeshctl.xds.client import ClientConfig, Identity, XdsClient
from kmeshctl.xds.protos import workload_pb2
from kmeshctl.xds.server import XdsServer

Scope = workload_pb2.LoadBalancing.Scope
HERE = model.Locality(region="r1", zone="z1", subzone="s1")
NODE = NodeInfo(node_name="node-1", cluster_id="Kubernetes", locality=HERE)


# ----------------------------------------------------------------- pure rules


def test_regroup_fills_holes_from_the_end_and_appends_newcomers() -> None:
    assert regroup([1, 2, 3, 4], [1, 3, 4]) == [1, 4, 3]
    assert regroup([1, 2, 3, 4], [1, 2, 3]) == [1, 2, 3]
    assert regroup([1, 2, 3], [2, 3, 9, 8]) == [3, 2, 8, 9]
    assert regroup([1, 2], []) == []
    assert regroup([], [5]) == [5]


def test_priority_counts_from_the_first_mismatching_scope() -> None:
    prefs = [Scope.REGION, Scope.ZONE, Scope.SUBZONE]
    def wl(region: str, zone: str, subzone: str) -> model.Workload:
        return workload_of(workload("u", "10.0.0.1", {}, locality=(region, zone, subzone)))
    assert priority(prefs, wl("r1", "z1", "s1"), NODE, HERE) == 0
    assert priority(prefs, wl("r1", "z1", "s9"), NODE, HERE) == 1
    assert priority(prefs, wl("r1", "z9", "s1"), NODE, HERE) == 2
    assert priority(prefs, wl("r9", "z1", "s1"), NODE, HERE) == 3
    assert priority([], wl("r9", "z9", "s9"), NODE, HERE) == 0
    on_node = workload_of(workload("u", "10.0.0.1", {}, node="node-1"))
    assert priority([Scope.NODE], on_node, NODE, HERE) == 0
    assert priority([Scope.NODE], workload_of(workload("u", "10.0.0.1", {}, node="node-2")), NODE, HERE) == 1


def test_lb_policy_from_mode_and_preferences() -> None:
    def svc(mode: int = 0, prefs: tuple = ()) -> model.Service:
        return service_of(service("ns", "h.ns.svc", "10.96.0.1", [(80, 80)], mode=mode, routing_preference=prefs))
    assert lb_policy(svc()) is LbPolicy.RANDOM
    assert lb_policy(svc(mode=workload_pb2.LoadBalancing.STRICT, prefs=(Scope.NODE,))) is LbPolicy.STRICT
    assert lb_policy(svc(mode=workload_pb2.LoadBalancing.FAILOVER)) is LbPolicy.FAILOVER
    assert lb_policy(svc(prefs=(Scope.ZONE,))) is LbPolicy.FAILOVER
    assert lb_policy(svc(mode=workload_pb2.LoadBalancing.PASSTHROUGH)) is LbPolicy.PASSTHROUGH


def test_ports_keep_the_first_10_of_a_wider_service() -> None:
    eleven = [(80 + i, 8080 + i) for i in range(11)]
    wide = service("default", "wide.default.svc.cluster.local", "10.96.0.11", eleven)
    assert service_ports(service_of(wide)) == tuple(eleven[:10])


# ----------------------------------------------------------------- real maps

pytestroot = pytest.mark.root
KEY = "default/web.default.svc.cluster.local"
VIP = "10.96.7.10"


def web(**kw) -> workload_pb2.Service:
    return service("default", "web.default.svc.cluster.local", VIP, [(80, 8080)], **kw)


def pod(n: int, **kw) -> workload_pb2.Workload:
    return workload(f"Kubernetes//Pod/default/web-{n}", f"10.1.0.{n}", {KEY: [(80, 8080)]}, **kw)


class Synced:
    """A cache and a MapSync writing into this test's pinned maps."""

    def __init__(self, maps, node: NodeInfo = NODE) -> None:
        self.maps = maps
        self.cache = WorkloadCache()
        self.ids = IdRegistry(maps)
        self.sync = MapSync(maps, self.ids, self.cache, node)

    def put(self, *items) -> int:
        self.sync.apply(self.cache.apply_addresses(models(addresses(*items)), []))
        return self.sync.last_writes

    def remove(self, *names: str) -> int:
        self.sync.apply(self.cache.apply_addresses({}, list(names)))
        return self.sync.last_writes

    def sid(self) -> int:
        return self.ids.service_id(KEY)

    def group(self, prio: int = 0) -> list[str]:
        value = self.maps.service.lookup(ServiceKey(self.sid()))
        slots = [self.maps.endpoint.lookup(EndpointKey(self.sid(), prio, i))
                 for i in range(1, value.prio_endpoint_count[prio] + 1)]
        return [self.ids.name_of(s.backend_uid).rsplit("/", 1)[1] for s in slots]


@pytest.fixture(scope="module")
def loaded(run_id: str):
    from bpf_testlib import loaded_dataplane

    yield from loaded_dataplane(run_id, "msync")


@pytest.fixture(params=[RECONCILE_CHUNK, 1], ids=["one-chunk", "chunk-of-1"])
def synced(loaded, request, monkeypatch) -> Iterator[Synced]:
    # a reconcile written one entry at a time must end exactly like one written at once
    monkeypatch.setattr(mapsync, "RECONCILE_CHUNK", request.param)
    for table in (loaded.maps.frontend, loaded.maps.endpoint, loaded.maps.service,
                  loaded.maps.backend, loaded.maps.idreg):
        table.clear()
    yield Synced(loaded.maps)


@pytestroot
def test_first_sync_writes_services_backends_frontends(synced: Synced) -> None:
    synced.put(web(), pod(1), pod(2), pod(3))
    assert sorted(synced.group()) == ["web-1", "web-2", "web-3"]
    value = synced.maps.service.lookup(ServiceKey(synced.sid()))
    assert value.ports == ((80, 8080),) and value.lb_policy is LbPolicy.RANDOM
    assert synced.maps.frontend.lookup(FrontendKey(ipaddress.ip_address(VIP))).upstream_id == synced.sid()
    bid = synced.ids.lookup(IdKind.BACKEND, "Kubernetes//Pod/default/web-2")
    assert synced.maps.frontend.lookup(FrontendKey(ipaddress.ip_address("10.1.0.2"))).upstream_id == bid
    backend = synced.maps.backend.lookup(BackendKey(bid))
    assert str(backend.addr) == "10.1.0.2" and backend.service == (synced.sid(),)
    assert synced.sync.initialized.is_set()


@pytestroot
def test_removal_keeps_group_dense_with_exact_writes(synced: Synced) -> None:
    synced.put(web(), pod(1), pod(2), pod(3))
    first, second, last = synced.group()
    writes = synced.remove(f"Kubernetes//Pod/default/{first}")
    assert synced.group() == [last, second]  # the last slot moved into the hole
    # slot 1 rewritten, service count, frontend, slot 3 and the backend deleted
    assert writes == 5
    assert synced.maps.endpoint.lookup(EndpointKey(synced.sid(), 0, 3)) is None
    assert synced.ids.lookup(IdKind.BACKEND, f"Kubernetes//Pod/default/{first}") is None
    assert synced.put(pod(2)) == 0  # unchanged: nothing written
    assert synced.put(web(mode=workload_pb2.LoadBalancing.STRICT)) == 1  # only km_service


@pytestroot
def test_locality_priority_groups(synced: Synced) -> None:
    prefs = (Scope.REGION, Scope.ZONE)
    synced.put(web(routing_preference=prefs),
               pod(1, locality=("r1", "z1", "")), pod(2, locality=("r1", "z2", "")),
               pod(3, locality=("r2", "z1", "")), pod(4, locality=("r1", "z1", "")))
    assert sorted(synced.group(0)) == ["web-1", "web-4"]
    assert synced.group(1) == ["web-2"]
    assert synced.group(2) == ["web-3"]
    assert synced.maps.service.lookup(ServiceKey(synced.sid())).lb_policy is LbPolicy.FAILOVER


@pytestroot
def test_locality_learnt_from_a_workload_on_this_node(loaded) -> None:
    for table in (loaded.maps.frontend, loaded.maps.endpoint, loaded.maps.service, loaded.maps.backend):
        table.clear()
    synced = Synced(loaded.maps, NodeInfo(node_name="node-1"))
    synced.put(web(routing_preference=(Scope.ZONE,)), pod(1, locality=("r1", "z1", "")),
               pod(2, locality=("r1", "z2", "")))
    assert synced.group(0) == [] and synced.maps.service.lookup(ServiceKey(synced.sid())).prio_endpoint_count[:2] == (0, 2)
    synced.put(workload("Kubernetes//Pod/kmesh-system/agent", "10.1.0.99", {}, node="node-1",
                        locality=("r1", "z2", "")))
    assert synced.group(0) == ["web-2"] and synced.group(1) == ["web-1"]
    assert synced.sync.locality_info() == {"name": "node-1", "locality_source": "workload on this node",
                                           "locality": {"region": "r1", "zone": "z2", "subzone": ""}}


@pytestroot
def test_node_label_locality_wins_over_workloads_on_this_node(loaded) -> None:
    for table in (loaded.maps.frontend, loaded.maps.endpoint, loaded.maps.service, loaded.maps.backend):
        table.clear()
    from_labels = model.Locality(region="r1", zone="z1")  # what the agent read from its Node
    synced = Synced(loaded.maps, NodeInfo(node_name="node-1", locality=from_labels))
    synced.put(web(routing_preference=(Scope.REGION, Scope.ZONE)), pod(1, locality=("r1", "z1", "")),
               pod(2, locality=("r1", "z2", "")), pod(3, locality=("r2", "z1", "")),
               workload("Kubernetes//Pod/kmesh-system/agent", "10.1.0.99", {}, node="node-1",
                        locality=("r2", "z9", "")))  # a cache entry disagreeing with the Node
    assert (synced.group(0), synced.group(1), synced.group(2)) == (["web-1"], ["web-2"], ["web-3"])
    assert synced.sync.locality_info()["locality_source"] == "node labels"


@pytestroot
def test_unhealthy_and_host_network_workloads(synced: Synced) -> None:
    sick = pod(2)
    sick.status = workload_pb2.UNHEALTHY
    host = pod(3)
    host.network_mode = workload_pb2.HOST_NETWORK
    synced.put(web(), pod(1), sick, host)
    assert sorted(synced.group()) == ["web-1", "web-3"]
    assert synced.maps.frontend.lookup(FrontendKey(ipaddress.ip_address("10.1.0.3"))) is None


@pytestroot
def test_hostname_waypoint_is_named_by_its_service_id(synced: Synced) -> None:
    """istiod's form (hostname, hbone_mtls_port 15008): the service names the waypoint
    Service by id (the connect hook lands on one of its pods); the waypoint pod's backend
    carries where it listens (its application tunnel); 15008 is in no entry."""
    wp_key = "default/waypoint.default.svc.cluster.local"
    wp_svc = service("default", "waypoint.default.svc.cluster.local", "10.96.7.99", [(15008, 15008)])
    wp_pod = workload("Kubernetes//Pod/default/waypoint-0", "10.1.0.50", {wp_key: [(15008, 15008)]})
    synced.put(wp_svc, wp_pod, web(waypoint=waypoint_hostname("default", "waypoint.default.svc.cluster.local")),
               pod(1))
    wp_sid = synced.ids.lookup(IdKind.SERVICE, wp_key)
    value = synced.maps.service.lookup(ServiceKey(synced.sid()))
    assert value.waypoint_id == wp_sid and value.lb_policy is LbPolicy.RANDOM
    wp_bid = synced.ids.lookup(IdKind.BACKEND, wp_pod.uid)
    assert synced.maps.endpoint.lookup(EndpointKey(wp_sid, 0, 1)).backend_uid == wp_bid
    assert synced.maps.backend.lookup(BackendKey(wp_bid)).tunnel is None  # Kmesh TLV on 15019
    # The waypoint pod starts advertising PROXY protocol: only its own backend changes.
    proxy_pod = workload("Kubernetes//Pod/default/waypoint-0", "10.1.0.50", {wp_key: [(15008, 15008)]},
                         proxy_protocol_port=15021)
    assert synced.put(proxy_pod) == 1
    tunnel = synced.maps.backend.lookup(BackendKey(wp_bid)).tunnel
    assert (tunnel.port, tunnel.header) == (15021, WaypointHeader.PROXY_V2)
    # The waypoint service goes away: fail closed (STRICT, no endpoints), not around it.
    synced.remove(wp_key)
    value = synced.maps.service.lookup(ServiceKey(synced.sid()))
    assert value.waypoint_id == 0 and value.lb_policy is LbPolicy.STRICT
    assert value.prio_endpoint_count[0] == 0


@pytestroot
def test_a_waypoint_service_is_not_its_own_waypoint(synced: Synced) -> None:
    wp_key = "default/waypoint.default.svc.cluster.local"
    itself = waypoint_hostname("default", "waypoint.default.svc.cluster.local")
    wp_svc = service("default", "waypoint.default.svc.cluster.local", "10.96.7.99", [(15008, 15008)],
                     waypoint=itself)
    wp_pod = workload("Kubernetes//Pod/default/waypoint-0", "10.1.0.50", {wp_key: [(15008, 15008)]},
                      waypoint=itself)
    synced.put(wp_svc, wp_pod)
    wp_sid = synced.ids.lookup(IdKind.SERVICE, wp_key)
    value = synced.maps.service.lookup(ServiceKey(wp_sid))
    assert value.waypoint_id == 0 and value.prio_endpoint_count[0] == 1
    backend = synced.maps.backend.lookup(BackendKey(synced.ids.lookup(IdKind.BACKEND, wp_pod.uid)))
    assert backend.waypoint_id == 0 and not backend.waypoint_unresolved


@pytestroot
def test_unresolved_workload_waypoint_refuses_direct_access(synced: Synced) -> None:
    """A workload whose waypoint is unknown: out of its services, and its own backend
    entry says so (the connect hook refuses pod-IP connects instead of bypassing it)."""
    gone = waypoint_hostname("default", "nowhere.default.svc.cluster.local")
    synced.put(web(), pod(1), pod(2, waypoint=gone))
    assert synced.group() == ["web-1"]
    bid = synced.ids.lookup(IdKind.BACKEND, "Kubernetes//Pod/default/web-2")
    assert synced.maps.backend.lookup(BackendKey(bid)).waypoint_unresolved


@pytestroot
def test_restart_reconciles_against_what_is_pinned(synced: Synced) -> None:
    other = service("default", "old.default.svc.cluster.local", "10.96.7.20", [(80, 80)])
    synced.put(web(), other, pod(1), pod(2))
    old_sid = synced.ids.service_id("default/old.default.svc.cluster.local")
    web_sid = synced.sid()
    web1_moves = synced.group()[0] == "web-2"  # web-1 then fills slot 1
    # A new agent whose cache no longer has `old` nor web-2.
    fresh = Synced(synced.maps)
    fresh.put(web(), pod(1))
    assert fresh.sid() == web_sid  # ids persisted in km_idreg
    assert synced.maps.service.lookup(ServiceKey(old_sid)) is None
    assert synced.maps.frontend.lookup(FrontendKey(ipaddress.ip_address("10.96.7.20"))) is None
    assert fresh.group() == ["web-1"]
    assert fresh.ids.lookup(IdKind.SERVICE, "default/old.default.svc.cluster.local") is None
    # Nothing rewritten that was already right: web's count, web-2's slot, backend and
    # frontend, the old service and its frontend (+ web-1's slot if it had to move).
    assert fresh.sync.last_writes == 6 + web1_moves


WIDE_KEY = "default/wide.default.svc.cluster.local"
WIDE_VECTOR = Path(__file__).resolve().parents[2] / "shared/vectors/workload-api/service-11-ports.bin"


def wide_service() -> Any:
    """Service `wide` with ports 80..90 -> 8080..8090: upstream's encoding of it (the
    shared vector) when this machine has it, else the same service built here."""
    packed = any_pb2.Any()
    if WIDE_VECTOR.is_file():
        packed.type_url = WORKLOAD_ADDRESS_TYPE
        packed.value = WIDE_VECTOR.read_bytes()
    else:
        packed.Pack(workload_pb2.Address(service=service(
            "default", "wide.default.svc.cluster.local", "10.96.0.11", [(80 + i, 8080 + i) for i in range(11)])))
    return packed


@pytestroot
def test_an_11_port_service_is_mapped_with_10_and_its_pods_stay_everywhere(synced: Synced) -> None:
    """Issue 10 item 2, agent against the project's xDS server: the response is ACKed,
    km_service holds the first 10 ports, and the pod of the wide service is in both of
    its services (before, it was refused and left every service)."""
    server = XdsServer()
    server.add_listener("127.0.0.1:0")
    server.start()
    both = workload("Kubernetes//Pod/default/both-0", "10.1.0.9",
                    {WIDE_KEY: [(80 + i, 8080 + i) for i in range(11)], KEY: [(80, 8080)]})
    server.set_resources(WORKLOAD_ADDRESS_TYPE, {WIDE_KEY: wide_service(), **addresses(web(), both, pod(1))})
    client = XdsClient(ClientConfig(server.addresses[0], Identity("10.1.0.1", "agent", "kmesh-system"),
                                    insecure=True, token_path=None), synced.cache, synced.sync)
    client.start()
    try:
        assert client.synced.wait(10) and server.wait_acked(WORKLOAD_ADDRESS_TYPE)
        assert client.stats.nacks == {} and client.stats.ports_truncated == 1
        wide_sid = synced.ids.service_id(WIDE_KEY)
        wide = synced.maps.service.lookup(ServiceKey(wide_sid))
        assert wide.ports == tuple((80 + i, 8080 + i) for i in range(10))
        assert synced.maps.frontend.lookup(FrontendKey(ipaddress.ip_address("10.96.0.11"))).upstream_id == wide_sid
        bid = synced.ids.lookup(IdKind.BACKEND, both.uid)
        assert set(synced.maps.backend.lookup(BackendKey(bid)).service) == {wide_sid, synced.sid()}
        assert synced.maps.endpoint.lookup(EndpointKey(wide_sid, 0, 1)).backend_uid == bid
        assert wide.prio_endpoint_count[0] == 1
        assert sorted(synced.group()) == ["both-0", "web-1"]
    finally:
        client.stop()
        server.stop()
