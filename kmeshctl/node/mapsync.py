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

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, KeysView, Optional, Sequence

from kmeshctl.bounded import clip
from kmeshctl.node.frontend_owners import FrontendOwners
from kmeshctl.node.ids import IdRegistry, registry_name
from kmeshctl.maps import (BACKEND, ENDPOINT, FRONTEND, IDREG, PRIO_COUNT, SERVICE, BackendKey,
                           BackendValue, DataplaneMaps, EndpointKey, EndpointValue, FrontendKey,
                           FrontendValue, IdKind, IPAddress, MapError, ServiceKey, ServiceValue,
                           TypedMap)
from kmeshctl.node.translate import Groups, NodeInfo, Translator, service_ports, vips
from kmeshctl.node.workload_cache import CacheDelta, WorkloadCache

log = logging.getLogger("kmeshctl.mapsync")

_EMPTY_SLOT = EndpointValue(0)
BATCH_MIN = 64  # below this, per-entry writes (batch syscalls pay off only in bulk)
RECONCILE_CHUNK = 4096  # entries planned and written at a time by a reconcile

__all__ = ["MapSync", "NodeInfo", "Plan", "SyncResult", "regroup"]


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
    # (upstream id, every address it claims): resolved into frontend writes once the
    # whole plan is known, because one address may have several owners
    claims: list[tuple[int, frozenset]] = field(default_factory=list)

    _WRITES = ("backends", "slots", "services", "frontends", "frontend_deletes", "service_deletes",
               "slot_deletes", "backend_deletes")

    def __len__(self) -> int:
        return sum(len(getattr(self, name)) for name in self._WRITES)

    def has_deletes(self) -> bool:
        return bool(self.frontend_deletes or self.service_deletes or self.slot_deletes or self.backend_deletes)

    def merge(self, other: "Plan") -> None:
        for name in self._WRITES + ("claims",):
            getattr(self, name).extend(getattr(other, name))


@dataclass
class SyncResult:
    """What one apply could not put into the maps.

    ``unapplied``: resource name (service ``namespace/hostname`` or workload uid) ->
    why (a full map); such resources stay in the cache and are written as soon as room
    frees up. ``failed_writes``: map operations the kernel refused (the next apply
    reconciles everything)."""

    unapplied: dict[str, str] = field(default_factory=dict)
    failed_writes: int = 0

    def problems_for(self, names: Iterable[str]) -> list[str]:
        """NACK lines for the resources of one response."""
        problems = [f"{clip(n)}: not in the BPF maps: {self.unapplied[n]}" for n in names if n in self.unapplied]
        if self.failed_writes:
            problems.append(f"{self.failed_writes} BPF map writes failed (see the agent log); "
                            "the maps are reconciled on the next update")
        return problems


@dataclass
class _Mirror:
    """What this agent knows to be in the maps."""

    services: dict[int, ServiceValue] = field(default_factory=dict)
    # service id -> per priority group, the endpoint slots in index order (slot 1 first)
    groups: dict[int, list[list[EndpointValue]]] = field(default_factory=dict)
    # the same groups as backend uids, so a member is found with list.index (C speed)
    group_uids: dict[int, list[list[int]]] = field(default_factory=dict)
    backends: dict[int, BackendValue] = field(default_factory=dict)
    frontends: dict[IPAddress, int] = field(default_factory=dict)
    endpoints: int = 0  # slots in all groups, kept as they change (usage() runs per update)

    def set_groups(self, service_id: int, groups: list[list[EndpointValue]]) -> None:
        self.endpoints += sum(map(len, groups)) - sum(map(len, self.groups.get(service_id, ())))
        self.groups[service_id] = groups
        self.group_uids[service_id] = [[e.backend_uid for e in g] for g in groups]

    def set_slot(self, key: EndpointKey, value: EndpointValue) -> None:
        sid, prio, index = key.service_id, key.prio, key.backend_index
        values, uids = self.groups.get(sid), self.group_uids.get(sid)
        if values is None or uids is None:
            values = self.groups[sid] = [[] for _ in range(PRIO_COUNT)]
            uids = self.group_uids[sid] = [[] for _ in range(PRIO_COUNT)]
        values, uids = values[prio], uids[prio]
        if index > len(values):
            self.endpoints += index - len(values)
            values.extend([_EMPTY_SLOT] * (index - len(values)))
            uids.extend([0] * (index - len(uids)))
        values[index - 1] = value
        uids[index - 1] = value.backend_uid

    def set_counts(self, service_id: int, counts: Iterable[int]) -> None:
        for groups in (self.groups, self.group_uids):
            per_prio = groups.setdefault(service_id, [[] for _ in range(PRIO_COUNT)])
            for prio, count in enumerate(counts):
                if groups is self.groups:
                    self.endpoints -= max(0, len(per_prio[prio]) - count)
                del per_prio[prio][count:]

    def forget_service(self, service_id: int) -> None:
        self.services.pop(service_id, None)
        self.endpoints -= sum(map(len, self.groups.pop(service_id, ())))
        self.group_uids.pop(service_id, None)

    def endpoint_count(self) -> int:
        return self.endpoints


