"""The node agent's view of the mesh: the services, workloads and authorization policies
istiod sent, as ``kmeshctl.node.model`` objects keyed as the workload API names them (service
``namespace/hostname``, workload uid, policy ``namespace/name``).

Applying an update returns an exact delta (old and new object of every resource that
really changed), which is what the map synchroniser consumes. Nothing here parses
protobuf: the xDS client converts each resource once, at the door.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Generic, Hashable, Iterable, Iterator, Mapping, Optional, TypeVar, Union

from kmeshctl.node import model
from kmeshctl.node.model import IPAddress, Policy, Service, Workload, service_key

T = TypeVar("T")
Address = Union[Service, Workload]


class Change(Generic[T]):
    """One resource before and after an update (None: absent)."""

    __slots__ = ("old", "new")

    def __init__(self, old: Optional[T], new: Optional[T]) -> None:
        self.old = old
        self.new = new

    def __repr__(self) -> str:
        return f"Change({self.old!r} -> {self.new!r})"


@dataclass
class CacheDelta:
    """What an update changed, resource by resource; ``everything``: changes were not
    tracked (a first sync: whoever consumes it must look at the whole cache)."""

    services: dict[str, Change[Service]] = field(default_factory=dict)
    workloads: dict[str, Change[Workload]] = field(default_factory=dict)
    authorizations: dict[str, Change[Policy]] = field(default_factory=dict)
    everything: bool = False

    def __bool__(self) -> bool:
        return bool(self.everything or self.services or self.workloads or self.authorizations)

    def merge(self, later: "CacheDelta") -> None:
        self.everything = self.everything or later.everything
        for mine, theirs in ((self.services, later.services), (self.workloads, later.workloads),
                             (self.authorizations, later.authorizations)):
            for key, change in theirs.items():
                first = mine.get(key)
                mine[key] = Change(first.old if first else change.old, change.new)


class _MultiIndex:
    """key -> the names holding it. One name per key is the common case (a pod IP), so
    a single name is stored as itself: 100,000 one-element sets would cost 20 MB."""

    def __init__(self) -> None:
        self._index: dict[Hashable, Union[str, frozenset[str]]] = {}

    def get(self, key: Hashable) -> frozenset[str]:
        held = self._index.get(key)
        if held is None:
            return frozenset()
        return held if isinstance(held, frozenset) else frozenset((held,))

    def update(self, name: str, old_keys: Iterable[Hashable], new_keys: Iterable[Hashable]) -> None:
        if not old_keys:  # a new holder (every resource of a first sync): one lookup per key
            for key in new_keys:
                held = self._index.setdefault(key, name)
                if held != name:
                    self._set(key, self.get(key) | {name})
            return
        old_keys, new_keys = set(old_keys), set(new_keys)
        for key in old_keys - new_keys:
            rest = self.get(key) - {name}
            self._set(key, rest)
        for key in new_keys - old_keys:
            if key not in self._index:  # the common case: a new address, one holder
                self._index[key] = name
            else:
                self._set(key, self.get(key) | {name})

    def _set(self, key: Hashable, names: frozenset[str]) -> None:
        if not names:
            self._index.pop(key, None)
        elif len(names) == 1:
            self._index[key] = next(iter(names))
        else:
            self._index[key] = names


class WorkloadCache:
    """Thread-safe store of the workload API resources held by the agent.

    ``services`` (key -> Service), ``workloads`` (uid -> Workload) and ``authorizations``
    (key -> Policy) are plain dicts: read them under no lock only from the thread that
    applies updates (the xDS client's, through its sink)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.services: dict[str, Service] = {}
        self.workloads: dict[str, Workload] = {}
        self.authorizations: dict[str, Policy] = {}
        # service key -> workload uids (dict keys: half the memory of a set of 20)
        self._members: dict[str, dict[str, None]] = {}
        self._workload_ips = _MultiIndex()  # address -> workload uids
        self._service_ips = _MultiIndex()  # VIP -> service keys
        self._on_node: dict[str, dict[str, None]] = {}  # node name -> workload uids
        self.with_waypoint: set[tuple[str, str]] = set()  # ("s", key) / ("w", uid)

    # ----- updates ----------------------------------------------------------------------

    def apply_addresses(self, upserts: Union[Mapping[str, Address], Iterable[tuple[str, Address]]],
                        removed: Iterable[str], track: bool = True) -> CacheDelta:
        """Remove, then add or update (``upserts``: name -> Service or Workload; may be a
        generator). ``track=False`` (a first sync, whose consumers reconcile everything):
        no per-resource changes are kept, 100,000 of them would be 10 MB for nothing; the
        delta says ``everything``."""
        delta = CacheDelta()
        changes = delta if track else None
        items = upserts.items() if isinstance(upserts, Mapping) else upserts
        with self._lock:
            for name in removed:
                self._remove_address(name, changes)
            for name, address in items:
                if isinstance(address, Service):
                    self._put_service(name, address, changes)
                else:
                    self._put_workload(name, address, changes)
        delta.everything = not track
        return delta

    def apply_authorizations(self, upserts: Mapping[str, Policy], removed: Iterable[str]) -> CacheDelta:
        delta = CacheDelta()
        with self._lock:
            for name in removed:
                old = self.authorizations.pop(name, None)
                if old is not None:
                    delta.authorizations[name] = Change(old, None)
            for name, policy in upserts.items():
                old = self.authorizations.get(name)
                if old != policy:
                    self.authorizations[name] = policy
                    delta.authorizations[name] = Change(old, policy)
        return delta

    def _remove_address(self, name: str, delta: Optional[CacheDelta]) -> None:
        old_service = self.services.pop(name, None)
        if old_service is not None:
            self._index_service(name, old_service, None)
            if delta is not None:
                delta.services[name] = Change(old_service, None)
        old_workload = self.workloads.pop(name, None)
        if old_workload is not None:
            self._index(name, old_workload, None)
            if delta is not None:
                delta.workloads[name] = Change(old_workload, None)

    def _put_service(self, name: str, service: Service, delta: Optional[CacheDelta]) -> None:
        if name in self.workloads:
            self._remove_address(name, delta)
        old = self.services.get(name)
        if old != service:
            self.services[name] = service
            self._index_service(name, old, service)
            if delta is not None:
                delta.services[name] = Change(old, service)

    def _put_workload(self, name: str, workload: Workload, delta: Optional[CacheDelta]) -> None:
        if name in self.services:
            self._remove_address(name, delta)
        old = self.workloads.get(name)
        if old != workload:
            self.workloads[name] = workload
            self._index(name, old, workload)
            if delta is not None:
                delta.workloads[name] = Change(old, workload)

    def _index(self, uid: str, old: Optional[Workload], new: Optional[Workload]) -> None:
        _reindex(self._members, uid, old.service_keys() if old else (), new.service_keys() if new else ())
        self._workload_ips.update(uid, old.addresses if old else (), new.addresses if new else ())
        _reindex(self._on_node, uid, [old.node] if old and old.node else (),
                 [new.node] if new and new.node else ())
        self._index_waypoint(("w", uid), new)

    def _index_service(self, key: str, old: Optional[Service], new: Optional[Service]) -> None:
        self._service_ips.update(key, [a.ip for a in old.addresses] if old else (),
                                 [a.ip for a in new.addresses] if new else ())
        self._index_waypoint(("s", key), new)

    def _index_waypoint(self, user: tuple[str, str], new: Optional[Address]) -> None:
        if new is not None and new.waypoint is not None:
            self.with_waypoint.add(user)
        else:
            self.with_waypoint.discard(user)

    # ----- queries ----------------------------------------------------------------------

    def has_service(self, namespace: str, hostname: str) -> bool:
        with self._lock:
            return service_key(namespace, hostname) in self.services

    def service(self, key: str) -> Optional[Service]:
        with self._lock:
            return self.services.get(key)

    def workload(self, uid: str) -> Optional[Workload]:
        with self._lock:
            return self.workloads.get(uid)

    def workloads_on_node(self, node: str) -> list[Workload]:
        with self._lock:
            return [self.workloads[uid] for uid in sorted(self._on_node.get(node, ()))]

    def members(self, key: str) -> set[str]:
        """Uids of the workloads that list service ``key``."""
        with self._lock:
            return set(self._members.get(key, ()))

    def member_count(self, key: str) -> int:
        """How many workloads list service ``key``."""
        return len(self._members.get(key, ()))

    def member_workloads(self, key: str) -> list[Workload]:
        """The workloads that list service ``key``, by uid."""
        with self._lock:
            return [self.workloads[u] for u in sorted(self._members.get(key, ())) if u in self.workloads]

    def workloads_by_address(self, ip: IPAddress) -> list[Workload]:
        with self._lock:
            return [self.workloads[uid] for uid in sorted(self._workload_ips.get(ip))]

    def services_by_address(self, ip: IPAddress) -> list[Service]:
        with self._lock:
            return [self.services[key] for key in sorted(self._service_ips.get(ip))]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"services": len(self.services), "workloads": len(self.workloads),
                    "authorizations": len(self.authorizations)}

    def to_json(self) -> dict:
        """The cache as JSON-ready data in the workload API's field names (addresses as
        text), for the admin dump."""
        from kmeshctl.xds.convert import policy_json, service_json, workload_json

        with self._lock:
            return {
                "services": [service_json(s) for _, s in sorted(self.services.items())],
                "workloads": [workload_json(w) for _, w in sorted(self.workloads.items())],
                "policies": [policy_json(p) for _, p in sorted(self.authorizations.items())],
            }

    def __iter__(self) -> Iterator[str]:  # pragma: no cover - convenience for debugging
        return iter(list(self.services) + list(self.workloads))


def _reindex(index: dict, item: str, old_keys: Iterable, new_keys: Iterable) -> None:
    for key in old_keys:
        holders = index.get(key)
        if holders is not None:
            holders.pop(item, None)
            if not holders:
                del index[key]
    for key in new_keys:
        holders = index.get(key)
        if holders is None:
            index[key] = {item: None}
        else:
            holders[item] = None


__all__ = ["CacheDelta", "Change", "WorkloadCache", "model"]
