"""istio.workload / istio.security protobuf <-> ``kmeshctl.node.model`` objects.

The xDS client converts each checked resource once (``service_of``, ``workload_of``,
``policy_of``); nothing outside kmeshctl/xds/ sees a protobuf. The reverse direction
(``address_message``, ``model_json``) serves the admin dump, whose JSON keeps the
workload API's own field names (``json_format``), and tests.

Strings that repeat across many resources (namespaces, node names, service keys) and
equal port lists are shared, not copied: 100,000 workloads of one namespace hold one
namespace string and, typically, a handful of port tuples.
"""

from __future__ import annotations

import ipaddress
import sys
from typing import Any, Iterable, Union

from google.protobuf import json_format

from kmeshctl.node import model
from kmeshctl.xds.protos import authorization_pb2, workload_pb2

_shared: model.SharedValues = model.SharedValues()  # LoadBalancing, ApplicationTunnel
_intern = sys.intern


def ip_of(raw: bytes) -> model.IPAddress:
    """A 4- or 16-byte address (checked by the validation before conversion)."""
    return model.ip_of(raw)


def _waypoint(gw: workload_pb2.GatewayAddress) -> model.Waypoint:
    if gw.WhichOneof("destination") == "hostname":
        key = _intern(model.service_key(gw.hostname.namespace, gw.hostname.hostname))
        return model.Waypoint(service_key=key, hbone_mtls_port=gw.hbone_mtls_port)
    return model.Waypoint(address=ip_of(gw.address.address), network=_intern(gw.address.network),
                          hbone_mtls_port=gw.hbone_mtls_port)


_port_tuples: model.SharedValues[tuple, tuple[model.Port, ...]] = model.SharedValues()
_service_lists: model.SharedValues[tuple, tuple[tuple[str, tuple[model.Port, ...]], ...]] = model.SharedValues()


def _port_numbers(ports: Any) -> tuple[tuple[int, int, int], ...]:
    return tuple([(p.service_port, p.target_port, p.app_protocol) for p in ports])


def _ports_of(numbers: tuple[tuple[int, int, int], ...]) -> tuple[model.Port, ...]:
    """Shared by value, looked up by plain ints (hashing ints is cheaper than hashing
    the dataclasses), so 100,000 workloads of one port list hold one tuple."""
    return _port_tuples.get(numbers, lambda plain: tuple(model.Port(*n) for n in plain))


def _ports(ports: Any) -> tuple[model.Port, ...]:
    return _ports_of(_port_numbers(ports))


def _services(entries: Any) -> tuple[tuple[str, tuple[model.Port, ...]], ...]:
    """A Workload's ``services`` (key, ports) pairs sorted by key, shared by value: the
    pods of one Deployment list the same services with the same ports, so they hold
    one tuple."""
    if not entries:
        return ()
    # looked up by each entry's encoding: one C call, where reading every port's fields
    # would cost more than the rest of the conversion
    plain = tuple(sorted([(key, port_list.SerializeToString()) for key, port_list in entries.items()]))
    return _service_lists.get(plain, lambda _: tuple([(_intern(key), _ports(entries[key].ports))
                                                      for key, _ in plain]))


def service_of(svc: workload_pb2.Service) -> model.Service:
    lb = svc.load_balancing
    balancing = _shared.get(model.LoadBalancing(lb.mode, tuple(lb.routing_preference), lb.health_policy))
    return model.Service(
        namespace=_intern(svc.namespace), hostname=_intern(svc.hostname), name=_intern(svc.name),
        addresses=tuple(model.NetworkAddress(ip_of(a.address), _intern(a.network),
                                             a.length if a.HasField("length") else None)
                        for a in svc.addresses),
        ports=_ports(svc.ports),
        waypoint=_waypoint(svc.waypoint) if svc.HasField("waypoint") else None,
        load_balancing=balancing, ip_families=svc.ip_families)


_localities: model.SharedValues[tuple[str, str, str], model.Locality] = model.SharedValues()


def _locality(region: str, zone: str, subzone: str) -> model.Locality:
    return _localities.get((region, zone, subzone), lambda names: model.Locality(*names))


