"""What a waypoint routes, read from Kubernetes objects as the API server serves them
(dicts): Namespaces, Services (with their ClusterIP), EndpointSlices, Pods (for subset
labels), VirtualServices and DestinationRules (networking.istio.io v1alpha3/v1beta1/v1).

Pure data. The cluster controller lists these objects from the API server; the sandbox's
control plane makes the same objects from its own records (VIPs and pod IPs it
allocated). A part of a VirtualService the waypoint cannot honour is left out and named
in `Snapshot.problems` (a cluster's objects cannot be refused the way a file can).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

CLUSTER_DOMAIN = "cluster.local"
USE_WAYPOINT_LABEL = "istio.io/use-waypoint"
USE_WAYPOINT_NAMESPACE_LABEL = "istio.io/use-waypoint-namespace"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # on an EndpointSlice
ISTIO_NETWORKING = ("networking.istio.io/v1alpha3", "networking.istio.io/v1beta1",
                    "networking.istio.io/v1")
# Istio's protocol selection: a port name `<protocol>` or `<protocol>-<suffix>`, or appProtocol.
HTTP_PROTOCOLS = {"http", "http2", "grpc", "grpc-web", "h2c", "kubernetes.io/h2c", "kubernetes.io/http"}
TCP_PROTOCOLS = {"tcp", "tls", "https", "mongo", "mysql", "redis", "kubernetes.io/ws",
                 "kubernetes.io/wss"}


def service_hostname(name: str, namespace: str) -> str:
    return f"{name}.{namespace}.svc.{CLUSTER_DOMAIN}"


@dataclass(frozen=True)
class Port:
    name: str
    port: int
    target_port: int | str
    app_protocol: str = ""

    @property
    def protocol(self) -> str:
        """"http", "tcp" (opaque: bytes proxied unchanged) or "auto" (sniffed per connection)."""
        declared = (self.app_protocol or self.name.split("-", 1)[0]).lower()
        if declared in HTTP_PROTOCOLS:
            return "http"
        if declared in TCP_PROTOCOLS:
            return "tcp"
        return "auto"


@dataclass(frozen=True)
class Service:
    name: str
    namespace: str
    labels: dict[str, str]
    vip: str
    ports: tuple[Port, ...]

    @property
    def hostname(self) -> str:
        return service_hostname(self.name, self.namespace)

    def port(self, number: int) -> Optional[Port]:
        return next((p for p in self.ports if p.port == number), None)


@dataclass(frozen=True)
class Endpoint:
    """One ready address of a Service: its pod's labels and the numbers of the Service's
    ports by port name (as the EndpointSlice gives them)."""

    ip: str
    labels: dict[str, str]
    ports: dict[str, int]


@dataclass(frozen=True)
class Destination:
    host: str
    subset: str = ""
    port: Optional[int] = None
    weight: int = 100


@dataclass(frozen=True)
class StringMatch:
    kind: str  # exact | prefix | regex
    value: str


@dataclass(frozen=True)
class HttpMatch:
    uri: Optional[StringMatch] = None
    headers: tuple[tuple[str, StringMatch], ...] = ()
    port: Optional[int] = None


@dataclass(frozen=True)
class HttpRoute:
    matches: tuple[HttpMatch, ...]  # ORed; empty matches everything
    destinations: tuple[Destination, ...]
    timeout_s: Optional[float] = None


@dataclass(frozen=True)
class TcpRoute:
    ports: tuple[int, ...]  # empty: every port
    destinations: tuple[Destination, ...]


@dataclass(frozen=True)
class VirtualService:
    name: str
    namespace: str
    hosts: tuple[str, ...]
    http: tuple[HttpRoute, ...]
    tcp: tuple[TcpRoute, ...]


@dataclass(frozen=True)
class DestinationRule:
    name: str
    namespace: str
    host: str
    subsets: dict[str, dict[str, str]]


@dataclass
class Snapshot:
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> labels
    services: list[Service] = field(default_factory=list)
    endpoints: dict[tuple[str, str], list[Endpoint]] = field(default_factory=dict)
    virtual_services: list[VirtualService] = field(default_factory=list)
    destination_rules: list[DestinationRule] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    # ----- lookups --------------------------------------------------------------------

    def service_for_host(self, host: str, namespace: str) -> Optional[Service]:
        wanted = resolve_host(host, namespace)
        return next((s for s in self.services if (s.namespace, s.name) == wanted), None)

    def virtual_service_for(self, service: Service) -> Optional[VirtualService]:
        matching = [vs for vs in self.virtual_services
                    if any(self.service_for_host(h, vs.namespace) == service for h in vs.hosts)]
        # Istio prefers the one in the Service's namespace, then the oldest; we keep order.
        matching.sort(key=lambda vs: vs.namespace != service.namespace)
        return matching[0] if matching else None

    def subset_labels(self, service: Service, subset: str) -> Optional[dict[str, str]]:
        for rule in self.destination_rules:
            if self.service_for_host(rule.host, rule.namespace) == service and subset in rule.subsets:
                return rule.subsets[subset]
        return None

    def waypoint_of(self, service: Service) -> Optional[tuple[str, str]]:
        """(namespace, name) of the waypoint a Service uses: its own `istio.io/use-waypoint`
        label, else its namespace's; `none` opts out."""
        labels = service.labels
        if USE_WAYPOINT_LABEL not in labels:
            labels = self.namespaces.get(service.namespace, {})
        name = labels.get(USE_WAYPOINT_LABEL)
        if not name or name == "none":
            return None
        return labels.get(USE_WAYPOINT_NAMESPACE_LABEL, service.namespace), name

    def services_of(self, namespace: str, name: str) -> list[Service]:
        """The Services a waypoint serves (ClusterIP Services only: the VIP is what the
        original destination matches on)."""
        return [s for s in self.services if s.vip and self.waypoint_of(s) == (namespace, name)]


