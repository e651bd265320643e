"""Translation and planning without root: the model -> map entries rules and the planner,
over the in-memory map double (tests/memory_maps.py). The root tests run the same code
against the kernel's maps."""

from __future__ import annotations

import random
import time

import pytest

from kmeshctl.node import model
from kmeshctl.node.ids import IdRegistry
from kmeshctl.maps import IdKind, LbPolicy, ServiceKey, WaypointHeader
from kmeshctl.node.mapsync import MapSync
from kmeshctl.node.translate import NodeInfo, Translator
from kmeshctl.node.workload_cache import WorkloadCache
from kmeshctl.xds.builders import addresses, service, waypoint_hostname, workload
from kmeshctl.xds.convert import models, workload_of
from memory_maps import MemoryMaps

NS = "default"
Scope = model


def key(name: str) -> str:
    return f"{NS}/{name}.{NS}.svc.cluster.local"


def svc(name: str, vip: str, **kw):
    return service(NS, f"{name}.{NS}.svc.cluster.local", vip, [(80, 8080)], **kw)


def pod(name: str, ip: str, *services: str, **kw):
    return workload(f"Kubernetes//Pod/{NS}/{name}", ip, {key(s): [(80, 8080)] for s in services}, **kw)


class Agent:
    def __init__(self, node: NodeInfo = NodeInfo(node_name="n1")) -> None:
        self.maps = MemoryMaps()
        self.cache = WorkloadCache()
        self.ids = IdRegistry(self.maps.idreg)
        self.sync = MapSync(self.maps, self.ids, self.cache, node)  # type: ignore[arg-type]

    def put(self, *items):
        return self.sync.apply(self.cache.apply_addresses(models(addresses(*items)), []))

    def remove(self, *names: str):
        return self.sync.apply(self.cache.apply_addresses({}, list(names)))

    def groups(self, name: str) -> list[set[str]]:
        sid = self.ids.lookup(IdKind.SERVICE, key(name))
        return [{self.ids.name_of(b).rsplit("/", 1)[1] for b in g} for g in self.maps.endpoint_groups(sid)]


def test_a_hostname_waypoint_is_named_by_its_service_id_and_pods_carry_their_tunnel() -> None:
    agent = Agent()
    wp_pod = pod("wp-0", "10.1.0.50", "waypoint")
    wp_pod.application_tunnel.protocol, wp_pod.application_tunnel.port = 1, 15019
    agent.put(svc("waypoint", "10.96.0.50"), wp_pod,
              svc("web", "10.96.0.1", waypoint=waypoint_hostname(NS, f"waypoint.{NS}.svc.cluster.local")),
              pod("web-0", "10.1.0.1", "web"))
    web = agent.maps.service.lookup(ServiceKey(agent.ids.lookup(IdKind.SERVICE, key("web"))))
    waypoint_sid = agent.ids.lookup(IdKind.SERVICE, key("waypoint"))
    assert web.waypoint_id == waypoint_sid
    own = agent.maps.service.lookup(ServiceKey(waypoint_sid))
    assert own.waypoint_id == 0  # the waypoint's own Service is not redirected
    backend = agent.sync.mirror.backends[agent.ids.lookup(IdKind.BACKEND, wp_pod.uid)]
    assert backend.tunnel is not None and backend.tunnel.port == 15019
    assert backend.tunnel.header is WaypointHeader.PROXY_V2


def test_translator_reads_the_model_only() -> None:
    cache = WorkloadCache()
    cache.apply_addresses(models(addresses(svc("web", "10.96.0.1", mode=1), pod("web-0", "10.1.0.1", "web"))), [])
    maps = MemoryMaps()
    ids = IdRegistry(maps.idreg)
    ids.allocate(IdKind.SERVICE, [key("web")])
    ids.allocate(IdKind.BACKEND, ["Kubernetes//Pod/default/web-0"])
    value, groups = Translator(cache, ids, NodeInfo()).desired_service(key("web"))
    assert value.lb_policy is LbPolicy.STRICT and value.ports == ((80, 8080),)
    assert [e.backend_uid for e in groups[0]] == [ids.lookup(IdKind.BACKEND, "Kubernetes//Pod/default/web-0")]


def _big_service(agent: Agent, endpoints: int) -> None:
    agent.put(svc("big", "10.96.0.1"), *(pod(f"big-{i}", f"10.{1 + i // 65536}.{i // 256 % 256}.{i % 256}", "big")
                                         for i in range(endpoints)))


