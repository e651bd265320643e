"""The sandbox waypoint's Envoy configuration: the cluster waypoint's own builders
(`kmeshctl.waypoint.config`) fed with the objects a cluster's API server would serve for
the sandbox topology. What the sandbox adds is only what a cluster would provide: each
Service's ClusterIP (the VIP `up` allocated), an EndpointSlice per pod of a Service (its
IP and target ports), the Pods' labels and the Namespaces; VirtualServices and
DestinationRules go in as they were read.
"""

from __future__ import annotations

from typing import Any

from kmeshctl.sandbox import manifests as m
from kmeshctl.sandbox.topology import Topology, WaypointInfo
from kmeshctl.waypoint import model
from kmeshctl.waypoint.config import (
    CLUSTER_TYPE,
    ENDPOINT_TYPE,
    LISTENER_NAME,
    LISTENER_TYPE,
    PUSH_ORDER,
    ROUTE_TYPE,
    ClusterKey,
    RoutePlan,
    WaypointRef,
    WaypointResources,
    build_bootstrap,
    build_resources,
    http_plan,
    route_name,
)

# Re-exported: the sandbox's callers name these from here.
__all__ = ["CLUSTER_TYPE", "ENDPOINT_TYPE", "LISTENER_NAME", "LISTENER_TYPE", "PUSH_ORDER", "ROUTE_TYPE",
           "ClusterKey", "RoutePlan", "WaypointResources", "build_bootstrap", "build_waypoint_resources",
           "cluster_objects", "route_cluster_keys", "route_name", "snapshot"]


def build_waypoint_resources(topology: Topology, waypoint: WaypointInfo) -> WaypointResources:
    return build_resources(snapshot(topology), WaypointRef(waypoint.namespace, waypoint.name, waypoint.port))


def snapshot(topology: Topology) -> model.Snapshot:
    return model.snapshot_from_objects(cluster_objects(topology))


def route_cluster_keys(topology: Topology, service: m.Service, port: m.ServicePort) -> RoutePlan:
    """Per http route of the Service's VirtualService: (route, [(weight, cluster)])."""
    snap = snapshot(topology)
    shared = next(s for s in snap.services if (s.namespace, s.name) == (service.namespace, service.name))
    return http_plan(snap, shared, shared.port(port.port))


def cluster_objects(topology: Topology) -> list[dict[str, Any]]:
    """The API objects a cluster would serve for this topology."""
    manifests = topology.manifests
    objects: list[dict[str, Any]] = [
        {"kind": "Namespace", "metadata": {"name": ns.name, "labels": dict(ns.labels)}}
        for ns in manifests.namespaces.values()]
    for service in manifests.services:
        objects.append(_service(topology, service))
        objects.extend(_endpoint_slices(topology, service))
    objects += [{"kind": "Pod", "metadata": {"name": p.name, "namespace": p.namespace, "labels": dict(p.labels)}}
                for p in topology.pods]
    objects += [doc for doc in manifests.documents if doc.get("kind") in ("VirtualService", "DestinationRule")]
    return objects


def _service(topology: Topology, service: m.Service) -> dict[str, Any]:
    return {
        "kind": "Service",
        "metadata": {"name": service.name, "namespace": service.namespace, "labels": dict(service.labels)},
        "spec": {"clusterIP": topology.vip(service),
                 "ports": [{"name": p.name, "port": p.port, "targetPort": p.target_port,
                            "protocol": p.protocol} for p in service.ports]},
    }


def _endpoint_slices(topology: Topology, service: m.Service) -> list[dict[str, Any]]:
    slices = []
    for pod in topology.pods_matching(service.namespace, service.selector):
        ports = [{"name": p.name, "port": target} for p in service.ports
                 if (target := topology.target_port(pod, p)) is not None]
        slices.append({
            "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": f"{service.name}-{pod.name}", "namespace": service.namespace,
                         "labels": {model.SERVICE_NAME_LABEL: service.name}},
            "endpoints": [{"addresses": [pod.ip], "conditions": {"ready": True},
                           "targetRef": {"kind": "Pod", "name": pod.name, "namespace": pod.namespace}}],
            "ports": ports,
        })
    return slices
