#!/usr/bin/env python3
"""Map write throughput for a full load: 5,000 services x 20 endpoints (100,000 backends,
100,000 endpoint slots, 5,000 services, 105,000 frontends: every service VIP and pod IP),
written through kmeshctl.maps' batched writes (one BPF_MAP_UPDATE_BATCH series per map, as
the agent writes a first sync). Names and addresses are those of
benchmarks/controlplane/mesh.py, so the entries are the ones the agent writes for the same
mesh. Needs root; uses its own bpffs dir and cgroup and removes them afterwards.

    .venv/bin/python benchmarks/bpf_map_writes.py [--services 5000] [--endpoints 20]
    # into a data path already loaded at DIR (left as it is), one JSON line on stdout:
    .venv/bin/python benchmarks/bpf_map_writes.py --bpf-fs DIR --json --no-single
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import secrets
import time
from pathlib import Path
from typing import Any, Callable

from kmeshctl.node import loader
from kmeshctl.node.ids import IdRegistry
from kmeshctl.maps import (BackendKey, BackendValue, DataplaneMaps, EndpointKey, EndpointValue,
                           FrontendKey, FrontendValue, IdKind, ServiceKey, ServiceValue)
from kmeshctl.nodecheck import ensure_cgroup2

NAMESPACE = "bench"
PORTS = ((80, 8080),)


# Parsed once: the entries are built inside the timed steps, and parsing the base address
# per entry (half a microsecond) would slow "raw" down and flatter the agent's share of it.
_POD_BASE = int(ipaddress.IPv4Address("10.128.0.0"))
_VIP_BASE = int(ipaddress.IPv4Address("10.96.0.0"))


def pod_ip(n: int) -> ipaddress.IPv4Address:
    """Address of backend ``n`` (0-based, service-major), as mesh.pod_ip numbers it."""
    return ipaddress.IPv4Address(_POD_BASE + n + 1)


def vip(n: int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(_VIP_BASE + n + 1)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _step(label: str, entries: int, seconds: float) -> dict[str, Any]:
    return {"step": label, "entries": entries, "seconds": round(seconds, 4),
            "entries_per_s": round(entries / seconds) if seconds > 0 else None}


def write_mesh(maps: DataplaneMaps, services: int, per_service: int,
               single: bool = True) -> dict[str, Any]:
    """Write ``services`` x ``per_service`` into empty maps, batched per map; the time of
    each step (seconds, entries/s). ``total`` counts the four data-path maps (frontend,
    service, endpoint, backend: 2 S + 3 S E entries), ``total_with_ids`` adds the id
    registry allocation (S + S E names). ``single``: afterwards, for comparison, rewrite
    every backend with one update per entry, and every service with its endpoints through
    ``DataplaneMaps.write_service`` (one call per service, as the agent wrote them before
    it batched across services)."""
    ids = IdRegistry(maps)
    n_backends = services * per_service
    svc_names = [f"{NAMESPACE}/svc-{s}.{NAMESPACE}.svc.cluster.local" for s in range(services)]
    pod_uids = [f"Kubernetes//Pod/{NAMESPACE}/svc-{b // per_service}-{b % per_service}" for b in range(n_backends)]
    svc_ids: list[int] = []
    backend_ids: list[int] = []

    t_ids = timed(lambda: (svc_ids.extend(ids.allocate(IdKind.SERVICE, svc_names)),
                           backend_ids.extend(ids.allocate(IdKind.BACKEND, pod_uids))))
    t_back = timed(lambda: maps.backend.update_batch([
        (BackendKey(backend_ids[b]), BackendValue(pod_ip(b), (svc_ids[b // per_service],)))
        for b in range(n_backends)]))
    t_slots = timed(lambda: maps.endpoint.update_batch([
        (EndpointKey(svc_ids[b // per_service], 0, b % per_service + 1), EndpointValue(backend_ids[b]))
        for b in range(n_backends)]))
    t_svc = timed(lambda: maps.service.update_batch([
        (ServiceKey(sid), ServiceValue((per_service,), ports=PORTS)) for sid in svc_ids]))
    t_front = timed(lambda: maps.frontend.update_batch(
        [(FrontendKey(vip(s)), FrontendValue(sid)) for s, sid in enumerate(svc_ids)]
        + [(FrontendKey(pod_ip(b)), FrontendValue(bid)) for b, bid in enumerate(backend_ids)]))

    steps = [_step("id registry (allocate, batched)", services + n_backends, t_ids),
             _step("km_backend (update_batch)", n_backends, t_back),
             _step("km_endpoint (update_batch)", n_backends, t_slots),
             _step("km_service (update_batch)", services, t_svc),
             _step("km_frontend (update_batch)", services + n_backends, t_front)]
    data_path = 2 * services + 3 * n_backends
    result = {"services": services, "endpoints_per_service": per_service, "steps": steps,
              "total": _step("data-path maps (without id registry)", data_path, t_back + t_slots + t_svc + t_front),
              "total_with_ids": _step("data-path maps + id registry", data_path + services + n_backends,
                                      t_ids + t_back + t_slots + t_svc + t_front)}
    if single:
        t_single = timed(lambda: [maps.set_backend(backend_ids[b], BackendValue(pod_ip(b), (svc_ids[b // per_service],)))
                                  for b in range(n_backends)])
        result["single"] = _step("km_backend rewrite, one update per entry", n_backends, t_single)
        t_per_service = timed(lambda: [
            maps.write_service(sid, ServiceValue(ports=PORTS), [backend_ids[s * per_service:(s + 1) * per_service]])
            for s, sid in enumerate(svc_ids)])
        result["per_service"] = _step("km_service + km_endpoint rewrite, write_service", services + n_backends,
                                      t_per_service)
    return result


def print_table(result: dict[str, Any]) -> None:
    print(f"full load: {result['services']} services x {result['endpoints_per_service']} endpoints")
    rows = result["steps"][1:] + [result["total"], result["total_with_ids"]] + (
        [result["single"], result["per_service"]] if "single" in result else [])
    for row in rows:
        print(f"{row['step']:<50} {row['entries']:>8} entries {row['seconds']:8.2f} s "
              f"{row['entries_per_s'] or 0:>11,} entries/s")
    ids = result["steps"][0]
    print(f"(id registry: {ids['seconds']:.2f} s for {ids['entries']} names, one-time per name)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--bpf-fs", type=Path,
                        help="write into the data path already loaded here (its maps must be empty); "
                             "nothing is loaded or removed")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    parser.add_argument("--no-single", action="store_true", help="skip the one-update-per-entry rewrite")
    args = parser.parse_args()
    if args.services < 1 or args.endpoints < 1:
        parser.error("--services and --endpoints must be positive")
    if args.bpf_fs is not None:
        result = _write_into(args.bpf_fs, args)
    else:
        result = _load_and_write(args)
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)


def _write_into(bpf_fs: Path, args: argparse.Namespace) -> dict[str, Any]:
    with DataplaneMaps(bpf_fs) as maps:
        return write_mesh(maps, args.services, args.endpoints, single=not args.no_single)


def _load_and_write(args: argparse.Namespace) -> dict[str, Any]:
    tag = secrets.token_hex(3)
    bpf_fs = Path(f"/sys/fs/bpf/kmbench-{tag}")
    cgroup = ensure_cgroup2() / f"kmbench-{tag}"
    cgroup.mkdir()
    try:
        loader.load(bpf_fs, cgroup).close()
        return _write_into(bpf_fs, args)
    finally:
        loader.cleanup(bpf_fs, cgroup)
        cgroup.rmdir()


if __name__ == "__main__":
    main()
