"""Pure builders: a waypoint's Envoy configuration (Listener, RouteConfiguration,
Cluster, ClusterLoadAssignment) from a `Snapshot`, and its bootstrap. Shared by the
cluster waypoint (`kmeshctl waypoint controller`) and the local sandbox.

The waypoint works like an Istio waypoint fed by Kmesh's eBPF: every connection starts
with a PROXY protocol header (v2 from the eBPF path; v1 accepted too) carrying the
original destination, the Service VIP:port. Envoy's `proxy_protocol` listener filter
restores that address as the connection's local address, and one filter chain per
Service VIP:port handles it:

- an HTTP port (name `http`/`http-*`, `grpc`, ..., or appProtocol http/http2/grpc):
  HTTP connection manager, RDS routes from the VirtualService's `http` (weighted
  subsets, uri/header matches, timeouts);
- an opaque TCP port (name `tcp`/`tcp-*`, or appProtocol tcp, tls, ...): a TCP proxy,
  bytes unchanged, to the VirtualService's `tcp` route or the whole Service;
- any other port: `http_inspector` decides per connection; HTTP/1.1 and h2c go to the
  HTTP chain, anything else to the TCP proxy, unchanged.

Clusters and endpoints come over EDS: a weight change is one RouteConfiguration push.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from envoy.config.bootstrap.v3 import bootstrap_pb2
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import address_pb2, config_source_pb2, grpc_service_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.listener.http_inspector.v3 import http_inspector_pb2
from envoy.extensions.filters.listener.proxy_protocol.v3 import proxy_protocol_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2
from envoy.type.matcher.v3 import regex_pb2, string_pb2
from google.protobuf import any_pb2, duration_pb2, wrappers_pb2
from google.protobuf.message import Message

from kmeshctl.waypoint.model import (
    Destination,
    HttpMatch,
    HttpRoute,
    Port,
    Service,
    Snapshot,
    StringMatch,
)

LISTENER_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener"
ROUTE_TYPE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ENDPOINT_TYPE = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
# Adds and updates go make-before-break (clusters before the routes naming them);
# removals the other way round.
PUSH_ORDER = (CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE)
LISTENER_NAME = "waypoint"
# Where a connection for no Service of this waypoint goes: a cluster without endpoints,
# so Envoy closes it (a listener needs a chain even before any Service uses the waypoint).
BLACKHOLE_CLUSTER = "BlackHoleCluster"
XDS_CLUSTER = "xds-grpc"
CONNECT_TIMEOUT_S = 2
# http_inspector waits for the client's first bytes; a server-first protocol on a port of
# unknown protocol goes to the TCP proxy after this long instead of being cut.
SNIFF_TIMEOUT_S = 1
SNIFFED_HTTP = ("http/1.1", "h2c")


@dataclass(frozen=True)
class WaypointRef:
    namespace: str
    name: str
    port: int  # where Envoy listens for PROXY-protocol connections


@dataclass(frozen=True)
class ClusterKey:
    """One upstream cluster: a Service port, optionally narrowed to a subset."""

    service: Service
    port: Port
    subset: str = ""

    @property
    def name(self) -> str:  # Istio's naming, so Envoy stats read familiar
        return f"outbound|{self.port.port}|{self.subset}|{self.service.hostname}"


@dataclass
class WaypointResources:
    """Everything one waypoint Envoy needs, keyed by type URL then resource name."""

    listeners: dict[str, listener_pb2.Listener]
    routes: dict[str, route_pb2.RouteConfiguration]
    clusters: dict[str, cluster_pb2.Cluster]
    endpoints: dict[str, endpoint_pb2.ClusterLoadAssignment]

    def by_type(self) -> dict[str, dict[str, Message]]:
        return {
            LISTENER_TYPE: dict(self.listeners),
            ROUTE_TYPE: dict(self.routes),
            CLUSTER_TYPE: dict(self.clusters),
            ENDPOINT_TYPE: dict(self.endpoints),
        }


Weighted = list[tuple[int, ClusterKey]]
# Per http route of a VirtualService (None: the catch-all without one): weighted clusters.
RoutePlan = list[tuple[Optional[HttpRoute], Weighted]]


def build_resources(snap: Snapshot, waypoint: WaypointRef) -> WaypointResources:
    services = snap.services_of(waypoint.namespace, waypoint.name)
    routes: dict[str, route_pb2.RouteConfiguration] = {}
    keys: dict[str, ClusterKey] = {}
    for service in services:
        for port in service.ports:
            default = ClusterKey(service, port)
            keys[default.name] = default
            if port.protocol != "tcp":
                plan = http_plan(snap, service, port)
                routes[route_name(service, port)] = build_route_configuration(route_name(service, port), plan)
                keys.update((k.name, k) for _, weighted in plan for _, k in weighted)
            keys.update((k.name, k) for _, k in tcp_plan(snap, service, port))
    listener = build_listener(snap, waypoint, services)
    clusters = {name: build_cluster(name) for name in keys}
    clusters[BLACKHOLE_CLUSTER] = cluster_pb2.Cluster(
        name=BLACKHOLE_CLUSTER, type=cluster_pb2.Cluster.STATIC,
        connect_timeout=duration_pb2.Duration(seconds=CONNECT_TIMEOUT_S))
    return WaypointResources(
        listeners={listener.name: listener},
        routes=routes,
        clusters=clusters,
        endpoints={name: build_load_assignment(snap, key) for name, key in keys.items()},
    )


def route_name(service: Service, port: Port) -> str:
    return f"inbound-vip|{port.port}|http|{service.hostname}"


# ---------------------------------------------------------------- plans


def http_plan(snap: Snapshot, service: Service, port: Port) -> RoutePlan:
    """Per http route of the Service's VirtualService that applies to this port:
    (route, [(weight, cluster)]). Without one: a catch-all to the whole Service port."""
    vs = snap.virtual_service_for(service)
    plan: RoutePlan = []
    for route in vs.http if vs else ():
        if route.matches and not any(m.port in (None, port.port) for m in route.matches):
            continue
        weighted = _weighted(snap, vs.namespace, route.destinations, port)
        if weighted:
            plan.append((route, weighted))
    return plan or [(None, [(100, ClusterKey(service, port))])]


def tcp_plan(snap: Snapshot, service: Service, port: Port) -> Weighted:
    """The first `tcp` route of the Service's VirtualService for this port, else the
    whole Service port."""
    vs = snap.virtual_service_for(service)
    for route in vs.tcp if vs else ():
        if not route.ports or port.port in route.ports:
            weighted = _weighted(snap, vs.namespace, route.destinations, port)
            if weighted:
                return weighted
    return [(100, ClusterKey(service, port))]


def _weighted(snap: Snapshot, namespace: str, destinations: tuple[Destination, ...], incoming: Port) -> Weighted:
    result: Weighted = []
    for dest in destinations:
        target = snap.service_for_host(dest.host, namespace)
        if target is None or not target.ports:
            snap.problems.append(f"destination host {dest.host} is not a Service (route left out)")
            continue
        result.append((dest.weight, ClusterKey(target, _destination_port(target, dest.port, incoming), dest.subset)))
    return result


def _destination_port(target: Service, number: Optional[int], incoming: Port) -> Port:
    if number is not None and target.port(number) is not None:
        return target.port(number)
    if len(target.ports) == 1:
        return target.ports[0]
    return target.port(incoming.port) or target.ports[0]


# ---------------------------------------------------------------- routes


def build_route_configuration(name: str, plan: RoutePlan) -> route_pb2.RouteConfiguration:
    config = route_pb2.RouteConfiguration(name=name)
    host = config.virtual_hosts.add(name=name, domains=["*"])
    for route, weighted in plan:
        for match in _route_matches(route):
            host.routes.append(_route(match, route, weighted))
    return config


def _route_matches(route: Optional[HttpRoute]) -> list[route_components_pb2.RouteMatch]:
    if route is None or not route.matches:
        return [route_components_pb2.RouteMatch(prefix="/")]
    return [_match(m) for m in route.matches]  # Istio ORs a route's matches


def _match(match: HttpMatch) -> route_components_pb2.RouteMatch:
    result = route_components_pb2.RouteMatch()
    uri = match.uri
    if uri is None or (uri.kind == "prefix" and not uri.value):
        result.prefix = "/"
    elif uri.kind == "exact":
        result.path = uri.value
    elif uri.kind == "prefix":
        result.prefix = uri.value
    else:
        result.safe_regex.CopyFrom(regex_pb2.RegexMatcher(regex=uri.value))
    for name, value in match.headers:
        result.headers.add(name=name, string_match=_string_matcher(value))
    return result


def _string_matcher(match: StringMatch) -> string_pb2.StringMatcher:
    if match.kind == "exact":
        return string_pb2.StringMatcher(exact=match.value)
    if match.kind == "prefix":
        return string_pb2.StringMatcher(prefix=match.value)
    return string_pb2.StringMatcher(safe_regex=regex_pb2.RegexMatcher(regex=match.value))


def _route(match: route_components_pb2.RouteMatch, route: Optional[HttpRoute], weighted: Weighted
           ) -> route_components_pb2.Route:
    result = route_components_pb2.Route(match=match)
    live = [(w, key) for w, key in weighted if w > 0] or weighted[:1]
    if len(live) == 1:
        result.route.cluster = live[0][1].name
    else:
        for weight, key in live:
            result.route.weighted_clusters.clusters.add(
                name=key.name, weight=wrappers_pb2.UInt32Value(value=weight))
    if route is not None and route.timeout_s is not None:
        result.route.timeout.CopyFrom(_duration(route.timeout_s))
    return result


def route_weights(route_config: dict, index: int = 0) -> dict[str, int]:
    """cluster name -> weight of route ``index`` (the first when it has no such route) of a
    RouteConfiguration (JSON form, as Envoy's config_dump shows it)."""
    routes = route_config["virtual_hosts"][0]["routes"]
    route = routes[index if index < len(routes) else 0]["route"]
    if "cluster" in route:
        return {route["cluster"]: 100}
    return {c["name"]: int(c["weight"]) for c in route["weighted_clusters"]["clusters"]}


# ---------------------------------------------------------------- listener


def build_listener(snap: Snapshot, waypoint: WaypointRef, services: list[Service]) -> listener_pb2.Listener:
    listener = listener_pb2.Listener(name=LISTENER_NAME, address=socket_address("0.0.0.0", waypoint.port))
    # Stock Envoy closes a connection whose FIN arrives before its listener filters have
    # looked at the socket (the header and data unread, so the kernel sends RST): a client
    # that half-closes right after its first send can lose that race. No listener or
    # filter setting changes it (tests/test_sandbox_waypoint_tcp.py, docs/testing.md).
    listener.listener_filters.add(name="envoy.filters.listener.proxy_protocol",
                                  typed_config=pack(proxy_protocol_pb2.ProxyProtocol()))
    sniffing = any(p.protocol == "auto" for s in services for p in s.ports)
    if sniffing:
        listener.listener_filters.add(name="envoy.filters.listener.http_inspector",
                                      typed_config=pack(http_inspector_pb2.HttpInspector()))
        listener.listener_filters_timeout.CopyFrom(_duration(SNIFF_TIMEOUT_S))
        listener.continue_on_listener_filters_timeout = True
    for service in services:
        for port in service.ports:
            listener.filter_chains.extend(_filter_chains(snap, service, port))
    listener.default_filter_chain.name = "no-service"
    listener.default_filter_chain.filters.add(
        name="envoy.filters.network.tcp_proxy",
        typed_config=pack(tcp_proxy_pb2.TcpProxy(stat_prefix="no_service", cluster=BLACKHOLE_CLUSTER)))
    return listener


def _filter_chains(snap: Snapshot, service: Service, port: Port) -> list[listener_components_pb2.FilterChain]:
    http = _chain(service, port, "http", "envoy.filters.network.http_connection_manager",
                  _http_connection_manager(service, port))
    tcp = _chain(service, port, "tcp", "envoy.filters.network.tcp_proxy",
                 _tcp_proxy(service, port, tcp_plan(snap, service, port)))
    if port.protocol == "http":
        return [http]
    if port.protocol == "tcp":
        return [tcp]
    http.filter_chain_match.application_protocols.extend(SNIFFED_HTTP)
    return [http, tcp]


def _chain(service: Service, port: Port, kind: str, filter_name: str, config: Message
           ) -> listener_components_pb2.FilterChain:
    chain = listener_components_pb2.FilterChain(name=f"{service.hostname}:{port.port}/{kind}")
    chain.filter_chain_match.destination_port.value = port.port
    chain.filter_chain_match.prefix_ranges.add(
        address_prefix=service.vip, prefix_len=wrappers_pb2.UInt32Value(value=32))
    chain.filters.add(name=filter_name, typed_config=pack(config))
    return chain


def _stat_prefix(service: Service, port: Port) -> str:
    return f"inbound_vip_{port.port}_{service.name}.{service.namespace}"


def _http_connection_manager(service: Service, port: Port) -> hcm_pb2.HttpConnectionManager:
    manager = hcm_pb2.HttpConnectionManager(
        stat_prefix=_stat_prefix(service, port),
        codec_type=hcm_pb2.HttpConnectionManager.AUTO,
        # The demo counts the backends' `Server:` header; by default Envoy overwrites it.
        server_header_transformation=hcm_pb2.HttpConnectionManager.PASS_THROUGH,
    )
    # Envoy lower-cases HTTP/1 header names; the guide's `curl -v ... | grep Server:` needs
    # them as the backend wrote them.
    manager.http_protocol_options.header_key_format.proper_case_words.SetInParent()
    manager.rds.route_config_name = route_name(service, port)
    manager.rds.config_source.CopyFrom(ads_config_source())
    manager.http_filters.add(name="envoy.filters.http.router", typed_config=pack(router_pb2.Router()))
    return manager


def _tcp_proxy(service: Service, port: Port, weighted: Weighted) -> tcp_proxy_pb2.TcpProxy:
    proxy = tcp_proxy_pb2.TcpProxy(stat_prefix=f"{_stat_prefix(service, port)}_tcp")
    live = [(w, key) for w, key in weighted if w > 0] or weighted[:1]
    if len(live) == 1:
        proxy.cluster = live[0][1].name
    else:
        for weight, key in live:
            proxy.weighted_clusters.clusters.add(name=key.name, weight=weight)
    return proxy


# ---------------------------------------------------------------- clusters and endpoints


def build_cluster(name: str) -> cluster_pb2.Cluster:
    cluster = cluster_pb2.Cluster(
        name=name,
        type=cluster_pb2.Cluster.EDS,
        connect_timeout=duration_pb2.Duration(seconds=CONNECT_TIMEOUT_S),
        lb_policy=cluster_pb2.Cluster.LEAST_REQUEST,
    )
    cluster.eds_cluster_config.service_name = name
    cluster.eds_cluster_config.eds_config.CopyFrom(ads_config_source())
    return cluster


def build_load_assignment(snap: Snapshot, key: ClusterKey) -> endpoint_pb2.ClusterLoadAssignment:
    assignment = endpoint_pb2.ClusterLoadAssignment(cluster_name=key.name)
    group = assignment.endpoints.add()
    subset: dict[str, str] = {}
    if key.subset:
        labels = snap.subset_labels(key.service, key.subset)
        if labels is None:
            return assignment  # an unknown subset has no endpoints (Istio: 503 no healthy upstream)
        subset = labels
    for endpoint in snap.endpoints.get((key.service.namespace, key.service.name), []):
        if any(endpoint.labels.get(k) != v for k, v in subset.items()):
            continue
        target = endpoint.ports.get(key.port.name)
        if target is None and isinstance(key.port.target_port, int):
            target = key.port.target_port
        if target is not None:
            group.lb_endpoints.add().endpoint.address.CopyFrom(socket_address(endpoint.ip, target))
    return assignment


# ---------------------------------------------------------------- bootstrap


def build_bootstrap(node_id: str, cluster: str, xds_socket: str, admin: address_pb2.Address
                    ) -> bootstrap_pb2.Bootstrap:
    """Envoy fetches everything over delta ADS from the controller's unix socket; the admin
    API listens where `admin` says (a unix socket in the sandbox, 127.0.0.1 in a pod)."""
    bootstrap = bootstrap_pb2.Bootstrap()
    bootstrap.node.id = node_id
    bootstrap.node.cluster = cluster
    bootstrap.admin.address.CopyFrom(admin)
    ads = bootstrap.dynamic_resources.ads_config
    ads.api_type = config_source_pb2.ApiConfigSource.DELTA_GRPC
    ads.transport_api_version = config_source_pb2.V3
    ads.set_node_on_first_message_only = True
    ads.grpc_services.append(grpc_service_pb2.GrpcService(
        envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(cluster_name=XDS_CLUSTER)))
    bootstrap.dynamic_resources.lds_config.CopyFrom(ads_config_source())
    bootstrap.dynamic_resources.cds_config.CopyFrom(ads_config_source())
    bootstrap.static_resources.clusters.append(_xds_cluster(xds_socket))
    return bootstrap


def pipe_address(path: str) -> address_pb2.Address:
    return address_pb2.Address(pipe=address_pb2.Pipe(path=path))


def _xds_cluster(xds_socket: str) -> cluster_pb2.Cluster:
    cluster = cluster_pb2.Cluster(
        name=XDS_CLUSTER,
        type=cluster_pb2.Cluster.STATIC,
        connect_timeout=duration_pb2.Duration(seconds=CONNECT_TIMEOUT_S),
    )
    cluster.load_assignment.cluster_name = XDS_CLUSTER
    endpoint = cluster.load_assignment.endpoints.add().lb_endpoints.add().endpoint
    endpoint.address.CopyFrom(pipe_address(xds_socket))
    options = http_protocol_options_pb2.HttpProtocolOptions()
    options.explicit_http_config.http2_protocol_options.SetInParent()
    cluster.typed_extension_protocol_options[
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].CopyFrom(pack(options))
    return cluster


# ---------------------------------------------------------------- helpers


def ads_config_source() -> config_source_pb2.ConfigSource:
    source = config_source_pb2.ConfigSource(resource_api_version=config_source_pb2.V3)
    source.ads.SetInParent()
    return source


def socket_address(ip: str, port: int) -> address_pb2.Address:
    return address_pb2.Address(socket_address=address_pb2.SocketAddress(
        address=ip, port_value=port, protocol=address_pb2.SocketAddress.TCP))


def _duration(seconds: float) -> duration_pb2.Duration:
    whole = int(seconds)
    return duration_pb2.Duration(seconds=whole, nanos=int(round((seconds - whole) * 1e9)))


def pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed
