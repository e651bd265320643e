"""The one Python mirror of the data path's BPF map layouts (C in ``bpf/maps_*.h``), typed
entries, and ``DataplaneMaps``: read and write the pinned maps of a node.

Conventions (the same as the C side):

- Addresses are ``ipaddress`` objects here; in the maps they are 16 bytes, IPv4 stored as
  IPv4-mapped IPv6 (``::ffff:a.b.c.d``).
- Ports are host order here; the maps hold them in network order (``__be16``).
- Ids (service ids, backend uids) come from ``kmeshctl.node.ids.IdRegistry``.

Typical agent use::

    with DataplaneMaps(Path("/sys/fs/bpf/kmesh")) as maps:
        ids = IdRegistry(maps)
        svc = ids.service_id("default/web.default.svc.cluster.local")
        for uid, ip in pods:
            maps.set_backend(ids.backend_id(uid), BackendValue(ip, service=(svc,)))
        maps.write_service(svc, ServiceValue(ports=((80, 8080),)),
                           groups=[[ids.backend_id(uid) for uid, _ in pods]])
        maps.set_frontend(IPv4Address("10.96.0.10"), svc)
        maps.enroll(pod_netns_cookie)

Failures raise ``MapError`` (a ``KmeshctlError``): ``MapFullError`` when a map has no room,
``BadEntryError`` for a value that cannot be encoded (checked before anything is written),
``MapMissingError`` when the pinned maps are not there.
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import os
import sys
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, Generic, Iterator, Sequence, TypeVar

from kmeshctl import bpfsys
from kmeshctl.errors import KmeshctlError, UsageError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_BPF_FS = Path("/sys/fs/bpf/kmesh")

# Sizes and limits from bpf/maps_*.h
PRIO_COUNT = 7
MAX_PORTS = 10
MAX_BACKEND_SERVICES = 10
ID_NAME_LEN = 255
MAX_SERVICES = 5000
MAX_BACKENDS = 100_000
MAX_FRONTENDS = 105_000
MAX_ENDPOINTS = 105_000
MAX_MANAGED = 8192
MAX_IDS = 105_000
MAX_SOCKETS = 65535
WAYPOINT_TLV_PORT = 15019  # KM_WAYPOINT_TLV_PORT: a waypoint pod without application tunnel
BACKEND_WAYPOINT_UNRESOLVED = 1  # KM_BF_WAYPOINT_UNRESOLVED


# ---------------------------------------------------------------- errors


class MapError(KmeshctlError):
    """A BPF map operation failed."""


class MapFullError(MapError):
    """The map has no room for another entry."""


class BadEntryError(MapError):
    """An entry cannot be encoded (out-of-range field); nothing was written."""


class MapMissingError(MapError):
    """The pinned map does not exist (data path not loaded)."""


# ---------------------------------------------------------------- enums


class LbPolicy(IntEnum):
    """``enum km_lb_policy``."""

    RANDOM = 0  # uniform in group 0 (default)
    STRICT = 1  # group 0 only; empty group 0: connect() fails (ECONNREFUSED, as Kmesh)
    FAILOVER = 2  # first non-empty group
    PASSTHROUGH = 3  # no balancing: connect() keeps its original destination


class WaypointHeader(IntEnum):
    """``enum km_waypoint_header``: how the original destination is sent to a waypoint."""

    KMESH_TLV = 0  # Kmesh TLV (ASM's waypoint, envoy.listener.kmesh_tlv)
    PROXY_V2 = 1  # PROXY protocol v2 (stock Envoy; application_tunnel.protocol = PROXY)


class IdKind(IntEnum):
    """``enum km_id_kind``."""

    SERVICE = 1  # name: namespace/hostname
    BACKEND = 2  # name: workload uid


class Reason(IntEnum):
    """``enum km_reason``: why the connect hook decided what it did (BPF log)."""

    NO_FRONTEND = 1
    SERVICE_WAYPOINT = 2
    BACKEND_WAYPOINT = 3
    ENDPOINT = 4
    # 5, 6: retired
    NO_PORT = 7
    DIRECT_POD = 8
    STALE = 9
    FAMILY = 10
    NO_ENDPOINT_REFUSED = 11  # no usable endpoint, no waypoint: connect() got ECONNREFUSED
    WAYPOINT_REFUSED = 12  # the waypoint has no pod (of the family): ECONNREFUSED
    PASSTHROUGH = 13  # PASSTHROUGH service: original destination kept
    FAMILY_REFUSED = 14  # chosen backend has no address of the VIP's family: ECONNREFUSED
    NO_TARGET_REFUSED = 15  # named port with no number for the chosen backend: ECONNREFUSED
    # inbound authorization (sk_lookup): orig = source, new = the pod's address:port
    AUTHZ_ALLOW = 16  # an ALLOW policy matched
    AUTHZ_DENY = 17  # a DENY policy matched: refused (RST)
    AUTHZ_NO_ALLOW = 18  # ALLOW policies apply, none matched: refused (RST)
    AUTHZ_UNENFORCEABLE = 19  # the pod's policy could not be written: refused (RST)
    AUTHZ_DRY_RUN_DENY = 20  # a dry-run policy would refuse it: accepted, logged


# ---------------------------------------------------------------- C layouts

U8, U16, U32, U64 = ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64
Ip16 = ctypes.c_uint8 * 16


class CFrontendKey(ctypes.Structure):
    _fields_ = [("addr", Ip16)]


class CFrontendValue(ctypes.Structure):
    _fields_ = [("upstream_id", U32)]


class CServiceKey(ctypes.Structure):
    _fields_ = [("service_id", U32)]


class CServiceValue(ctypes.Structure):
    _fields_ = [
        ("prio_endpoint_count", U32 * PRIO_COUNT),
        ("lb_policy", U32),
        ("service_port", U16 * MAX_PORTS),  # network order
        ("target_port", U16 * MAX_PORTS),  # network order; 0: per endpoint
        ("waypoint_id", U32),
    ]


class CEndpointKey(ctypes.Structure):
    _fields_ = [("service_id", U32), ("prio", U32), ("backend_index", U32)]


class CEndpointValue(ctypes.Structure):
    _fields_ = [("backend_uid", U32), ("target_port", U16 * MAX_PORTS)]  # network order


class CBackendKey(ctypes.Structure):
    _fields_ = [("backend_uid", U32)]


class CBackendValue(ctypes.Structure):
    _fields_ = [
        ("addr4", Ip16),  # IPv4-mapped; zero: none
        ("addr6", Ip16),  # zero: none
        ("service", U32 * MAX_BACKEND_SERVICES),
        ("service_count", U32),
        ("waypoint_id", U32),
        ("tunnel_port", U16),  # network order; 0: WAYPOINT_TLV_PORT
        ("tunnel_hdr", U8),
        ("flags", U8),  # BACKEND_WAYPOINT_UNRESOLVED
    ]


class CManageKey(ctypes.Structure):
    _fields_ = [("netns_cookie", U64)]


class CManageValue(ctypes.Structure):
    _fields_ = [("managed", U32)]


class CSockTuple(ctypes.Structure):
    _fields_ = [
        ("local", Ip16),
        ("remote", Ip16),
        ("local_port", U16),  # network order
        ("remote_port", U16),  # network order
    ]


class CSockCookie(ctypes.Structure):
    _fields_ = [("cookie", U64)]


class CIdRegKey(ctypes.Structure):
    _fields_ = [("id", U32)]


class CIdRegValue(ctypes.Structure):
    _fields_ = [("kind", U8), ("name", ctypes.c_char * ID_NAME_LEN)]


class CLogEvent(ctypes.Structure):
    _fields_ = [
        ("netns_cookie", U64),
        ("orig_addr", Ip16),
        ("new_addr", Ip16),
        ("orig_port", U16),  # network order
        ("new_port", U16),  # network order
        ("reason", U32),
        ("policy", U32),  # authorization decisions: the deciding policy id (km_authz_pol)
    ]


# ---------------------------------------------------------------- field codecs


def _as_ip(addr: IPAddress | str) -> IPAddress:
    if isinstance(addr, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return addr
    return ipaddress.ip_address(addr)


_V4_MAPPED_PREFIX = b"\0" * 10 + b"\xff\xff"


def encode_ip(addr: IPAddress | str) -> bytes:
    """16 map bytes of an address (IPv4 as IPv4-mapped IPv6)."""
    ip = _as_ip(addr)
    if ip.version == 4:
        return _V4_MAPPED_PREFIX + ip.packed
    return ip.packed


def decode_ip(raw: bytes) -> IPAddress:
    ip6 = ipaddress.IPv6Address(bytes(raw))
    return ip6.ipv4_mapped or ip6


def _ip_to_c(addr: IPAddress | str) -> Ip16:
    return Ip16.from_buffer_copy(encode_ip(addr))


def _port_to_be(port: int) -> int:
    """Host-order port -> the u16 whose memory bytes are the port in network order."""
    return int.from_bytes(port.to_bytes(2, "big"), sys.byteorder)


def _port_from_be(raw: int) -> int:
    return int.from_bytes(raw.to_bytes(2, sys.byteorder), "big")


def _check_u32(what: str, value: int) -> None:
    if not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
        raise BadEntryError(f"{what} = {value!r} is not a u32: pass an integer in 0..4294967295")


def _check_port(what: str, port: int) -> None:
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise BadEntryError(f"{what} = {port!r} is not a TCP port: pass 1..65535")


def _check_ip(what: str, addr: Any) -> IPAddress:
    try:
        return _as_ip(addr)
    except ValueError as err:
        raise BadEntryError(f"{what} = {addr!r} is not an IP address: pass IPv4 or IPv6") from err


# ---------------------------------------------------------------- typed entries


@dataclass(frozen=True, slots=True)
class Tunnel:
    """Where a waypoint pod reads connections redirected to it (its workload's
    ``application_tunnel``): ``port`` and the header it expects there."""

    port: int
    header: WaypointHeader = WaypointHeader.PROXY_V2

    def __post_init__(self) -> None:
        _check_port("tunnel port", self.port)
        object.__setattr__(self, "header", WaypointHeader(self.header))


def _check_ports16(what: str, ports: Sequence[int]) -> tuple[int, ...]:
    ports = tuple(int(p) for p in ports)
    if len(ports) > MAX_PORTS:
        raise BadEntryError(f"{what} has {len(ports)} ports: at most {MAX_PORTS}")
    for port in ports:
        if not 0 <= port <= 65535:
            raise BadEntryError(f"{what} = {port!r} is not a port: pass 0..65535 (0: none)")
    return ports


@dataclass(frozen=True, slots=True)
class FrontendKey:
    addr: IPAddress

    def __post_init__(self) -> None:
        object.__setattr__(self, "addr", _check_ip("frontend addr", self.addr))

    def to_c(self) -> CFrontendKey:
        return CFrontendKey.from_buffer_copy(encode_ip(self.addr))  # the key is the address

    @classmethod
    def from_c(cls, c: CFrontendKey) -> "FrontendKey":
        return cls(decode_ip(bytes(c.addr)))

    def to_json(self) -> dict[str, Any]:
        return {"addr": str(self.addr)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "FrontendKey":
        return cls(ipaddress.ip_address(d["addr"]))


@dataclass(frozen=True, slots=True)
class FrontendValue:
    """``upstream_id``: a service id (VIP) or a backend uid (pod IP)."""

    upstream_id: int

    def __post_init__(self) -> None:
        _check_u32("upstream_id", self.upstream_id)

    def to_c(self) -> CFrontendValue:
        return CFrontendValue(upstream_id=self.upstream_id)

    @classmethod
    def from_c(cls, c: CFrontendValue) -> "FrontendValue":
        return cls(c.upstream_id)

    def to_json(self) -> dict[str, Any]:
        return {"upstream_id": self.upstream_id}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "FrontendValue":
        return cls(d["upstream_id"])


@dataclass(frozen=True, slots=True)
class ServiceKey:
    service_id: int

    def __post_init__(self) -> None:
        _check_u32("service_id", self.service_id)

    def to_c(self) -> CServiceKey:
        return CServiceKey(service_id=self.service_id)

    @classmethod
    def from_c(cls, c: CServiceKey) -> "ServiceKey":
        return cls(c.service_id)

    def to_json(self) -> dict[str, Any]:
        return {"service_id": self.service_id}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ServiceKey":
        return cls(d["service_id"])


@dataclass(frozen=True, slots=True)
class ServiceValue:
    """A service: endpoint count per priority group (0..6), LB policy, up to 10
    (service port, target port) pairs in host order (target 0: a named port, each
    endpoint's own number is in its ``EndpointValue``), and the upstream id of its
    waypoint (a service id or a backend uid; 0: none).

    ``DataplaneMaps.write_service`` fills ``prio_endpoint_count`` from the groups it writes.
    """

    prio_endpoint_count: tuple[int, ...] = (0,) * PRIO_COUNT
    lb_policy: LbPolicy = LbPolicy.RANDOM
    ports: tuple[tuple[int, int], ...] = ()
    waypoint_id: int = 0

    def __post_init__(self) -> None:
        counts = tuple(self.prio_endpoint_count)
        if len(counts) > PRIO_COUNT:
            raise BadEntryError(f"prio_endpoint_count has {len(counts)} groups: at most {PRIO_COUNT}")
        for count in counts:
            _check_u32("prio_endpoint_count", count)
        object.__setattr__(self, "prio_endpoint_count", counts + (0,) * (PRIO_COUNT - len(counts)))
        object.__setattr__(self, "lb_policy", LbPolicy(self.lb_policy))
        ports = tuple((int(s), int(t)) for s, t in self.ports)
        if len(ports) > MAX_PORTS:
            raise BadEntryError(f"service has {len(ports)} port pairs: at most {MAX_PORTS}")
        for service_port, target_port in ports:
            _check_port("service_port", service_port)
            if target_port:
                _check_port("target_port", target_port)
        object.__setattr__(self, "ports", ports)
        _check_u32("waypoint_id", self.waypoint_id)

    @property
    def named_ports(self) -> bool:
        """Whether some port's target comes from each endpoint (target 0)."""
        return any(target == 0 for _, target in self.ports)

    def to_c(self) -> CServiceValue:
        c = CServiceValue(lb_policy=int(self.lb_policy), waypoint_id=self.waypoint_id)
        c.prio_endpoint_count[:] = list(self.prio_endpoint_count)
        for i, (service_port, target_port) in enumerate(self.ports):
            c.service_port[i] = _port_to_be(service_port)
            c.target_port[i] = _port_to_be(target_port)
        return c

    @classmethod
    def from_c(cls, c: CServiceValue) -> "ServiceValue":
        ports = tuple(
            (_port_from_be(c.service_port[i]), _port_from_be(c.target_port[i]))
            for i in range(MAX_PORTS)
            if c.service_port[i]
        )
        return cls(tuple(c.prio_endpoint_count), LbPolicy(c.lb_policy), ports, c.waypoint_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "prio_endpoint_count": list(self.prio_endpoint_count),
            "lb_policy": self.lb_policy.name,
            "service_port": [s for s, _ in self.ports],
            "target_port": [t for _, t in self.ports],
            "waypoint_id": self.waypoint_id,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ServiceValue":
        return cls(tuple(d["prio_endpoint_count"]), LbPolicy[d["lb_policy"]],
                   tuple(zip(d["service_port"], d["target_port"])), d.get("waypoint_id", 0))


@dataclass(frozen=True, slots=True)
class EndpointKey:
    """Slot ``backend_index`` (1-based) of priority group ``prio`` of a service."""

    service_id: int
    prio: int
    backend_index: int

    def __post_init__(self) -> None:
        _check_u32("service_id", self.service_id)
        if not 0 <= self.prio < PRIO_COUNT:
            raise BadEntryError(f"prio = {self.prio} out of range: pass 0..{PRIO_COUNT - 1}")
        if not 1 <= self.backend_index <= 0xFFFFFFFF:
            raise BadEntryError(f"backend_index = {self.backend_index}: indices are 1-based")

    def to_c(self) -> CEndpointKey:
        return CEndpointKey(self.service_id, self.prio, self.backend_index)

    @classmethod
    def from_c(cls, c: CEndpointKey) -> "EndpointKey":
        return cls(c.service_id, c.prio, c.backend_index)

    def to_json(self) -> dict[str, Any]:
        return {"service_id": self.service_id, "prio": self.prio,
                "backend_index": self.backend_index}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "EndpointKey":
        return cls(d["service_id"], d["prio"], d["backend_index"])


@dataclass(frozen=True, order=True, slots=True)
class EndpointValue:
    """A slot's backend, and its own target port per port slot of the service (host
    order, same index as ``ServiceValue.ports``; 0 or absent: the service's target)."""

    backend_uid: int
    target_ports: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _check_u32("backend_uid", self.backend_uid)
        ports = _check_ports16("endpoint target_port", self.target_ports)
        while ports and not ports[-1]:
            ports = ports[:-1]  # one spelling per value: trailing zeros dropped
        object.__setattr__(self, "target_ports", ports)

    def to_c(self) -> CEndpointValue:
        c = CEndpointValue(self.backend_uid)
        for i, port in enumerate(self.target_ports):
            c.target_port[i] = _port_to_be(port)
        return c

    @classmethod
    def from_c(cls, c: CEndpointValue) -> "EndpointValue":
        return cls(c.backend_uid, tuple(_port_from_be(p) for p in c.target_port))

    def to_json(self) -> dict[str, Any]:
        return {"backend_uid": self.backend_uid, "target_port": list(self.target_ports)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "EndpointValue":
        return cls(d["backend_uid"], tuple(d.get("target_port", ())))


@dataclass(frozen=True, slots=True)
class BackendKey:
    backend_uid: int

    def __post_init__(self) -> None:
        _check_u32("backend_uid", self.backend_uid)

    def to_c(self) -> CBackendKey:
        return CBackendKey(self.backend_uid)

    @classmethod
    def from_c(cls, c: CBackendKey) -> "BackendKey":
        return cls(c.backend_uid)

    def to_json(self) -> dict[str, Any]:
        return {"backend_uid": self.backend_uid}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "BackendKey":
        return cls(d["backend_uid"])


def _one_per_family(addrs: Any) -> tuple[IPAddress, ...]:
    if isinstance(addrs, (str, ipaddress.IPv4Address, ipaddress.IPv6Address)):
        addrs = (addrs,)
    if isinstance(addrs, tuple) and len(addrs) == 1 and isinstance(addrs[0], (ipaddress.IPv4Address,
                                                                              ipaddress.IPv6Address)):
        return addrs  # one address, already checked: kept as given (shared with the caller)
    checked = tuple(_check_ip("backend addr", a) for a in addrs)
    if len(checked) == 1:
        return checked
    if not checked:
        raise BadEntryError("backend has no address: pass one IPv4 and/or one IPv6 address")
    if len({a.version for a in checked}) != len(checked):
        raise BadEntryError(f"backend addresses {[str(a) for a in checked]}: at most one per family")
    return tuple(sorted(checked, key=lambda a: a.version))


@dataclass(frozen=True, slots=True)
class BackendValue:
    """A workload: its addresses (an IP, or up to one IPv4 and one IPv6), the service ids
    it serves (at most 10), the upstream id of its own waypoint (0: none), and, for a
    waypoint pod, its application tunnel (None: it reads the Kmesh TLV on
    ``WAYPOINT_TLV_PORT``). ``waypoint_unresolved``: it names a waypoint that cannot be
    resolved, so connects to it are refused rather than sent past the waypoint."""

    addresses: tuple[IPAddress, ...]
    service: tuple[int, ...] = ()
    waypoint_id: int = 0
    tunnel: Tunnel | None = None
    waypoint_unresolved: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "addresses", _one_per_family(self.addresses))
        services = tuple(self.service)
        if len(services) > MAX_BACKEND_SERVICES:
            raise BadEntryError(
                f"backend serves {len(services)} services: at most {MAX_BACKEND_SERVICES}")
        for service_id in services:
            _check_u32("service id", service_id)
        object.__setattr__(self, "service", services)
        _check_u32("waypoint_id", self.waypoint_id)

    @property
    def addr(self) -> IPAddress:
        """The first address (IPv4 when it has one)."""
        return self.addresses[0]

    def address(self, version: int) -> IPAddress | None:
        return next((a for a in self.addresses if a.version == version), None)

    def to_c(self) -> CBackendValue:
        c = CBackendValue(service_count=len(self.service), waypoint_id=self.waypoint_id,
                          flags=BACKEND_WAYPOINT_UNRESOLVED if self.waypoint_unresolved else 0)
        for ip in self.addresses:
            setattr(c, "addr4" if ip.version == 4 else "addr6", _ip_to_c(ip))
        c.service[: len(self.service)] = list(self.service)
        if self.tunnel is not None:
            c.tunnel_port = _port_to_be(self.tunnel.port)
            c.tunnel_hdr = int(self.tunnel.header)
        return c

    @classmethod
    def from_c(cls, c: CBackendValue) -> "BackendValue":
        count = min(c.service_count, MAX_BACKEND_SERVICES)
        addrs = tuple(decode_ip(bytes(raw)) for raw in (c.addr4, c.addr6) if any(bytes(raw)))
        tunnel = Tunnel(_port_from_be(c.tunnel_port), WaypointHeader(c.tunnel_hdr)) if c.tunnel_port else None
        return cls(addrs, tuple(c.service[:count]), c.waypoint_id, tunnel,
                   bool(c.flags & BACKEND_WAYPOINT_UNRESOLVED))

    def to_json(self) -> dict[str, Any]:
        v4, v6 = self.address(4), self.address(6)
        return {"addr4": str(v4) if v4 else None, "addr6": str(v6) if v6 else None,
                "service": list(self.service), "service_count": len(self.service),
                "waypoint_id": self.waypoint_id,
                "tunnel_port": self.tunnel.port if self.tunnel else 0,
                "tunnel_hdr": self.tunnel.header.name if self.tunnel else None,
                "waypoint_unresolved": self.waypoint_unresolved}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "BackendValue":
        addrs = tuple(ipaddress.ip_address(d[k]) for k in ("addr4", "addr6") if d.get(k))
        tunnel = Tunnel(d["tunnel_port"], WaypointHeader[d["tunnel_hdr"]]) if d.get("tunnel_port") else None
        return cls(addrs, tuple(d["service"]), d.get("waypoint_id", 0), tunnel,
                   bool(d.get("waypoint_unresolved")))


@dataclass(frozen=True, slots=True)
class ManageKey:
    netns_cookie: int

    def __post_init__(self) -> None:
        if not isinstance(self.netns_cookie, int) or not 0 < self.netns_cookie < 1 << 64:
            raise BadEntryError(f"netns_cookie = {self.netns_cookie!r}: pass the non-zero "
                                "u64 from SO_NETNS_COOKIE (Pod.netns_cookie())")

    def to_c(self) -> CManageKey:
        return CManageKey(self.netns_cookie)

    @classmethod
    def from_c(cls, c: CManageKey) -> "ManageKey":
        return cls(c.netns_cookie)

    def to_json(self) -> dict[str, Any]:
        return {"netns_cookie": self.netns_cookie}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ManageKey":
        return cls(d["netns_cookie"])


@dataclass(frozen=True, slots=True)
class ManageValue:
    managed: bool = True

    def to_c(self) -> CManageValue:
        return CManageValue(int(self.managed))

    @classmethod
    def from_c(cls, c: CManageValue) -> "ManageValue":
        return cls(bool(c.managed))

    def to_json(self) -> dict[str, Any]:
        return {"managed": self.managed}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ManageValue":
        return cls(bool(d["managed"]))


@dataclass(frozen=True, slots=True)
class SockKey:
    """A waypoint-bound connection in km_socket (the kernel writes these)."""

    local: IPAddress
    remote: IPAddress
    local_port: int
    remote_port: int

    def to_c(self) -> CSockTuple:
        return CSockTuple(_ip_to_c(self.local), _ip_to_c(self.remote),
                          _port_to_be(self.local_port), _port_to_be(self.remote_port))

    @classmethod
    def from_c(cls, c: CSockTuple) -> "SockKey":
        return cls(decode_ip(bytes(c.local)), decode_ip(bytes(c.remote)),
                   _port_from_be(c.local_port), _port_from_be(c.remote_port))

    def to_json(self) -> dict[str, Any]:
        return {"local": str(self.local), "remote": str(self.remote),
                "local_port": self.local_port, "remote_port": self.remote_port}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "SockKey":
        return cls(ipaddress.ip_address(d["local"]), ipaddress.ip_address(d["remote"]),
                   d["local_port"], d["remote_port"])


@dataclass(frozen=True, slots=True)
class SockValue:
    """The socket's cookie (what a user-space sockhash lookup returns)."""

    cookie: int

    def to_c(self) -> CSockCookie:
        return CSockCookie(self.cookie)

    @classmethod
    def from_c(cls, c: CSockCookie) -> "SockValue":
        return cls(c.cookie)

    def to_json(self) -> dict[str, Any]:
        return {"cookie": self.cookie}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "SockValue":
        return cls(d["cookie"])


@dataclass(frozen=True, slots=True)
class IdRegKey:
    id: int

    def __post_init__(self) -> None:
        _check_u32("id", self.id)

    def to_c(self) -> CIdRegKey:
        return CIdRegKey(self.id)

    @classmethod
    def from_c(cls, c: CIdRegKey) -> "IdRegKey":
        return cls(c.id)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "IdRegKey":
        return cls(d["id"])


@dataclass(frozen=True, slots=True)
class IdRegValue:
    kind: IdKind
    name: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", IdKind(self.kind))
        encoded = self.name.encode()
        if not encoded or len(encoded) > ID_NAME_LEN or b"\0" in encoded:
            raise BadEntryError(f"id name {self.name!r}: must be 1..{ID_NAME_LEN} bytes, no NUL")

    def to_c(self) -> CIdRegValue:
        return CIdRegValue(int(self.kind), self.name.encode())

    @classmethod
    def from_c(cls, c: CIdRegValue) -> "IdRegValue":
        return cls(IdKind(c.kind), c.name.decode(errors="replace"))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.name, "name": self.name}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "IdRegValue":
        return cls(IdKind[d["kind"]], d["name"])


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One connect decision from the BPF log (``struct km_log_event``)."""

    netns_cookie: int
    orig_addr: IPAddress
    orig_port: int
    new_addr: IPAddress | None
    new_port: int
    reason: Reason
    policy: int = 0  # authorization decisions: the deciding policy id (km_authz_pol)

    @classmethod
    def from_bytes(cls, data: bytes | ctypes.Array | int) -> "LogEvent":
        c = CLogEvent.from_buffer_copy(ctypes.string_at(data, ctypes.sizeof(CLogEvent))
                                       if isinstance(data, int) else bytes(data))
        new_port = _port_from_be(c.new_port)
        return cls(c.netns_cookie, decode_ip(bytes(c.orig_addr)), _port_from_be(c.orig_port),
                   decode_ip(bytes(c.new_addr)) if new_port else None, new_port,
                   Reason(c.reason), c.policy)

    @property
    def is_authz(self) -> bool:
        return self.reason >= Reason.AUTHZ_ALLOW

    def __str__(self) -> str:
        if self.is_authz:
            return (f"authz {self.orig_addr} -> {self.new_addr}:{self.new_port} "
                    f"({self.reason.name.lower()}) policy_id={self.policy}")
        new = f"{self.new_addr}:{self.new_port}" if self.new_addr else "unchanged"
        return (f"netns={self.netns_cookie} {self.orig_addr}:{self.orig_port} -> {new} "
                f"({self.reason.name.lower()})")


# ---------------------------------------------------------------- authorization (maps_authz.h)

MAX_AUTHZ_DSTS = 16384
MAX_AUTHZ_PORTS = 65536
MAX_AUTHZ_RULES = 262144
MAX_AUTHZ_POLICIES = 16384
MAX_AUTHZ_STATS = 65536
AUTHZ_NAME_LEN = 254
AUTHZ_KEY_FIXED_BITS = 64  # table + port class, before the source address in an LPM key
AUTHZ_DENY_ALL = 1  # KM_AZF_DENY_ALL


class AuthzVerdict(IntEnum):
    """``enum km_authz_verdict``."""

    ALLOW = 0  # no enforced policy applies
    ALLOW_POLICY = 1  # an ALLOW policy matched
    DENY_POLICY = 2  # a DENY policy matched
    DENY_NO_ALLOW = 3  # ALLOW policies apply, none matched
    DENY_UNENFORCEABLE = 4  # the pod's table could not be written: fail closed

    @property
    def refuses(self) -> bool:
        return self >= AuthzVerdict.DENY_POLICY


class CAuthzDstKey(ctypes.Structure):
    _fields_ = [("addr", Ip16)]


class CAuthzDstValue(ctypes.Structure):
    _fields_ = [("table", U32), ("flags", U32)]


class CAuthzPortKey(ctypes.Structure):
    _fields_ = [("table", U32), ("port", U16), ("pad", U16)]  # port in host order


class CAuthzPortValue(ctypes.Structure):
    _fields_ = [("port_class", U32)]


class CAuthzRuleKey(ctypes.Structure):
    _fields_ = [("prefixlen", U32), ("table", U32), ("port_class", U32), ("src", Ip16)]


class CAuthzRuleValue(ctypes.Structure):
    _fields_ = [("verdict", U32), ("policy", U32), ("shadow_verdict", U32), ("shadow_policy", U32)]


class CAuthzPolKey(ctypes.Structure):
    _fields_ = [("id", U32)]


class CAuthzPolValue(ctypes.Structure):
    _fields_ = [("action", U8), ("dry_run", U8), ("name", ctypes.c_char * AUTHZ_NAME_LEN)]


class CAuthzStatKey(ctypes.Structure):
    _fields_ = [("policy", U32), ("verdict", U16), ("dry_run", U16)]


class CAuthzStatValue(ctypes.Structure):
    _fields_ = [("count", U64)]


@dataclass(frozen=True, slots=True)
class AuthzDstKey:
    """A destination address of an enrolled pod (its own IP)."""

    addr: IPAddress

    def __post_init__(self) -> None:
        object.__setattr__(self, "addr", _check_ip("addr", self.addr))

    def to_c(self) -> CAuthzDstKey:
        return CAuthzDstKey(_ip_to_c(self.addr))

    @classmethod
    def from_c(cls, c: CAuthzDstKey) -> "AuthzDstKey":
        return cls(decode_ip(bytes(c.addr)))

    def to_json(self) -> dict[str, Any]:
        return {"addr": str(self.addr)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "AuthzDstKey":
        return cls(ipaddress.ip_address(d["addr"]))


@dataclass(frozen=True, slots=True)
class AuthzDstValue:
    """The table in force for a destination; ``deny_all``: fail closed (no table read)."""

    table: int
    deny_all: bool = False

    def __post_init__(self) -> None:
        _check_u32("table", self.table)

    def to_c(self) -> CAuthzDstValue:
        return CAuthzDstValue(self.table, AUTHZ_DENY_ALL if self.deny_all else 0)

    @classmethod
    def from_c(cls, c: CAuthzDstValue) -> "AuthzDstValue":
        return cls(c.table, bool(c.flags & AUTHZ_DENY_ALL))

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "deny_all": self.deny_all}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "AuthzDstValue":
        return cls(d["table"], bool(d.get("deny_all")))


@dataclass(frozen=True, slots=True)
class AuthzPortKey:
    table: int
    port: int  # host order

    def __post_init__(self) -> None:
        _check_u32("table", self.table)
        _check_port("port", self.port)

    def to_c(self) -> CAuthzPortKey:
        return CAuthzPortKey(self.table, self.port, 0)

    @classmethod
    def from_c(cls, c: CAuthzPortKey) -> "AuthzPortKey":
        return cls(c.table, c.port)

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "port": self.port}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "AuthzPortKey":
        return cls(d["table"], d["port"])


@dataclass(frozen=True, slots=True)
class AuthzPortValue:
    port_class: int

    def to_c(self) -> CAuthzPortValue:
        return CAuthzPortValue(self.port_class)

    @classmethod
    def from_c(cls, c: CAuthzPortValue) -> "AuthzPortValue":
        return cls(c.port_class)

    def to_json(self) -> dict[str, Any]:
        return {"port_class": self.port_class}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "AuthzPortValue":
        return cls(d["port_class"])


@dataclass(frozen=True, slots=True)
class AuthzRuleKey:
    """{table, port class, source prefix}: IPv4 prefixes are stored IPv4-mapped."""

    table: int
    port_class: int
    src: ipaddress.IPv4Network | ipaddress.IPv6Network

    def __post_init__(self) -> None:
        _check_u32("table", self.table)
        _check_u32("port_class", self.port_class)
        object.__setattr__(self, "src", ipaddress.ip_network(self.src))

    def to_c(self) -> CAuthzRuleKey:
        mapped_bits = 96 if self.src.version == 4 else 0
        return CAuthzRuleKey(AUTHZ_KEY_FIXED_BITS + mapped_bits + self.src.prefixlen, self.table,
                             self.port_class, _ip_to_c(self.src.network_address))

    @classmethod
    def from_c(cls, c: CAuthzRuleKey) -> "AuthzRuleKey":
        addr = decode_ip(bytes(c.src))
        bits = c.prefixlen - AUTHZ_KEY_FIXED_BITS - (96 if addr.version == 4 else 0)
        return cls(c.table, c.port_class, ipaddress.ip_network(f"{addr}/{max(bits, 0)}", strict=False))

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "port_class": self.port_class, "src": str(self.src)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "AuthzRuleKey":
        return cls(d["table"], d["port_class"], ipaddress.ip_network(d["src"]))


@dataclass(frozen=True, slots=True)
class AuthzRuleValue:
    """The verdict (dry-run policies left out), the deciding policy id, and the shadow
    verdict with the dry-run policies in (differs only when a dry-run policy decides)."""

    verdict: AuthzVerdict = AuthzVerdict.ALLOW
    policy: int = 0
    shadow_verdict: AuthzVerdict = AuthzVerdict.ALLOW
    shadow_policy: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", AuthzVerdict(self.verdict))
        object.__setattr__(self, "shadow_verdict", AuthzVerdict(self.shadow_verdict))

    def to_c(self) -> CAuthzRuleValue:
        return CAuthzRuleValue(int(self.verdict), self.policy, int(self.shadow_verdict), self.shadow_policy)

    @classmethod
    def from_c(cls, c: CAuthzRuleValue) -> "AuthzRuleValue":
        return cls(AuthzVerdict(c.verdict), c.policy, AuthzVerdict(c.shadow_verdict), c.shadow_policy)

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict.name, "policy": self.policy,
                "shadow_verdict": self.shadow_verdict.name, "shadow_policy": self.shadow_policy}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "AuthzRuleValue":
        return cls(AuthzVerdict[d["verdict"]], d["policy"], AuthzVerdict[d["shadow_verdict"]],
                   d["shadow_policy"])


@dataclass(frozen=True, slots=True)
class AuthzPolKey:
    id: int

    def __post_init__(self) -> None:
        _check_u32("id", self.id)

    def to_c(self) -> CAuthzPolKey:
        return CAuthzPolKey(self.id)

    @classmethod
    def from_c(cls, c: CAuthzPolKey) -> "AuthzPolKey":
        return cls(c.id)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "AuthzPolKey":
        return cls(d["id"])


@dataclass(frozen=True, slots=True)
class AuthzPolValue:
    """A policy's name (``namespace/name``, cut to the slot), action (0 ALLOW, 1 DENY)."""

    name: str
    action: int = 0
    dry_run: bool = False

    def __post_init__(self) -> None:
        if not self.name or b"\0" in self.name.encode():
            raise BadEntryError(f"policy name {self.name!r}: must be non-empty, no NUL")

    def to_c(self) -> CAuthzPolValue:
        return CAuthzPolValue(self.action, int(self.dry_run), self.name.encode()[:AUTHZ_NAME_LEN])

    @classmethod
    def from_c(cls, c: CAuthzPolValue) -> "AuthzPolValue":
        return cls(c.name.decode(errors="replace"), c.action, bool(c.dry_run))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "action": "DENY" if self.action else "ALLOW", "dry_run": self.dry_run}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "AuthzPolValue":
        return cls(d["name"], 1 if d["action"] == "DENY" else 0, bool(d["dry_run"]))