def workload_of(wl: workload_pb2.Workload, name: str = "") -> model.Workload:
    """``name``: the resource's xDS name; istiod names a Workload by its uid, and the
    model then shares that string instead of holding a second copy."""
    loc = wl.locality
    tunnel = wl.application_tunnel
    uid = wl.uid
    return model.Workload(
        uid=name if name == uid else uid, name=wl.name, namespace=_intern(wl.namespace),
        addresses=tuple([ip_of(a) for a in wl.addresses]), network=_intern(wl.network),
        node=_intern(wl.node), cluster_id=_intern(wl.cluster_id),
        service_account=_intern(wl.service_account), trust_domain=_intern(wl.trust_domain),
        status=wl.status, network_mode=wl.network_mode,
        locality=_locality(loc.region, loc.zone, loc.subzone) if wl.HasField("locality") else None,
        waypoint=_waypoint(wl.waypoint) if wl.HasField("waypoint") else None,
        application_tunnel=(_shared.get(model.ApplicationTunnel(tunnel.protocol, tunnel.port))
                            if wl.HasField("application_tunnel") else None),
        services=_services(wl.services),
        authorization_policies=tuple([_intern(p) for p in wl.authorization_policies]))


AddressModel = Union[model.Service, model.Workload]


def address_of(address: workload_pb2.Address, name: str = "") -> AddressModel:
    """The model of a checked Address (a Service or a Workload) named ``name``."""
    if address.WhichOneof("type") == "service":
        return service_of(address.service)
    return workload_of(address.workload, name)


# ----------------------------------------------------------------- authorization


def _string_match(m: authorization_pb2.StringMatch) -> model.StringMatch:
    kind = m.WhichOneof("match_type")
    if kind == "presence":
        return model.StringMatch(presence=True)
    return model.StringMatch(**{kind: getattr(m, kind)}) if kind else model.StringMatch()


def _network(a: authorization_pb2.Address) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network((ip_of(a.address), a.length), strict=False)


def _match(m: authorization_pb2.Match) -> model.Match:
    def strings(field: Any) -> tuple[model.StringMatch, ...]:
        return tuple(_string_match(s) for s in field)

    def accounts(field: Any) -> tuple[model.ServiceAccountMatch, ...]:
        return tuple(model.ServiceAccountMatch(a.namespace, a.serviceAccount) for a in field)

    return model.Match(
        namespaces=strings(m.namespaces), not_namespaces=strings(m.not_namespaces),
        principals=strings(m.principals), not_principals=strings(m.not_principals),
        source_ips=tuple(map(_network, m.source_ips)), not_source_ips=tuple(map(_network, m.not_source_ips)),
        destination_ips=tuple(map(_network, m.destination_ips)),
        not_destination_ips=tuple(map(_network, m.not_destination_ips)),
        destination_ports=tuple(m.destination_ports), not_destination_ports=tuple(m.not_destination_ports),
        service_accounts=accounts(m.service_accounts), not_service_accounts=accounts(m.not_service_accounts),
        extensions=tuple(e.name for e in m.extensions))


def policy_of(policy: authorization_pb2.Authorization) -> model.Policy:
    rules = tuple(model.Rule(tuple(model.Clause(tuple(_match(m) for m in clause.matches))
                                   for clause in rule.clauses)) for rule in policy.rules)
    return model.Policy(name=policy.name, namespace=_intern(policy.namespace), scope=policy.scope,
                        action=policy.action, rules=rules, dry_run=policy.dry_run,
                        extensions=tuple(e.name for e in policy.extensions))


# ----------------------------------------------------------------- back to the wire


def _gateway_message(wp: model.Waypoint) -> workload_pb2.GatewayAddress:
    gw = workload_pb2.GatewayAddress(hbone_mtls_port=wp.hbone_mtls_port)
    if wp.service_key is not None:
        namespace, hostname = wp.service_key.split("/", 1)
        gw.hostname.namespace, gw.hostname.hostname = namespace, hostname
    elif wp.address is not None:
        gw.address.address, gw.address.network = wp.address.packed, wp.network
    return gw


def _port_messages(ports: tuple[model.Port, ...]) -> list[workload_pb2.Port]:
    return [workload_pb2.Port(service_port=p.service_port, target_port=p.target_port,
                              app_protocol=p.app_protocol) for p in ports]


