#!/usr/bin/env python3
"""Node agent sync speed: xDS -> BPF maps, with the real agent (`kmeshctl node run`).

1. Initial sync of N services x 20 endpoints (N = 1,000 and 5,000): the in-process
   delta ADS server holds everything before the agent connects; the time is from the
   agent's stream opening to the server receiving the ACK of the first Address
   response (the agent ACKs after the maps are written). Agent RSS after the sync and
   its peak (VmHWM) are read from /proc.
2. One endpoint change, server send -> map: with 1,000 x 20 loaded, 200 times one
   workload's address changes; the time is from the server's publish call to the
   backend entry in the pinned km_backend map holding the new address (polled).

Needs root; everything it creates (bpffs dir, cgroup, the agent) is removed at the end.

    .venv/bin/python benchmarks/agent_sync.py [--sizes 1000,5000] [--endpoints 20] [--changes 200]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from kmeshctl import loader
from kmeshctl.ids import IdRegistry
from kmeshctl.maps import BackendKey, DataplaneMaps, IdKind
from kmeshctl.nodecheck import ensure_cgroup2
from kmeshctl.xds import WORKLOAD_ADDRESS_TYPE
from kmeshctl.xds.builders import addresses, service, workload
from kmeshctl.xds.server import XdsServer

KMESHCTL = str(Path(sys.executable).with_name("kmeshctl"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mesh(services: int, endpoints: int) -> dict:
    """services x endpoints workloads; pod IPs from 10.128.0.0/9, VIPs from 10.96.0.0/12."""
    items = []
    pod_ips = ipaddress.ip_network("10.128.0.0/9").hosts()
    for s in range(services):
        host = f"svc-{s}.bench.svc.cluster.local"
        key = f"bench/{host}"
        items.append(service("bench", host, str(ipaddress.ip_address("10.96.0.0") + s + 1), [(80, 8080)]))
        for e in range(endpoints):
            items.append(workload(f"Kubernetes//Pod/bench/svc-{s}-{e}", str(next(pod_ips)), {key: [(80, 8080)]}))
    return addresses(*items)


class Agent:
    def __init__(self, xds: str, bpf_fs: Path, cgroup: Path, log: Path) -> None:
        self.admin = free_port()
        self.proc = subprocess.Popen(
            [KMESHCTL, "node", "run", "--xds-address", xds, "--xds-insecure", "--bpf-fs", str(bpf_fs),
             "--cgroup2-path", str(cgroup), "--enrollment", "local", "--admin-port", str(self.admin),
             "--metrics-port", str(free_port()), "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=log.open("wb"))

    def rss_mib(self) -> tuple[float, float]:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines())
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("the agent exited; see its log")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/debug/ready", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"agent not ready within {timeout}s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def initial_sync(services: int, endpoints: int, bpf_fs: Path, cgroup: Path, workdir: Path) -> dict:
    server = XdsServer()
    xds = server.add_listener("127.0.0.1:0")
    server.start()
    server.set_resources(WORKLOAD_ADDRESS_TYPE, mesh(services, endpoints))
    agent = Agent(xds, bpf_fs, cgroup, workdir / f"agent-{services}.log")
    try:
        agent.wait_ready(600)
        assert server.wait_acked(WORKLOAD_ADDRESS_TYPE, 60)
        stream = server.streams()[0]
        ack = next(r for r in stream.replies if r.type_url == WORKLOAD_ADDRESS_TYPE and r.acked)
        rss, peak = agent.rss_mib()
        with DataplaneMaps(bpf_fs) as maps:
            backends = len(maps.backend)
        return {"services": services, "endpoints": services * endpoints, "backends_in_map": backends,
                "sync_seconds": round(ack.at - stream.opened_at, 2), "rss_mib": round(rss, 1),
                "peak_rss_mib": round(peak, 1)}
    finally:
        agent.stop()
        server.stop()


def change_latency(changes: int, endpoints: int, bpf_fs: Path, cgroup: Path, workdir: Path) -> dict:
    resources = mesh(1000, endpoints)
    server = XdsServer()
    xds = server.add_listener("127.0.0.1:0")
    server.start()
    server.set_resources(WORKLOAD_ADDRESS_TYPE, resources)
    agent = Agent(xds, bpf_fs, cgroup, workdir / "agent-changes.log")
    latencies = []
    try:
        agent.wait_ready(600)
        with DataplaneMaps(bpf_fs) as maps:
            ids = IdRegistry(maps)
            spare = ipaddress.ip_network("10.64.0.0/16").hosts()
            for i in range(changes):
                s, e = i % 1000, i % endpoints
                uid = f"Kubernetes//Pod/bench/svc-{s}-{e}"
                bid = ids.lookup(IdKind.BACKEND, uid)
                new_ip = next(spare)
                changed = workload(uid, str(new_ip), {f"bench/svc-{s}.bench.svc.cluster.local": [(80, 8080)]})
                started = time.perf_counter()
                server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(changed))
                while True:
                    value = maps.backend.lookup(BackendKey(bid))
                    if value is not None and value.addr == new_ip:
                        break
                    if time.perf_counter() - started > 10:
                        raise SystemExit(f"change {i} not in the map after 10 s")
                    time.sleep(0.0001)
                latencies.append((time.perf_counter() - started) * 1000)
                server.wait_acked(WORKLOAD_ADDRESS_TYPE, 10)
    finally:
        agent.stop()
        server.stop()
    latencies.sort()
    return {"changes": changes, "median_ms": round(statistics.median(latencies), 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2), "max_ms": round(latencies[-1], 2)}


def run_in_scratch(fn, *args) -> dict:
    tag = f"kmbench-{secrets.token_hex(3)}"
    workdir = Path(f"/tmp/{tag}")  # agent logs, kept only when something fails
    workdir.mkdir()
    bpf_fs, cgroup = Path(f"/sys/fs/bpf/{tag}"), ensure_cgroup2() / tag
    cgroup.mkdir()
    try:
        result = fn(*args, bpf_fs, cgroup, workdir)
        shutil.rmtree(workdir)
        return result
    finally:
        loader.cleanup(bpf_fs, cgroup)
        cgroup.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,5000", help="service counts for the initial sync")
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (loads BPF, attaches to a cgroup)")
    results = {"initial_sync": [], "endpoint_change": None}
    for size in (int(s) for s in args.sizes.split(",") if s):
        result = run_in_scratch(initial_sync, size, args.endpoints)
        results["initial_sync"].append(result)
        print(f"initial sync {size:>5} services x {args.endpoints} endpoints: {result['sync_seconds']:.2f} s, "
              f"agent RSS {result['rss_mib']:.0f} MiB (peak {result['peak_rss_mib']:.0f} MiB)", flush=True)
    if args.changes:
        result = run_in_scratch(change_latency, args.changes, args.endpoints)
        results["endpoint_change"] = result
        print(f"endpoint change server->map ({result['changes']} changes, 1,000 x {args.endpoints} loaded): "
              f"median {result['median_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, max {result['max_ms']:.2f} ms")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
