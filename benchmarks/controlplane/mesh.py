"""The synthetic mesh the benchmark publishes: N services x E endpoints, names and
addresses derived from indices so every part (server, observer, checks) agrees."""

from __future__ import annotations

import ipaddress
from typing import Iterator

from kmeshctl.xds.builders import addresses, service, workload
from kmeshctl.xds.protos import workload_pb2

NAMESPACE = "bench"
PORTS = [(80, 8080)]
VIP_BASE = ipaddress.IPv4Address("10.96.0.0")  # Service VIPs: 10.96.0.1 ...
POD_BASE = ipaddress.IPv4Address("10.128.0.0")  # pod IPs: 10.128.0.1 ... (/9: room for 8M)
SPARE_BASE = ipaddress.IPv4Address("10.64.0.0")  # addresses churn moves pods to


def service_host(s: int) -> str:
    return f"svc-{s}.{NAMESPACE}.svc.cluster.local"


def service_key(s: int) -> str:
    return f"{NAMESPACE}/{service_host(s)}"


def pod_uid(s: int, e: int) -> str:
    return f"Kubernetes//Pod/{NAMESPACE}/svc-{s}-{e}"


def vip(s: int) -> str:
    return str(VIP_BASE + s + 1)


def pod_ip(s: int, e: int, endpoints: int) -> str:
    return str(POD_BASE + s * endpoints + e + 1)


def spare_ips() -> Iterator[str]:
    """Fresh pod addresses outside the initial mesh (10.64.0.1 ...)."""
    n = 0
    while True:
        n += 1
        yield str(SPARE_BASE + n)


def pod(uid: str, ip: str, s: int) -> workload_pb2.Workload:
    return workload(uid, ip, {service_key(s): PORTS})


def mesh(services: int, endpoints: int) -> dict[str, workload_pb2.Address]:
    """The Address resources of ``services`` x ``endpoints``, keyed by xDS name."""
    items: list = []
    for s in range(services):
        items.append(service(NAMESPACE, service_host(s), vip(s), PORTS))
        items.extend(pod(pod_uid(s, e), pod_ip(s, e, endpoints), s) for e in range(endpoints))
    return addresses(*items)
