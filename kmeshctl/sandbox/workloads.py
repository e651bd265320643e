"""The workload API (istio.workload.Address resources) the sandbox control plane serves
the node agent, as istiod would for the same cluster: one Service per Kubernetes
Service (VIP, port pairs, its waypoint), one Workload per pod (its Services' port pairs),
and one Workload per waypoint pod advertising `application_tunnel.protocol = PROXY`
(stock Envoy reads PROXY v2, not the Kmesh TLV)."""

from __future__ import annotations

from google.protobuf.message import Message

from kmeshctl.sandbox.authz import selected
from kmeshctl.sandbox.manifests import Service
from kmeshctl.sandbox.topology import SANDBOX_NODE, PodInfo, Topology, WaypointInfo
from kmeshctl.xds import WORKLOAD_ADDRESS_TYPE
from kmeshctl.xds.builders import addresses, service, waypoint_address, workload
from kmeshctl.xds.protos import workload_pb2
from kmeshctl.xds.validation import service_key


def build_workload_resources(topology: Topology) -> dict[str, dict[str, Message]]:
    items: list[workload_pb2.Service | workload_pb2.Workload] = []
    items += [_service(topology, s) for s in topology.manifests.services]
    items += [_workload(topology, p) for p in topology.pods]
    items += [_waypoint_workload(w) for w in topology.waypoints]
    return {WORKLOAD_ADDRESS_TYPE: addresses(*items)}


def _service(topology: Topology, svc: Service) -> workload_pb2.Service:
    waypoint = topology.waypoint_of(svc)
    pairs = [(p.port, p.target_port if isinstance(p.target_port, int) else 0) for p in svc.ports]
    return service(svc.namespace, svc.hostname, topology.vip(svc), pairs,
                   waypoint=waypoint_address(waypoint.ip, waypoint.port) if waypoint else None)


def _workload(topology: Topology, pod: PodInfo) -> workload_pb2.Workload:
    services: dict[str, list[tuple[int, int]]] = {}
    for svc in topology.manifests.services:
        if pod not in topology.pods_matching(svc.namespace, svc.selector):
            continue
        pairs = [(p.port, target) for p in svc.ports
                 if (target := topology.target_port(pod, p)) is not None]
        services[service_key(svc.namespace, svc.hostname)] = pairs
    policies = selected(topology.manifests.authorization_policies, pod.namespace, pod.labels)
    return workload(pod.uid, pod.ip, services, name=pod.name, namespace=pod.namespace,
                    node=SANDBOX_NODE, service_account=topology.deployment(pod).service_account,
                    authorization_policies=policies)


def _waypoint_workload(waypoint: WaypointInfo) -> workload_pb2.Workload:
    uid = f"Kubernetes//Pod/{waypoint.namespace}/{waypoint.pod}"
    return workload(uid, waypoint.ip, {}, name=waypoint.pod, namespace=waypoint.namespace,
                    proxy_protocol_port=waypoint.port, node=SANDBOX_NODE)
