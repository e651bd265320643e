#!/usr/bin/env python3
"""Connection setup cost of inbound L4 authorization (the km_authz sk_lookup program):
connect() latency to a server pod with 0, 10 and 1,000 authorization policies on it, vs a
server pod with no authorization program at all, side by side in one run.

Real kernel, real TCP: pods are network namespaces on a private bridge; the data path is
loaded at a private cgroup and bpffs dir. Four server pods listen on 8080:

  none           its netns has no km_authz link (what a pod outside the mesh gets)
  0 policies     linked, no policy applies (the program's first lookup misses)
  10 policies    linked, 10 policies apply (the client is allowed by one of them)
  1000 policies  linked, 1,000 policies apply (likewise)

The policies are compiled by the agent's own code (AuthzSync from a WorkloadCache) with
1,000 other workloads known as sources across 100 namespaces: DENY from namespaces,
DENY of ports (8 distinct ones), DENY of CIDRs, ALLOW from principals, and one ALLOW of
the client's namespace. (With a distinct port per policy the 1,000-policy table would
exceed the per-pod limit of 65,536 entries: each named port is a class that repeats the
source split, and that pod would fail closed.) The client (no connect hook: its cgroup has none) measures the connect() system
call alone (perf_counter_ns around it), in rounds that alternate the four servers so that
machine noise hits all alike. The in-kernel cost of km_authz per run comes from the
kernel's BPF run-time statistics, switched on for the run and restored after. Needs root;
everything it creates is removed at the end.

    .venv/bin/python benchmarks/authz_connect.py [--connects 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import secrets
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # `benchmarks.*` when run as a script

from benchmarks.bpf_connect import (CLIENT, SERVER, SERVER_PORT,  # noqa: E402 - the same server, client,
                                     prog_stats, summarize)  # statistics and summary
from kmeshctl.node import authzlink, loader  # noqa: E402
from kmeshctl.node.authzsync import AuthzSync
from kmeshctl.maps import DataplaneMaps
from kmeshctl.node.model import (ALLOW, DENY, POLICY_WORKLOAD_SELECTOR, Clause, Match, Policy, Rule, StringMatch,
                            Workload)
from kmeshctl.nodecheck import ensure_cgroup2
from kmeshctl.podnet import Pod, PodNetwork, remove_cgroup_tree
from kmeshctl.node.workload_cache import WorkloadCache

CLIENT_NS = "shop"
SCENARIOS = {"none": None, "0 policies": 0, "10 policies": 10, "1000 policies": 1000}

BPF_STATS = Path("/proc/sys/kernel/bpf_stats_enabled")


def _match_rule(match: Match) -> tuple[Rule, ...]:
    return (Rule((Clause((match,)),)),)


def policies(count: int, server: str) -> list[Policy]:
    """``count`` policies for one server (names prefixed by it); the last allows the client."""
    made = []
    for i in range(count - 1):
        kind = i % 4
        if kind == 0:
            match, action = Match(namespaces=(StringMatch(exact=f"ns-{i % 100}"),)), DENY
        elif kind == 1:
            match, action = Match(destination_ports=(10000 + i % 8,)), DENY  # 8 ports in all
        elif kind == 2:
            match, action = Match(source_ips=(ipaddress.ip_network(f"10.{100 + i % 50}.{i % 250}.0/24"),)), DENY
        else:
            match, action = Match(principals=(StringMatch(exact=f"cluster.local/ns/ns-{i % 100}/sa/sa-{i}"),)), ALLOW
        made.append(Policy(f"{server}-p{i}", "bench", POLICY_WORKLOAD_SELECTOR, action, _match_rule(match)))
    if count:
        made.append(Policy(f"{server}-allow-client", "bench", POLICY_WORKLOAD_SELECTOR, ALLOW,
                           _match_rule(Match(namespaces=(StringMatch(exact=CLIENT_NS),)))))
    return made


def known_sources(count: int = 1000) -> dict[str, Workload]:
    """Other workloads of the mesh (their addresses are sources the tables must split)."""
    base = int(ipaddress.IPv4Address("10.200.0.0"))
    return {f"Kubernetes//Pod/ns-{i % 100}/w-{i}": Workload(
        uid=f"Kubernetes//Pod/ns-{i % 100}/w-{i}", name=f"w-{i}", namespace=f"ns-{i % 100}",
        service_account=f"sa-{i}", addresses=(ipaddress.IPv4Address(base + i),)) for i in range(count)}


def measure(pod: Pod, host: str, n: int) -> list[int]:
    out = pod.run([sys.executable, "-c", CLIENT, host, str(SERVER_PORT), str(n)], timeout=300)
    return json.loads(out.stdout)


def write_policies(maps: DataplaneMaps, net: PodNetwork) -> dict[str, int]:
    """Workloads and policies into a WorkloadCache, compiled into the maps by AuthzSync;
    the table entries written per server."""
    cache = WorkloadCache()
    sync = AuthzSync(maps, cache)
    workloads = known_sources()
    workloads["Kubernetes//Pod/shop/client"] = Workload(
        uid="Kubernetes//Pod/shop/client", name="client", namespace=CLIENT_NS, addresses=(net.pods["client"].ip,))
    everything: dict[str, Policy] = {}
    for name, count in SCENARIOS.items():
        if count is None:
            continue
        pod = _server_name(name)
        made = policies(count, pod)
        everything.update({p.key: p for p in made})
        workloads[f"Kubernetes//Pod/bench/{pod}"] = Workload(
            uid=f"Kubernetes//Pod/bench/{pod}", name=pod, namespace="bench", addresses=(net.pods[pod].ip,),
            authorization_policies=tuple(p.key for p in made))
    sync(cache.apply_authorizations(everything, []))
    sync(cache.apply_addresses(workloads, []))
    assert not sync.unenforceable and not sync.pending, (sync.unenforceable, sync.pending)
    tables = {}
    for name, count in SCENARIOS.items():
        if count:
            ip = net.pods[_server_name(name)].ip
            tables[name] = len(sync._in_force[ip].compiled.rules)  # noqa: SLF001 - the size, for the report
    return tables


def _server_name(scenario: str) -> str:
    return "srv-" + scenario.split()[0]


def run(connects: int, rounds: int) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    tag = secrets.token_hex(3)
    root = ensure_cgroup2()
    bpf_fs = Path(f"/sys/fs/bpf/kmbench-{tag}")
    attached = root / f"kmbench-{tag}"
    attached.mkdir()
    net = PodNetwork(f"kma{tag}", ipaddress.IPv4Network("10.79.2.0/24"), attached)
    servers: list[subprocess.Popen] = []
    enroller = None
    stats_before = BPF_STATS.read_text()
    try:
        BPF_STATS.write_text("1\n")
        loader.load(bpf_fs, attached).close()
        net.create()
        client = net.add_pod("client")
        plain = attached.parent / f"kmbench-{tag}-nohook"  # the client: no connect hook at all
        plain.mkdir()
        client.cgroup = plain
        with DataplaneMaps(bpf_fs) as maps:
            enroller = authzlink.make_enroller(maps, bpf_fs)
            for name, count in SCENARIOS.items():
                pod = net.add_pod(_server_name(name))
                proc = pod.popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
                servers.append(proc)
                assert proc.stdout.readline().strip() == "ready"
                if count is not None:
                    enroller.enroll(str(pod.netns_path), pod.name)
            tables = write_policies(maps, net)
            samples: dict[str, list[int]] = {name: [] for name in SCENARIOS}
            cost = {name: [0, 0] for name in SCENARIOS}
            for _ in range(rounds):
                for name in SCENARIOS:
                    t0, r0 = prog_stats(bpf_fs, authzlink.PROG_NAME)
                    samples[name] += measure(client, str(net.pods[_server_name(name)].ip), connects)
                    t1, r1 = prog_stats(bpf_fs, authzlink.PROG_NAME)
                    cost[name][0] += t1 - t0
                    cost[name][1] += r1 - r0
            results = {name: summarize(s) for name, s in samples.items()}
            for name, (ns, runs) in cost.items():
                results[name]["prog_ns"] = ns / runs if runs else float("nan")
                results[name]["prog_runs"] = runs
            for name, count in SCENARIOS.items():
                if count is not None:
                    enroller.release_cookie(net.pods[_server_name(name)].netns_cookie(), _server_name(name))
        return results, tables
    finally:
        BPF_STATS.write_text(stats_before)
        for proc in servers:
            proc.kill()
            proc.wait()
        net.destroy()
        loader.cleanup(bpf_fs, attached)
        for cgroup in (attached, attached.parent / f"kmbench-{tag}-nohook"):
            if cgroup.exists():
                remove_cgroup_tree(cgroup)


def print_results(results: dict[str, dict[str, float]], tables: dict[str, int]) -> None:
    base = results["none"]["median"]
    print(f"{'server pod':<16}{'table entries':>14}{'median us':>11}{'p99 us':>9}{'vs none':>9}"
          f"{'km_authz ns/run':>17}{'runs':>8}")
    for name, r in results.items():
        prog = "-" if r["prog_runs"] == 0 else f"{r['prog_ns']:.0f}"
        print(f"{name:<16}{tables.get(name, 0):>14}{r['median']:>11.1f}{r['p99']:>9.1f}"
              f"{r['median'] / base:>8.2f}x{prog:>17}{r['prog_runs']:>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connects", type=int, default=2000, help="connects per scenario per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results, tables = run(args.connects, args.rounds)
    print(f"connect() latency to a server pod, {args.rounds} rounds x {args.connects} connects per "
          "scenario (client without connect hook); vs none = median / median of the unlinked pod")
    print_results(results, tables)


if __name__ == "__main__":
    main()
