"""Issue 10 items 8, 9, 10: names of any legal length, full maps, addresses with two owners.

The pure rules first (no root), then the agent's map synchroniser writing real pinned maps.
"""

from __future__ import annotations

import ipaddress
from typing import Iterator

import pytest

from kmeshctl.node.frontend_owners import FrontendOwners
from kmeshctl.node.ids import IdRegistry, registry_name
from kmeshctl.maps import (BACKEND, ENDPOINT, FRONTEND, IDREG, ID_NAME_LEN, SERVICE, FrontendKey,
                           IdKind, MapError, ServiceKey, TypedMap)
from kmeshctl.node import mapsync
from kmeshctl.node.mapsync import RECONCILE_CHUNK, MapSync, NodeInfo
from kmeshctl.xds.convert import models
from kmeshctl.node.workload_cache import WorkloadCache
from kmeshctl.xds.builders import addresses, service, workload

ip = ipaddress.ip_address


# ----------------------------------------------------------------- pure rules


def test_registry_name_keeps_short_names_and_hashes_long_ones() -> None:
    short = "default/web.default.svc.cluster.local"
    assert registry_name(short) == short
    ns, host = "n" * 63, ("h" * 63 + ".") * 3 + "svc"  # legal: 63-byte labels, 255-byte key
    long_a, long_b = f"{ns}/{host}a", f"{ns}/{host}b"
    stored_a, stored_b = registry_name(long_a), registry_name(long_b)
    assert len(stored_a.encode()) <= ID_NAME_LEN and stored_a != stored_b
    assert stored_a.startswith(ns) and registry_name(stored_a) == stored_a  # idempotent


def _rank_table(kinds: dict[int, tuple[int, str]]):
    return lambda upstream: kinds[upstream]


def test_two_services_sharing_a_vip_hand_it_over_on_removal() -> None:
    # (0 = service, name): "a" wins over "b" whatever the order of the claims
    owners = FrontendOwners(_rank_table({1: (0, "ns/b"), 2: (0, "ns/a")}))
    vip = ip("10.96.0.10")
    assert owners.claim(1, [vip]) == {vip} and owners.winner(vip) == 1
    owners.claim(2, [vip])
    assert owners.winner(vip) == 2 and owners.owners(vip) == (1, 2)
    owners.claim(2, [])  # service a removed: b keeps the VIP, the entry is not deleted
    assert owners.winner(vip) == 1
    owners.claim(1, [])
    assert owners.winner(vip) is None and not owners.is_claimed(vip)


def test_a_service_beats_a_workload_on_the_same_address() -> None:
    owners = FrontendOwners(_rank_table({7: (1, "Kubernetes//Pod/ns/a"), 9: (0, "ns/svc")}))
    addr = ip("10.1.0.5")
    owners.claim(7, [addr])
    owners.claim(9, [addr])
    assert owners.winner(addr) == 9
    owners.claim(9, [])
    assert owners.winner(addr) == 7


# ----------------------------------------------------------------- real maps

pytestroot = pytest.mark.root
NS = "default"


def svc(name: str, vip: str, **kw):
    return service(NS, f"{name}.{NS}.svc.cluster.local", vip, [(80, 8080)], **kw)


def key(name: str) -> str:
    return f"{NS}/{name}.{NS}.svc.cluster.local"


def pod(name: str, addr: str, *services: str):
    return workload(f"Kubernetes//Pod/{NS}/{name}", addr, {key(s): [(80, 8080)] for s in services})


class Agent:
    """A cache and a MapSync over this test's pinned maps, with optional small capacities."""

    def __init__(self, maps, capacity: dict[str, int] | None = None) -> None:
        self.maps = maps
        self.cache = WorkloadCache()
        self.ids = IdRegistry(maps)
        self.sync = MapSync(maps, self.ids, self.cache, NodeInfo(node_name="node-1"), capacity)

    def put(self, *items):
        return self.sync.apply(self.cache.apply_addresses(models(addresses(*items)), []))

    def remove(self, *names: str):
        return self.sync.apply(self.cache.apply_addresses({}, list(names)))

    def frontend(self, addr: str) -> str | None:
        value = self.maps.frontend.lookup(FrontendKey(ip(addr)))
        return None if value is None else self.ids.name_of(value.upstream_id)

    def has_service(self, name: str) -> bool:
        sid = self.ids.lookup(IdKind.SERVICE, key(name))
        return sid is not None and self.maps.service.lookup(ServiceKey(sid)) is not None


@pytest.fixture(scope="module")
def loaded(run_id: str):
    from bpf_testlib import loaded_dataplane

    yield from loaded_dataplane(run_id, "capown")