def resolve_host(host: str, namespace: str) -> tuple[str, str]:
    """Istio short names: `fortio` is relative to the object's namespace; `fortio.ns`,
    `fortio.ns.svc` and the FQDN name the Service in `ns`."""
    parts = host.split(".")
    if len(parts) == 1:
        return namespace, host
    return parts[1], parts[0]


# ---------------------------------------------------------------- parsing


def snapshot_from_objects(objects: Iterable[dict[str, Any]]) -> Snapshot:
    """Build a Snapshot from API objects of any order; unknown kinds are ignored."""
    snap = Snapshot()
    objects = list(objects)
    pods = {(_ns(o), o["metadata"]["name"]): _labels(o) for o in objects if o.get("kind") == "Pod"}
    for obj in objects:
        kind = obj.get("kind")
        if kind == "Namespace":
            snap.namespaces[obj["metadata"]["name"]] = _labels(obj)
        elif kind == "Service":
            service = _service(obj)
            if service is not None:
                snap.services.append(service)
        elif kind == "EndpointSlice":
            _add_endpoint_slice(snap, obj, pods)
        elif kind == "VirtualService" and obj.get("apiVersion") in ISTIO_NETWORKING:
            _guarded(snap, obj, lambda: snap.virtual_services.append(_virtual_service(obj, snap)))
        elif kind == "DestinationRule" and obj.get("apiVersion") in ISTIO_NETWORKING:
            _guarded(snap, obj, lambda: snap.destination_rules.append(_destination_rule(obj)))
    return snap


def _guarded(snap: Snapshot, obj: dict, parse: Any) -> None:
    try:
        parse()
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        snap.problems.append(f"{obj['kind']} {_ns(obj)}/{obj['metadata']['name']} ignored: "
                             f"malformed ({type(err).__name__}: {err})")


