#!/usr/bin/env python3
"""connect() latency through the kmeshctl connect hook vs the same connect with no hook.

Two pods (network namespaces on a private bridge) and real TCP. The client measures the
connect() system call alone (perf_counter_ns around it), in rounds that alternate the
scenarios so that machine noise hits all of them alike:

  baseline      client process in a cgroup with no BPF programs, connect to the pod IP
  hook VIP      client in the attached cgroup, netns enrolled, connect to a Service VIP
                (rewritten in the kernel to the pod IP, target port)
  hook pod IP   same client, connect straight to the pod IP (frontend hit, left alone)

once with 10 services loaded and once with 5,000 services x 20 endpoints. It also reports
the in-kernel cost of the connect4 program itself (average ns per run, from the kernel's
BPF run-time statistics, switched on for the run and restored after). Needs root;
everything it creates is removed at the end.

    .venv/bin/python benchmarks/bpf_connect.py [--connects 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import statistics
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from kmeshctl import bpfsys
from kmeshctl.node import loader
from kmeshctl.node.ids import IdRegistry
from kmeshctl.maps import BackendKey, BackendValue, DataplaneMaps, FrontendKey, FrontendValue, ServiceValue
from kmeshctl.nodecheck import ensure_cgroup2
from kmeshctl.podnet import Pod, PodNetwork

SERVER_PORT = 8080
SERVICE_PORT = 80
VIP = "10.96.0.1"

SERVER = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", %d)); s.listen(4096); print("ready", flush=True)
while True:
    c, _ = s.accept(); c.close()
""" % SERVER_PORT

CLIENT = """
import json, socket, struct, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
linger = struct.pack("ii", 1, 0)  # close with RST: no TIME_WAIT pile-up
samples = []
for i in range(n + 100):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    t0 = time.perf_counter_ns(); s.connect((host, port)); t1 = time.perf_counter_ns()
    s.close()
    if i >= 100:
        samples.append(t1 - t0)
print(json.dumps(samples))
"""


def measure(pod: Pod, host: str, port: int, n: int) -> list[int]:
    out = pod.run([sys.executable, "-c", CLIENT, host, str(port), str(n)], timeout=300)
    return json.loads(out.stdout)


def load_services(maps: DataplaneMaps, ids: IdRegistry, server_ip: ipaddress.IPv4Address,
                  count: int, per_service: int) -> None:
    """Service 0 (the VIP) has `per_service` backends that are all the server pod; the
    others point at addresses no one uses. Pod IPs are frontends too."""
    backend_entries = []
    front_entries = []
    for s in range(count):
        sid = ids.service_id(f"bench/svc-{s}.bench.svc.cluster.local")
        group = []
        for e in range(per_service):
            uid = ids.backend_id(f"Kubernetes//Pod/bench/svc-{s}-{e}")
            addr = server_ip if s == 0 else ipaddress.IPv4Address(
                int(ipaddress.IPv4Address("10.128.0.0")) + s * per_service + e)
            backend_entries.append((BackendKey(uid), BackendValue(addr, (sid,))))
            if s:
                front_entries.append((FrontendKey(addr), FrontendValue(uid)))
            group.append(uid)
        maps.backend.update_batch(backend_entries[-per_service:])
        maps.write_service(sid, ServiceValue(ports=((SERVICE_PORT, SERVER_PORT),)), [group])
        vip = VIP if s == 0 else str(ipaddress.IPv4Address(int(ipaddress.IPv4Address("10.96.0.1")) + s))
        front_entries.append((FrontendKey(ipaddress.ip_address(vip)), FrontendValue(sid)))
    maps.frontend.update_batch(front_entries)


BPF_STATS = Path("/proc/sys/kernel/bpf_stats_enabled")


def prog_stats(bpf_fs: Path, name: str = "km_connect4") -> tuple[int, int]:
    """(run time ns, run count) of the pinned program ``name`` (BPF run-time statistics)."""
    fd = bpfsys.obj_get(bpf_fs / name)
    try:
        info = bpfsys.prog_info(fd)
        return info.run_time_ns, info.run_cnt
    finally:
        os.close(fd)


def summarize(samples: list[int]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median": statistics.median(ordered) / 1000,
            "p99": ordered[int(len(ordered) * 0.99) - 1] / 1000,
            "mean": statistics.fmean(ordered) / 1000}


def run_scenarios(client: Pod, baseline_client: Pod, server: Pod, n: int, rounds: int,
                  bpf_fs: Path) -> dict[str, dict[str, float]]:
    scenarios = {
        "baseline (no hook), pod IP": (baseline_client, str(server.ip), SERVER_PORT),
        "hook, Service VIP": (client, VIP, SERVICE_PORT),
        "hook, pod IP": (client, str(server.ip), SERVER_PORT),
    }
    samples: dict[str, list[int]] = {name: [] for name in scenarios}
    time_before, runs_before = prog_stats(bpf_fs)
    for _ in range(rounds):
        for name, (pod, host, port) in scenarios.items():
            samples[name] += measure(pod, host, port, n)
    time_after, runs_after = prog_stats(bpf_fs)
    results = {name: summarize(s) for name, s in samples.items()}
    runs = runs_after - runs_before
    results["_prog"] = {"ns_per_run": (time_after - time_before) / runs if runs else float("nan"),
                        "runs": runs}
    return results


def print_results(results: dict[int, dict[str, dict[str, float]]]) -> None:
    header = f"{'scenario':<28}" + "".join(
        f"| {f'{count} services':^33}" for count in results)
    print(header)
    print(f"{'':<28}" + "".join(f"| {'median us':>9} {'p99 us':>8} {'ratio':>13} " for _ in results))
    for name in (n for n in next(iter(results.values())) if not n.startswith("_")):
        row = f"{name:<28}"
        for per_count in results.values():
            base = per_count["baseline (no hook), pod IP"]["median"]
            r = per_count[name]
            row += f"| {r['median']:>9.1f} {r['p99']:>8.1f} {r['median'] / base:>12.2f}x "
        print(row)
    for count, per_count in results.items():
        prog = per_count["_prog"]
        print(f"km_connect4 in-kernel cost with {count} services: {prog['ns_per_run']:.0f} ns per "
              f"connect ({prog['runs']} runs)")


def run(connects: int, rounds: int, counts: tuple[int, ...] = (10, 5000),
        per_service: int = 20) -> dict[int, dict[str, dict[str, float]]]:
    """Results per number of services loaded (``counts``, ascending: each load adds to the
    previous one), everything created removed at the end."""
    tag = secrets.token_hex(3)
    root = ensure_cgroup2()
    bpf_fs = Path(f"/sys/fs/bpf/kmbench-{tag}")
    attached = root / f"kmbench-{tag}"
    plain = root / f"kmbench-{tag}-nohook"
    attached.mkdir()
    plain.mkdir()
    net = PodNetwork(f"kmb{tag}", ipaddress.IPv4Network("10.79.0.0/24"), attached)
    server_proc = None
    stats_before = BPF_STATS.read_text()
    try:
        BPF_STATS.write_text("1\n")
        loader.load(bpf_fs, attached).close()
        net.create()
        client, server = net.add_pod("client"), net.add_pod("server")
        baseline_client = replace(client, cgroup=plain)
        server_proc = server.popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
        assert server_proc.stdout.readline().strip() == "ready"
        results = {}
        with DataplaneMaps(bpf_fs) as maps:
            ids = IdRegistry(maps)
            maps.enroll(client.netns_cookie())
            for count in counts:
                load_services(maps, ids, server.ip, count, per_service)
                results[count] = run_scenarios(client, baseline_client, server, connects, rounds, bpf_fs)
        return results
    finally:
        BPF_STATS.write_text(stats_before)
        if server_proc is not None:
            server_proc.kill()
            server_proc.wait()
        net.destroy()
        loader.cleanup(bpf_fs, attached)
        for cgroup in (attached, plain):
            if cgroup.exists():
                cgroup.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connects", type=int, default=2000, help="connects per scenario per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results = run(args.connects, args.rounds)
    print(f"connect() latency, {args.rounds} rounds x {args.connects} connects per scenario; "
          "ratio = median / baseline median")
    print_results(results)


if __name__ == "__main__":
    main()