@dataclass(frozen=True, slots=True)
class AuthzStatKey:
    policy: int
    verdict: AuthzVerdict
    dry_run: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", AuthzVerdict(self.verdict))

    def to_c(self) -> CAuthzStatKey:
        return CAuthzStatKey(self.policy, int(self.verdict), int(self.dry_run))

    @classmethod
    def from_c(cls, c: CAuthzStatKey) -> "AuthzStatKey":
        return cls(c.policy, AuthzVerdict(c.verdict), bool(c.dry_run))

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "verdict": self.verdict.name, "dry_run": self.dry_run}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "AuthzStatKey":
        return cls(d["policy"], AuthzVerdict[d["verdict"]], bool(d["dry_run"]))


@dataclass(frozen=True, slots=True)
class AuthzStatValue:
    count: int

    def to_c(self) -> CAuthzStatValue:
        return CAuthzStatValue(self.count)

    @classmethod
    def from_c(cls, c: CAuthzStatValue) -> "AuthzStatValue":
        return cls(c.count)

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "AuthzStatValue":
        return cls(d["count"])


# ---------------------------------------------------------------- maps

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class MapSpec:
    """A pinned map: its name (= pin file name) and typed key / value classes."""

    name: str
    key_type: type
    value_type: type
    key_c: type[ctypes.Structure]
    value_c: type[ctypes.Structure]
    max_entries: int
    writable: bool = True


