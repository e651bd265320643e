"""Small constructors for workload API resources, for a control plane that publishes
them (the sandbox's xDS server, tests, benchmarks).

    server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(
        service("default", "fortio.default.svc.cluster.local", "10.96.0.10", [(80, 8080)]),
        workload("Kubernetes//Pod/default/fortio-v1", "10.0.0.5",
                 {"default/fortio.default.svc.cluster.local": [(80, 8080)]}),
    ))
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, Mapping, Optional, Sequence, Union

from kmeshctl.xds.protos import workload_pb2
from kmeshctl.xds.validation import service_key

PortPairs = Sequence[tuple[int, int]]


def ip_bytes(ip: str) -> bytes:
    return ipaddress.ip_address(ip).packed


def ports(pairs: PortPairs) -> list[workload_pb2.Port]:
    return [workload_pb2.Port(service_port=s, target_port=t) for s, t in pairs]


def waypoint_address(ip: str, port: int = 15008) -> workload_pb2.GatewayAddress:
    return workload_pb2.GatewayAddress(
        address=workload_pb2.NetworkAddress(address=ip_bytes(ip)), hbone_mtls_port=port)


def waypoint_hostname(namespace: str, hostname: str, port: int = 15008) -> workload_pb2.GatewayAddress:
    return workload_pb2.GatewayAddress(
        hostname=workload_pb2.NamespacedHostname(namespace=namespace, hostname=hostname),
        hbone_mtls_port=port)


def service(namespace: str, hostname: str, vip: Union[str, Iterable[str]], port_pairs: PortPairs,
            *, waypoint: Optional[workload_pb2.GatewayAddress] = None,
            routing_preference: Sequence[int] = (), mode: int = 0) -> workload_pb2.Service:
    vips = [vip] if isinstance(vip, str) else list(vip)
    svc = workload_pb2.Service(
        name=hostname.split(".")[0], namespace=namespace, hostname=hostname,
        addresses=[workload_pb2.NetworkAddress(address=ip_bytes(v)) for v in vips],
        ports=ports(port_pairs))
    if waypoint is not None:
        svc.waypoint.CopyFrom(waypoint)
    if routing_preference or mode:
        svc.load_balancing.routing_preference.extend(routing_preference)
        svc.load_balancing.mode = mode
    return svc


def workload(uid: str, ip: Union[str, Iterable[str]], services: Mapping[str, PortPairs], *,
             name: str = "", namespace: str = "", waypoint: Optional[workload_pb2.GatewayAddress] = None,
             proxy_protocol_port: int = 0, locality: Optional[tuple[str, str, str]] = None,
             node: str = "") -> workload_pb2.Workload:
    ips = [ip] if isinstance(ip, str) else list(ip)
    parts = uid.split("/")
    wl = workload_pb2.Workload(
        uid=uid, name=name or parts[-1], namespace=namespace or (parts[-2] if len(parts) > 2 else ""),
        addresses=[ip_bytes(i) for i in ips], node=node,
        services={key: workload_pb2.PortList(ports=ports(pairs)) for key, pairs in services.items()})
    if waypoint is not None:
        wl.waypoint.CopyFrom(waypoint)
    if proxy_protocol_port:
        wl.application_tunnel.protocol = workload_pb2.ApplicationTunnel.PROXY
        wl.application_tunnel.port = proxy_protocol_port
    if locality is not None:
        wl.locality.region, wl.locality.zone, wl.locality.subzone = locality
    return wl


def resource_name(item: Union[workload_pb2.Service, workload_pb2.Workload]) -> str:
    if isinstance(item, workload_pb2.Service):
        return service_key(item.namespace, item.hostname)
    return item.uid


def addresses(*items: Union[workload_pb2.Service, workload_pb2.Workload]) -> dict[str, workload_pb2.Address]:
    """Resources keyed by their xDS name, ready for ``XdsServer.set_resources``."""
    result = {}
    for item in items:
        if isinstance(item, workload_pb2.Service):
            result[resource_name(item)] = workload_pb2.Address(service=item)
        else:
            result[resource_name(item)] = workload_pb2.Address(workload=item)
    return result