@pytest.mark.parametrize("endpoints", [1_000, 10_000])
def test_one_endpoint_change_in_a_big_service_is_planned_for_that_endpoint_alone(endpoints: int,
                                                                                 monkeypatch) -> None:
    """Issue 10: work proportional to the change. Only the changed member is placed
    again (not every member), and the writes are the few the change needs."""
    agent = Agent()
    _big_service(agent, endpoints)
    placements = {"n": 0}
    real = Translator.placement

    def counted(self, *args):
        placements["n"] += 1
        return real(self, *args)

    monkeypatch.setattr(Translator, "placement", counted)
    agent.put(pod("big-7", "10.200.0.7", "big"))  # the pod got a new IP
    assert placements["n"] == 1
    assert agent.sync.last_writes == 3  # backend, the new pod IP's frontend, the old one's delete
    agent.remove("Kubernetes//Pod/default/big-3")
    assert placements["n"] == 1  # a removed member needs no placement
    # slot 4 gets the last slot's backend, the count shrinks, the last slot, the backend
    # and its frontend go
    assert agent.sync.last_writes == 5
    assert len(agent.groups("big")[0]) == endpoints - 1


@pytest.mark.parametrize("seed", [7, 11, 23])
def test_member_only_planning_agrees_with_a_full_reconcile_under_random_churn(seed: int) -> None:
    rng = random.Random(seed)
    here = model.Locality("r1", "z1", "")
    agent = Agent(NodeInfo(node_name="n1", locality=here))
    prefs = (model.SCOPE_REGION, model.SCOPE_ZONE)
    agent.put(svc("a", "10.96.0.1", routing_preference=prefs), svc("b", "10.96.0.2"))
    live: dict[str, tuple[str, ...]] = {}
    for step in range(300):
        name = f"p{rng.randrange(40)}"
        uid = f"Kubernetes//Pod/{NS}/{name}"
        if name in live and rng.random() < 0.3:
            agent.remove(uid)
            del live[name]
            continue
        member_of = tuple(s for s in ("a", "b") if rng.random() < 0.7)
        wl = pod(name, f"10.1.{step // 250}.{step % 250 + 1}", *member_of,
                 locality=(rng.choice(["r1", "r2"]), rng.choice(["z1", "z2"]), ""))
        if rng.random() < 0.2:
            wl.status = 1  # unhealthy: leaves its groups
        agent.put(wl)
        live[name] = member_of
    # a fresh planner over the same maps and cache finds nothing to change
    fresh = MapSync(agent.maps, IdRegistry(agent.maps.idreg), agent.cache, NodeInfo(node_name="n1", locality=here))
    fresh.reconcile()
    assert fresh.last_writes == 0
    for name in ("a", "b"):
        want = Translator(agent.cache, agent.ids, NodeInfo(node_name="n1", locality=here)).desired_service(key(name))[1]
        got = agent.maps.endpoint_groups(agent.ids.lookup(IdKind.SERVICE, key(name)))
        assert [sorted(e.backend_uid for e in g) for g in want] == [sorted(g) for g in got[:len(want)]]
        assert all(not g for g in got[len(want):])


def test_model_conversion_happens_once_per_resource_version() -> None:
    """A big service's member change does not touch the other members' models."""
    agent = Agent()
    _big_service(agent, 2_000)
    before = {uid: id(wl) for uid, wl in agent.cache.workloads.items()}
    started = time.perf_counter()
    agent.put(pod("big-9", "10.200.0.9", "big"))
    assert time.perf_counter() - started < 5  # generous: the point is the identity check below
    changed = [uid for uid, wl in agent.cache.workloads.items() if id(wl) != before[uid]]
    assert changed == ["Kubernetes//Pod/default/big-9"]
    assert workload_of(pod("x", "10.0.0.1", "big")).ports_for(key("big")) == (model.Port(80, 8080),)


def test_the_mirror_counts_endpoints_as_they_change() -> None:
    agent = Agent()
    _big_service(agent, 50)
    agent.put(svc("small", "10.96.0.2"), pod("s-0", "10.9.0.1", "small"), pod("s-1", "10.9.0.2", "small"))
    agent.remove("Kubernetes//Pod/default/big-3", f"{NS}/small.{NS}.svc.cluster.local")
    mirror = agent.sync.mirror
    assert mirror.endpoint_count() == sum(len(g) for groups in mirror.groups.values() for g in groups) == 49
    fresh = MapSync(agent.maps, IdRegistry(agent.maps.idreg), agent.cache, NodeInfo(node_name="n1"))
    fresh.reconcile()
    assert fresh.mirror.endpoint_count() == 49 and fresh.last_writes == 0