FRONTEND = MapSpec("km_frontend", FrontendKey, FrontendValue, CFrontendKey, CFrontendValue, MAX_FRONTENDS)
SERVICE = MapSpec("km_service", ServiceKey, ServiceValue, CServiceKey, CServiceValue, MAX_SERVICES)
ENDPOINT = MapSpec("km_endpoint", EndpointKey, EndpointValue, CEndpointKey, CEndpointValue, MAX_ENDPOINTS)
BACKEND = MapSpec("km_backend", BackendKey, BackendValue, CBackendKey, CBackendValue, MAX_BACKENDS)
MANAGE = MapSpec("km_manage", ManageKey, ManageValue, CManageKey, CManageValue, MAX_MANAGED)
SOCKET = MapSpec("km_socket", SockKey, SockValue, CSockTuple, CSockCookie, MAX_SOCKETS, writable=False)
IDREG = MapSpec("km_idreg", IdRegKey, IdRegValue, CIdRegKey, CIdRegValue, MAX_IDS)
AUTHZ_DST = MapSpec("km_authz_dst", AuthzDstKey, AuthzDstValue, CAuthzDstKey, CAuthzDstValue, MAX_AUTHZ_DSTS)
AUTHZ_PORT = MapSpec("km_authz_port", AuthzPortKey, AuthzPortValue, CAuthzPortKey, CAuthzPortValue,
                     MAX_AUTHZ_PORTS)
