"""Parse once at the door: istio.workload / istio.security protobuf -> kmeshctl.model.

The upstream-encoded vectors (shared/vectors/workload-api, skipped without them) become
model objects that mean what their README says; model -> protobuf -> model is lossless;
repeated strings and port lists are shared between resources.
"""

from __future__ import annotations

import ipaddress

import pytest

from kmeshctl.node import model
from kmeshctl.xds import convert
from kmeshctl.xds.builders import service, waypoint_address, waypoint_hostname, workload
from kmeshctl.xds.protos import authorization_pb2, workload_pb2
from test_workload_vectors import load, needs_vectors

ip = ipaddress.ip_address


@needs_vectors
def test_hostname_waypoint_vector() -> None:
    svc = convert.address_of(load("service-hostname-waypoint"))
    assert isinstance(svc, model.Service) and svc.key == "default/fortio.default.svc.cluster.local"
    assert svc.addresses == (model.NetworkAddress(ip("10.96.0.10")),)
    assert svc.ports == (model.Port(80, 8080, workload_pb2.HTTP11),)
    assert svc.waypoint == model.Waypoint(service_key="default/waypoint.default.svc.cluster.local",
                                          hbone_mtls_port=15008)


@needs_vectors
def test_named_port_and_dual_stack_vectors() -> None:
    named = convert.address_of(load("workload-named-port"))
    assert isinstance(named, model.Workload) and named.uid == "Kubernetes//Pod/default/named-b-0"
    assert named.ports_for("default/named.default.svc.cluster.local") == (model.Port(80, 9090),)
    assert named.node == "node-1" and named.status == model.HEALTHY and named.waypoint is None
    dual = convert.address_of(load("workload-dual-stack"))
    assert dual.address_of(4) == ip("10.244.0.7") and dual.address_of(6) == ip("fd00:10:244::7")
    assert dual.network == "net-a" and dual.locality == model.Locality("r1", "z1", "s1")


@needs_vectors
def test_passthrough_dual_vector() -> None:
    ext = convert.address_of(load("service-passthrough-dual"))
    assert ext.load_balancing.mode == model.MODE_PASSTHROUGH and ext.ip_families == model.DUAL
    assert [a.ip for a in ext.addresses] == [ip("10.96.0.30"), ip("fd00:96::30")]
    assert ext.ports == (model.Port(443, 0),)


@needs_vectors
def test_authorization_vector_keeps_its_meaning() -> None:
    policy = convert.policy_of(load("authz-deny-ns-sa-port"))
    assert (policy.key, policy.scope, policy.action) == (
        "default/deny-from-test", model.POLICY_WORKLOAD_SELECTOR, model.DENY)
    (rule,) = policy.rules
    first, second = rule.clauses
    assert first.matches == (model.Match(namespaces=(model.StringMatch(exact="test"),),
                                         service_accounts=(model.ServiceAccountMatch("test", "client"),)),)
    assert second.matches == (model.Match(destination_ports=(8080,)),)


def test_model_round_trips_through_the_wire() -> None:
    svc = service("ns", "a.ns.svc.cluster.local", "10.96.0.1", [(80, 8080), (443, 0)],
                  waypoint=waypoint_hostname("ns", "wp.ns.svc.cluster.local"))
    svc.addresses.add(address=ip("fd00::1").packed, length=128)
    wl = workload("Kubernetes//Pod/ns/a-0", "10.1.0.1", {"ns/a.ns.svc.cluster.local": [(80, 8080)]},
                  waypoint=waypoint_address("10.1.0.99"), locality=("r", "z", "s"), node="n1")
    wl.application_tunnel.protocol, wl.application_tunnel.port = workload_pb2.ApplicationTunnel.PROXY, 15019
    for message, to_model, back in ((svc, convert.service_of, convert.service_message),
                                     (wl, convert.workload_of, convert.workload_message)):
        once = to_model(message)
        assert to_model(back(once)) == once
    assert convert.service_of(svc).addresses[1] == model.NetworkAddress(ip("fd00::1"), "", 128)
    assert convert.workload_of(wl).application_tunnel == model.ApplicationTunnel(model.TUNNEL_PROXY, 15019)


def test_repeated_values_are_shared_between_resources() -> None:
    a = convert.workload_of(workload("Kubernetes//Pod/ns/a", "10.1.0.1", {"ns/s.ns.svc": [(80, 8080)]}))
    b = convert.workload_of(workload("Kubernetes//Pod/ns/b", "10.1.0.2", {"ns/s.ns.svc": [(80, 8080)]}))
    assert a.services[0][1] is b.services[0][1] and a.services[0][0] is b.services[0][0]
    assert a.namespace is b.namespace


def test_string_match_kinds() -> None:
    assert model.StringMatch(exact="a").matches("a") and not model.StringMatch(exact="a").matches("ab")
    assert model.StringMatch(prefix="spiffe://td/").matches("spiffe://td/ns/x/sa/y")
    assert model.StringMatch(suffix="/sa/y").matches("spiffe://td/ns/x/sa/y")
    assert model.StringMatch(presence=True).matches("x") and not model.StringMatch(presence=True).matches("")


def test_policy_json_names_enums_and_prefixes() -> None:
    policy = authorization_pb2.Authorization(name="p", namespace="ns", action=authorization_pb2.DENY)
    match = policy.rules.add().clauses.add().matches.add()
    match.source_ips.add(address=ip("10.0.0.0").packed, length=8)
    match.principals.add(prefix="spiffe://cluster.local/ns/x/")
    data = convert.policy_json(convert.policy_of(policy))
    assert data["action"] == "DENY" and data["scope"] == "GLOBAL"
    assert data["rules"][0]["clauses"][0]["matches"][0] == {
        "principals": [{"prefix": "spiffe://cluster.local/ns/x/"}], "source_ips": ["10.0.0.0/8"]}