def service_message(svc: model.Service) -> workload_pb2.Service:
    msg = workload_pb2.Service(name=svc.name, namespace=svc.namespace, hostname=svc.hostname,
                               ports=_port_messages(svc.ports), ip_families=svc.ip_families)
    for a in svc.addresses:
        added = msg.addresses.add(network=a.network, address=a.ip.packed)
        if a.length is not None:
            added.length = a.length
    if svc.waypoint is not None:
        msg.waypoint.CopyFrom(_gateway_message(svc.waypoint))
    lb = svc.load_balancing
    if lb != model.LoadBalancing():
        msg.load_balancing.mode, msg.load_balancing.health_policy = lb.mode, lb.health_policy
        msg.load_balancing.routing_preference.extend(lb.routing_preference)
    return msg


def workload_message(wl: model.Workload) -> workload_pb2.Workload:
    msg = workload_pb2.Workload(
        uid=wl.uid, name=wl.name, namespace=wl.namespace, addresses=[a.packed for a in wl.addresses],
        network=wl.network, node=wl.node, cluster_id=wl.cluster_id, service_account=wl.service_account,
        trust_domain=wl.trust_domain, status=wl.status, network_mode=wl.network_mode,
        authorization_policies=list(wl.authorization_policies))
    if wl.locality is not None:
        msg.locality.region, msg.locality.zone, msg.locality.subzone = (
            wl.locality.region, wl.locality.zone, wl.locality.subzone)
    if wl.waypoint is not None:
        msg.waypoint.CopyFrom(_gateway_message(wl.waypoint))
    if wl.application_tunnel is not None:
        msg.application_tunnel.protocol = wl.application_tunnel.protocol
        msg.application_tunnel.port = wl.application_tunnel.port
    for key, ports in wl.services:
        msg.services[key].ports.extend(_port_messages(ports))
    return msg


def _ip_text(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw)) if len(raw) in (4, 16) else raw.hex()


def _json(message: Any) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _gateway_json(wp: model.Waypoint) -> dict:
    data = _json(_gateway_message(wp))
    if wp.address is not None:
        data["address"]["address"] = str(wp.address)
    return data


def service_json(svc: model.Service) -> dict:
    """The workload API's JSON of a Service, addresses as text (the admin dump)."""
    data = _json(service_message(svc))
    data["addresses"] = [str(a.ip) for a in svc.addresses]
    if svc.waypoint is not None:
        data["waypoint"] = _gateway_json(svc.waypoint)
    return data


def workload_json(wl: model.Workload) -> dict:
    data = _json(workload_message(wl))
    data["addresses"] = [str(a) for a in wl.addresses]
    if wl.waypoint is not None:
        data["waypoint"] = _gateway_json(wl.waypoint)
    return data


def policy_json(policy: model.Policy) -> dict:
    """The policy as JSON-ready data (enums as names)."""
    return {"name": policy.name, "namespace": policy.namespace,
            "scope": authorization_pb2.Scope.Name(policy.scope),
            "action": authorization_pb2.Action.Name(policy.action), "dry_run": policy.dry_run,
            "rules": [{"clauses": [{"matches": [_match_json(m) for m in clause.matches]}
                                   for clause in rule.clauses]} for rule in policy.rules]}


def _match_json(m: model.Match) -> dict:
    data: dict[str, Any] = {}
    for field in model.Match.__slots__:
        values = getattr(m, field)
        if not values:
            continue
        data[field] = [_value_json(v) for v in values]
    return data


def _value_json(value: Any) -> Any:
    if isinstance(value, model.StringMatch):
        if value.presence:
            return {"presence": {}}
        return {k: getattr(value, k) for k in ("exact", "prefix", "suffix") if getattr(value, k) is not None}
    if isinstance(value, model.ServiceAccountMatch):
        return {"namespace": value.namespace, "serviceAccount": value.service_account}
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return str(value)
    return value


def models(resources: Iterable[tuple[str, workload_pb2.Address]] | dict[str, workload_pb2.Address]
           ) -> dict[str, AddressModel]:
    """name -> model of many Address messages (for callers that build resources, such as
    tests and benchmarks, and feed the cache directly)."""
    items = resources.items() if isinstance(resources, dict) else resources
    return {name: address_of(address) for name, address in items}
