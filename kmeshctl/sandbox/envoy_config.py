"""Pure builders: the waypoint's Envoy configuration (Listener, RouteConfiguration,
Cluster, ClusterLoadAssignment protos) from the sandbox topology, and its bootstrap.

The waypoint works like an Istio waypoint fed by Kmesh's eBPF: every connection starts
with a PROXY protocol header (v2 from the eBPF path; v1 accepted too) carrying the
original destination, the Service VIP:port. Envoy's `proxy_protocol` listener filter
restores that address as the connection's local address, a filter chain per Service
VIP:port picks the routes of that Service, and the VirtualService's weighted subsets
become weighted clusters. Clusters and endpoints come over EDS: a weight change is one
RouteConfiguration push.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envoy.config.bootstrap.v3 import bootstrap_pb2
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import address_pb2, config_source_pb2, grpc_service_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.listener.proxy_protocol.v3 import proxy_protocol_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2
from google.protobuf import any_pb2, duration_pb2, wrappers_pb2
from google.protobuf.message import Message

from kmeshctl.sandbox.manifests import HttpRoute, Service, ServicePort, VirtualService
from kmeshctl.sandbox.topology import PodInfo, Topology, WaypointInfo

LISTENER_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener"
ROUTE_TYPE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ENDPOINT_TYPE = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
LISTENER_NAME = "waypoint"
XDS_CLUSTER = "xds-grpc"
CONNECT_TIMEOUT_S = 2


@dataclass(frozen=True)
class ClusterKey:
    """One upstream cluster: a Service port, optionally narrowed to a subset."""

    service: Service
    port: ServicePort
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


def build_waypoint_resources(topology: Topology, waypoint: WaypointInfo) -> WaypointResources:
    services = topology.services_of(waypoint)
    routes: dict[str, route_pb2.RouteConfiguration] = {}
    cluster_keys: dict[str, ClusterKey] = {}
    for service in services:
        for port in service.ports:
            keys = route_cluster_keys(topology, service, port)
            routes[route_name(service, port)] = build_route_configuration(
                route_name(service, port), keys)
            cluster_keys.update((key.name, key) for _, weighted in keys for _, key in weighted)
            default = ClusterKey(service, port)
            cluster_keys.setdefault(default.name, default)
    listener = build_listener(topology, waypoint, services)
    return WaypointResources(
        listeners={listener.name: listener},
        routes=routes,
        clusters={name: build_cluster(name) for name in cluster_keys},
        endpoints={name: build_load_assignment(topology, key) for name, key in cluster_keys.items()},
    )


def route_name(service: Service, port: ServicePort) -> str:
    return f"inbound-vip|{port.port}|http|{service.hostname}"


# ---------------------------------------------------------------- routes

# Per http route of a VirtualService (None: the catch-all without one): weighted clusters.
RoutePlan = list[tuple[HttpRoute | None, list[tuple[int, ClusterKey]]]]


def route_cluster_keys(topology: Topology, service: Service, port: ServicePort) -> RoutePlan:
    """Per http route of the Service's VirtualService: (route, [(weight, cluster)]).
    Without a VirtualService: one catch-all route to the whole Service port."""
    vs = virtual_service_for(topology, service)
    if vs is None:
        return [(None, [(100, ClusterKey(service, port))])]
    result = []
    for route in vs.http:
        weighted = []
        for dest in route.destinations:
            target = topology.manifests.service_for_host(dest.host, vs.namespace)
            assert target is not None  # manifests.validate checked it
            target_port = _destination_port(target, dest.port, port)
            weighted.append((dest.weight, ClusterKey(target, target_port, dest.subset)))
        result.append((route, weighted))
    return result


def virtual_service_for(topology: Topology, service: Service) -> VirtualService | None:
    manifests = topology.manifests
    return next((vs for vs in manifests.virtual_services
                 if any(manifests.service_for_host(h, vs.namespace) == service for h in vs.hosts)),
                None)


def _destination_port(target: Service, number: int | None, incoming: ServicePort) -> ServicePort:
    if number is not None:
        port = next((p for p in target.ports if p.port == number), None)
        if port is not None:
            return port
    if len(target.ports) == 1:
        return target.ports[0]
    return next((p for p in target.ports if p.port == incoming.port), target.ports[0])


def build_route_configuration(name: str, routes: RoutePlan) -> route_pb2.RouteConfiguration:
    config = route_pb2.RouteConfiguration(name=name)
    host = config.virtual_hosts.add(name=name, domains=["*"])
    for route, weighted in routes:
        host.routes.append(_route(route, weighted))
    return config


def _route(route: HttpRoute | None, weighted: list[tuple[int, ClusterKey]]
           ) -> route_components_pb2.Route:
    result = route_components_pb2.Route(match=_match(route))
    live = [(w, key) for w, key in weighted if w > 0]
    if len(live) == 1:
        result.route.cluster = live[0][1].name
    else:
        for weight, key in live:
            result.route.weighted_clusters.clusters.add(
                name=key.name, weight=wrappers_pb2.UInt32Value(value=weight))
    return result


def _match(route: HttpRoute | None) -> route_components_pb2.RouteMatch:
    if route is None or not route.matches:
        return route_components_pb2.RouteMatch(prefix="/")
    first = route.matches[0]  # Istio ORs matches; the sandbox supports one per route
    if first.kind == "exact":
        return route_components_pb2.RouteMatch(path=first.value)
    return route_components_pb2.RouteMatch(prefix=first.value)


# ---------------------------------------------------------------- listener


def build_listener(topology: Topology, waypoint: WaypointInfo,
                   services: list[Service]) -> listener_pb2.Listener:
    listener = listener_pb2.Listener(
        name=LISTENER_NAME,
        address=socket_address("0.0.0.0", waypoint.port),
    )
    listener.listener_filters.add(
        name="envoy.filters.listener.proxy_protocol",
        typed_config=pack(proxy_protocol_pb2.ProxyProtocol()),
    )
    for service in services:
        for port in service.ports:
            listener.filter_chains.append(_filter_chain(topology.vip(service), service, port))
    return listener


def _filter_chain(vip: str, service: Service, port: ServicePort
                  ) -> listener_components_pb2.FilterChain:
    chain = listener_components_pb2.FilterChain(name=f"{service.hostname}:{port.port}")
    chain.filter_chain_match.destination_port.value = port.port
    chain.filter_chain_match.prefix_ranges.add(
        address_prefix=vip, prefix_len=wrappers_pb2.UInt32Value(value=32))
    chain.filters.add(name="envoy.filters.network.http_connection_manager",
                      typed_config=pack(_http_connection_manager(service, port)))
    return chain


def _http_connection_manager(service: Service, port: ServicePort) -> hcm_pb2.HttpConnectionManager:
    manager = hcm_pb2.HttpConnectionManager(
        stat_prefix=f"inbound_vip_{port.port}_{service.name}.{service.namespace}",
        codec_type=hcm_pb2.HttpConnectionManager.AUTO,
        # The demo counts the backends' `Server:` header; by default Envoy overwrites it.
        server_header_transformation=hcm_pb2.HttpConnectionManager.PASS_THROUGH,
    )
    # Envoy lower-cases HTTP/1 header names; the guide's `curl -v ... | grep Server:` needs
    # them as the backend wrote them.
    manager.http_protocol_options.header_key_format.proper_case_words.SetInParent()
    manager.rds.route_config_name = route_name(service, port)
    manager.rds.config_source.CopyFrom(ads_config_source())
    manager.http_filters.add(name="envoy.filters.http.router",
                             typed_config=pack(router_pb2.Router()))
    return manager


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


def build_load_assignment(topology: Topology, key: ClusterKey) -> endpoint_pb2.ClusterLoadAssignment:
    assignment = endpoint_pb2.ClusterLoadAssignment(cluster_name=key.name)
    group = assignment.endpoints.add()
    for pod in endpoint_pods(topology, key):
        target = topology.target_port(pod, key.port)
        if target is None:
            continue
        group.lb_endpoints.add().endpoint.address.CopyFrom(socket_address(pod.ip, target))
    return assignment


def endpoint_pods(topology: Topology, key: ClusterKey) -> list[PodInfo]:
    selectors = [key.service.selector]
    if key.subset:
        rule = topology.manifests.destination_rule_for(key.service)
        subset = next((s for s in rule.subsets if s.name == key.subset), None) if rule else None
        if subset is None:
            return []
        selectors.append(subset.labels)
    return topology.pods_matching(key.service.namespace, *selectors)


# ---------------------------------------------------------------- bootstrap


def build_bootstrap(node_id: str, cluster: str, xds_socket: Path, admin_socket: Path
                    ) -> bootstrap_pb2.Bootstrap:
    """Envoy fetches everything over delta ADS from the control plane's unix socket;
    the admin API listens on a unix socket so the host reaches it without entering the pod."""
    bootstrap = bootstrap_pb2.Bootstrap()
    bootstrap.node.id = node_id
    bootstrap.node.cluster = cluster
    bootstrap.admin.address.pipe.path = str(admin_socket)
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


def _xds_cluster(xds_socket: Path) -> cluster_pb2.Cluster:
    cluster = cluster_pb2.Cluster(
        name=XDS_CLUSTER,
        type=cluster_pb2.Cluster.STATIC,
        connect_timeout=duration_pb2.Duration(seconds=CONNECT_TIMEOUT_S),
    )
    cluster.load_assignment.cluster_name = XDS_CLUSTER
    endpoint = cluster.load_assignment.endpoints.add().lb_endpoints.add().endpoint
    endpoint.address.pipe.path = str(xds_socket)
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


def pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed
