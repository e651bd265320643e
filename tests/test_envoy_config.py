"""The sandbox waypoint's Envoy configuration built from the fortio example: the cluster
waypoint's builders fed by the sandbox topology (pure builders)."""

from __future__ import annotations

import copy

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import config_source_pb2
from envoy.extensions.filters.listener.proxy_protocol.v3 import proxy_protocol_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)

from kmeshctl.sandbox import manifests as m
from kmeshctl.sandbox.envoy_config import (
    CLUSTER_TYPE,
    ENDPOINT_TYPE,
    LISTENER_TYPE,
    ROUTE_TYPE,
    build_bootstrap,
    build_waypoint_resources,
)
from kmeshctl.sandbox.topology import PodInfo, Topology, WaypointInfo
from kmeshctl.waypoint.config import BLACKHOLE_CLUSTER, pipe_address

FQDN = "fortio.default.svc.cluster.local"
V1, V2, ALL = (f"outbound|80|v1|{FQDN}", f"outbound|80|v2|{FQDN}", f"outbound|80||{FQDN}")
ROUTE = f"inbound-vip|80|http|{FQDN}"


def _topology(manifests: m.Manifests | None = None) -> Topology:
    manifests = manifests or m.load(m.default_files())
    pods = [
        PodInfo("fortio-v1-0", "default", "fortio-v1", {"app": "fortio", "version": "v1"}, "10.244.0.3"),
        PodInfo("fortio-v1-1", "default", "fortio-v1", {"app": "fortio", "version": "v1"}, "10.244.0.6"),
        PodInfo("fortio-v2-0", "default", "fortio-v2", {"app": "fortio", "version": "v2"}, "10.244.0.4"),
        PodInfo("netutils-0", "default", "netutils", {"app": "netutils"}, "10.244.0.5"),
    ]
    waypoint = WaypointInfo("waypoint", "default", "waypoint", "10.244.0.2")
    return Topology(manifests, pods, {("default", "fortio"): "10.96.0.10"}, [waypoint])


def _resources(topology: Topology):
    return build_waypoint_resources(topology, topology.waypoints[0])


def test_listener_reads_proxy_protocol_and_matches_the_original_destination() -> None:
    listener = _resources(_topology()).listeners["waypoint"]
    assert listener.address.socket_address.port_value == 15008
    [listener_filter] = listener.listener_filters
    assert listener_filter.name == "envoy.filters.listener.proxy_protocol"
    assert listener_filter.typed_config.Is(proxy_protocol_pb2.ProxyProtocol.DESCRIPTOR)
    [chain] = listener.filter_chains
    match = chain.filter_chain_match
    assert match.destination_port.value == 80
    assert [(r.address_prefix, r.prefix_len.value) for r in match.prefix_ranges] == [("10.96.0.10", 32)]
    manager = hcm_pb2.HttpConnectionManager()
    chain.filters[0].typed_config.Unpack(manager)
    assert manager.server_header_transformation == hcm_pb2.HttpConnectionManager.PASS_THROUGH
    assert manager.http_protocol_options.header_key_format.HasField("proper_case_words")
    assert manager.rds.route_config_name == ROUTE
    assert manager.rds.config_source.HasField("ads")
    assert [f.name for f in manager.http_filters] == ["envoy.filters.http.router"]


def test_virtual_service_weights_become_weighted_clusters() -> None:
    route = _resources(_topology()).routes[ROUTE].virtual_hosts[0].routes[0]
    assert route.match.prefix == "/"
    weights = {c.name: c.weight.value for c in route.route.weighted_clusters.clusters}
    assert weights == {V1: 90, V2: 10}


def _with_documents(edit) -> m.Manifests:
    """The example's manifests after `edit(documents)` (the sandbox record holds documents)."""
    documents = copy.deepcopy(m.load(m.default_files()).documents)
    edit(documents)
    return m.from_documents(documents)


def _set_weights(documents: list[dict], weights: list[int]) -> None:
    vs = next(d for d in documents if d["kind"] == "VirtualService")
    for route, weight in zip(vs["spec"]["http"][0]["route"], weights):
        route["weight"] = weight


def test_a_zero_weight_leaves_one_direct_cluster() -> None:
    manifests = _with_documents(lambda docs: _set_weights(docs, [0, 100]))
    route = _resources(_topology(manifests)).routes[ROUTE].virtual_hosts[0].routes[0]
    assert route.route.cluster == V2
    assert not route.route.HasField("weighted_clusters")


def test_subset_clusters_hold_the_pods_of_their_version() -> None:
    resources = _resources(_topology())
    assert set(resources.clusters) == {V1, V2, ALL, BLACKHOLE_CLUSTER}
    cluster = resources.clusters[V1]
    assert cluster.type == cluster_pb2.Cluster.EDS
    assert cluster.eds_cluster_config.service_name == V1

    def endpoints(name: str) -> list[tuple[str, int]]:
        group = resources.endpoints[name].endpoints[0]
        return sorted((e.endpoint.address.socket_address.address,
                       e.endpoint.address.socket_address.port_value) for e in group.lb_endpoints)

    assert endpoints(V1) == [("10.244.0.3", 8080), ("10.244.0.6", 8080)]
    assert endpoints(V2) == [("10.244.0.4", 8080)]
    assert endpoints(ALL) == [("10.244.0.3", 8080), ("10.244.0.4", 8080), ("10.244.0.6", 8080)]


def test_resources_are_keyed_by_type_url() -> None:
    by_type = _resources(_topology()).by_type()
    assert set(by_type) == {LISTENER_TYPE, ROUTE_TYPE, CLUSTER_TYPE, ENDPOINT_TYPE}
    # Every EDS cluster has its endpoints; the blackhole (no Service) has none by design.
    assert set(by_type[ENDPOINT_TYPE]) == set(by_type[CLUSTER_TYPE]) - {BLACKHOLE_CLUSTER}


def test_service_without_virtual_service_routes_to_all_its_pods() -> None:
    manifests = _with_documents(lambda docs: docs.remove(next(d for d in docs if d["kind"] == "VirtualService")))
    resources = _resources(_topology(manifests))
    assert resources.routes[ROUTE].virtual_hosts[0].routes[0].route.cluster == ALL
    assert set(resources.clusters) == {ALL, BLACKHOLE_CLUSTER}


def test_bootstrap_uses_delta_ads_over_a_unix_socket(tmp_path) -> None:
    bootstrap = build_bootstrap("router~10.244.0.2~waypoint.default~default.svc.cluster.local",
                                "waypoint.default.svc.cluster.local",
                                str(tmp_path / "xds.sock"), pipe_address(str(tmp_path / "admin.sock")))
    ads = bootstrap.dynamic_resources.ads_config
    assert ads.api_type == config_source_pb2.ApiConfigSource.DELTA_GRPC
    assert ads.grpc_services[0].envoy_grpc.cluster_name == "xds-grpc"
    [xds] = bootstrap.static_resources.clusters
    address = xds.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address
    assert address.pipe.path == str(tmp_path / "xds.sock")
    assert bootstrap.admin.address.pipe.path == str(tmp_path / "admin.sock")
    assert bootstrap.dynamic_resources.lds_config.HasField("ads")


@pytest.mark.parametrize("weights", [[50, 40], [101, -1], [100]])
def test_bad_weights_are_refused(weights: list[int]) -> None:
    vs = m.load(m.default_files()).virtual_services[0]
    with pytest.raises(m.UsageError):
        m.with_weights(vs, weights)
