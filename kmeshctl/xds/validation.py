"""Checks that a workload-API resource can be put into the BPF maps.

Each function returns the list of problems (empty when valid), phrased so that a NACK's
``error_detail`` tells the control plane exactly what was refused and why. Names quoted
in a problem are clipped (``kmeshctl.bounded``): a problem stays a few hundred chars.

What is not a problem: a Service with more than ``MAX_PORTS`` ports is accepted, and its
first ``MAX_PORTS`` ports go into the maps (``excess_ports`` says how many were left out);
its workloads are accepted whatever the length of their port lists. Names of any length
are accepted (the id registry hashes those longer than its slot). A waypoint hostname
that is not known yet is reported here, but the client holds such a resource (no NACK)
until the name resolves.
"""

from __future__ import annotations

from typing import Callable

from kmeshctl.bounded import clip
from kmeshctl.maps import MAX_PORTS  # port pairs per service in km_service
from kmeshctl.xds.protos import authorization_pb2, workload_pb2

MAX_PORT = 65535
IP_LENGTHS = (4, 16)

# resolves(namespace, hostname) -> whether a service with that key is known
HostnameResolver = Callable[[str, str], bool]


def service_key(namespace: str, hostname: str) -> str:
    return f"{namespace}/{hostname}"


def _ip_problem(what: str, address: bytes) -> list[str]:
    if len(address) not in IP_LENGTHS:
        return [f"{what} has {len(address)} bytes (want 4 or 16)"]
    return []


def _prefix_problem(what: str, address: bytes, length: int, has_length: bool) -> list[str]:
    problems = _ip_problem(what, address)
    if not problems and has_length and length > len(address) * 8:
        problems.append(f"{what} prefix length {length} exceeds {len(address) * 8}")
    return problems


def excess_ports(service: workload_pb2.Service) -> int:
    """How many of the service's ports do not fit the map (0: all are kept)."""
    return max(0, len(service.ports) - MAX_PORTS)


def _port_problems(what: str, ports: list[workload_pb2.Port]) -> list[str]:
    problems = []
    for port in ports:
        for field in ("service_port", "target_port"):
            value = getattr(port, field)
            if value > MAX_PORT:
                problems.append(f"{what} {field} {value} is over {MAX_PORT}")
    return problems


def _waypoint_problems(what: str, waypoint: workload_pb2.GatewayAddress,
                       resolves: HostnameResolver) -> list[str]:
    problems = []
    kind = waypoint.WhichOneof("destination")
    if kind == "address":
        problems += _ip_problem(f"{what} waypoint address", waypoint.address.address)
    elif kind == "hostname":
        ns, host = waypoint.hostname.namespace, waypoint.hostname.hostname
        if not resolves(ns, host):
            problems.append(f"{what} waypoint {clip(service_key(ns, host))} is unknown (no such service)")
    else:
        problems.append(f"{what} waypoint has neither address nor hostname")
    if waypoint.hbone_mtls_port > MAX_PORT:
        problems.append(f"{what} waypoint port {waypoint.hbone_mtls_port} is over {MAX_PORT}")
    return problems


def _nul_problem(name: str) -> list[str]:
    # The id registry stores names NUL-padded; no Kubernetes name holds a NUL.
    return [f"name {clip(name)!r} contains a NUL byte"] if "\0" in name else []


def service_problems(name: str, service: workload_pb2.Service, resolves: HostnameResolver) -> list[str]:
    problems = _nul_problem(name)
    if not service.hostname or not service.namespace:
        problems.append("service has no namespace or hostname")
    elif name != service_key(service.namespace, service.hostname):
        problems.append(f"resource name does not match namespace/hostname "
                        f"{clip(service_key(service.namespace, service.hostname))}")
    for i, address in enumerate(service.addresses):
        problems += _prefix_problem(f"address {i}", address.address, address.length,
                                    address.HasField("length"))
    problems += _port_problems("service", list(service.ports))
    if service.HasField("waypoint"):
        problems += _waypoint_problems("service", service.waypoint, resolves)
    return problems


def workload_problems(name: str, workload: workload_pb2.Workload, resolves: HostnameResolver) -> list[str]:
    problems = _nul_problem(name)
    if not workload.uid:
        problems.append("workload has no uid")
    elif name != workload.uid:
        problems.append(f"resource name does not match uid {clip(workload.uid)}")
    # The labels of problems are built only when there is one: this runs for every pod.
    for i, address in enumerate(workload.addresses):
        if len(address) not in IP_LENGTHS:
            problems += _ip_problem(f"address {i}", address)
    for key, port_list in workload.services.items():
        if key.count("/") != 1 or key[0] == "/" or key[-1] == "/" or "\0" in key:
            problems.append(f"services key {clip(key)!r} is not namespace/hostname")
        ports = port_list.ports
        if any(p.service_port > MAX_PORT or p.target_port > MAX_PORT for p in ports):
            problems += _port_problems(f"service {clip(key)}", list(ports))
    if workload.HasField("waypoint"):
        problems += _waypoint_problems("workload", workload.waypoint, resolves)
    if workload.application_tunnel.port > MAX_PORT:
        problems.append(f"application_tunnel port {workload.application_tunnel.port} is over {MAX_PORT}")
    return problems


def address_problems(name: str, address: workload_pb2.Address, resolves: HostnameResolver) -> list[str]:
    kind = address.WhichOneof("type")
    if kind == "service":
        return service_problems(name, address.service, resolves)
    if kind == "workload":
        return workload_problems(name, address.workload, resolves)
    return ["address has neither workload nor service"]


def authorization_problems(name: str, policy: authorization_pb2.Authorization) -> list[str]:
    """What in ``policy`` cannot be enforced as written: malformed IP prefixes and ports
    out of range, in any match of any clause of any rule. Nothing here depends on how
    matches combine (rules OR-ed, clauses of a rule AND-ed, matches of a clause OR-ed,
    kinds of a match AND-ed, values of a kind OR-ed): every value is checked."""
    problems = []
    if not policy.name:
        problems.append("authorization has no name")
    for r, rule in enumerate(policy.rules):
        for c, clause in enumerate(rule.clauses):
            for m, match in enumerate(clause.matches):
                problems += _match_problems(f"rule {r} clause {c} match {m}", match)
    return problems


def _match_problems(what: str, match: authorization_pb2.Match) -> list[str]:
    problems = []
    for field in ("source_ips", "not_source_ips", "destination_ips", "not_destination_ips"):
        for prefix in getattr(match, field):
            problems += _prefix_problem(f"{what} {field}", prefix.address, prefix.length, True)
    for field in ("destination_ports", "not_destination_ports"):
        problems += [f"{what} {field} {p} is over {MAX_PORT}" for p in getattr(match, field) if p > MAX_PORT]
    return problems
