#!/usr/bin/env python3
"""Map write throughput for a full load: 5,000 services x 20 endpoints (100,000 backends,
100,000 endpoint slots, 105,000 frontends: every service VIP and pod IP), written through
kmeshctl.maps the way the agent writes them. Needs root; uses its own bpffs dir and cgroup
and removes them afterwards.

    .venv/bin/python benchmarks/bpf_map_writes.py [--services 5000] [--endpoints 20]
"""

from __future__ import annotations

import argparse
import ipaddress
import secrets
import time
from pathlib import Path

from kmeshctl import loader
from kmeshctl.ids import IdRegistry
from kmeshctl.maps import (BackendKey, BackendValue, DataplaneMaps, FrontendKey, FrontendValue,
                           ServiceValue)
from kmeshctl.nodecheck import ensure_cgroup2


def pod_ip(n: int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(ipaddress.IPv4Address("10.128.0.0")) + n)


def vip(n: int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(ipaddress.IPv4Address("10.96.0.0")) + n)


def timed(label: str, entries: int, fn) -> float:
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    print(f"{label:<44} {entries:>8} entries {elapsed:8.2f} s {entries / elapsed:>11,.0f} entries/s")
    return elapsed


def run(maps: DataplaneMaps, services: int, per_service: int) -> None:
    ids = IdRegistry(maps)
    n_backends = services * per_service
    svc_names = [f"bench/svc-{s}.bench.svc.cluster.local" for s in range(services)]
    pod_uids = [f"Kubernetes//Pod/bench/pod-{b}" for b in range(n_backends)]

    svc_ids: list[int] = []
    backend_ids: list[int] = []
    t_ids = timed("id registry (allocate + persist)", services + n_backends,
                  lambda: (svc_ids.extend(ids.service_id(n) for n in svc_names),
                           backend_ids.extend(ids.backend_id(u) for u in pod_uids)))

    def backends_batch() -> None:
        maps.backend.update_batch([
            (BackendKey(backend_ids[b]), BackendValue(addr=pod_ip(b), service=(svc_ids[b // per_service],)))
            for b in range(n_backends)])

    t_back = timed("km_backend (update_batch)", n_backends, backends_batch)

    def services_and_endpoints() -> None:
        for s, sid in enumerate(svc_ids):
            group = backend_ids[s * per_service:(s + 1) * per_service]
            maps.write_service(sid, ServiceValue(ports=((80, 8080),)), [group])

    t_svc = timed("km_service + km_endpoint (write_service)", services + n_backends,
                  services_and_endpoints)

    def frontends_batch() -> None:
        entries = [(FrontendKey(vip(s)), FrontendValue(sid)) for s, sid in enumerate(svc_ids)]
        entries += [(FrontendKey(pod_ip(b)), FrontendValue(bid)) for b, bid in enumerate(backend_ids)]
        maps.frontend.update_batch(entries)

    t_front = timed("km_frontend (update_batch)", services + n_backends, frontends_batch)

    total_entries = n_backends + services + n_backends + services + n_backends
    total_time = t_back + t_svc + t_front
    print(f"{'TOTAL data-path maps (excluding id registry)':<44} {total_entries:>8} entries "
          f"{total_time:8.2f} s {total_entries / total_time:>11,.0f} entries/s")

    # per-entry updates for comparison (rewrite the backends one by one)
    def backends_single() -> None:
        for b in range(n_backends):
            maps.set_backend(backend_ids[b], BackendValue(addr=pod_ip(b), service=(svc_ids[b // per_service],)))

    timed("km_backend rewrite, one update per entry", n_backends, backends_single)
    print(f"(id registry: {t_ids:.2f} s for {services + n_backends} names, one-time per name)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--endpoints", type=int, default=20)
    args = parser.parse_args()
    tag = secrets.token_hex(3)
    bpf_fs = Path(f"/sys/fs/bpf/kmbench-{tag}")
    cgroup = ensure_cgroup2() / f"kmbench-{tag}"
    cgroup.mkdir()
    try:
        loader.load(bpf_fs, cgroup).close()
        with DataplaneMaps(bpf_fs) as maps:
            print(f"full load: {args.services} services x {args.endpoints} endpoints")
            run(maps, args.services, args.endpoints)
    finally:
        loader.cleanup(bpf_fs, cgroup)
        cgroup.rmdir()


if __name__ == "__main__":
    main()