AUTHZ_RULE = MapSpec("km_authz_rule", AuthzRuleKey, AuthzRuleValue, CAuthzRuleKey, CAuthzRuleValue,
                     MAX_AUTHZ_RULES)
AUTHZ_POL = MapSpec("km_authz_pol", AuthzPolKey, AuthzPolValue, CAuthzPolKey, CAuthzPolValue, MAX_AUTHZ_POLICIES)
AUTHZ_STATS = MapSpec("km_authz_stats", AuthzStatKey, AuthzStatValue, CAuthzStatKey, CAuthzStatValue,
                      MAX_AUTHZ_STATS)
AUTHZ_SPECS: tuple[MapSpec, ...] = (AUTHZ_DST, AUTHZ_PORT, AUTHZ_RULE, AUTHZ_POL, AUTHZ_STATS)

MAP_SPECS: tuple[MapSpec, ...] = (FRONTEND, SERVICE, ENDPOINT, BACKEND, MANAGE, SOCKET, IDREG, *AUTHZ_SPECS)
MAP_NAMES: tuple[str, ...] = tuple(spec.name for spec in MAP_SPECS)
# Pinned too, but not iterable from user space (socket-local storage).
SOCKDST_MAP = "km_sockdst"
ALL_PINNED_MAPS: tuple[str, ...] = MAP_NAMES + (SOCKDST_MAP,)

