"""Responses read resource by resource (kmeshctl.xds.wire) mean what the whole message
means, and what a response's own waypoint order implies (issue 10: first-sync memory)."""

from __future__ import annotations

import logging

import pytest
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf.message import DecodeError

from kmeshctl.node.workload_cache import WorkloadCache
from kmeshctl.xds import WORKLOAD_ADDRESS_TYPE
from kmeshctl.xds.builders import addresses, service, waypoint_hostname, workload
from kmeshctl.xds.client import ClientConfig, Identity, XdsClient
from kmeshctl.xds.wire import DeltaResponse, split_resources

NS = "default"


def response(items: dict, removed: tuple[str, ...] = ()) -> discovery_pb2.DeltaDiscoveryResponse:
    message = discovery_pb2.DeltaDiscoveryResponse(
        type_url=WORKLOAD_ADDRESS_TYPE, nonce="n-7", system_version_info="v3",
        removed_resources=list(removed), control_plane=base_pb2.ControlPlane(identifier="istiod-1"))
    for name, address in items.items():
        added = message.resources.add(name=name, version=f"ver-{name}")
        added.resource.Pack(address)
    return message


def test_every_field_and_resource_reads_as_the_whole_message_does() -> None:
    items = addresses(service(NS, "a.default.svc.cluster.local", "10.96.0.1", [(80, 8080)]),
                      workload(f"Kubernetes//Pod/{NS}/a-1", "10.0.0.1", {}))
    message = response(items, removed=("gone-1", "gone-2"))
    lazy = DeltaResponse(message.SerializeToString())
    assert (lazy.type_url, lazy.nonce, lazy.system_version_info) == (WORKLOAD_ADDRESS_TYPE, "n-7", "v3")
    assert lazy.removed_resources == ["gone-1", "gone-2"]
    assert lazy.resource_count == 2
    assert list(lazy.resources) == list(message.resources)
    assert list(lazy.resources) == list(message.resources)  # readable again until released


def test_resources_between_other_fields_keep_their_order() -> None:
    # protobuf merges concatenated messages: repeated fields append, scalars take the last
    first = response(addresses(workload(f"Kubernetes//Pod/{NS}/x-1", "10.0.0.1", {})))
    second = response(addresses(workload(f"Kubernetes//Pod/{NS}/x-2", "10.0.0.2", {})))
    second.nonce = "n-8"
    raw = first.SerializeToString() + second.SerializeToString()
    whole = discovery_pb2.DeltaDiscoveryResponse.FromString(raw)
    lazy = DeltaResponse(raw)
    assert [r.name for r in lazy.resources] == [r.name for r in whole.resources] == \
        [f"Kubernetes//Pod/{NS}/x-1", f"Kubernetes//Pod/{NS}/x-2"]
    assert lazy.nonce == whole.nonce == "n-8"


@pytest.mark.parametrize("cut", [1, 2, 5, -1])
def test_a_cut_message_is_a_decode_error(cut: int) -> None:
    raw = response(addresses(workload(f"Kubernetes//Pod/{NS}/c-1", "10.0.0.1", {}))).SerializeToString()
    with pytest.raises(DecodeError):
        split_resources(raw[:cut])


def test_released_resources_cannot_be_read() -> None:
    lazy = DeltaResponse(response({}).SerializeToString())
    lazy.release()
    with pytest.raises(RuntimeError, match="released"):
        list(lazy.resources)


def _client() -> tuple[XdsClient, WorkloadCache]:
    cache = WorkloadCache()
    config = ClientConfig("127.0.0.1:1", Identity("10.0.0.9", "kmesh-a", "kmesh-system"), insecure=True)
    return XdsClient(config, cache, lambda delta: None), cache


def test_a_waypoint_later_in_the_same_response_is_not_held(caplog: pytest.LogCaptureFixture) -> None:
    client, cache = _client()
    wp = "waypoint.default.svc.cluster.local"
    waiting = workload(f"Kubernetes//Pod/{NS}/w-1", "10.0.0.1", {}, waypoint=waypoint_hostname(NS, wp))
    caplog.set_level(logging.INFO, logger="kmeshctl.xds.client")
    reply = client._handle(response(addresses(waiting, service(NS, wp, "10.96.0.30", [(15008, 15008)]))))
    assert not reply.HasField("error_detail")
    assert f"Kubernetes//Pod/{NS}/w-1" in cache.workloads and client.stats.waypoint_pending == 0
    assert "xds_waypoint_pending" not in caplog.text and "xds_waypoint_resolved" not in caplog.text
    assert client.held[WORKLOAD_ADDRESS_TYPE][f"Kubernetes//Pod/{NS}/w-1"] == f"ver-Kubernetes//Pod/{NS}/w-1"


def test_a_chain_of_waypoints_in_one_response_resolves_whole() -> None:
    client, cache = _client()
    hosts = [f"{name}.default.svc.cluster.local" for name in ("a", "b", "c")]
    # a's waypoint is b, b's is c; c comes last
    chain = [service(NS, hosts[0], "10.96.0.1", [(80, 80)], waypoint=waypoint_hostname(NS, hosts[1])),
             service(NS, hosts[1], "10.96.0.2", [(80, 80)], waypoint=waypoint_hostname(NS, hosts[2])),
             service(NS, hosts[2], "10.96.0.3", [(15008, 15008)])]
    reply = client._handle(response(addresses(*chain)))
    assert not reply.HasField("error_detail")
    assert all(f"{NS}/{h}" in cache.services for h in hosts) and client.stats.waypoint_pending == 0


def test_a_waypoint_still_unknown_at_the_end_is_held_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    client, cache = _client()
    caplog.set_level(logging.INFO, logger="kmeshctl.xds.client")
    waiting = workload(f"Kubernetes//Pod/{NS}/h-1", "10.0.0.1", {},
                       waypoint=waypoint_hostname(NS, "nowhere.default.svc.cluster.local"))
    reply = client._handle(response(addresses(waiting)))
    assert not reply.HasField("error_detail")
    assert f"Kubernetes//Pod/{NS}/h-1" not in cache.workloads and client.stats.waypoint_pending == 1
    assert "event=xds_waypoint_pending" in caplog.text
