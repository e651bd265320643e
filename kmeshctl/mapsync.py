"""Keeps the BPF maps in step with the workload cache.

Services become a ``km_service`` entry plus endpoint slots (priority groups of backend
ids) and one ``km_frontend`` entry per VIP; workloads become a ``km_backend`` entry and
one ``km_frontend`` entry per pod IP. Only what a cache delta changes is written:

- a mirror of what is in the maps (by id) is kept in memory, so each delta is turned
  into the smallest set of writes (a plan);
- removing an endpoint moves the group's last slot into the hole, so groups stay dense;
- writes are ordered so a concurrent connect never sees a count larger than its group
  or a slot naming a backend that is not there yet.

The first sync after start reconciles everything: the mirror is loaded from the pinned
maps (a previous agent's state), and whatever the cache no longer has is deleted.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence

from kmeshctl.bounded import clip
from kmeshctl.ids import IdRegistry
from kmeshctl.maps import (BACKEND, ENDPOINT, FRONTEND, IDREG, MAX_PORTS, PRIO_COUNT, SERVICE,
                           BackendKey, BackendValue, DataplaneMaps, EndpointKey, EndpointValue,
                           FrontendKey, FrontendValue, IdKind, IPAddress, LbPolicy, MapError,
                           ServiceKey, ServiceValue, TypedMap, Waypoint, WaypointHeader)
from kmeshctl.workload_cache import CacheDelta, WorkloadCache
from kmeshctl.xds.protos import workload_pb2

log = logging.getLogger("kmeshctl.mapsync")

DEFAULT_WAYPOINT_PORT = 15008
MAX_BACKEND_SERVICES = 10
BATCH_MIN = 64  # below this, per-entry writes (batch syscalls pay off only in bulk)

Scope = workload_pb2.LoadBalancing.Scope
Mode = workload_pb2.LoadBalancing.Mode
Groups = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class NodeInfo:
    """Where this agent runs, for locality-aware priority groups."""

    node_name: str = ""
    cluster_id: str = "Kubernetes"
    network: str = ""
    locality: Optional[workload_pb2.Locality] = None  # None: learnt from a local workload


# ----------------------------------------------------------------- pure rules


def lb_policy(service: workload_pb2.Service) -> LbPolicy:
    lb = service.load_balancing
    if lb.mode == Mode.STRICT:
        return LbPolicy.STRICT
    if lb.mode == Mode.FAILOVER or (lb.mode == Mode.UNSPECIFIED_MODE and lb.routing_preference):
        return LbPolicy.FAILOVER
    return LbPolicy.RANDOM


def scope_matches(scope: int, wl: workload_pb2.Workload, node: NodeInfo,
                  local: Optional[workload_pb2.Locality]) -> bool:
    here = local or workload_pb2.Locality()
    if scope == Scope.REGION:
        return wl.locality.region == here.region
    if scope == Scope.ZONE:
        return (wl.locality.region, wl.locality.zone) == (here.region, here.zone)
    if scope == Scope.SUBZONE:
        return (wl.locality.region, wl.locality.zone, wl.locality.subzone) == \
            (here.region, here.zone, here.subzone)
    if scope == Scope.NODE:
        return bool(node.node_name) and wl.node == node.node_name
    if scope == Scope.CLUSTER:
        return (wl.cluster_id or "Kubernetes") == node.cluster_id
    if scope == Scope.NETWORK:
        return wl.network == node.network
    return True


def priority(preferences: Sequence[int], wl: workload_pb2.Workload, node: NodeInfo,
             local: Optional[workload_pb2.Locality]) -> int:
    """0 when the workload matches every preferred scope; one more per scope that does
    not match, counted from the first mismatch (so the order of preferences matters)."""
    matched = 0
    for scope in preferences:
        if not scope_matches(scope, wl, node, local):
            break
        matched += 1
    return min(len(preferences) - matched, PRIO_COUNT - 1)


def is_routable(wl: workload_pb2.Workload, service: workload_pb2.Service) -> bool:
    if not wl.addresses:
        return False
    allow_all = service.load_balancing.health_policy == workload_pb2.LoadBalancing.ALLOW_ALL
    return allow_all or wl.status == workload_pb2.HEALTHY


def regroup(current: Sequence[int], wanted: Iterable[int]) -> list[int]:
    """New dense order of a group: survivors keep their slot, the last slot fills each
    hole, newcomers are appended. Slots that keep their backend are not rewritten."""
    wanted_set = set(wanted)
    order = list(current)
    for uid in [u for u in current if u not in wanted_set]:
        hole = order.index(uid)
        last = order.pop()
        if last != uid:
            order[hole] = last
    present = set(order)
    order.extend(sorted(u for u in wanted_set if u not in present))
    return order


def ip_of(raw: bytes) -> IPAddress:
    return ipaddress.ip_address(raw)


# ----------------------------------------------------------------- plan


@dataclass
class Plan:
    """Map writes in the order that keeps the data path consistent."""

    backends: list[tuple[BackendKey, BackendValue]] = field(default_factory=list)
    slots: list[tuple[EndpointKey, EndpointValue]] = field(default_factory=list)
    services: list[tuple[ServiceKey, ServiceValue]] = field(default_factory=list)
    frontends: list[tuple[FrontendKey, FrontendValue]] = field(default_factory=list)
    frontend_deletes: list[FrontendKey] = field(default_factory=list)
    service_deletes: list[ServiceKey] = field(default_factory=list)
    slot_deletes: list[EndpointKey] = field(default_factory=list)
    backend_deletes: list[BackendKey] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(v) for v in vars(self).values())


@dataclass
class _Mirror:
    """What this agent knows to be in the maps."""

    services: dict[int, ServiceValue] = field(default_factory=dict)
    groups: dict[int, list[list[int]]] = field(default_factory=dict)
    backends: dict[int, BackendValue] = field(default_factory=dict)
    frontends: dict[IPAddress, int] = field(default_factory=dict)
    # upstream -> its frontend IPs; tuples, not sets: nearly every upstream has one IP
    # and 100,000 sets would cost 20 MB
    frontends_of: dict[int, tuple[IPAddress, ...]] = field(default_factory=dict)

    def set_frontend(self, ip: IPAddress, upstream: int) -> None:
        previous = self.frontends.get(ip)
        if previous is not None:
            self._unlink(previous, ip)
        self.frontends[ip] = upstream
        owned = self.frontends_of.get(upstream, ())
        if ip not in owned:
            self.frontends_of[upstream] = owned + (ip,)

    def drop_frontend(self, ip: IPAddress) -> None:
        upstream = self.frontends.pop(ip, None)
        if upstream is not None:
            self._unlink(upstream, ip)

    def _unlink(self, upstream: int, ip: IPAddress) -> None:
        remaining = tuple(i for i in self.frontends_of.get(upstream, ()) if i != ip)
        if remaining:
            self.frontends_of[upstream] = remaining
        else:
            self.frontends_of.pop(upstream, None)

    def endpoint_count(self) -> int:
        return sum(len(g) for groups in self.groups.values() for g in groups)


class MapSync:
    """The xDS client's sink: apply cache deltas to the maps."""

    def __init__(self, maps: DataplaneMaps, ids: IdRegistry, cache: WorkloadCache, node: NodeInfo) -> None:
        self.maps = maps
        self.ids = ids
        self.cache = cache
        self.node = node
        self.mirror = _Mirror()
        self.write_errors = 0
        self.initialized = threading.Event()
        self.last_sync_seconds = 0.0
        self.last_writes = 0  # map operations of the last apply (exactness shows here)
        self._lock = threading.Lock()
        self._learnt_locality: Optional[workload_pb2.Locality] = None
        self._wp_targets: dict[object, set[tuple[str, str]]] = {}  # waypoint -> users
        self._wp_of: dict[tuple[str, str], object] = {}  # user -> its waypoint
        self.on_synced: list[Callable[[float], None]] = []

    # ----- entry points -----------------------------------------------------------------

    def __call__(self, delta: CacheDelta) -> None:
        self.apply(delta)

    def apply(self, delta: CacheDelta) -> None:
        started = time.monotonic()
        with self._lock:
            if not self.initialized.is_set():
                self._reconcile()
                self.initialized.set()
            else:
                self._apply_delta(delta)
        self.last_sync_seconds = time.monotonic() - started
        for callback in self.on_synced:
            callback(self.last_sync_seconds)

    def reconcile(self) -> None:
        """Make the maps match the whole cache (first sync, or on demand)."""
        with self._lock:
            self._reconcile()
            self.initialized.set()

    def usage(self) -> dict[str, tuple[int, int]]:
        m = self.mirror
        return {FRONTEND.name: (len(m.frontends), FRONTEND.max_entries),
                SERVICE.name: (len(m.services), SERVICE.max_entries),
                ENDPOINT.name: (m.endpoint_count(), ENDPOINT.max_entries),
                BACKEND.name: (len(m.backends), BACKEND.max_entries),
                IDREG.name: (len(self.ids), IDREG.max_entries)}

    # ----- full reconcile ---------------------------------------------------------------

    def _reconcile(self) -> None:
        inherited_ids = len(self.ids) > 0  # a previous agent's registry: sweep it after
        self.mirror = self._read_maps()
        self._learn_locality(self.cache.workloads_on_node(self.node.node_name))
        self._track_waypoints(None)
        services = set(self.cache.services)
        workloads = set(self.cache.workloads)
        stale_services = [sid for sid in self.mirror.services if self._name(sid, IdKind.SERVICE) not in services]
        stale_backends = [bid for bid in self.mirror.backends if self._name(bid, IdKind.BACKEND) not in workloads]
        self._allocate_ids(services, workloads)
        plan = Plan()
        self._plan_backends(plan, workloads)
        self._plan_services(plan, services)
        for sid in stale_services:
            self._plan_service_removal(plan, sid)
        for bid in stale_backends:
            self._plan_backend_removal(plan, bid)
        self._plan_stray_frontends(plan)
        self._execute(plan)
        self._release_ids(stale_services + stale_backends)
        if inherited_ids:
            self._release_unused_ids()
        log.info("event=maps_reconciled services=%d backends=%d frontends=%d writes=%d",
                 len(self.mirror.services), len(self.mirror.backends), len(self.mirror.frontends), len(plan))

    def _read_maps(self) -> _Mirror:
        mirror = _Mirror()
        mirror.services = {k.service_id: v for k, v in self.maps.service.items()}
        for sid, value in mirror.services.items():
            mirror.groups[sid] = self._stored_groups(sid, value)
        mirror.backends = {k.backend_uid: v for k, v in self.maps.backend.items()}
        for key, value in self.maps.frontend.items():
            mirror.set_frontend(key.addr, value.upstream_id)
        return mirror

    def _stored_groups(self, sid: int, value: ServiceValue) -> list[list[int]]:
        groups = []
        for prio, count in enumerate(value.prio_endpoint_count):
            group = []
            for index in range(1, count + 1):
                slot = self.maps.endpoint.lookup(EndpointKey(sid, prio, index))
                group.append(slot.backend_uid if slot else 0)
            groups.append(group)
        return groups

    def _name(self, id_: int, kind: IdKind) -> Optional[str]:
        return self.ids.name_of(id_) if self.ids.kind_of(id_) == kind else None

    def _plan_stray_frontends(self, plan: Plan) -> None:
        live = set(self.mirror.services) | set(self.mirror.backends)
        for ip, upstream in list(self.mirror.frontends.items()):
            if upstream not in live and ip not in {k.addr for k, _ in plan.frontends}:
                plan.frontend_deletes.append(FrontendKey(ip))

    def _release_unused_ids(self) -> None:
        """Ids registered by a previous agent for names neither the cache nor the maps use."""
        used = set(self.mirror.services) | set(self.mirror.backends)
        for id_, kind, name in self.ids.items():
            if id_ not in used and name not in self.cache.services and name not in self.cache.workloads:
                self.ids.release(name, kind)

    def _allocate_ids(self, services: Iterable[str], workloads: Iterable[str]) -> None:
        """Ids for what is about to be planned, persisted in batches, not one write per name."""
        self.ids.allocate(IdKind.SERVICE, sorted(services))
        self.ids.allocate(IdKind.BACKEND, sorted(workloads))

    # ----- incremental ------------------------------------------------------------------

    def _apply_delta(self, delta: CacheDelta) -> None:
        changed_workloads = [c.new or c.old for c in delta.workloads.values()]
        locality_changed = self._learn_locality(changed_workloads)
        services, workloads = self._affected(delta, locality_changed)
        self._allocate_ids({k for k in services if k in self.cache.services},
                           {u for u in workloads if u in self.cache.workloads})
        plan = Plan()
        self._plan_backends(plan, {u for u in workloads if u in self.cache.workloads})
        self._plan_services(plan, {k for k in services if k in self.cache.services})
        removed_services = [k for k in services if k not in self.cache.services]
        removed_workloads = [u for u in workloads if u not in self.cache.workloads]
        for key in removed_services:
            sid = self.ids.lookup(IdKind.SERVICE, key)
            if sid is not None:
                self._plan_service_removal(plan, sid)
        for uid in removed_workloads:
            bid = self.ids.lookup(IdKind.BACKEND, uid)
            if bid is not None:
                self._plan_backend_removal(plan, bid)
        self._execute(plan)
        self._release_ids([i for i in (self.ids.lookup(IdKind.SERVICE, k) for k in removed_services) if i]
                          + [i for i in (self.ids.lookup(IdKind.BACKEND, u) for u in removed_workloads) if i])
        log.debug("event=maps_delta services=%d workloads=%d writes=%d", len(services), len(workloads), len(plan))

    def _affected(self, delta: CacheDelta, locality_changed: bool) -> tuple[set[str], set[str]]:
        services = set(delta.services)
        workloads = set(delta.workloads)
        for change in delta.workloads.values():
            for wl in (change.old, change.new):
                if wl is not None:
                    services.update(wl.services)
        for key in delta.services:  # membership of a service's workloads changes with it
            workloads.update(self.cache.members(key))
        self._track_waypoints(delta)
        waypoint_services, waypoint_workloads = self._waypoint_users(delta)
        services |= waypoint_services
        workloads |= waypoint_workloads
        if locality_changed:
            services |= {k for k, s in self.cache.services.items() if s.load_balancing.routing_preference}
        return services, workloads

    def _waypoint_users(self, delta: CacheDelta) -> tuple[set[str], set[str]]:
        """Services and workloads whose waypoint is (part of) something this delta changed."""
        touched: set[object] = set()
        for key, change in delta.services.items():
            touched.add(key)
            touched.update(a.address for s in (change.old, change.new) if s is not None for a in s.addresses)
        for change in delta.workloads.values():
            for wl in (change.old, change.new):
                if wl is not None:
                    touched.update(wl.services)
                    touched.update(wl.addresses)
        users: set[tuple[str, str]] = set()
        for target in touched & self._wp_targets.keys():
            users |= self._wp_targets[target]
        return {k for kind, k in users if kind == "s"}, {k for kind, k in users if kind == "w"}

    def _track_waypoints(self, delta: Optional[CacheDelta]) -> None:
        """Index who uses which waypoint (hostname key or address); None: rebuild."""
        if delta is None:
            self._wp_targets.clear()
            self._wp_of.clear()
            items = [(user, self.cache.service(key) if user[0] == "s" else self.cache.workload(key))
                     for user in sorted(self.cache.with_waypoint) for key in [user[1]]]
        else:
            items = [(("s", k), c.new) for k, c in delta.services.items()] + \
                    [(("w", u), c.new) for u, c in delta.workloads.items()]
        for user, item in items:
            previous = self._wp_of.pop(user, None)
            if previous is not None:
                self._wp_targets[previous].discard(user)
                if not self._wp_targets[previous]:
                    del self._wp_targets[previous]
            if item is not None and item.HasField("waypoint"):
                target = _waypoint_target(item.waypoint)
                self._wp_of[user] = target
                self._wp_targets.setdefault(target, set()).add(user)

    # ----- locality ---------------------------------------------------------------------

    def local_locality(self) -> Optional[workload_pb2.Locality]:
        return self.node.locality or self._learnt_locality

    def locality_info(self) -> dict:
        """This node's locality and where it came from (shown in the config dump)."""
        local = self.local_locality()
        if self.node.locality is not None:
            source = "node labels"
        elif self._learnt_locality is not None:
            source = "workload on this node"
        else:
            source = "unknown"
        return {"name": self.node.node_name, "locality_source": source,
                "locality": None if local is None else
                {"region": local.region, "zone": local.zone, "subzone": local.subzone}}

    def _learn_locality(self, workloads: Iterable[workload_pb2.Workload]) -> bool:
        if self.node.locality is not None or not self.node.node_name:
            return False
        for wl in workloads:
            if wl.node == self.node.node_name and wl.HasField("locality"):
                if self._learnt_locality != wl.locality:
                    self._learnt_locality = wl.locality
                    log.info("event=node_locality region=%s zone=%s subzone=%s",
                             wl.locality.region, wl.locality.zone, wl.locality.subzone)
                    return True
                return False
        return False

    # ----- desired entries --------------------------------------------------------------

    def resolve_waypoint(self, gw: workload_pb2.GatewayAddress) -> Optional[Waypoint]:
        """Address and header format of a waypoint, or None when it cannot be resolved."""
        if gw.WhichOneof("destination") == "hostname":
            svc = self.cache.service(f"{gw.hostname.namespace}/{gw.hostname.hostname}")
            if svc is None or not svc.addresses:
                return None
            address = svc.addresses[0].address
            pods = [self.cache.workloads[u] for u in sorted(self.cache.members(
                f"{gw.hostname.namespace}/{gw.hostname.hostname}")) if u in self.cache.workloads]
        else:
            address = gw.address.address
            pods = self.cache.workloads_by_address(address)
            for svc in self.cache.services_by_address(address):
                key = f"{svc.namespace}/{svc.hostname}"
                pods += [self.cache.workloads[u] for u in sorted(self.cache.members(key))
                         if u in self.cache.workloads]
        proxy = next((p for p in pods if p.addresses and
                      p.application_tunnel.protocol == workload_pb2.ApplicationTunnel.PROXY), None)
        if proxy is not None:
            port = proxy.application_tunnel.port or gw.hbone_mtls_port or DEFAULT_WAYPOINT_PORT
            return Waypoint(ip_of(proxy.addresses[0]), port, WaypointHeader.PROXY_V2)
        return Waypoint(ip_of(address), gw.hbone_mtls_port or DEFAULT_WAYPOINT_PORT, WaypointHeader.KMESH_TLV)

    def desired_service(self, key: str) -> tuple[ServiceValue, Groups]:
        svc = self.cache.services[key]
        members = [self.cache.workloads[u] for u in sorted(self.cache.members(key)) if u in self.cache.workloads]
        waypoint = None
        if svc.HasField("waypoint"):
            waypoint = self.resolve_waypoint(svc.waypoint)
            if waypoint is None:
                log.warning("event=waypoint_unresolved service=%s action=reject_connects", clip(key))
                return ServiceValue(lb_policy=LbPolicy.STRICT, ports=self._ports(svc, members)), ()
        groups: list[list[int]] = [[] for _ in range(PRIO_COUNT)]
        prefs = list(svc.load_balancing.routing_preference)
        local = self.local_locality()
        for wl in members:
            if is_routable(wl, svc) and self._waypoint_ok(wl):
                groups[priority(prefs, wl, self.node, local)].append(self.ids.backend_id(wl.uid))
        while groups and not groups[-1]:
            groups.pop()
        value = ServiceValue(lb_policy=lb_policy(svc), ports=self._ports(svc, members), waypoint=waypoint)
        return value, tuple(tuple(g) for g in groups)

    def _waypoint_ok(self, wl: workload_pb2.Workload) -> bool:
        return not wl.HasField("waypoint") or self.resolve_waypoint(wl.waypoint) is not None

    @staticmethod
    def _ports(svc: workload_pb2.Service, members: list[workload_pb2.Workload]) -> tuple[tuple[int, int], ...]:
        """(service port, target port) pairs of the service's first MAX_PORTS ports (the
        xDS client warned about the rest when it accepted the service); a target port of
        0 (a named port) is taken from the first workload that maps that service port."""
        key = f"{svc.namespace}/{svc.hostname}"
        pairs = []
        for port in svc.ports[:MAX_PORTS]:
            target = port.target_port or _member_target(members, key, port.service_port) or port.service_port
            if port.service_port:
                pairs.append((port.service_port, target))
        return tuple(pairs)

    def desired_backend(self, wl: workload_pb2.Workload) -> Optional[BackendValue]:
        if not wl.addresses:
            return None
        service_ids = [self.ids.service_id(k) for k in sorted(wl.services) if k in self.cache.services]
        if len(service_ids) > MAX_BACKEND_SERVICES:
            log.warning("event=backend_services_truncated workload=%s services=%d kept=%d",
                        clip(wl.uid), len(service_ids), MAX_BACKEND_SERVICES)
            service_ids = service_ids[:MAX_BACKEND_SERVICES]
        waypoint = self.resolve_waypoint(wl.waypoint) if wl.HasField("waypoint") else None
        return BackendValue(addr=ip_of(wl.addresses[0]), service=tuple(service_ids), waypoint=waypoint)

    # ----- planning ---------------------------------------------------------------------

    def _plan_backends(self, plan: Plan, uids: Iterable[str]) -> None:
        for uid in sorted(uids):
            wl = self.cache.workloads[uid]
            bid = self.ids.backend_id(uid)
            value = self.desired_backend(wl)
            if value is None:
                self._plan_backend_removal(plan, bid)
                continue
            if self.mirror.backends.get(bid) != value:
                plan.backends.append((BackendKey(bid), value))
            ips = set() if wl.network_mode == workload_pb2.HOST_NETWORK else {ip_of(a) for a in wl.addresses}
            self._plan_frontends(plan, bid, ips)

    def _plan_services(self, plan: Plan, keys: Iterable[str]) -> None:
        for key in sorted(keys):
            sid = self.ids.service_id(key)
            value, groups = self.desired_service(key)
            self._plan_groups(plan, sid, value, groups)
            self._plan_frontends(plan, sid, {ip_of(a.address) for a in self.cache.services[key].addresses})

    def _plan_groups(self, plan: Plan, sid: int, value: ServiceValue, groups: Groups) -> None:
        current = self.mirror.groups.get(sid, [])
        new_groups = []
        for prio in range(PRIO_COUNT):
            old = current[prio] if prio < len(current) else []
            wanted = groups[prio] if prio < len(groups) else ()
            new = regroup(old, wanted)
            for index, uid in enumerate(new, start=1):
                if index > len(old) or old[index - 1] != uid:
                    plan.slots.append((EndpointKey(sid, prio, index), EndpointValue(uid)))
            for index in range(len(new) + 1, len(old) + 1):
                plan.slot_deletes.append(EndpointKey(sid, prio, index))
            new_groups.append(new)
        counts = tuple(len(g) for g in new_groups)
        full = ServiceValue(counts, value.lb_policy, value.ports, value.waypoint)
        if self.mirror.services.get(sid) != full:
            plan.services.append((ServiceKey(sid), full))

    def _plan_frontends(self, plan: Plan, upstream: int, ips: set[IPAddress]) -> None:
        for ip in ips:
            if self.mirror.frontends.get(ip) != upstream:
                plan.frontends.append((FrontendKey(ip), FrontendValue(upstream)))
        for ip in set(self.mirror.frontends_of.get(upstream, ())) - ips:
            plan.frontend_deletes.append(FrontendKey(ip))

    def _plan_service_removal(self, plan: Plan, sid: int) -> None:
        self._plan_frontends(plan, sid, set())
        if sid in self.mirror.services:
            plan.service_deletes.append(ServiceKey(sid))
        for prio, group in enumerate(self.mirror.groups.get(sid, [])):
            plan.slot_deletes += [EndpointKey(sid, prio, i) for i in range(1, len(group) + 1)]

    def _plan_backend_removal(self, plan: Plan, bid: int) -> None:
        self._plan_frontends(plan, bid, set())
        if bid in self.mirror.backends:
            plan.backend_deletes.append(BackendKey(bid))

    # ----- execution --------------------------------------------------------------------

    def _execute(self, plan: Plan) -> None:
        self.last_writes = len(plan)
        m = self.mirror
        self._write(self.maps.backend, plan.backends, lambda k, v: m.backends.__setitem__(k.backend_uid, v))
        self._write(self.maps.endpoint, plan.slots, self._mirror_slot)
        self._write(self.maps.service, plan.services, self._mirror_service)
        self._write(self.maps.frontend, plan.frontends, lambda k, v: m.set_frontend(k.addr, v.upstream_id))
        self._delete(self.maps.frontend, plan.frontend_deletes, lambda k: m.drop_frontend(k.addr))
        self._delete(self.maps.service, plan.service_deletes, self._forget_service)
        self._delete(self.maps.endpoint, plan.slot_deletes, lambda k: None)
        self._delete(self.maps.backend, plan.backend_deletes, lambda k: m.backends.pop(k.backend_uid, None))

    def _mirror_slot(self, key: EndpointKey, value: EndpointValue) -> None:
        groups = self.mirror.groups.setdefault(key.service_id, [[] for _ in range(PRIO_COUNT)])
        while len(groups) < PRIO_COUNT:
            groups.append([])
        group = groups[key.prio]
        while len(group) < key.backend_index:
            group.append(0)
        group[key.backend_index - 1] = value.backend_uid

    def _mirror_service(self, key: ServiceKey, value: ServiceValue) -> None:
        self.mirror.services[key.service_id] = value
        groups = self.mirror.groups.setdefault(key.service_id, [[] for _ in range(PRIO_COUNT)])
        for prio, count in enumerate(value.prio_endpoint_count):
            del groups[prio][count:]

    def _forget_service(self, key: ServiceKey) -> None:
        self.mirror.services.pop(key.service_id, None)
        self.mirror.groups.pop(key.service_id, None)

    def _write(self, table: TypedMap, entries: list, remember: Callable) -> None:
        if not entries:
            return
        if len(entries) >= BATCH_MIN:
            try:
                table.update_batch(entries)
                for key, value in entries:
                    remember(key, value)
                return
            except MapError as err:
                log.warning("event=map_batch_failed map=%s entries=%d error=%r (retrying one by one)",
                            table.name, len(entries), str(err))
        for key, value in entries:
            try:
                table.update(key, value)
                remember(key, value)
            except MapError as err:
                self._write_failed(table, key, err)

    def _delete(self, table: TypedMap, keys: list, forget: Callable) -> None:
        for key in keys:
            try:
                table.delete(key)
                forget(key)
            except MapError as err:
                self._write_failed(table, key, err)

    def _write_failed(self, table: TypedMap, key: object, err: MapError) -> None:
        self.write_errors += 1
        log.error("event=map_write_failed map=%s key=%s error=%r", table.name, key, str(err))

    def _release_ids(self, ids: Iterable[int]) -> None:
        for id_ in ids:
            if id_ in self.mirror.services or id_ in self.mirror.backends:
                continue  # its delete failed: keep the id so a retry finds it
            name, kind = self.ids.name_of(id_), self.ids.kind_of(id_)
            if name is not None:
                self.ids.release(name, kind)


def _waypoint_target(gw: workload_pb2.GatewayAddress) -> object:
    if gw.WhichOneof("destination") == "hostname":
        return f"{gw.hostname.namespace}/{gw.hostname.hostname}"
    return gw.address.address


def _member_target(members: list[workload_pb2.Workload], key: str, service_port: int) -> int:
    for wl in members:
        port_list = wl.services.get(key)
        for port in (port_list.ports if port_list else ()):
            if port.service_port == service_port and port.target_port:
                return port.target_port
    return 0