def _ns(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("namespace") or "default"


def _labels(obj: dict) -> dict[str, str]:
    return {str(k): str(v) for k, v in ((obj.get("metadata") or {}).get("labels") or {}).items()}


def _service(obj: dict) -> Optional[Service]:
    spec = obj.get("spec") or {}
    vip = spec.get("clusterIP") or ""
    if vip == "None":
        vip = ""
    ports = tuple(Port(str(p.get("name", "")), int(p["port"]), _target(p), str(p.get("appProtocol") or ""))
                  for p in spec.get("ports") or [] if (p.get("protocol") or "TCP") == "TCP")
    return Service(obj["metadata"]["name"], _ns(obj), _labels(obj), vip, ports)


def _target(port: dict) -> int | str:
    target = port.get("targetPort", port["port"])
    if isinstance(target, str) and target.isdigit():
        return int(target)
    return target


def _add_endpoint_slice(snap: Snapshot, obj: dict, pods: dict[tuple[str, str], dict[str, str]]) -> None:
    service = _labels(obj).get(SERVICE_NAME_LABEL)
    if not service or obj.get("addressType", "IPv4") != "IPv4":
        return
    ports = {str(p.get("name") or ""): int(p["port"]) for p in obj.get("ports") or [] if p.get("port")}
    found = snap.endpoints.setdefault((_ns(obj), service), [])
    for endpoint in obj.get("endpoints") or []:
        if (endpoint.get("conditions") or {}).get("ready") is False:
            continue
        ref = endpoint.get("targetRef") or {}
        labels = pods.get((ref.get("namespace") or _ns(obj), ref.get("name", "")), {}) \
            if ref.get("kind") == "Pod" else {}
        for address in endpoint.get("addresses") or []:
            found.append(Endpoint(address, labels, ports))


def _virtual_service(obj: dict, snap: Snapshot) -> VirtualService:
    spec = obj["spec"]
    where = f"VirtualService {_ns(obj)}/{obj['metadata']['name']}"
    for unsupported in sorted(set(spec) - {"hosts", "http", "tcp", "gateways", "exportTo"}):
        snap.problems.append(f"{where}: spec.{unsupported} is not supported by the kmeshctl waypoint (ignored)")
    http = tuple(_http_route(r, where, snap) for r in spec.get("http") or [])
    tcp = tuple(TcpRoute(tuple(int(m["port"]) for m in r.get("match") or [] if m.get("port")),
                         tuple(_destination(d) for d in r["route"])) for r in spec.get("tcp") or [])
    return VirtualService(obj["metadata"]["name"], _ns(obj), tuple(str(h) for h in spec["hosts"]), http, tcp)


_HTTP_ROUTE_FIELDS = {"name", "match", "route", "timeout"}


def _http_route(raw: dict, where: str, snap: Snapshot) -> HttpRoute:
    for unsupported in sorted(set(raw) - _HTTP_ROUTE_FIELDS):
        snap.problems.append(f"{where}: http.{unsupported} is not supported by the kmeshctl waypoint (ignored)")
    timeout = parse_duration(raw["timeout"]) if raw.get("timeout") else None
    return HttpRoute(tuple(_http_match(m) for m in raw.get("match") or []),
                     tuple(_destination(d) for d in raw["route"]), timeout)


def _http_match(raw: dict) -> HttpMatch:
    uri = _string_match(raw["uri"]) if raw.get("uri") else None
    headers = tuple((str(name).lower(), _string_match(value))
                    for name, value in (raw.get("headers") or {}).items())
    return HttpMatch(uri, headers, int(raw["port"]) if raw.get("port") else None)


def _string_match(raw: dict) -> StringMatch:
    [(kind, value)] = raw.items()
    if kind not in ("exact", "prefix", "regex"):
        raise ValueError(f"match kind {kind}")
    return StringMatch(kind, str(value))


def _destination(raw: dict) -> Destination:
    dest = raw["destination"]
    port = (dest.get("port") or {}).get("number")
    return Destination(str(dest["host"]), str(dest.get("subset") or ""),
                       int(port) if port else None, int(raw.get("weight", 100)))


def _destination_rule(obj: dict) -> DestinationRule:
    spec = obj["spec"]
    subsets = {str(s["name"]): {str(k): str(v) for k, v in (s.get("labels") or {}).items()}
               for s in spec.get("subsets") or []}
    return DestinationRule(obj["metadata"]["name"], _ns(obj), str(spec["host"]), subsets)


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")


def parse_duration(text: str) -> float:
    """Istio's durations ("5s", "250ms", "1m", "1h") in seconds."""
    match = _DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"duration {text!r}")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
