"""The node agent's model of the workload API: small immutable objects, made once per
resource version at the door (``kmeshctl.xds.convert``) and used everywhere after it.

Shapes follow istio.workload / istio.security (facts: workload.proto, authorization.proto)
with three differences that make the rest simpler: addresses are ``ipaddress`` objects,
absent sub-messages are ``None`` (never an empty default), and a Service's key
(``namespace/hostname``, the xDS resource name) is defined here, once.

Enum fields keep the wire's integer values; the names are the constants below.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Callable, Generic, Hashable, Optional, TypeVar, Union

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
SHARED_LIMIT = 65536  # distinct values one SharedValues keeps (beyond: built, not shared)


class SharedValues(Generic[K, V]):
    """One object per distinct key, so 100,000 resources that carry equal values (a
    Deployment's port list, a locality, a service-id tuple) hold one object, not
    100,000 copies. Bounded: past ``limit`` distinct keys, values are built unshared."""

    def __init__(self, limit: int = SHARED_LIMIT) -> None:
        self._values: dict[K, V] = {}
        self._limit = limit

    def get(self, key: K, build: Optional[Callable[[K], V]] = None) -> V:
        """The shared value of ``key``: ``build(key)`` on the first miss (without
        ``build``, the key is its own value)."""
        found = self._values.get(key)
        if found is None:
            found = key if build is None else build(key)  # type: ignore[assignment]
            if len(self._values) < self._limit:
                self._values[key] = found
        return found

    def __len__(self) -> int:
        return len(self._values)


class _HashedOnce:
    """Computes an address's hash once. The standard classes hash in Python
    (``hash(hex(int))``) at every dict or set lookup, and an address of the model is
    looked up about ten times on its way to the maps (cache index, owners, frontend plan,
    mirror). Equal to, and hashing like, the standard classes' objects."""

    __slots__ = ()

    def __init__(self, address: object) -> None:
        super().__init__(address)  # type: ignore[call-arg]
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"IPv{self.version}Address('{self}')"  # type: ignore[attr-defined]


class HashedIPv4Address(_HashedOnce, ipaddress.IPv4Address):
    __slots__ = ("_hash",)


class HashedIPv6Address(_HashedOnce, ipaddress.IPv6Address):
    __slots__ = ("_hash",)


def ip_of(raw: bytes) -> IPAddress:
    """The address of 4 or 16 bytes (the wire's form), hashing once. Raises ValueError
    for any other length."""
    if len(raw) == 4:  # the common case, without ipaddress's checks of other input kinds
        address = HashedIPv4Address.__new__(HashedIPv4Address)
        address._ip = int.from_bytes(raw, "big")
        address._hash = hash(hex(address._ip))
        return address
    return HashedIPv6Address(raw)

# istio.workload.LoadBalancing.Mode
MODE_UNSPECIFIED, MODE_STRICT, MODE_FAILOVER, MODE_PASSTHROUGH = 0, 1, 2, 3
# istio.workload.LoadBalancing.Scope
SCOPE_REGION, SCOPE_ZONE, SCOPE_SUBZONE, SCOPE_NODE, SCOPE_CLUSTER, SCOPE_NETWORK = 1, 2, 3, 4, 5, 6
# istio.workload.LoadBalancing.HealthPolicy
ONLY_HEALTHY, ALLOW_ALL = 0, 1
# istio.workload.IPFamilies
AUTOMATIC, IPV4_ONLY, IPV6_ONLY, DUAL = 0, 1, 2, 3
# istio.workload.WorkloadStatus / NetworkMode
HEALTHY, UNHEALTHY = 0, 1
STANDARD, HOST_NETWORK = 0, 1
# istio.workload.ApplicationTunnel.Protocol
TUNNEL_NONE, TUNNEL_PROXY = 0, 1
# istio.security.Scope / Action
POLICY_GLOBAL, POLICY_NAMESPACE, POLICY_WORKLOAD_SELECTOR = 0, 1, 2
ALLOW, DENY = 0, 1


def service_key(namespace: str, hostname: str) -> str:
    """A Service's name in the workload API: ``namespace/hostname``."""
    return f"{namespace}/{hostname}"


@dataclass(frozen=True, slots=True)
class Locality:
    region: str = ""
    zone: str = ""
    subzone: str = ""


@dataclass(frozen=True, slots=True)
class Port:
    """A Service port and where it goes (``target_port`` 0: a named port, resolved per
    workload from the workload's own ``services`` entry)."""

    service_port: int
    target_port: int
    app_protocol: int = 0


@dataclass(frozen=True, slots=True)
class NetworkAddress:
    """A Service address: ``length`` is the prefix length of a CIDR VIP, None for one IP."""

    ip: IPAddress
    network: str = ""
    length: Optional[int] = None


@dataclass(frozen=True, slots=True)
class Waypoint:
    """A GatewayAddress: by Service (``service_key``, istiod's usual form) or by address."""

    service_key: Optional[str] = None
    address: Optional[IPAddress] = None
    network: str = ""
    hbone_mtls_port: int = 0


@dataclass(frozen=True, slots=True)
class LoadBalancing:
    mode: int = MODE_UNSPECIFIED
    routing_preference: tuple[int, ...] = ()
    health_policy: int = ONLY_HEALTHY


@dataclass(frozen=True, slots=True)
class ApplicationTunnel:
    """How a workload (a waypoint) wants its traffic: PROXY protocol on ``port``."""

    protocol: int = TUNNEL_NONE
    port: int = 0


@dataclass(frozen=True, slots=True)
class Service:
    namespace: str
    hostname: str
    name: str = ""
    addresses: tuple[NetworkAddress, ...] = ()
    ports: tuple[Port, ...] = ()
    waypoint: Optional[Waypoint] = None
    load_balancing: LoadBalancing = LoadBalancing()
    ip_families: int = AUTOMATIC

    @property
    def key(self) -> str:
        return service_key(self.namespace, self.hostname)


@dataclass(frozen=True, slots=True)
class Workload:
    """A pod or WorkloadEntry. ``services``: (service key, its ports on this workload)
    pairs, sorted by key; ``ports_for(key)`` reads one."""

    uid: str
    name: str = ""
    namespace: str = ""
    addresses: tuple[IPAddress, ...] = ()
    network: str = ""
    node: str = ""
    cluster_id: str = ""
    service_account: str = ""
    trust_domain: str = ""
    status: int = HEALTHY
    network_mode: int = STANDARD
    locality: Optional[Locality] = None
    waypoint: Optional[Waypoint] = None
    application_tunnel: Optional[ApplicationTunnel] = None
    services: tuple[tuple[str, tuple[Port, ...]], ...] = ()
    authorization_policies: tuple[str, ...] = ()

    def service_keys(self) -> tuple[str, ...]:
        return tuple([key for key, _ in self.services])

    def ports_for(self, key: str) -> tuple[Port, ...]:
        for each, ports in self.services:
            if each == key:
                return ports
        return ()

    def address_of(self, version: int) -> Optional[IPAddress]:
        """This workload's address of one IP family (4 or 6), if it has one."""
        return next((a for a in self.addresses if a.version == version), None)


# ----------------------------------------------------------------- authorization


@dataclass(frozen=True, slots=True)
class StringMatch:
    """exact / prefix / suffix (one is set), or ``presence`` (any non-empty value)."""

    exact: Optional[str] = None
    prefix: Optional[str] = None
    suffix: Optional[str] = None
    presence: bool = False

    def matches(self, value: str) -> bool:
        if self.presence:
            return bool(value)
        if self.exact is not None:
            return value == self.exact
        if self.prefix is not None:
            return value.startswith(self.prefix)
        if self.suffix is not None:
            return value.endswith(self.suffix)
        return False


@dataclass(frozen=True, slots=True)
class ServiceAccountMatch:
    namespace: str
    service_account: str


@dataclass(frozen=True, slots=True)
class Match:
    """One match: kinds AND-ed, the values of one kind OR-ed; an empty kind matches all."""

    namespaces: tuple[StringMatch, ...] = ()
    not_namespaces: tuple[StringMatch, ...] = ()
    principals: tuple[StringMatch, ...] = ()
    not_principals: tuple[StringMatch, ...] = ()
    source_ips: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    not_source_ips: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    destination_ips: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    not_destination_ips: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    destination_ports: tuple[int, ...] = ()
    not_destination_ports: tuple[int, ...] = ()
    service_accounts: tuple[ServiceAccountMatch, ...] = ()
    not_service_accounts: tuple[ServiceAccountMatch, ...] = ()
    extensions: tuple[str, ...] = ()  # names of extensions (not enforceable at L4)


@dataclass(frozen=True, slots=True)
class Clause:
    """Matches OR-ed; a clause without matches matches everything."""

    matches: tuple[Match, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    """Clauses AND-ed."""

    clauses: tuple[Clause, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    """An istio.security.Authorization: rules OR-ed."""

    name: str
    namespace: str = ""
    scope: int = POLICY_GLOBAL
    action: int = ALLOW
    rules: tuple[Rule, ...] = ()
    dry_run: bool = False
    extensions: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"