_FULL_ERRNOS = {errno.E2BIG, errno.ENOSPC, errno.ENOMEM}
BATCH_CHUNK = 4096


class TypedMap(Generic[K, V]):
    """One pinned map, read and written with typed keys and values."""

    def __init__(self, spec: MapSpec, fd: int) -> None:
        self.spec = spec
        self.fd = fd

    @property
    def name(self) -> str:
        return self.spec.name

    def _write_error(self, err: bpfsys.BpfError, key: Any) -> MapError:
        if err.errno in _FULL_ERRNOS:
            return MapFullError(
                f"{self.name} is full ({self.spec.max_entries} entries), cannot add {key}: "
                "remove stale entries or raise the map size in bpf/ and reload")
        return MapError(f"writing {key} to {self.name} failed: {err.strerror}")

    def _require_writable(self) -> None:
        if not self.spec.writable:
            raise MapError(f"{self.name} is written by the kernel only")

    def lookup(self, key: K) -> V | None:
        value = self.spec.value_c()
        if not bpfsys.map_lookup(self.fd, key.to_c(), value):  # type: ignore[attr-defined]
            return None
        return self.spec.value_type.from_c(value)

    def update(self, key: K, value: V, flags: int = bpfsys.BPF_ANY) -> None:
        """Insert or replace (``flags``: ``bpfsys.BPF_NOEXIST`` / ``BPF_EXIST`` to restrict)."""
        self._require_writable()
        try:
            bpfsys.map_update(self.fd, key.to_c(), value.to_c(), flags)  # type: ignore[attr-defined]
        except bpfsys.BpfError as err:
            raise self._write_error(err, key) from err

    def delete(self, key: K) -> bool:
        """Remove ``key``; False when it was not there."""
        self._require_writable()
        try:
            return bpfsys.map_delete(self.fd, key.to_c())  # type: ignore[attr-defined]
        except bpfsys.BpfError as err:
            raise MapError(f"deleting {key} from {self.name} failed: {err.strerror}") from err

    def keys(self) -> Iterator[K]:
        key_c = self.spec.key_c
        prev: ctypes.Structure | None = None
        while True:
            nxt = key_c()
            if not bpfsys.map_next_key(self.fd, prev, nxt):  # type: ignore[arg-type]
                return
            yield self.spec.key_type.from_c(nxt)
            prev = nxt

    def items(self) -> Iterator[tuple[K, V]]:
        """Every (key, value); entries deleted while iterating are skipped."""
        for key in list(self.keys()):
            value = self.lookup(key)
            if value is not None:
                yield key, value

    def update_batch(self, entries: Sequence[tuple[K, V]]) -> int:
        """Write many entries with BPF_MAP_UPDATE_BATCH (chunks of ``BATCH_CHUNK``).

        All entries are encoded (and so validated) before the first write. On a full map
        raises ``MapFullError`` naming the first entry that did not fit; the entries before
        it are written. Returns the number written."""
        self._require_writable()
        # The C structs appended to one buffer per side: no per-entry object outlives its
        # line (a list of bytes cost ~20 MB more at a 100,000-entry peak; assigning into a
        # ctypes array keeps a reference to every struct assigned, twice that).
        keys, values = bytearray(), bytearray()
        for key, value in entries:
            keys += key.to_c()  # type: ignore[attr-defined]
            values += value.to_c()  # type: ignore[attr-defined]
        written = 0
        for start in range(0, len(entries), BATCH_CHUNK):
            written += self._write_chunk(entries, keys, values, start)
        return written

    def _write_chunk(self, entries: Sequence[tuple[K, V]], keys: bytearray, values: bytearray,
                     start: int) -> int:
        count = min(BATCH_CHUNK, len(entries) - start)
        # views into the arrays (no copy)
        key_array = (self.spec.key_c * count).from_buffer(keys, start * ctypes.sizeof(self.spec.key_c))
        value_array = (self.spec.value_c * count).from_buffer(values, start * ctypes.sizeof(self.spec.value_c))
        try:
            return bpfsys.map_update_batch(self.fd, key_array, value_array, count)
        except bpfsys.BpfError as err:
            failed = start + getattr(err, "done", 0)
            raise self._write_error(err, entries[min(failed, len(entries) - 1)][0]) from err

    def clear(self) -> int:
        """Delete every entry; how many were deleted."""
        return sum(1 for key in list(self.keys()) if self.delete(key))

    def __len__(self) -> int:
        return sum(1 for _ in self.keys())


