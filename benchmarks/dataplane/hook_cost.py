#!/usr/bin/env python3
"""What the eBPF waypoint hook costs per request on keep-alive connections, with no proxy
in the way: nginx poses as the waypoint (a second listener that reads PROXY v2), so the
only difference between the variants is the kernel path of the client's connection.

    sudo .venv/bin/python benchmarks/dataplane/hook_cost.py --baseline HEAD~1 --repeats 5

Variants, all from the same kind of client pod to the same nginx, interleaved:
- `direct`: client -> nginx :80 (the client's netns is enrolled, but a pod IP is left alone)
- `hook`: enrolled client -> Service VIP; this checkout's programs rewrite the connect to
  nginx :15088 and prepend the PROXY v2 header
- `hook@REV` (with --baseline REV): the same through the programs of ``bpf/`` at git
  revision REV, loaded side by side at another client pod's cgroup

Loads: `closed-1` (one connection, closed loop: per-request latency) and `max-64`.
wrk pinned to CPU 0, nginx to CPU 1. Prints medians and ratios to `direct`.

Latency and CPU per request are noisy on a shared machine; `--profile` adds the crisp
number: the share of wrk's CPU samples (perf, cpu-clock on wrk's CPU, max-64) spent in
the sockmap / sk_msg path (tcp_bpf_*, sk_msg_*, sk_psock_*, BPF programs).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import ipaddress
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from kmeshctl.node import loader  # noqa: E402
from kmeshctl.bench.dataplane import rotated  # noqa: E402
from kmeshctl.bench.kmesh import BenchDataplane, BenchService  # noqa: E402
from kmeshctl.bench.nginx import SERVER_PORT, start_nginx  # noqa: E402
from kmeshctl.bench.procs import BenchProcess, tcp_port_open, wait_until  # noqa: E402
from kmeshctl.bench.topology import BPFFS_ROOT, cgroup2_root  # noqa: E402
from kmeshctl.bench.wrk import LOADS, LoadSpec, WrkResult, run_wrk  # noqa: E402
from kmeshctl.podnet import Pod, PodNetwork  # noqa: E402

SUBNET = ipaddress.IPv4Network("10.245.0.0/24")
VIP = ipaddress.IPv4Address("10.96.1.10")
WAYPOINT_PORT = 15088
CLIENT_CPUS, SERVER_CPUS = "0", "1"
HOOK_SYMBOLS = re.compile(r"tcp_bpf|sk_msg|sk_psock|sock_map|sock_hash|bpf_prog|bpf_sk_storage"
                          r"|bpf_msg|__cgroup_bpf")
HOOK_LOADS = (LoadSpec("closed-1", 1, 0, "1 connection, closed loop"), LOADS["max-64"])


@dataclass
class Variant:
    name: str
    pod: Pod
    url: str


@dataclass
class Run:
    wrk: WrkResult
    client_cpu_us_per_req: float  # wrk's user + system time, including its kernel sends


@contextlib.contextmanager
def bpf_source(directory: Path | None) -> Iterator[None]:
    """Compile the data path from ``directory`` instead of this checkout's bpf/ (the
    loader always compiles ``paths.bpf_dir()``; a baseline build needs another one)."""
    if directory is None:
        yield
        return
    original = loader.bpf_dir
    loader.bpf_dir = lambda: directory
    try:
        yield
    finally:
        loader.bpf_dir = original


def export_bpf(rev: str, into: Path) -> Path:
    """bpf/ as it was at git revision ``rev``."""
    archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", rev, "bpf"],
                             capture_output=True)
    if archive.returncode != 0:
        raise SystemExit(f"--baseline {rev}: not a revision with bpf/ in {REPO_ROOT} "
                         f"({archive.stderr.decode().strip()}); give e.g. HEAD~1")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "bpf"


class HookBench:
    """Pods, nginx and one loaded data path per build; ``down`` removes everything."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.cgroup = cgroup2_root() / f"kmhc-{run_id}"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"kmhc-{run_id}-"))
        self.network = PodNetwork(f"kmhc{run_id}", SUBNET, self.cgroup)
        self.server: BenchProcess | None = None
        self.dataplanes: list[BenchDataplane] = []

    def up(self) -> Pod:
        self.network.create()
        server = self.network.add_pod("server")
        self.server = start_nginx(server, self.workdir, SERVER_CPUS,
                                  proxy_protocol_port=WAYPOINT_PORT)
        for port in (SERVER_PORT, WAYPOINT_PORT):
            wait_until(lambda p=port: tcp_port_open(server, p), 15, f"nginx :{port}",
                       alive=self.server.exit_reason)
        return server

    def client_with_hook(self, name: str, source: Path | None) -> Pod:
        """A client pod whose cgroup runs the build from ``source`` (None: this checkout),
        with one Service whose waypoint is nginx's PROXY v2 listener."""
        pod = self.network.add_pod(name)
        server = self.network.pods["server"]
        dataplane = BenchDataplane(BPFFS_ROOT / f"kmhc-{self.run_id}-{name}", pod.cgroup)
        self.dataplanes.append(dataplane)
        with bpf_source(source):
            dataplane.load()
        dataplane.add_service(BenchService(
            "bench/hook", VIP, SERVER_PORT, SERVER_PORT, f"bench/kmhc-{self.run_id}-server",
            server.ip, waypoint=(server.ip, WAYPOINT_PORT)))
        dataplane.enroll(pod.netns_cookie())
        return pod

    def down(self) -> None:
        if self.server is not None:
            self.server.stop()
        for dataplane in self.dataplanes:
            dataplane.close()
        self.network.destroy()
        if self.cgroup.is_dir():
            self.cgroup.rmdir()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(bench: HookBench, variant: Variant, load: LoadSpec, duration: int) -> Run:
    """One wrk run; its CPU time comes from the rusage of waited-for children."""
    before = _children_cpu_s()
    result = run_wrk(variant.pod, variant.url, load, duration, CLIENT_CPUS, bench.workdir)
    cpu_s = _children_cpu_s() - before
    if result.error_count or not result.requests:
        raise SystemExit(f"{variant.name} {load.name} failed: {result.errors}")
    return Run(result, cpu_s * 1e6 / result.requests)


