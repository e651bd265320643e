"""Do the pinned maps hold exactly what the xDS server publishes? Every service and
workload of the server's state is checked in km_frontend / km_service / km_endpoint /
km_backend (addresses, ports, service ids, endpoint groups), and nothing else may be
there. Names are resolved through the agent's id registry (km_idreg).

The maps are read with this checkout's kmeshctl.maps. An agent of an older commit may have
pinned maps of another layout (key/value sizes): those are not read (``verify`` says
``NOT_CHECKED``) rather than misread."""

from __future__ import annotations

import ipaddress
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from google.protobuf import any_pb2

from kmeshctl.node.ids import IdRegistry
from kmeshctl.maps import MAP_SPECS, DataplaneMaps, IdKind, MapError, MapMissingError, check_layout, open_pinned
from kmeshctl.xds.protos import workload_pb2
from kmeshctl.xds.validation import service_key

MAX_PROBLEMS = 20
NOT_CHECKED = "not checked (older map layout)"


@dataclass
class Expected:
    """Services (key -> VIPs, port pairs) and workloads (uid -> address, service keys)."""

    services: dict[str, tuple[set[str], tuple[tuple[int, int], ...]]] = field(default_factory=dict)
    workloads: dict[str, tuple[str, set[str]]] = field(default_factory=dict)

    def members(self) -> dict[str, set[str]]:
        by_service: dict[str, set[str]] = defaultdict(set)
        for uid, (_, keys) in self.workloads.items():
            for key in keys:
                by_service[key].add(uid)
        return by_service

    def entry_counts(self) -> dict[str, int]:
        vips = sum(len(v) for v, _ in self.services.values())
        return {"km_frontend": vips + len(self.workloads), "km_service": len(self.services),
                "km_endpoint": sum(len(keys) for _, keys in self.workloads.values()),
                "km_backend": len(self.workloads)}


def expected_state(resources: Mapping[str, workload_pb2.Address]) -> Expected:
    expected = Expected()
    for address in resources.values():
        if address.WhichOneof("type") == "service":
            svc = address.service
            vips = {str(ipaddress.ip_address(a.address)) for a in svc.addresses}
            ports = tuple((p.service_port, p.target_port) for p in svc.ports)
            expected.services[service_key(svc.namespace, svc.hostname)] = (vips, ports)
        else:
            wl = address.workload
            expected.workloads[wl.uid] = (str(ipaddress.ip_address(wl.addresses[0])), set(wl.services))
    return expected


def unpack_addresses(resources: Mapping[str, any_pb2.Any]) -> dict[str, workload_pb2.Address]:
    out = {}
    for name, packed in resources.items():
        address = workload_pb2.Address()
        packed.Unpack(address)
        out[name] = address
    return out


def layout_matches(bpf_fs: Path) -> bool:
    """Whether every pinned map has this checkout's key/value sizes (MapMissingError
    when one is not pinned at all)."""
    for spec in MAP_SPECS:
        fd = open_pinned(bpf_fs, spec.name)
        try:
            check_layout(spec, fd)
        except MapError:
            return False
        finally:
            os.close(fd)
    return True


def verify(bpf_fs: Path, expected: Expected, current: bool) -> dict[str, object]:
    """``maps_match_server`` (None: not checked), ``verification`` (what was done) and
    ``problems``. Maps of another layout are a problem for the current code, and
    ``NOT_CHECKED`` for an older one."""
    try:
        same_layout = layout_matches(bpf_fs)
    except MapMissingError as err:
        return {"maps_match_server": False, "verification": "failed", "problems": [str(err)]}
    if not same_layout:
        if current:
            return {"maps_match_server": False, "verification": "failed",
                    "problems": ["the pinned maps do not have this checkout's layout"]}
        return {"maps_match_server": None, "verification": NOT_CHECKED, "problems": []}
    problems = compare(bpf_fs, expected)
    return {"maps_match_server": not problems, "verification": "checked", "problems": problems}