def open_pinned(bpf_fs: Path, name: str) -> int:
    """fd of the map pinned at ``bpf_fs/name``; MapMissingError when it is not there."""
    path = Path(bpf_fs) / name
    if not Path(bpf_fs).is_dir():
        raise UsageError(f"--bpf-fs {bpf_fs} does not exist: pass the directory the agent pins its maps in "
                         f"(default {DEFAULT_BPF_FS}; a sandbox's: kmeshctl sandbox list -o wide)")
    try:
        return bpfsys.obj_get(path)
    except bpfsys.BpfError as err:
        if err.errno == errno.ENOENT:
            raise MapMissingError(
                f"no pinned map {path}: load the data path first (`kmeshctl node run`) "
                "or pass the right --bpf-fs") from err
        raise MapError(f"cannot open {path}: {err.strerror} (run as root)") from err


def check_layout(spec: MapSpec, fd: int) -> None:
    """Refuse a pinned map whose key/value sizes differ from this mirror (older layout)."""
    info = bpfsys.map_info(fd)
    want = (ctypes.sizeof(spec.key_c), ctypes.sizeof(spec.value_c))
    if (info.key_size, info.value_size) != want:
        raise MapError(
            f"pinned map {spec.name} has key/value sizes {info.key_size}/{info.value_size}, "
            f"this kmeshctl expects {want[0]}/{want[1]}: run `kmeshctl node cleanup` and reload")


