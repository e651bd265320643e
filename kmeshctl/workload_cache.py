"""The node agent's view of the mesh: services, workloads and authorization policies
received over xDS, keyed as the workload API names them (service ``namespace/hostname``,
workload uid, authorization ``namespace/name``).

Applying an update returns an exact delta (old and new value of every resource that
really changed), which is what the map synchroniser consumes.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Optional, Union

from google.protobuf import json_format

from kmeshctl.xds.protos import authorization_pb2, workload_pb2
from kmeshctl.xds.validation import service_key

Service = workload_pb2.Service
Workload = workload_pb2.Workload
Authorization = authorization_pb2.Authorization


class Change:
    """One resource's value before and after an update (None: absent). Values are kept
    serialized and parsed on access: a 100,000-workload sync must not hold 100,000
    parsed messages (each with its own protobuf arena) at once."""

    __slots__ = ("_type", "old_raw", "new_raw")

    def __init__(self, message_type: type, old_raw: Optional[bytes], new_raw: Optional[bytes]) -> None:
        self._type = message_type
        self.old_raw = old_raw
        self.new_raw = new_raw

    @property
    def old(self) -> Optional[Any]:
        return None if self.old_raw is None else self._type.FromString(self.old_raw)

    @property
    def new(self) -> Optional[Any]:
        return None if self.new_raw is None else self._type.FromString(self.new_raw)


@dataclass
class CacheDelta:
    services: dict[str, Change] = field(default_factory=dict)
    workloads: dict[str, Change] = field(default_factory=dict)
    authorizations: dict[str, Change] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.services or self.workloads or self.authorizations)

    def merge(self, later: "CacheDelta") -> None:
        for mine, theirs in ((self.services, later.services), (self.workloads, later.workloads),
                             (self.authorizations, later.authorizations)):
            for key, change in theirs.items():
                first = mine.get(key)
                mine[key] = Change(change._type, first.old_raw if first else change.old_raw, change.new_raw)


class SerializedMessages(Mapping[str, Any]):
    """name -> message, stored serialized; each lookup parses a fresh message."""

    def __init__(self, message_type: type) -> None:
        self._type = message_type
        self._raw: dict[str, bytes] = {}

    def __getitem__(self, name: str) -> Any:
        return self._type.FromString(self._raw[name])

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def raw(self, name: str) -> Optional[bytes]:
        return self._raw.get(name)

    def put(self, name: str, raw: bytes) -> Optional[bytes]:
        old = self._raw.get(name)
        self._raw[name] = raw
        return old

    def pop_raw(self, name: str) -> Optional[bytes]:
        return self._raw.pop(name, None)


def ip_text(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw)) if len(raw) in (4, 16) else raw.hex()


class WorkloadCache:
    """Thread-safe store of the workload API resources held by the agent."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.services = SerializedMessages(Service)
        self.workloads = SerializedMessages(Workload)
        self.authorizations: dict[str, Authorization] = {}
        self._members: dict[str, set[str]] = {}  # service key -> workload uids
        self._workload_ips: dict[bytes, set[str]] = {}  # address -> workload uids
        self._service_ips: dict[bytes, set[str]] = {}  # VIP -> service keys
        self._on_node: dict[str, set[str]] = {}  # node name -> workload uids
        self.with_waypoint: set[tuple[str, str]] = set()  # ("s", key) / ("w", uid)

    # ----- updates ----------------------------------------------------------------------

    def apply_addresses(self, upserts: Union[Mapping[str, workload_pb2.Address],
                                             Iterable[tuple[str, workload_pb2.Address]]],
                        removed: Iterable[str]) -> CacheDelta:
        """Remove, then add or update; ``upserts`` may be a generator (each parsed
        message is dropped once stored)."""
        delta = CacheDelta()
        items = upserts.items() if isinstance(upserts, Mapping) else upserts
        with self._lock:
            for name in removed:
                self._remove_address(name, delta)
            for name, address in items:
                if address.WhichOneof("type") == "service":
                    self._put_service(name, address.service, delta)
                else:
                    self._put_workload(name, address.workload, delta)
        return delta

    def apply_authorizations(self, upserts: Mapping[str, Authorization], removed: Iterable[str]) -> CacheDelta:
        delta = CacheDelta()
        with self._lock:
            for name in removed:
                old = self.authorizations.pop(name, None)
                if old is not None:
                    delta.authorizations[name] = Change(Authorization, old.SerializeToString(), None)
            for name, policy in upserts.items():
                old = self.authorizations.get(name)
                if old != policy:
                    self.authorizations[name] = policy
                    delta.authorizations[name] = Change(Authorization, old.SerializeToString() if old else None,
                                                        policy.SerializeToString())
        return delta

    def _remove_address(self, name: str, delta: CacheDelta) -> None:
        old_service = self.services.pop_raw(name)
        if old_service is not None:
            self._index_service(name, Service.FromString(old_service), None)
            delta.services[name] = Change(Service, old_service, None)
        old_workload = self.workloads.pop_raw(name)
        if old_workload is not None:
            self._index(name, Workload.FromString(old_workload), None)
            delta.workloads[name] = Change(Workload, old_workload, None)

    def _put_service(self, name: str, service: Service, delta: CacheDelta) -> None:
        if name in self.workloads:
            self._remove_address(name, delta)
        raw = service.SerializeToString(deterministic=True)
        old = self.services.raw(name)
        if old != raw:
            self.services.put(name, raw)
            self._index_service(name, Service.FromString(old) if old else None, service)
            delta.services[name] = Change(Service, old, raw)

    def _put_workload(self, name: str, workload: Workload, delta: CacheDelta) -> None:
        if name in self.services:
            self._remove_address(name, delta)
        raw = workload.SerializeToString(deterministic=True)
        old = self.workloads.raw(name)
        if old != raw:
            self.workloads.put(name, raw)
            self._index(name, Workload.FromString(old) if old else None, workload)
            delta.workloads[name] = Change(Workload, old, raw)

    def _index(self, uid: str, old: Optional[Workload], new: Optional[Workload]) -> None:
        _reindex(self._members, uid, old.services if old else (), new.services if new else ())
        _reindex(self._workload_ips, uid, old.addresses if old else (), new.addresses if new else ())
        _reindex(self._on_node, uid, [old.node] if old and old.node else (),
                 [new.node] if new and new.node else ())
        self._index_waypoint(("w", uid), new)

    def _index_service(self, key: str, old: Optional[Service], new: Optional[Service]) -> None:
        _reindex(self._service_ips, key, [a.address for a in old.addresses] if old else (),
                 [a.address for a in new.addresses] if new else ())
        self._index_waypoint(("s", key), new)

    def _index_waypoint(self, user: tuple[str, str], new: Optional[Union[Service, Workload]]) -> None:
        if new is not None and new.HasField("waypoint"):
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

    def workloads_by_address(self, raw: bytes) -> list[Workload]:
        with self._lock:
            return [self.workloads[uid] for uid in sorted(self._workload_ips.get(raw, ()))]

    def services_by_address(self, raw: bytes) -> list[Service]:
        with self._lock:
            return [self.services[key] for key in sorted(self._service_ips.get(raw, ()))]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"services": len(self.services), "workloads": len(self.workloads),
                    "authorizations": len(self.authorizations)}

    def to_json(self) -> dict:
        """The cache as JSON-ready data (addresses as text), for the admin dump."""
        with self._lock:
            return {
                "services": [_service_json(s) for _, s in sorted(self.services.items())],
                "workloads": [_workload_json(w) for _, w in sorted(self.workloads.items())],
                "policies": [json_format.MessageToDict(p, preserving_proto_field_name=True)
                             for _, p in sorted(self.authorizations.items())],
            }


def _reindex(index: dict, item: str, old_keys: Iterable, new_keys: Iterable) -> None:
    for key in old_keys:
        holders = index.get(key)
        if holders is not None:
            holders.discard(item)
            if not holders:
                del index[key]
    for key in new_keys:
        index.setdefault(key, set()).add(item)


def _gateway_json(gateway: workload_pb2.GatewayAddress) -> dict:
    data = json_format.MessageToDict(gateway, preserving_proto_field_name=True)
    if gateway.WhichOneof("destination") == "address":
        data["address"]["address"] = ip_text(gateway.address.address)
    return data


def _service_json(service: Service) -> dict:
    data = json_format.MessageToDict(service, preserving_proto_field_name=True)
    data["addresses"] = [ip_text(a.address) for a in service.addresses]
    if service.HasField("waypoint"):
        data["waypoint"] = _gateway_json(service.waypoint)
    return data


def _workload_json(workload: Workload) -> dict:
    data = json_format.MessageToDict(workload, preserving_proto_field_name=True)
    data["addresses"] = [ip_text(a) for a in workload.addresses]
    if workload.HasField("waypoint"):
        data["waypoint"] = _gateway_json(workload.waypoint)
    return data