@pytest.fixture(params=[RECONCILE_CHUNK, 1], ids=["one-chunk", "chunk-of-1"])
def maps(loaded, request, monkeypatch) -> Iterator:
    # a reconcile written one entry at a time must end exactly like one written at once
    monkeypatch.setattr(mapsync, "RECONCILE_CHUNK", request.param)
    for table in (loaded.maps.frontend, loaded.maps.endpoint, loaded.maps.service,
                  loaded.maps.backend, loaded.maps.idreg):
        table.clear()
    yield loaded.maps


@pytestroot
def test_shared_vip_survives_the_removal_of_either_owner(maps) -> None:
    agent = Agent(maps)
    agent.put(svc("b", "10.96.0.10"), svc("a", "10.96.0.10"), pod("p1", "10.1.0.1", "a", "b"))
    assert agent.frontend("10.96.0.10") == key("a")  # defined winner: smallest name
    agent.remove(key("a"))
    assert agent.frontend("10.96.0.10") == key("b")  # handed over, not deleted
    agent.put(svc("a", "10.96.0.10"))
    agent.remove(key("b"))
    assert agent.frontend("10.96.0.10") == key("a")


@pytestroot
def test_reused_pod_ip_and_a_vip_equal_to_a_pod_ip(maps) -> None:
    agent = Agent(maps)
    old, new = "Kubernetes//Pod/default/old", "Kubernetes//Pod/default/new"
    agent.put(pod("old", "10.1.0.7"), pod("new", "10.1.0.7"))
    assert agent.frontend("10.1.0.7") == new  # smaller name of two workloads
    agent.remove(new)
    assert agent.frontend("10.1.0.7") == old
    agent.put(svc("odd", "10.1.0.7"))
    assert agent.frontend("10.1.0.7") == key("odd")  # a Service beats a Workload
    agent.remove(key("odd"))
    assert agent.frontend("10.1.0.7") == old
    agent.remove(old)
    assert agent.frontend("10.1.0.7") is None


@pytestroot
def test_a_full_service_map_leaves_out_whole_services_and_fills_in_when_room_frees(maps) -> None:
    agent = Agent(maps, {SERVICE.name: 2})
    result = agent.put(svc("a", "10.96.0.1"), svc("b", "10.96.0.2"), svc("c", "10.96.0.3"),
                       pod("p1", "10.1.0.1", "a", "b", "c"))
    assert result.unapplied == {key("c"): "km_service is full (2 entries)"}
    assert agent.has_service("a") and agent.has_service("b") and not agent.has_service("c")
    assert agent.frontend("10.96.0.3") is None  # never a frontend naming a missing service
    assert key("c") in agent.cache.services  # held, with its version: written when room frees
    assert "km_service is full" in agent.sync.incomplete()
    problems = result.problems_for([key("c"), key("a")])
    assert problems == [f"{key('c')}: not in the BPF maps: km_service is full (2 entries)"]
    result = agent.remove(key("a"))
    assert result.unapplied == {} and agent.has_service("c") and agent.frontend("10.96.0.3") == key("c")
    assert agent.sync.incomplete() == "" and agent.sync.unapplied_total == 1


@pytestroot
def test_full_backend_and_endpoint_maps_never_leave_a_slot_naming_a_missing_backend(maps) -> None:
    agent = Agent(maps, {BACKEND.name: 2, ENDPOINT.name: 3})
    result = agent.put(svc("a", "10.96.0.1"), *(pod(f"p{i}", f"10.1.0.{i}", "a") for i in range(1, 4)))
    assert set(result.unapplied) == {"Kubernetes//Pod/default/p3"}
    sid = agent.ids.lookup(IdKind.SERVICE, key("a"))
    group = agent.maps.endpoint_groups(sid)[0]
    assert sorted(agent.ids.name_of(b) for b in group) == ["Kubernetes//Pod/default/p1",
                                                            "Kubernetes//Pod/default/p2"]
    assert agent.frontend("10.1.0.3") is None
    agent.remove("Kubernetes//Pod/default/p1")
    assert sorted(agent.ids.name_of(b) for b in agent.maps.endpoint_groups(sid)[0]) == [
        "Kubernetes//Pod/default/p2", "Kubernetes//Pod/default/p3"]
    assert agent.frontend("10.1.0.3") == "Kubernetes//Pod/default/p3"


@pytestroot
def test_a_full_id_registry_leaves_out_what_has_no_id(maps) -> None:
    agent = Agent(maps, {IDREG.name: 2})
    result = agent.put(svc("a", "10.96.0.1"), pod("p1", "10.1.0.1", "a"), pod("p2", "10.1.0.2", "a"))
    assert result.unapplied == {"Kubernetes//Pod/default/p2": "km_idreg is full (2 ids)"}
    assert agent.frontend("10.1.0.2") is None and agent.frontend("10.96.0.1") == key("a")


