"""From the workload cache (``kmeshctl.node.model`` objects) to the map entries the data path
needs: pure rules and the ``Translator``, which reads the cache and the id registry and
writes nothing. ``kmeshctl.node.mapsync`` turns its answers into map writes.

What it decides (facts section 4; docs/agent.md):

- a Service: its LB policy, its first ``MAX_PORTS`` port pairs, its waypoint (by upstream
  id), and its endpoints per priority group (locality), each endpoint with its own
  target ports when the Service has named ports;
- a Workload: its addresses (one per family), its services, its waypoint, and, when it is
  a waypoint itself, the application tunnel it reads redirected connections on;
- which services and workloads a cache delta affects (the exact set to re-plan).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Union

from kmeshctl.node import model
from kmeshctl.bounded import clip
from kmeshctl.node.ids import IdRegistry
from kmeshctl.maps import (MAX_PORTS, PRIO_COUNT, BackendValue, EndpointValue, IdKind, IPAddress,
                           LbPolicy, ServiceValue, Tunnel, WaypointHeader)
from kmeshctl.node.model import NetworkAddress, Service, Waypoint, Workload
from kmeshctl.node.workload_cache import CacheDelta, WorkloadCache

log = logging.getLogger("kmeshctl.mapsync")

MAX_BACKEND_SERVICES = 10
Groups = tuple[tuple[EndpointValue, ...], ...]
WaypointTarget = Union[str, IPAddress]  # a Service key, or an address
User = tuple[str, str]  # ("s", service key) or ("w", workload uid)


@dataclass(frozen=True)
class NodeInfo:
    """Where this agent runs, for locality-aware priority groups (``network``: this
    node's network, for the NETWORK routing preference; "" is the default network)."""

    node_name: str = ""
    cluster_id: str = "Kubernetes"
    network: str = ""
    locality: Optional[model.Locality] = None  # None: learnt from a local workload


# ----------------------------------------------------------------- pure rules


def lb_policy(service: Service) -> LbPolicy:
    lb = service.load_balancing
    if lb.mode == model.MODE_PASSTHROUGH:
        return LbPolicy.PASSTHROUGH
    if lb.mode == model.MODE_STRICT:
        return LbPolicy.STRICT
    if lb.mode == model.MODE_FAILOVER or (lb.mode == model.MODE_UNSPECIFIED and lb.routing_preference):
        return LbPolicy.FAILOVER
    return LbPolicy.RANDOM


def scope_matches(scope: int, wl: Workload, node: NodeInfo, local: Optional[model.Locality]) -> bool:
    here = local or model.Locality()
    there = wl.locality or model.Locality()
    if scope == model.SCOPE_REGION:
        return there.region == here.region
    if scope == model.SCOPE_ZONE:
        return (there.region, there.zone) == (here.region, here.zone)
    if scope == model.SCOPE_SUBZONE:
        return there == here
    if scope == model.SCOPE_NODE:
        return bool(node.node_name) and wl.node == node.node_name
    if scope == model.SCOPE_CLUSTER:
        return (wl.cluster_id or "Kubernetes") == node.cluster_id
    if scope == model.SCOPE_NETWORK:
        return wl.network == node.network
    return True


def priority(preferences: Sequence[int], wl: Workload, node: NodeInfo,
             local: Optional[model.Locality]) -> int:
    """0 when the workload matches every preferred scope; one more per scope that does
    not match, counted from the first mismatch (so the order of preferences matters)."""
    matched = 0
    for scope in preferences:
        if not scope_matches(scope, wl, node, local):
            break
        matched += 1
    return min(len(preferences) - matched, PRIO_COUNT - 1)


def is_routable(wl: Workload, service: Service) -> bool:
    if not wl.addresses:
        return False
    return service.load_balancing.health_policy == model.ALLOW_ALL or wl.status == model.HEALTHY


def one_per_family(addresses: Iterable[IPAddress]) -> tuple[IPAddress, ...]:
    """A workload's addresses, the first of each family (a Workload has up to one)."""
    if isinstance(addresses, tuple) and len(addresses) == 1:
        return addresses  # the common case, shared with the model
    first: dict[int, IPAddress] = {}
    for ip in addresses:
        first.setdefault(ip.version, ip)
    return tuple(first[v] for v in sorted(first))


_FIXED_FAMILIES = {model.IPV4_ONLY: frozenset({4}), model.IPV6_ONLY: frozenset({6}),
                   model.DUAL: frozenset({4, 6})}


def service_families(svc: Service) -> frozenset[int]:
    """The IP versions a Service serves: its ``ip_families``; AUTOMATIC (unset): the
    versions of its VIPs (none: no requirement)."""
    return _FIXED_FAMILIES.get(svc.ip_families) or frozenset(a.ip.version for a in svc.addresses)


def is_cidr(address: NetworkAddress) -> bool:
    """A VIP that is a range (``length`` shorter than the address), not one address."""
    return address.length is not None and address.length < address.ip.max_prefixlen


def vips(svc: Service) -> frozenset[IPAddress]:
    """The VIPs that get a frontend: of the families the Service serves, not ranges."""
    families = service_families(svc)
    return frozenset([a.ip for a in svc.addresses if not is_cidr(a) and a.ip.version in families])


def service_ports(svc: Service) -> tuple[tuple[int, int], ...]:
    """(service port, target port) pairs of the service's first MAX_PORTS ports (the
    xDS client warned about the rest when it accepted the service). Target 0 is a
    named port: each endpoint carries its own number (``endpoint_targets``)."""
    return tuple((p.service_port, p.target_port) for p in svc.ports[:MAX_PORTS] if p.service_port)


def endpoint_targets(wl: Workload, key: str, ports: Sequence[tuple[int, int]]) -> Optional[tuple[int, ...]]:
    """The workload's own target port per port slot of a Service with named ports (0:
    the service's number applies), or None when it lacks a number for a named port (it
    is then left out of that service, as istiod/ztunnel do)."""
    own = {p.service_port: p.target_port for p in wl.ports_for(key)}
    targets = []
    for service_port, service_target in ports:
        if service_target:
            targets.append(0)
        elif own.get(service_port):
            targets.append(own[service_port])
        else:
            return None
    return tuple(targets)


def tunnel_of(wl: Workload) -> Optional[Tunnel]:
    """Where this workload, as a waypoint, reads redirected connections: its PROXY
    application tunnel; None: the Kmesh TLV on WAYPOINT_TLV_PORT (also for PROXY without
    a port, which names no listener)."""
    tunnel = wl.application_tunnel
    if tunnel is not None and tunnel.protocol == model.TUNNEL_PROXY and tunnel.port:
        return Tunnel(tunnel.port, WaypointHeader.PROXY_V2)
    return None


def waypoint_target(gw: Waypoint) -> WaypointTarget:
    """The waypoint's name: ``namespace/hostname`` (a Service key) or its address."""
    return gw.service_key if gw.service_key is not None else gw.address  # type: ignore[return-value]


# ----------------------------------------------------------------- the translator


@dataclass
class Affected:
    """What a delta touches: ``services`` (keys) and ``workloads`` (uids) to re-plan;
    ``members``: the services among them that only some member workloads changed for
    (key -> those uids), which can be re-planned for those members alone."""

    services: set[str]
    workloads: set[str]
    members: dict[str, set[str]]




class Translator:
    """Desired map entries for the cache's services and workloads.

    Reads ``cache``, looks ids up in ``ids`` (never allocates: a name without an id is
    not in the maps) and keeps two pieces of derived state: this node's learnt locality
    and an index of who uses which waypoint (for ``affected``)."""

    def __init__(self, cache: WorkloadCache, ids: IdRegistry, node: NodeInfo) -> None:
        self.cache = cache
        self.ids = ids
        self.node = node
        self.learnt_locality: Optional[model.Locality] = None
        self._wp_targets: dict[WaypointTarget, set[User]] = {}  # waypoint -> users
        self._wp_of: dict[User, WaypointTarget] = {}  # user -> its waypoint
        self.cidr_vips_unmapped = 0  # (service, range) VIPs that got no frontend, ever
        self._cidr_warned: set[tuple[str, IPAddress, int]] = set()
        # the service-id tuples of backends, one object per distinct value: the pods of
        # one Service have the same one (100,000 backends, a few thousand tuples)
        self._id_tuples: model.SharedValues[tuple[int, ...], tuple[int, ...]] = model.SharedValues()

    def _shared_ids(self, ids: tuple[int, ...]) -> tuple[int, ...]:
        return self._id_tuples.get(ids)

    # ----- what a delta affects ---------------------------------------------------------

    def affected(self, delta: CacheDelta) -> "Affected":
        """The services and workloads whose entries ``delta`` may change."""
        changed = [c.new or c.old for c in delta.workloads.values()]
        locality_changed = self.learn_locality(w for w in changed if w is not None)
        full = set(delta.services)
        workloads = set(delta.workloads)
        members: dict[str, set[str]] = {}
        for uid, change in delta.workloads.items():
            for wl in (change.old, change.new):
                if wl is not None:
                    for key in wl.service_keys():
                        members.setdefault(key, set()).add(uid)
        for key in delta.services:  # membership of a service's workloads changes with it
            workloads.update(self.cache.members(key))
        self.track_waypoints(delta)
        waypoint_services, waypoint_workloads = self._waypoint_users(delta)
        full |= waypoint_services
        workloads |= waypoint_workloads
        if locality_changed:
            full |= {k for k, s in self.cache.services.items() if s.load_balancing.routing_preference}
        return Affected(full | set(members), workloads,
                        {k: uids for k, uids in members.items() if k not in full})

    def _waypoint_users(self, delta: CacheDelta) -> tuple[set[str], set[str]]:
        """Services and workloads whose waypoint this delta may make (un)resolvable: a
        waypoint Service that changed, or an address that came or went. A waypoint pod's
        other changes (health, ports, its tunnel) change only the waypoint Service's own
        entries, not its users' (they name the waypoint by id)."""
        touched: set[WaypointTarget] = set()
        for key, change in delta.services.items():
            touched.add(key)
            touched.update(a.ip for s in (change.old, change.new) if s is not None for a in s.addresses)
        for change in delta.workloads.values():
            old_ips = set(change.old.addresses) if change.old is not None else set()
            new_ips = set(change.new.addresses) if change.new is not None else set()
            touched.update(old_ips ^ new_ips)
        users: set[User] = set()
        for target in touched & self._wp_targets.keys():
            users |= self._wp_targets[target]
        return {k for kind, k in users if kind == "s"}, {k for kind, k in users if kind == "w"}

    def track_waypoints(self, delta: Optional[CacheDelta]) -> None:
        """Index who uses which waypoint (hostname key or address); None: rebuild."""
        items: list[tuple[User, Optional[Union[Service, Workload]]]]
        if delta is None:
            self._wp_targets.clear()
            self._wp_of.clear()
            items = [(user, self.cache.service(user[1]) if user[0] == "s" else self.cache.workload(user[1]))
                     for user in sorted(self.cache.with_waypoint)]
        else:
            items = [(("s", k), c.new) for k, c in delta.services.items()] + \
                    [(("w", u), c.new) for u, c in delta.workloads.items()]
        for user, item in items:
            previous = self._wp_of.pop(user, None)
            if previous is not None:
                self._wp_targets[previous].discard(user)
                if not self._wp_targets[previous]:
                    del self._wp_targets[previous]
            if item is not None and item.waypoint is not None:
                target = waypoint_target(item.waypoint)
                self._wp_of[user] = target
                self._wp_targets.setdefault(target, set()).add(user)

    # ----- locality ---------------------------------------------------------------------

    def local_locality(self) -> Optional[model.Locality]:
        return self.node.locality or self.learnt_locality

    def learn_locality(self, workloads: Iterable[Workload]) -> bool:
        """Take this node's locality from a workload on it (when the Node's labels did not
        give one); True when it changed."""
        if self.node.locality is not None or not self.node.node_name:
            return False
        for wl in workloads:
            if wl.node == self.node.node_name and wl.locality is not None:
                if self.learnt_locality != wl.locality:
                    self.learnt_locality = wl.locality
                    log.info("event=node_locality region=%s zone=%s subzone=%s",
                             wl.locality.region, wl.locality.zone, wl.locality.subzone)
                    return True
                return False
        return False

    # ----- waypoints --------------------------------------------------------------------

    def resolve_waypoint(self, gw: Waypoint) -> Optional[int]:
        """The waypoint's upstream id: its Service's id (hostname form, or an address that
        is a Service VIP) or its workload's backend id (an address that is a pod IP); None
        when nothing in the maps has that name or address (yet)."""
        target = waypoint_target(gw)
        if isinstance(target, str):
            return self.ids.lookup(IdKind.SERVICE, target) if target in self.cache.services else None
        for svc in self.cache.services_by_address(target):
            sid = self.ids.lookup(IdKind.SERVICE, svc.key)
            if sid:
                return sid
        for wl in self.cache.workloads_by_address(target):
            bid = self.ids.lookup(IdKind.BACKEND, wl.uid)
            if bid:
                return bid
        return None

    @staticmethod
    def _is_own_waypoint(gw: Waypoint, own_keys: Iterable[str], own_addresses: Iterable[IPAddress]) -> bool:
        """A waypoint that names the resource itself (or a Service it belongs to): a
        waypoint is never redirected to itself."""
        target = waypoint_target(gw)
        return target in set(own_keys) or target in set(own_addresses)

    def service_waypoint(self, svc: Service) -> Optional[int]:
        """0: no waypoint (or it is the service itself); None: unresolvable."""
        if svc.waypoint is None or self._is_own_waypoint(svc.waypoint, [svc.key], [a.ip for a in svc.addresses]):
            return 0
        return self.resolve_waypoint(svc.waypoint)

    def workload_waypoint(self, wl: Workload) -> Optional[int]:
        """0: no waypoint (or one of its own Services / itself); None: unresolvable."""
        if wl.waypoint is None or self._is_own_waypoint(wl.waypoint, wl.service_keys(), wl.addresses):
            return 0
        return self.resolve_waypoint(wl.waypoint)

    # ----- desired entries --------------------------------------------------------------

    def desired_service(self, key: str) -> tuple[ServiceValue, Groups]:
        """The service's value (counts left 0: the planner sets them) and its endpoint
        groups by priority."""
        svc = self.cache.services[key]
        ports = service_ports(svc)
        waypoint_id = self.service_waypoint(svc)
        if waypoint_id is None:
            log.warning("event=waypoint_unresolved service=%s action=reject_connects", clip(key))
            return ServiceValue(lb_policy=LbPolicy.STRICT, ports=ports), ()
        groups: list[list[EndpointValue]] = [[] for _ in range(PRIO_COUNT)]
        for wl in self.cache.member_workloads(key):
            placed = self.placement(svc, wl, ports)
            if placed is not None:
                groups[placed[0]].append(placed[1])
        while groups and not groups[-1]:
            groups.pop()
        value = ServiceValue(lb_policy=lb_policy(svc), ports=ports, waypoint_id=waypoint_id)
        return value, tuple(tuple(g) for g in groups)

    def placement(self, svc: Service, wl: Workload,
                  ports: Sequence[tuple[int, int]]) -> Optional[tuple[int, EndpointValue]]:
        """The workload's priority group and endpoint slot in the service, or None when it
        is left out: not routable, an unresolvable waypoint, no address of a family the
        service serves, no number for a named port, no id."""
        if not (is_routable(wl, svc) and self.workload_waypoint(wl) is not None):
            return None
        if not service_families(svc) <= {ip.version for ip in one_per_family(wl.addresses)}:
            return None
        targets = endpoint_targets(wl, svc.key, ports) if any(t == 0 for _, t in ports) else ()
        bid = self.ids.lookup(IdKind.BACKEND, wl.uid)
        if targets is None or not bid:
            return None
        prio = priority(svc.load_balancing.routing_preference, wl, self.node, self.local_locality())
        return prio, EndpointValue(bid, targets)

    def desired_backend(self, wl: Workload) -> Optional[BackendValue]:
        """The workload's backend value; None when it has no address (nothing to map)."""
        if not wl.addresses:
            return None
        # lookup, not allocate: a service without an id (a full registry) is not in the maps
        services, lookup = self.cache.services, self.ids.lookup
        service_ids = []
        for key, _ in wl.services:
            sid = lookup(IdKind.SERVICE, key) if key in services else None
            if sid:
                service_ids.append(sid)
        if len(service_ids) > MAX_BACKEND_SERVICES:
            log.warning("event=backend_services_truncated workload=%s services=%d kept=%d",
                        clip(wl.uid), len(service_ids), MAX_BACKEND_SERVICES)
            service_ids = service_ids[:MAX_BACKEND_SERVICES]
        waypoint_id = self.workload_waypoint(wl)
        if waypoint_id is None:
            log.warning("event=waypoint_unresolved workload=%s action=reject_connects", clip(wl.uid))
        return BackendValue(one_per_family(wl.addresses), self._shared_ids(tuple(service_ids)), waypoint_id or 0,
                            tunnel_of(wl), waypoint_unresolved=waypoint_id is None)

    @staticmethod
    def frontend_ips(wl: Workload) -> frozenset[IPAddress]:
        """The pod IPs that lead to this backend (none for host-network workloads, whose
        address is the node's)."""
        return frozenset() if wl.network_mode == model.HOST_NETWORK else frozenset(wl.addresses)

    def warn_cidr(self, svc: Service) -> None:
        """A range VIP cannot be a key of the exact-match frontend map: say so, once per
        (service, range), and count it (``cidr_vips_unmapped``)."""
        for address in svc.addresses:
            seen = (svc.key, address.ip, address.length or 0)
            if is_cidr(address) and seen not in self._cidr_warned:
                self._cidr_warned.add(seen)
                self.cidr_vips_unmapped += 1
                log.warning("event=service_cidr_vip_unmapped service=%s vip=%s/%d action=left_alone",
                            clip(svc.key), address.ip, address.length)