def compare(bpf_fs: Path, expected: Expected) -> list[str]:
    """Differences between the maps and ``expected`` (empty: identical)."""
    with DataplaneMaps(bpf_fs) as maps:
        ids = IdRegistry(maps)
        frontends = {str(k.addr): v.upstream_id for k, v in maps.frontend.items()}
        services = {k.service_id: v for k, v in maps.service.items()}
        backends = {k.backend_uid: v for k, v in maps.backend.items()}
        slots = {(k.service_id, k.prio, k.backend_index): v.backend_uid for k, v in maps.endpoint.items()}
    problems: list[str] = []
    sid = {key: ids.lookup(IdKind.SERVICE, key) for key in expected.services}
    bid = {uid: ids.lookup(IdKind.BACKEND, uid) for uid in expected.workloads}
    problems += [f"service {k}: no id" for k, v in sid.items() if v is None]
    problems += [f"workload {u}: no id" for u, v in bid.items() if v is None]
    problems += _check_workloads(expected, bid, sid, backends, frontends)
    problems += _check_services(expected, bid, sid, services, slots, frontends)
    problems += _check_nothing_else(expected, bid, sid, backends, services, slots, frontends)
    return problems[:MAX_PROBLEMS]


def _check_workloads(expected: Expected, bid: dict, sid: dict, backends: dict, frontends: dict) -> list[str]:
    problems = []
    for uid, (ip, keys) in expected.workloads.items():
        value = backends.get(bid[uid])
        want_services = {sid[k] for k in keys if k in sid}
        if value is None:
            problems.append(f"workload {uid}: no km_backend entry")
        elif str(value.addr) != ip or set(value.service) != want_services:
            problems.append(f"workload {uid}: km_backend has {value.addr} {value.service}, want {ip} {want_services}")
        if frontends.get(ip) != bid[uid]:
            problems.append(f"workload {uid}: km_frontend[{ip}] = {frontends.get(ip)}, want {bid[uid]}")
    return problems


def _check_services(expected: Expected, bid: dict, sid: dict, services: dict, slots: dict,
                    frontends: dict) -> list[str]:
    problems = []
    members = expected.members()
    for key, (vips, ports) in expected.services.items():
        value = services.get(sid[key])
        if value is None:
            problems.append(f"service {key}: no km_service entry")
            continue
        if value.ports != ports:
            problems.append(f"service {key}: ports {value.ports}, want {ports}")
        group = [slots.get((sid[key], 0, i)) for i in range(1, value.prio_endpoint_count[0] + 1)]
        want = {bid[u] for u in members.get(key, ())}
        if sorted(g for g in group if g is not None) != sorted(want) or any(value.prio_endpoint_count[1:]):
            problems.append(f"service {key}: endpoints {group} (counts {value.prio_endpoint_count}), "
                            f"want {sorted(want)}")
        for ip in vips:
            if frontends.get(ip) != sid[key]:
                problems.append(f"service {key}: km_frontend[{ip}] = {frontends.get(ip)}, want {sid[key]}")
    return problems


def _check_nothing_else(expected: Expected, bid: dict, sid: dict, backends: dict, services: dict,
                        slots: dict, frontends: dict) -> list[str]:
    problems = []
    extra_backends = set(backends) - set(bid.values())
    extra_services = set(services) - set(sid.values())
    wanted_ips = {ip for ip, _ in expected.workloads.values()}
    wanted_ips |= {ip for vips, _ in expected.services.values() for ip in vips}
    extra_frontends = set(frontends) - wanted_ips
    counts = {s: v.prio_endpoint_count for s, v in services.items()}
    extra_slots = [k for k in slots if k[0] not in counts or k[2] > counts[k[0]][k[1]]]
    for what, extra in (("km_backend", extra_backends), ("km_service", extra_services),
                        ("km_frontend", extra_frontends), ("km_endpoint", extra_slots)):
        if extra:
            problems.append(f"{what}: {len(extra)} entries the server does not publish, e.g. {sorted(extra)[:3]}")
    return problems