def run(bench: HookBench, variants: list[Variant], repeats: int, duration: int
        ) -> dict[tuple[str, str], list[Run]]:
    results: dict[tuple[str, str], list[Run]] = {}
    for repeat in range(repeats):
        for load in HOOK_LOADS:
            for variant in rotated(variants, repeat):
                one = measure(bench, variant, load, duration)
                results.setdefault((variant.name, load.name), []).append(one)
                lat = one.wrk.latency_us
                print(f"[{repeat + 1}/{repeats}] {load.name:8} {variant.name:16} "
                      f"{one.wrk.rps:9,.0f} req/s  p50 {lat['p50']:5.0f} us  "
                      f"p99 {lat['p99']:5.0f} us  client CPU "
                      f"{one.client_cpu_us_per_req:5.2f} us/req", flush=True)
    return results


def report(variants: list[Variant], results: dict[tuple[str, str], list[Run]]) -> None:
    print("\n| load | variant | req/s | p50 us | p99 us | client CPU us/req | req/s / direct "
          "| p50 / direct | p99 / direct | client CPU / direct |\n"
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for load in HOOK_LOADS:
        base = _medians(results[("direct", load.name)])
        for variant in variants:
            med = _medians(results[(variant.name, load.name)])
            ratios = " | ".join(f"{med[k] / base[k]:.3f}" for k in ("rps", "p50", "p99", "cpu"))
            print(f"| {load.name} | {variant.name} | {med['rps']:,.0f} | {med['p50']:.0f} | "
                  f"{med['p99']:.0f} | {med['cpu']:.2f} | {ratios} |")


def hook_share(bench: HookBench, variant: Variant, duration: int) -> float:
    """Percent of wrk's CPU samples in the sockmap / sk_msg path during a max-64 run."""
    data = bench.workdir / f"perf-{variant.pod.name}.data"
    perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-C", CLIENT_CPUS,
                             "-o", str(data), "--", "sleep", str(duration)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_wrk(variant.pod, variant.url, LOADS["max-64"], duration, CLIENT_CPUS, bench.workdir)
    perf.wait()
    report = subprocess.run(["perf", "report", "-i", str(data), "--comm", "wrk", "--stdio",
                             "--no-children", "--sort", "sym", "-g", "none"],
                            capture_output=True, text=True, check=True).stdout
    total = hook = 0.0
    for line in report.splitlines():
        match = re.match(r"\s*([\d.]+)%\s+\[[.k]\]\s+(\S+)", line)
        if match:
            total += float(match.group(1))
            hook += float(match.group(1)) if HOOK_SYMBOLS.search(match.group(2)) else 0.0
    return 100 * hook / total if total else 0.0


def _medians(runs: list[Run]) -> dict[str, float]:
    return {"rps": statistics.median(r.wrk.rps for r in runs),
            "p50": statistics.median(r.wrk.latency_us["p50"] for r in runs),
            "p99": statistics.median(r.wrk.latency_us["p99"] for r in runs),
            "cpu": statistics.median(r.client_cpu_us_per_req for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REV",
                        help="also measure bpf/ of this git revision, side by side")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5, help="seconds per run")
    parser.add_argument("--profile", action="store_true",
                        help="also profile wrk (perf) and report its share in the hook path")
    args = parser.parse_args()
    if args.repeats < 1 or args.duration < 1:
        parser.error("--repeats and --duration must be >= 1")
    if os.geteuid() != 0:
        parser.error("needs root (netns, cgroups, BPF): run it with sudo")
    if args.profile and shutil.which("perf") is None:
        parser.error("--profile needs perf: apt-get install linux-perf (or leave out --profile)")
    bench = HookBench(secrets.token_hex(3))
    try:
        baseline = export_bpf(args.baseline, bench.workdir) if args.baseline else None
        server = bench.up()
        client = bench.client_with_hook("client", None)
        vip_url = f"http://{VIP}:{SERVER_PORT}/"
        variants = [Variant("direct", client, f"http://{server.ip}:{SERVER_PORT}/"),
                    Variant("hook", client, vip_url)]
        if baseline is not None:
            base_client = bench.client_with_hook("client-base", baseline)
            variants.append(Variant(f"hook@{args.baseline}", base_client, vip_url))
        report(variants, run(bench, variants, args.repeats, args.duration))
        if args.profile:
            print("\n| variant | wrk CPU in sockmap / sk_msg path (max-64) |\n|---|---:|")
            for variant in variants:
                print(f"| {variant.name} | {hook_share(bench, variant, args.duration):.1f}% |")
    finally:
        bench.down()


if __name__ == "__main__":
    main()
