"""The cluster waypoint's model and Envoy builders from API objects as the API server
serves them (pure: no cluster, no Envoy)."""

from __future__ import annotations

import pytest
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2

from kmeshctl.waypoint import deploy, model
from kmeshctl.waypoint.config import WaypointRef, build_resources

FQDN = "fortio.default.svc.cluster.local"
WAYPOINT = WaypointRef("default", "waypoint", 15019)


def _service(name: str, ports: list[dict], labels: dict | None = None, vip: str = "10.96.0.20") -> dict:
    return {"kind": "Service", "metadata": {"name": name, "namespace": "default",
                                            "labels": labels if labels is not None else {"istio.io/use-waypoint": "waypoint"}},
            "spec": {"clusterIP": vip, "ports": ports}}


def _slice(service: str, pod: str, ip: str, ports: list[dict], ready: bool = True) -> dict:
    return {"kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": f"{service}-{pod}", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": service}},
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ready},
                           "targetRef": {"kind": "Pod", "name": pod, "namespace": "default"}}],
            "ports": ports}


def _pod(name: str, version: str) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "default",
                                        "labels": {"app": "fortio", "version": version}}}


def _objects(vs_spec: dict | None = None) -> list[dict]:
    objs = [
        {"kind": "Namespace", "metadata": {"name": "default", "labels": {}}},
        _service("fortio", [{"name": "http", "port": 80, "targetPort": 8080}], vip="10.96.0.10"),
        _service("tcp-echo", [{"name": "tcp", "port": 9000, "targetPort": 8078}], vip="10.96.0.11"),
        _service("plain", [{"name": "", "port": 7000, "targetPort": 7000}], vip="10.96.0.12"),
        _service("elsewhere", [{"name": "http", "port": 80}], labels={}, vip="10.96.0.13"),
        _pod("v1-a", "v1"), _pod("v2-a", "v2"),
        _slice("fortio", "v1-a", "10.244.0.3", [{"name": "http", "port": 8080}]),
        _slice("fortio", "v2-a", "10.244.0.4", [{"name": "http", "port": 8080}]),
        _slice("fortio", "v2-a", "10.244.0.9", [{"name": "http", "port": 8080}], ready=False),
        _slice("tcp-echo", "v1-a", "10.244.0.3", [{"name": "tcp", "port": 8078}]),
        {"kind": "DestinationRule", "apiVersion": "networking.istio.io/v1", "metadata": {"name": "fortio", "namespace": "default"},
         "spec": {"host": "fortio", "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                                 {"name": "v2", "labels": {"version": "v2"}}]}},
    ]
    if vs_spec is not None:
        objs.append({"kind": "VirtualService", "apiVersion": "networking.istio.io/v1alpha3",
                     "metadata": {"name": "fortio", "namespace": "default"}, "spec": vs_spec})
    return objs


def _resources(vs_spec: dict | None = None):
    return build_resources(model.snapshot_from_objects(_objects(vs_spec)), WAYPOINT)


def _chains(resources):
    return {c.name: c for c in resources.listeners["waypoint"].filter_chains}


@pytest.mark.parametrize("name,app_protocol,protocol", [
    ("http", "", "http"), ("http-web", "", "http"), ("grpc", "", "http"), ("tcp", "", "tcp"),
    ("tcp-db", "", "tcp"), ("", "tcp", "tcp"), ("web", "http", "http"), ("mysql", "", "tcp"), ("", "", "auto"),
    ("metrics", "", "auto"),
])
def test_port_protocol_follows_istios_naming(name: str, app_protocol: str, protocol: str) -> None:
    assert model.Port(name, 80, 80, app_protocol).protocol == protocol


def test_only_services_using_the_waypoint_get_filter_chains() -> None:
    chains = _chains(_resources())
    assert set(chains) == {f"{FQDN}:80/http", "tcp-echo.default.svc.cluster.local:9000/tcp",
                           "plain.default.svc.cluster.local:7000/http", "plain.default.svc.cluster.local:7000/tcp"}
    listener = _resources().listeners["waypoint"]
    assert listener.address.socket_address.port_value == 15019
    assert [f.name for f in listener.listener_filters] == ["envoy.filters.listener.proxy_protocol",
                                                           "envoy.filters.listener.http_inspector"]
    assert listener.continue_on_listener_filters_timeout


def test_a_waypoint_no_service_uses_yet_still_has_a_valid_listener() -> None:
    objs = [o for o in _objects() if o["kind"] != "Service"]
    listener = build_resources(model.snapshot_from_objects(objs), WAYPOINT).listeners["waypoint"]
    assert not listener.filter_chains  # Envoy accepts it thanks to the default chain
    proxy = tcp_proxy_pb2.TcpProxy()
    listener.default_filter_chain.filters[0].typed_config.Unpack(proxy)
    assert proxy.cluster == "BlackHoleCluster"


def test_an_opaque_tcp_port_is_a_tcp_proxy_to_the_service() -> None:
    chain = _chains(_resources())["tcp-echo.default.svc.cluster.local:9000/tcp"]
    assert [f.name for f in chain.filters] == ["envoy.filters.network.tcp_proxy"]
    proxy = tcp_proxy_pb2.TcpProxy()
    chain.filters[0].typed_config.Unpack(proxy)
    assert proxy.cluster == "outbound|9000||tcp-echo.default.svc.cluster.local"
    assignment = _resources().endpoints[proxy.cluster]
    assert [(e.endpoint.address.socket_address.address, e.endpoint.address.socket_address.port_value)
            for e in assignment.endpoints[0].lb_endpoints] == [("10.244.0.3", 8078)]


def test_a_port_of_unknown_protocol_is_sniffed_http_first_then_tcp() -> None:
    chains = _chains(_resources())
    http = chains["plain.default.svc.cluster.local:7000/http"]
    tcp = chains["plain.default.svc.cluster.local:7000/tcp"]
    assert list(http.filter_chain_match.application_protocols) == ["http/1.1", "h2c"]
    assert not tcp.filter_chain_match.application_protocols
    assert tcp.filters[0].name == "envoy.filters.network.tcp_proxy"


def test_weighted_subsets_header_and_prefix_matches_and_timeouts() -> None:
    vs = {"hosts": ["fortio"], "http": [
        {"match": [{"headers": {"X-Canary": {"exact": "yes"}}}, {"uri": {"prefix": "/canary"}}],
         "route": [{"destination": {"host": "fortio", "subset": "v2"}}], "timeout": "1.5s"},
        {"route": [{"destination": {"host": "fortio", "subset": "v1"}, "weight": 90},
                   {"destination": {"host": "fortio", "subset": "v2"}, "weight": 10}]}]}
    resources = _resources(vs)
    routes = resources.routes[f"inbound-vip|80|http|{FQDN}"].virtual_hosts[0].routes
    assert len(routes) == 3  # two ORed matches of the first route, then the weighted one
    assert routes[0].match.headers[0].name == "x-canary" and routes[0].match.headers[0].string_match.exact == "yes"
    assert routes[1].match.prefix == "/canary"
    assert routes[0].route.cluster == f"outbound|80|v2|{FQDN}"
    assert routes[0].route.timeout.seconds == 1 and routes[0].route.timeout.nanos == 500_000_000
    weights = {c.name: c.weight.value for c in routes[2].route.weighted_clusters.clusters}
    assert weights == {f"outbound|80|v1|{FQDN}": 90, f"outbound|80|v2|{FQDN}": 10}

    def ips(name: str) -> list[str]:
        return [e.endpoint.address.socket_address.address for e in resources.endpoints[name].endpoints[0].lb_endpoints]

    assert ips(f"outbound|80|v1|{FQDN}") == ["10.244.0.3"]
    assert ips(f"outbound|80|v2|{FQDN}") == ["10.244.0.4"]  # the not-ready address is left out
    manager = hcm_pb2.HttpConnectionManager()
    _chains(resources)[f"{FQDN}:80/http"].filters[0].typed_config.Unpack(manager)
    assert manager.server_header_transformation == hcm_pb2.HttpConnectionManager.PASS_THROUGH


def test_tcp_routes_of_a_virtual_service_split_tcp_by_weight() -> None:
    objs = _objects() + [{"kind": "VirtualService", "apiVersion": "networking.istio.io/v1",
                          "metadata": {"name": "echo", "namespace": "default"},
                          "spec": {"hosts": ["tcp-echo"], "tcp": [{"match": [{"port": 9000}], "route": [
                              {"destination": {"host": "tcp-echo", "subset": "a"}, "weight": 30},
                              {"destination": {"host": "tcp-echo", "subset": "b"}, "weight": 70}]}]}}]
    resources = build_resources(model.snapshot_from_objects(objs), WAYPOINT)
    proxy = tcp_proxy_pb2.TcpProxy()
    _chains(resources)["tcp-echo.default.svc.cluster.local:9000/tcp"].filters[0].typed_config.Unpack(proxy)
    assert [(c.name.split("|")[2], c.weight) for c in proxy.weighted_clusters.clusters] == [("a", 30), ("b", 70)]


def test_unsupported_virtual_service_parts_are_named_not_fatal() -> None:
    snap = model.snapshot_from_objects(_objects({"hosts": ["fortio"], "http": [
        {"route": [{"destination": {"host": "fortio"}}], "retries": {"attempts": 3}}]}))
    assert any("http.retries is not supported" in p for p in snap.problems)
    broken = model.snapshot_from_objects(_objects({"hosts": ["fortio"], "http": [{"route": "nope"}]}))
    assert any("malformed" in p for p in broken.problems) and not broken.virtual_services


@pytest.mark.parametrize("text,seconds", [("5s", 5), ("250ms", 0.25), ("1m", 60), ("1.5s", 1.5)])
def test_durations(text: str, seconds: float) -> None:
    assert model.parse_duration(text) == seconds


def test_rendered_waypoint_is_an_istio_waypoint_istiod_does_not_deploy() -> None:
    objs = {o["kind"]: o for o in deploy.render(deploy.WaypointParams("demo", "wp", "example.com/wp:1", 2))}
    gateway = objs["Gateway"]
    assert gateway["spec"]["gatewayClassName"] == "istio-waypoint"
    assert gateway["metadata"]["annotations"] == {"ambient.istio.io/waypoint-inbound-binding": "PROXY/15019"}
    # A Hostname address: istiod's manual deployment mode (it deploys nothing itself).
    assert gateway["spec"]["addresses"] == [{"type": "Hostname", "value": "wp.demo.svc.cluster.local"}]
    assert gateway["spec"]["listeners"] == [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]
    template = objs["Deployment"]["spec"]["template"]
    assert template["metadata"]["labels"]["gateway.networking.k8s.io/gateway-name"] == "wp"
    assert template["metadata"]["labels"]["istio.io/dataplane-mode"] == "none"
    assert [c["args"][:2] for c in template["spec"]["containers"]] == [["waypoint", "envoy"], ["waypoint", "controller"]]
    assert objs["Deployment"]["spec"]["replicas"] == 2
    assert {p["port"]: p["targetPort"] for p in objs["Service"]["spec"]["ports"]} == {15008: 15019, 15019: 15019}
    assert list(objs) == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Service", "Deployment", "Gateway"]


@pytest.mark.parametrize("params", [deploy.WaypointParams(name="Bad"), deploy.WaypointParams(namespace="a_b"),
                                    deploy.WaypointParams(replicas=-1), deploy.WaypointParams(replicas=21),
                                    deploy.WaypointParams(image="a b")])  # 0 is kubectl scale's (f36e)
def test_bad_waypoint_params_are_refused(params: deploy.WaypointParams) -> None:
    with pytest.raises(deploy.UsageError):
        deploy.render(params)