class DataplaneMaps:
    """The pinned maps of one node (``bpf_fs``, default /sys/fs/bpf/kmesh).

    Attributes ``frontend``, ``service``, ``endpoint``, ``backend``, ``manage``, ``idreg``,
    ``authz_dst``, ``authz_port``, ``authz_rule``, ``authz_pol``, ``authz_stats``
    (read-write) and ``socket`` (read-only) are ``TypedMap`` objects with ``lookup``,
    ``update``, ``delete``, ``keys``, ``items``, ``update_batch``, ``clear``. The methods
    below are the operations the agent needs, in the order that keeps the data path
    consistent while it runs. Close with ``close()`` or use as a context manager.
    """

    def __init__(self, bpf_fs: Path | str = DEFAULT_BPF_FS) -> None:
        self.bpf_fs = Path(bpf_fs)
        self._fds: list[int] = []
        try:
            self.maps = {spec.name: self._open(spec) for spec in MAP_SPECS}
        except Exception:
            self.close()
            raise
        self.frontend: TypedMap[FrontendKey, FrontendValue] = self.maps[FRONTEND.name]
        self.service: TypedMap[ServiceKey, ServiceValue] = self.maps[SERVICE.name]
        self.endpoint: TypedMap[EndpointKey, EndpointValue] = self.maps[ENDPOINT.name]
        self.backend: TypedMap[BackendKey, BackendValue] = self.maps[BACKEND.name]
        self.manage: TypedMap[ManageKey, ManageValue] = self.maps[MANAGE.name]
        self.socket: TypedMap[SockKey, SockValue] = self.maps[SOCKET.name]
        self.idreg: TypedMap[IdRegKey, IdRegValue] = self.maps[IDREG.name]
        self.authz_dst: TypedMap[AuthzDstKey, AuthzDstValue] = self.maps[AUTHZ_DST.name]
        self.authz_port: TypedMap[AuthzPortKey, AuthzPortValue] = self.maps[AUTHZ_PORT.name]
        self.authz_rule: TypedMap[AuthzRuleKey, AuthzRuleValue] = self.maps[AUTHZ_RULE.name]
        self.authz_pol: TypedMap[AuthzPolKey, AuthzPolValue] = self.maps[AUTHZ_POL.name]
        self.authz_stats: TypedMap[AuthzStatKey, AuthzStatValue] = self.maps[AUTHZ_STATS.name]

    def _open(self, spec: MapSpec) -> TypedMap:
        fd = open_pinned(self.bpf_fs, spec.name)
        self._fds.append(fd)
        check_layout(spec, fd)
        return TypedMap(spec, fd)

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()

    def __enter__(self) -> "DataplaneMaps":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- frontends

    def set_frontend(self, addr: IPAddress | str, upstream_id: int) -> None:
        """Route connects to ``addr`` (a Service VIP or a pod IP) to a service / backend id."""
        self.frontend.update(FrontendKey(addr), FrontendValue(upstream_id))

    def delete_frontend(self, addr: IPAddress | str) -> bool:
        return self.frontend.delete(FrontendKey(addr))

    # -- backends

    def set_backend(self, backend_uid: int, value: BackendValue) -> None:
        self.backend.update(BackendKey(backend_uid), value)

    def delete_backend(self, backend_uid: int) -> bool:
        """Remove a backend; take it out of its services' groups first (``write_service``)."""
        return self.backend.delete(BackendKey(backend_uid))

    # -- services and their endpoints

    def write_service(self, service_id: int, value: ServiceValue,
                      groups: Sequence[Sequence[int | EndpointValue]] = ()) -> ServiceValue:
        """Write a service and its endpoint groups (backend uids, or ``EndpointValue`` for
        per-endpoint target ports, per priority 0..6).

        Each group is stored dense with 1-based indices and ``prio_endpoint_count`` is set
        from the group sizes. Order: new endpoint slots, then the service (new counts),
        then slots beyond the new counts are deleted, so a concurrent connect never reads
        a count larger than its group. Returns the value written."""
        if len(groups) > PRIO_COUNT:
            raise BadEntryError(f"{len(groups)} priority groups: at most {PRIO_COUNT}")
        counts = tuple(len(g) for g in groups) + (0,) * (PRIO_COUNT - len(groups))
        new_value = ServiceValue(counts, value.lb_policy, value.ports, value.waypoint_id)
        slots = [(EndpointKey(service_id, prio, index),
                  uid if isinstance(uid, EndpointValue) else EndpointValue(uid))
                 for prio, group in enumerate(groups)
                 for index, uid in enumerate(group, start=1)]
        old = self.service.lookup(ServiceKey(service_id))
        if slots:
            self.endpoint.update_batch(slots)
        self.service.update(ServiceKey(service_id), new_value)
        if old is not None:
            self._delete_slots(service_id, old.prio_endpoint_count, counts)
        return new_value

    def _delete_slots(self, service_id: int, old_counts: Sequence[int],
                      new_counts: Sequence[int]) -> None:
        for prio, (old, new) in enumerate(zip(old_counts, new_counts)):
            for index in range(new + 1, old + 1):
                self.endpoint.delete(EndpointKey(service_id, prio, index))

    def delete_service(self, service_id: int) -> bool:
        """Remove a service and its endpoint slots (frontends are the caller's: by VIP)."""
        old = self.service.lookup(ServiceKey(service_id))
        if old is None:
            return False
        self.service.delete(ServiceKey(service_id))
        self._delete_slots(service_id, old.prio_endpoint_count, (0,) * PRIO_COUNT)
        return True

    def endpoint_groups(self, service_id: int) -> list[list[int]]:
        """Backend uids per priority group of a service, as stored."""
        value = self.service.lookup(ServiceKey(service_id))
        if value is None:
            return []
        groups: list[list[int]] = []
        for prio, count in enumerate(value.prio_endpoint_count):
            slots = (self.endpoint.lookup(EndpointKey(service_id, prio, i)) for i in range(1, count + 1))
            groups.append([slot.backend_uid for slot in slots if slot is not None])
        return groups

    # -- enrollment

    def enroll(self, netns_cookie: int) -> None:
        """Manage connects from the network namespace with this cookie."""
        self.manage.update(ManageKey(netns_cookie), ManageValue(True))

    def unenroll(self, netns_cookie: int) -> bool:
        return self.manage.delete(ManageKey(netns_cookie))

    def is_enrolled(self, netns_cookie: int) -> bool:
        value = self.manage.lookup(ManageKey(netns_cookie))
        return bool(value and value.managed)

    def enrolled(self) -> list[int]:
        return [key.netns_cookie for key, value in self.manage.items() if value.managed]
