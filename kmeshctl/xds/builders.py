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

from kmeshctl.node import model
from kmeshctl.xds.protos import authorization_pb2, workload_pb2
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
             node: str = "", service_account: str = "",
             authorization_policies: Sequence[str] = ()) -> workload_pb2.Workload:
    ips = [ip] if isinstance(ip, str) else list(ip)
    parts = uid.split("/")
    wl = workload_pb2.Workload(
        uid=uid, name=name or parts[-1], namespace=namespace or (parts[-2] if len(parts) > 2 else ""),
        addresses=[ip_bytes(i) for i in ips], node=node, service_account=service_account,
        authorization_policies=list(authorization_policies),
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


def _string_match(m: model.StringMatch) -> authorization_pb2.StringMatch:
    if m.presence:
        msg = authorization_pb2.StringMatch()
        msg.presence.SetInParent()
        return msg
    kind = next(k for k in ("exact", "prefix", "suffix") if getattr(m, k) is not None)
    return authorization_pb2.StringMatch(**{kind: getattr(m, kind)})


def _cidrs(nets: Iterable) -> list[authorization_pb2.Address]:
    return [authorization_pb2.Address(address=n.network_address.packed, length=n.prefixlen) for n in nets]


def _accounts(accounts: Iterable[model.ServiceAccountMatch]) -> list[authorization_pb2.ServiceAccountMatch]:
    return [authorization_pb2.ServiceAccountMatch(namespace=a.namespace, serviceAccount=a.service_account)
            for a in accounts]


def _match(m: model.Match) -> authorization_pb2.Match:
    return authorization_pb2.Match(
        namespaces=[_string_match(s) for s in m.namespaces], not_namespaces=[_string_match(s) for s in m.not_namespaces],
        principals=[_string_match(s) for s in m.principals], not_principals=[_string_match(s) for s in m.not_principals],
        source_ips=_cidrs(m.source_ips), not_source_ips=_cidrs(m.not_source_ips),
        destination_ips=_cidrs(m.destination_ips), not_destination_ips=_cidrs(m.not_destination_ips),
        destination_ports=list(m.destination_ports), not_destination_ports=list(m.not_destination_ports),
        service_accounts=_accounts(m.service_accounts), not_service_accounts=_accounts(m.not_service_accounts))


def authorization(policy: model.Policy) -> authorization_pb2.Authorization:
    """The istio.security.Authorization of a model.Policy (extensions are not written)."""
    return authorization_pb2.Authorization(
        name=policy.name, namespace=policy.namespace, scope=policy.scope, action=policy.action,
        dry_run=policy.dry_run,
        rules=[authorization_pb2.Rule(clauses=[authorization_pb2.Clause(matches=[_match(m) for m in clause.matches])
                                               for clause in rule.clauses]) for rule in policy.rules])


def authorizations(*policies: model.Policy) -> dict[str, authorization_pb2.Authorization]:
    """Resources keyed by their xDS name (``namespace/name``, as istiod names them)."""
    return {policy.key: authorization(policy) for policy in policies}