@pytestroot
def test_names_longer_than_the_registry_slot_work(maps) -> None:
    agent = Agent(maps)
    host = ("h" * 63 + ".") * 3 + "svc.cluster.local"  # 269 bytes: legal DNS labels
    long_pod = "Kubernetes//Pod/" + "n" * 63 + "/" + "p" * 253
    agent.put(service("n" * 63, host, "10.96.0.40", [(80, 8080)]),
              workload(long_pod, "10.1.0.40", {f"{'n' * 63}/{host}": [(80, 8080)]}))
    sid = agent.ids.lookup(IdKind.SERVICE, f"{'n' * 63}/{host}")
    assert sid is not None and agent.maps.endpoint_groups(sid) [0] == [agent.ids.lookup(IdKind.BACKEND, long_pod)]
    assert agent.frontend("10.96.0.40") == registry_name(f"{'n' * 63}/{host}")
    # a restarted agent reconciles the same entries (nothing looks stale)
    again = Agent(maps)
    again.cache = agent.cache
    again.sync = MapSync(maps, IdRegistry(maps), agent.cache, NodeInfo(node_name="node-1"))
    again.sync.reconcile()
    assert again.sync.last_writes == 0
    agent.remove(long_pod, f"{'n' * 63}/{host}")
    assert agent.frontend("10.96.0.40") is None and len(agent.ids) == 0


@pytestroot
def test_a_failed_write_is_reported_and_the_next_update_repairs_the_maps(maps, monkeypatch) -> None:
    agent = Agent(maps)
    agent.put(svc("a", "10.96.0.1"), pod("p1", "10.1.0.1", "a"))
    real_update = TypedMap.update
    calls = {"n": 0}

    def failing_update(self, k, v, flags=0):  # stand-in for a kernel refusing one write
        if self.name == FRONTEND.name and calls["n"] == 0:
            calls["n"] += 1
            raise MapError("injected failure")
        return real_update(self, k, v, flags)

    monkeypatch.setattr(TypedMap, "update", failing_update)
    result = agent.put(svc("b", "10.96.0.2"))
    assert result.failed_writes == 1 and agent.frontend("10.96.0.2") is None
    assert "BPF map writes failed" in result.problems_for([])[0]
    assert "write failed" in agent.sync.incomplete()
    result = agent.put(pod("p2", "10.1.0.2", "a"))  # any next update reconciles everything
    assert result.failed_writes == 0 and agent.frontend("10.96.0.2") == key("b")
    assert agent.frontend("10.1.0.2") == "Kubernetes//Pod/default/p2" and agent.sync.incomplete() == ""


@pytestroot
def test_what_does_not_fit_is_nacked_by_name_and_the_rest_applied(maps) -> None:
    """Through the project's xDS server: one response, one service too many for km_service.
    The NACK names it (and only it); the others are in the maps; once room frees up it is
    written without istiod sending it again."""
    from kmeshctl.xds import WORKLOAD_ADDRESS_TYPE
    from kmeshctl.xds.client import ClientConfig, Identity, XdsClient
    from kmeshctl.xds.server import XdsServer

    agent = Agent(maps, {SERVICE.name: 2})
    server = XdsServer()
    server.add_listener("127.0.0.1:0")
    server.start()
    server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(
        svc("a", "10.96.0.1"), svc("b", "10.96.0.2"), svc("c", "10.96.0.3"), pod("p1", "10.1.0.1", "a", "c")))
    client = XdsClient(ClientConfig(server.addresses[0], Identity("10.1.0.1", "agent", "kmesh-system"),
                                    insecure=True, token_path=None), agent.cache, agent.sync)
    client.start()
    try:
        nack = server.wait_nacked(WORKLOAD_ADDRESS_TYPE)
        assert nack is not None
        assert nack.error_message == f"{key('c')}: not in the BPF maps: km_service is full (2 entries)"
        assert agent.has_service("a") and agent.has_service("b") and not agent.has_service("c")
        assert agent.frontend("10.1.0.1") == "Kubernetes//Pod/default/p1"
        server.remove_resources(WORKLOAD_ADDRESS_TYPE, [key("b")])
        assert server.wait_until(lambda: agent.has_service("c"), 5)
        sid = agent.ids.lookup(IdKind.SERVICE, key("c"))
        assert agent.maps.endpoint_groups(sid)[0] == [agent.ids.lookup(IdKind.BACKEND, "Kubernetes//Pod/default/p1")]
    finally:
        client.stop()
        server.stop()