class MapSync:
    """The xDS client's sink: apply cache deltas to the maps."""

    def __init__(self, maps: DataplaneMaps, ids: IdRegistry, cache: WorkloadCache, node: NodeInfo,
                 capacity: Optional[dict[str, int]] = None) -> None:
        """``capacity``: entries per map name this agent may use (default: each map's
        max_entries; smaller values let tests reach "full" without 100,000 entries)."""
        self.maps = maps
        self.ids = ids
        self.cache = cache
        self.node = node
        self.translator = Translator(cache, ids, node)
        self.mirror = _Mirror()
        self.owners = FrontendOwners(self._owner_rank)
        self.capacity = {spec.name: spec.max_entries for spec in (FRONTEND, SERVICE, ENDPOINT, BACKEND, IDREG)}
        self.capacity.update(capacity or {})
        # resources in the cache that did not fit (name -> reason): retried on every apply
        self.pending_services: dict[str, str] = {}
        self.pending_workloads: dict[str, str] = {}
        self.unapplied_total = 0  # resource versions left out for a full map, ever
        self._dirty = False  # a write failed: the mirror may be wrong, reconcile next time
        self._planned_backends: set[int] = set()
        # services a delta touched only through some members (key -> their uids): planned
        # for those members alone (_plan_members), not re-derived from every member
        self._member_changes: dict[str, set[str]] = {}
        self.write_errors = 0
        self.initialized = threading.Event()
        self.last_sync_seconds = 0.0
        self.last_writes = 0  # map operations of the last apply (exactness shows here)
        self._lock = threading.Lock()
        self.on_synced: list[Callable[[float], None]] = []

    # ----- entry points -----------------------------------------------------------------

    def __call__(self, delta: CacheDelta) -> SyncResult:
        return self.apply(delta)

    def apply(self, delta: CacheDelta) -> SyncResult:
        """Write what ``delta`` changes (the first call: everything). Never raises: what
        could not be written is in the result, and a failure makes the next call
        reconcile the maps with the whole cache."""
        started = time.monotonic()
        errors_before = self.write_errors
        with self._lock:
            try:
                if not self.initialized.is_set() or self._dirty or delta.everything:
                    self._reconcile()
                    self.initialized.set()
                else:
                    self._apply_delta(delta)
            except Exception as err:  # noqa: BLE001 - the cache already changed: never leave it half-applied
                log.exception("event=maps_apply_failed error=%r (the next update reconciles)", clip(str(err)))
                self._dirty = True
                self.write_errors += 1
            result = SyncResult({**self.pending_services, **self.pending_workloads},
                                self.write_errors - errors_before)
        self.last_sync_seconds = time.monotonic() - started
        for callback in self.on_synced:
            callback(self.last_sync_seconds)
        return result

    def reconcile(self) -> None:
        """Make the maps match the whole cache (first sync, or on demand)."""
        with self._lock:
            self._reconcile()
            self.initialized.set()

    def incomplete(self) -> str:
        """Why the maps do not hold the whole cache ("" when they do)."""
        pending = {**self.pending_services, **self.pending_workloads}
        if pending:
            name, reason = next(iter(sorted(pending.items())))
            return f"{len(pending)} resources are not in the BPF maps (e.g. {clip(name)}: {reason})"
        if self._dirty:
            return "a BPF map write failed; the maps are reconciled on the next update"
        return ""

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
        self._dirty = False
        self._member_changes = {}  # a reconcile plans every service in full
        self.mirror = self._read_maps()
        self.owners.clear()
        self.pending_services.clear()
        self.pending_workloads.clear()
        self.translator.learn_locality(self.cache.workloads_on_node(self.node.node_name))
        self.translator.track_waypoints(None)
        services, workloads = self.cache.services.keys(), self.cache.workloads.keys()
        stale_services = self._stale(self.mirror.services, IdKind.SERVICE, services)
        stale_backends = self._stale(self.mirror.backends, IdKind.BACKEND, workloads)
        plan = Plan()
        for sid in stale_services:
            self._plan_service_removal(plan, sid)
        for bid in stale_backends:
            self._plan_backend_removal(plan, bid)
        allocated = self._allocate_ids(services, workloads)
        if self._fits_in_chunks(*allocated):
            writes = self._reconcile_in_chunks(plan, *allocated)
        else:
            self._plan_within_capacity(plan, *allocated)
            self._resolve_frontends(plan, sweep=True)
            self._execute(plan)
            writes = len(plan)
        self.last_writes = writes
        self._release_ids(stale_services + stale_backends)
        if inherited_ids:
            self._release_unused_ids()
        self._retry_pending(plan)
        log.info("event=maps_reconciled services=%d backends=%d frontends=%d writes=%d",
                 len(self.mirror.services), len(self.mirror.backends), len(self.mirror.frontends), writes)

    # ----- reconcile in chunks ----------------------------------------------------------

    def _fits_in_chunks(self, services: list[str], workloads: list[str]) -> bool:
        """Even if every resource's entries were new, the maps hold them (the usual case,
        and every first sync's): counted from the cache, without planning anything."""
        m, free = self.mirror, self._free()
        new_backends = sum(1 for u in workloads if self.ids.lookup(IdKind.BACKEND, u) not in m.backends)
        new_services = sum(1 for k in services if self.ids.lookup(IdKind.SERVICE, k) not in m.services)
        slots = sum(self.cache.member_count(k) for k in services)
        addresses = sum(len(self.cache.workloads[u].addresses) for u in workloads) + \
            sum(len(self.cache.services[k].addresses) for k in services)
        return (new_backends <= free[BACKEND.name] and new_services <= free[SERVICE.name]
                and slots <= free[ENDPOINT.name] and addresses <= free[FRONTEND.name])

    def _reconcile_in_chunks(self, removals: Plan, services: list[str], workloads: list[str]) -> int:
        """Plan and write a reconcile a few thousand entries at a time, in the order one
        plan would: backends, then slots and services, then frontends, then every delete.
        A first sync of 300,000 entries never holds them all as objects at once.
        ``removals``: the stale entries' deletes; returns the writes made."""
        live_services = [k for k in services if k in self.cache.services]
        live_workloads = [u for u in workloads if u in self.cache.workloads]
        writes = 0
        for chunk in _chunks(live_workloads, RECONCILE_CHUNK):
            sub = Plan()
            self._plan_backends(sub, chunk)
            writes += self._execute_writes(sub, removals)
        for chunk in self._service_chunks(live_services):
            sub = Plan()
            self._plan_services(sub, chunk)
            writes += self._execute_writes(sub, removals)
        removals.claims.clear()  # stale upstreams claim nothing, and the owners start empty
        for chunk in _chunks(self._swept_addresses(), RECONCILE_CHUNK):
            sub = Plan()
            self._plan_winners(sub, chunk)
            writes += self._execute_writes(sub, removals)
        self._execute(removals)
        self._settle_pending(live_services, live_workloads)
        return writes + len(removals)

    def _service_chunks(self, keys: list[str]) -> Iterable[list[str]]:
        """Services in groups of about RECONCILE_CHUNK endpoint slots."""
        chunk: list[str] = []
        slots = 0
        for key in keys:
            chunk.append(key)
            slots += self.cache.member_count(key) + 1
            if slots >= RECONCILE_CHUNK:
                yield chunk
                chunk, slots = [], 0
        if chunk:
            yield chunk

    def _execute_writes(self, sub: Plan, deferred: Plan) -> int:
        """Claim ``sub``'s addresses, write its entries now, and leave its deletes to
        ``deferred`` (run after every write, as in one plan)."""
        for upstream, ips in sub.claims:
            self.owners.claim(upstream, ips)
        sub.claims.clear()
        for name in ("frontend_deletes", "service_deletes", "slot_deletes", "backend_deletes"):
            getattr(deferred, name).extend(getattr(sub, name))
            getattr(sub, name).clear()
        self._execute(sub)
        return len(sub)

    def _swept_addresses(self) -> list[IPAddress]:
        """Every address claimed now, and every one in the maps that nobody claims."""
        claimed = list(self.owners.addresses())
        return claimed + [ip for ip in self.mirror.frontends if not self.owners.is_claimed(ip)]

    def _plan_winners(self, plan: Plan, ips: Iterable[IPAddress]) -> None:
        """Each address's entry names its winning owner, or goes when nobody claims it."""
        for ip in ips:
            winner = self.owners.winner(ip)
            if winner is None:
                if ip in self.mirror.frontends:
                    plan.frontend_deletes.append(FrontendKey(ip))
            elif self.mirror.frontends.get(ip) != winner:
                plan.frontends.append((FrontendKey(ip), FrontendValue(winner)))

    def _stale(self, ids: Iterable[int], kind: IdKind, names: KeysView[str]) -> list[int]:
        """The ids (of ``kind``) in the maps whose name is none of ``names``."""
        # a name longer than the registry's slot is stored hashed: only those need a set
        hashed = {stored for stored in map(registry_name, names) if stored not in names}
        return [id_ for id_ in ids if (name := self._name(id_, kind)) not in names and name not in hashed]

    def _read_maps(self) -> _Mirror:
        mirror = _Mirror()
        mirror.services = {k.service_id: v for k, v in self.maps.service.items()}
        for sid, value in mirror.services.items():
            mirror.set_groups(sid, self._stored_groups(sid, value))
        mirror.backends = {k.backend_uid: v for k, v in self.maps.backend.items()}
        for key, value in self.maps.frontend.items():
            mirror.frontends[key.addr] = value.upstream_id
        return mirror

    def _stored_groups(self, sid: int, value: ServiceValue) -> list[list[EndpointValue]]:
        groups = []
        for prio, count in enumerate(value.prio_endpoint_count):
            group = []
            for index in range(1, count + 1):
                slot = self.maps.endpoint.lookup(EndpointKey(sid, prio, index))
                group.append(slot if slot else EndpointValue(0))
            groups.append(group)
        return groups

    def _name(self, id_: int, kind: IdKind) -> Optional[str]:
        return self.ids.name_of(id_) if self.ids.kind_of(id_) == kind else None

    def _release_unused_ids(self) -> None:
        """Ids registered by a previous agent for names neither the cache nor the maps use."""
        used = set(self.mirror.services) | set(self.mirror.backends)
        wanted = {registry_name(n) for n in self.cache.services} | {registry_name(n) for n in self.cache.workloads}
        for id_, kind, name in self.ids.items():
            if id_ not in used and name not in wanted:
                self.ids.release(name, kind)

    def _allocate_ids(self, services: Iterable[str], workloads: Iterable[str]) -> tuple[list[str], list[str]]:
        """Ids for what is about to be planned, persisted in batches, not one write per
        name. Returns the services and workloads that have an id; the others (the
        registry is full) are recorded as pending."""
        services, workloads = sorted(services), sorted(workloads)
        free = min(self.ids.free_ids(), self.capacity[IDREG.name] - len(self.ids))
        new = [(IdKind.SERVICE, k) for k in services if self.ids.lookup(IdKind.SERVICE, k) is None] + \
              [(IdKind.BACKEND, u) for u in workloads if self.ids.lookup(IdKind.BACKEND, u) is None]
        refused = {name for _, name in new[max(free, 0):]}
        for kind, name in new[max(free, 0):]:
            self._pend(kind, name, f"{IDREG.name} is full ({self.capacity[IDREG.name]} ids)")
        services = [k for k in services if k not in refused]
        workloads = [u for u in workloads if u not in refused]
        self.ids.allocate(IdKind.SERVICE, services)
        self.ids.allocate(IdKind.BACKEND, workloads)
        return services, workloads

    # ----- capacity ---------------------------------------------------------------------

    def _pend(self, kind: IdKind, name: str, reason: str) -> None:
        pending = self.pending_services if kind == IdKind.SERVICE else self.pending_workloads
        if pending.get(name) != reason:
            self.unapplied_total += 1
            log.warning("event=maps_full resource=%s reason=%r action=retry_when_room_frees", clip(name), reason)
        pending[name] = reason

    def _free(self) -> dict[str, int]:
        used = self.usage()
        return {name: self.capacity[name] - used[name][0] for name in (FRONTEND.name, SERVICE.name,
                                                                         ENDPOINT.name, BACKEND.name)}

    def _needs(self, plan: Plan) -> dict[str, int]:
        """New entries ``plan`` adds to each map (replacements and deletes are free)."""
        m = self.mirror
        new_ips = {ip for _, ips in plan.claims for ip in ips
                   if ip not in m.frontends and not self.owners.is_claimed(ip)}
        return {BACKEND.name: sum(1 for k, _ in plan.backends if k.backend_uid not in m.backends),
                SERVICE.name: sum(1 for k, _ in plan.services if k.service_id not in m.services),
                ENDPOINT.name: sum(1 for k, _ in plan.slots if k.backend_index > self._group_len(k)),
                FRONTEND.name: len(new_ips)}

    @staticmethod
    def _fits_at_most(plan: Plan, free: dict[str, int]) -> bool:
        """Even if every write of ``plan`` were a new entry, it fits (the usual case, and
        a first sync's: counting exactly what is new would look up 300,000 entries)."""
        claimed = sum(len(ips) for _, ips in plan.claims)
        return (len(plan.backends) <= free[BACKEND.name] and len(plan.services) <= free[SERVICE.name]
                and len(plan.slots) <= free[ENDPOINT.name] and claimed <= free[FRONTEND.name])

    def _group_len(self, key: EndpointKey) -> int:
        groups = self.mirror.groups.get(key.service_id, ())
        return len(groups[key.prio]) if key.prio < len(groups) else 0

    @staticmethod
    def _full_map(needs: dict[str, int], free: dict[str, int]) -> Optional[str]:
        return next((name for name, need in needs.items() if need > free[name]), None)

    def _plan_within_capacity(self, plan: Plan, services: Iterable[str], workloads: Iterable[str]) -> None:
        """Plan the given services and workloads; what would overflow a map is left out
        whole (pending) so no entry ever names one that is not in the maps. Fast path:
        everything at once; only when that does not fit, one resource at a time."""
        services, workloads = self._allocate_ids(services, workloads)
        live_services = [k for k in services if k in self.cache.services]
        live_workloads = [u for u in workloads if u in self.cache.workloads]
        free = self._free()
        trial = Plan()
        try:
            self._plan_backends(trial, live_workloads)
            self._planned_backends = {k.backend_uid for k, _ in trial.backends}
            self._plan_services(trial, live_services)
            if self._fits_at_most(trial, free) or self._full_map(self._needs(trial), free) is None:
                plan.merge(trial)
                self._settle_pending(live_services, live_workloads)
                return
            self._plan_one_by_one(plan, live_services, live_workloads, free)
        finally:
            self._planned_backends = set()  # only meaningful while planning (100,000 ids)

    def _plan_one_by_one(self, plan: Plan, services: list[str], workloads: list[str],
                         free: dict[str, int]) -> None:
        self._planned_backends = set()
        for uid in workloads:
            sub = Plan()
            self._plan_backends(sub, [uid])
            if self._take(sub, free, IdKind.BACKEND, uid):
                plan.merge(sub)
                self._planned_backends |= {k.backend_uid for k, _ in sub.backends}
        for key in services:
            sub = Plan()
            self._plan_services(sub, [key])
            if self._take(sub, free, IdKind.SERVICE, key):
                plan.merge(sub)

    def _take(self, sub: Plan, free: dict[str, int], kind: IdKind, name: str) -> bool:
        needs = self._needs(sub)
        full = self._full_map(needs, free)
        if full is not None:
            self._pend(kind, name, f"{full} is full ({self.capacity[full]} entries)")
            return False
        for map_name, need in needs.items():
            free[map_name] -= need
        self._settle_pending([name] if kind == IdKind.SERVICE else [], [name] if kind == IdKind.BACKEND else [])
        return True

    def _settle_pending(self, services: Iterable[str], workloads: Iterable[str]) -> None:
        for key in services:
            if self.pending_services.pop(key, None) is not None:
                log.info("event=maps_room_found resource=%s", clip(key))
        for uid in workloads:
            if self.pending_workloads.pop(uid, None) is not None:
                log.info("event=maps_room_found resource=%s", clip(uid))

    def _retry_pending(self, plan: Plan) -> None:
        """Room may have freed up (deletes ran after the writes): try the pending again."""
        self._drop_pending_not_in_cache()
        if not (self.pending_services or self.pending_workloads) or not plan.has_deletes():
            return
        services: set[str] = set()
        workloads: set[str] = set()
        self._add_pending(services, workloads)
        retry = Plan()
        self._plan_within_capacity(retry, services, workloads)
        self._resolve_frontends(retry)
        self._execute(retry)

    def _add_pending(self, services: set[str], workloads: set[str]) -> None:
        """The pending resources, and the services of pending workloads (their groups
        change when the workload gets in); all planned in full."""
        self._drop_pending_not_in_cache()
        services |= set(self.pending_services)
        workloads |= set(self.pending_workloads)
        for uid in self.pending_workloads:
            services |= {k for k in self.cache.workloads[uid].service_keys() if k in self.cache.services}
        for key in set(self.pending_services) | {k for u in self.pending_workloads
                                                 for k in self.cache.workloads[u].service_keys()}:
            self._member_changes.pop(key, None)

    def _drop_pending_not_in_cache(self) -> None:
        for key in [k for k in self.pending_services if k not in self.cache.services]:
            del self.pending_services[key]
        for uid in [u for u in self.pending_workloads if u not in self.cache.workloads]:
            del self.pending_workloads[uid]

    # ----- incremental ------------------------------------------------------------------

    def _apply_delta(self, delta: CacheDelta) -> None:
        affected = self.translator.affected(delta)
        services, workloads = affected.services, affected.workloads
        self._member_changes = affected.members
        self._add_pending(services, workloads)
        plan = Plan()
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
        self._plan_within_capacity(plan, {k for k in services if k in self.cache.services},
                                   {u for u in workloads if u in self.cache.workloads})
        self._resolve_frontends(plan)
        self._execute(plan)
        self._release_ids([i for i in (self.ids.lookup(IdKind.SERVICE, k) for k in removed_services) if i]
                          + [i for i in (self.ids.lookup(IdKind.BACKEND, u) for u in removed_workloads) if i])
        self._member_changes = {}
        self._retry_pending(plan)
        log.debug("event=maps_delta services=%d workloads=%d writes=%d", len(services), len(workloads), len(plan))

    # ----- locality ---------------------------------------------------------------------

    @property
    def cidr_vips_unmapped(self) -> int:
        return self.translator.cidr_vips_unmapped

    def locality_info(self) -> dict:
        """This node's locality and where it came from (shown in the config dump)."""
        local = self.translator.local_locality()
        if self.node.locality is not None:
            source = "node labels"
        elif self.translator.learnt_locality is not None:
            source = "workload on this node"
        else:
            source = "unknown"
        return {"name": self.node.node_name, "locality_source": source,
                "locality": None if local is None else
                {"region": local.region, "zone": local.zone, "subzone": local.subzone}}

    # ----- planning ---------------------------------------------------------------------

    def _plan_backends(self, plan: Plan, uids: Iterable[str]) -> None:
        for uid in sorted(uids):
            wl = self.cache.workloads[uid]
            bid = self.ids.backend_id(uid)
            value = self.translator.desired_backend(wl)
            if value is None:
                self._plan_backend_removal(plan, bid)
                continue
            if self.mirror.backends.get(bid) != value:
                plan.backends.append((BackendKey(bid), value))
            self._plan_frontends(plan, bid, self.translator.frontend_ips(wl))

    def _plan_services(self, plan: Plan, keys: Iterable[str]) -> None:
        for key in sorted(keys):
            sid = self.ids.service_id(key)
            members = self._member_changes.get(key)
            if members is not None and sid in self.mirror.services:
                self._plan_members(plan, sid, key, members)
                continue
            value, groups = self.translator.desired_service(key)
            self._plan_groups(plan, sid, value, groups)
            svc = self.cache.services[key]
            self.translator.warn_cidr(svc)
            self._plan_frontends(plan, sid, vips(svc))

    def _plan_groups(self, plan: Plan, sid: int, value: ServiceValue, groups: Groups) -> None:
        current = self.mirror.groups.get(sid, [])
        new_groups = []
        for prio in range(PRIO_COUNT):
            old = current[prio] if prio < len(current) else []
            wanted = {e.backend_uid: e for e in (groups[prio] if prio < len(groups) else ())
                      if self._backend_present(e.backend_uid)}
            # survivors keep their slot; one whose own target ports changed is rewritten there
            new = regroup([e.backend_uid for e in old], wanted)
            for index, uid in enumerate(new, start=1):
                if index > len(old) or old[index - 1] != wanted[uid]:
                    plan.slots.append((EndpointKey(sid, prio, index), wanted[uid]))
            for index in range(len(new) + 1, len(old) + 1):
                plan.slot_deletes.append(EndpointKey(sid, prio, index))
            new_groups.append(new)
        counts = tuple(len(g) for g in new_groups)
        full = ServiceValue(counts, value.lb_policy, value.ports, value.waypoint_id)
        if self.mirror.services.get(sid) != full:
            plan.services.append((ServiceKey(sid), full))

    def _plan_members(self, plan: Plan, sid: int, key: str, uids: Iterable[str]) -> None:
        """Re-place only ``uids`` in the service's groups (its own value did not change):
        Python work proportional to the members that changed, whatever the group sizes."""
        svc = self.cache.services[key]
        ports = service_ports(svc)
        uid_groups = [list(g) for g in self.mirror.group_uids.get(sid, [[]] * PRIO_COUNT)]
        val_groups = [list(g) for g in self.mirror.groups.get(sid, [[]] * PRIO_COUNT)]
        original = [len(g) for g in uid_groups]
        touched: list[set[int]] = [set() for _ in range(PRIO_COUNT)]
        for uid in sorted(uids):
            bid = self.ids.lookup(IdKind.BACKEND, uid)
            if not bid:
                continue
            wl = self.cache.workloads.get(uid)
            member = wl is not None and key in wl.service_keys()  # it may have left the service
            placed = self.translator.placement(svc, wl, ports) if member else None
            if placed is not None and not self._backend_present(bid):
                placed = None
            _move_member(uid_groups, val_groups, touched, bid, placed)
        for prio in range(PRIO_COUNT):
            size, before = len(uid_groups[prio]), self.mirror.groups.get(sid, [[]] * PRIO_COUNT)[prio]
            for index in sorted(i for i in touched[prio] if i < size):
                if index >= original[prio] or before[index] != val_groups[prio][index]:
                    plan.slots.append((EndpointKey(sid, prio, index + 1), val_groups[prio][index]))
            plan.slot_deletes += [EndpointKey(sid, prio, i) for i in range(size + 1, original[prio] + 1)]
        old = self.mirror.services[sid]
        counts = tuple(len(g) for g in uid_groups)
        if counts != tuple(old.prio_endpoint_count):
            plan.services.append((ServiceKey(sid), ServiceValue(counts, old.lb_policy, old.ports, old.waypoint_id)))

    def _plan_frontends(self, plan: Plan, upstream: int, ips: frozenset[IPAddress]) -> None:
        """``upstream`` claims exactly ``ips`` (resolved by ``_resolve_frontends``)."""
        plan.claims.append((upstream, ips))

    def _resolve_frontends(self, plan: Plan, sweep: bool = False) -> None:
        """Turn the plan's claims into frontend writes: each touched address goes to its
        winning owner, or is deleted when nobody claims it. ``sweep``: also delete every
        address in the maps nobody claims (a previous agent's leftovers)."""
        touched: set[IPAddress] = set()
        for upstream, ips in plan.claims:
            touched |= self.owners.claim(upstream, ips)
        if sweep:
            # a reconcile starts from what is pinned: an unchanged claim's entry may be
            # missing or name another upstream (a previous agent's state, a failed write)
            touched |= {ip for _, ips in plan.claims for ip in ips}
            touched |= {ip for ip in self.mirror.frontends if not self.owners.is_claimed(ip)}
        self._plan_winners(plan, touched)

    def _backend_present(self, bid: int) -> bool:
        """In the maps, or written by the plan being made (a slot never names a backend
        that did not fit)."""
        return bool(bid) and (bid in self.mirror.backends or bid in self._planned_backends)

    def _owner_rank(self, upstream: int) -> tuple:
        kind = self.ids.kind_of(upstream)
        return (0 if kind == IdKind.SERVICE else 1, self.ids.name_of(upstream) or "", upstream)

    def _plan_service_removal(self, plan: Plan, sid: int) -> None:
        self._plan_frontends(plan, sid, frozenset())
        if sid in self.mirror.services:
            plan.service_deletes.append(ServiceKey(sid))
        for prio, group in enumerate(self.mirror.groups.get(sid, [])):
            plan.slot_deletes += [EndpointKey(sid, prio, i) for i in range(1, len(group) + 1)]

    def _plan_backend_removal(self, plan: Plan, bid: int) -> None:
        self._plan_frontends(plan, bid, frozenset())
        if bid in self.mirror.backends:
            plan.backend_deletes.append(BackendKey(bid))

    # ----- execution --------------------------------------------------------------------

    def _execute(self, plan: Plan) -> None:
        self.last_writes = len(plan)
        m = self.mirror
        self._write(self.maps.backend, plan.backends, lambda k, v: m.backends.__setitem__(k.backend_uid, v))
        self._write(self.maps.endpoint, plan.slots, self._mirror_slot)
        self._write(self.maps.service, plan.services, self._mirror_service)
        self._write(self.maps.frontend, plan.frontends, lambda k, v: m.frontends.__setitem__(k.addr, v.upstream_id))
        self._delete(self.maps.frontend, plan.frontend_deletes, lambda k: m.frontends.pop(k.addr, None))
        self._delete(self.maps.service, plan.service_deletes, self._forget_service)
        self._delete(self.maps.endpoint, plan.slot_deletes, lambda k: None)
        self._delete(self.maps.backend, plan.backend_deletes, lambda k: m.backends.pop(k.backend_uid, None))

    def _mirror_slot(self, key: EndpointKey, value: EndpointValue) -> None:
        self.mirror.set_slot(key, value)  # with its own target ports

    def _mirror_service(self, key: ServiceKey, value: ServiceValue) -> None:
        self.mirror.services[key.service_id] = value
        self.mirror.set_counts(key.service_id, value.prio_endpoint_count)

    def _forget_service(self, key: ServiceKey) -> None:
        self.mirror.forget_service(key.service_id)

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
        self._dirty = True
        log.error("event=map_write_failed map=%s key=%s error=%r", table.name, key, str(err))

    def _release_ids(self, ids: Iterable[int]) -> None:
        for id_ in ids:
            if id_ in self.mirror.services or id_ in self.mirror.backends:
                continue  # its delete failed: keep the id so a retry finds it
            name, kind = self.ids.name_of(id_), self.ids.kind_of(id_)
            if name is not None:
                self.ids.release(name, kind)


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _find(uid_groups: list[list[int]], bid: int) -> Optional[tuple[int, int]]:
    for prio, group in enumerate(uid_groups):
        if bid in group:
            return prio, group.index(bid)
    return None


def _move_member(uid_groups: list[list[int]], val_groups: list[list[EndpointValue]],
                 touched: list[set[int]], bid: int, placed: Optional[tuple[int, EndpointValue]]) -> None:
    """Put backend ``bid`` where ``placed`` says (None: out of every group), keeping each
    group dense: leaving a group moves its last slot into the hole."""
    have = _find(uid_groups, bid)
    if have is not None and placed is not None and have[0] == placed[0]:
        prio, index = have
        if val_groups[prio][index] != placed[1]:
            val_groups[prio][index] = placed[1]
            touched[prio].add(index)
        return
    if have is not None:
        prio, index = have
        uid_groups[prio][index], val_groups[prio][index] = uid_groups[prio][-1], val_groups[prio][-1]
        uid_groups[prio].pop()
        val_groups[prio].pop()
        touched[prio].add(index)
    if placed is not None:
        prio, value = placed
        uid_groups[prio].append(bid)
        val_groups[prio].append(value)
        touched[prio].add(len(uid_groups[prio]) - 1)
