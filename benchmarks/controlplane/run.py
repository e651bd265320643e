#!/usr/bin/env python3
"""Control-plane scale of the kmeshctl node agent (README.md here):

  sync     xDS -> maps: first sync of N services x E endpoints (time to ready, map entries/s,
           agent and BPF-loader peak RSS), optionally side by side with an older git ref;
  raw      the raw batched map-write rate of the same entries (benchmarks/bpf_map_writes.py),
           interleaved with the first syncs, and the agent's share of it;
  member   one endpoint change in a big Service (1 x N endpoints): latency server -> pinned
           map and agent CPU per change, per N and code version;
  churn    endpoint changes at a fixed rate, propagation latency server -> pinned map,
           and a check that no update is lost;
  connect  connect() cost with few vs many services in the maps (benchmarks/bpf_connect.py).

Needs root. Writes controlplane.md and controlplane.json to --out (default
benchmarks/results/<today>/). Everything it creates is removed at the end, also on
failure or Ctrl-C.

    sudo .venv/bin/python benchmarks/controlplane/run.py
    sudo .venv/bin/python benchmarks/controlplane/run.py --sizes 10 --endpoints 3 \\
        --member-endpoints 20,40 --member-changes 8 \\
        --churn-services 10 --churn-changes 10 --connect-sizes 10,20 --connects 50 --rounds 1
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # `benchmarks.*` when run as a script

import argparse  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
from datetime import date  # noqa: E402
from typing import Any, Optional  # noqa: E402

from benchmarks.controlplane import report  # noqa: E402
from benchmarks.controlplane.agentproc import Code, current_code, export_ref  # noqa: E402
from benchmarks.controlplane.scratch import Scratch  # noqa: E402
from kmeshctl.cli.outpaths import NotWritten, shell_line  # noqa: E402

PARTS = ("sync", "raw", "member", "churn", "connect")
HOW = [
    "The agent under test is the real `kmeshctl node run` (plaintext xDS to the benchmark's "
    "in-process delta ADS server, kmeshctl's own `XdsServer`; local enrollment; its own bpffs "
    "directory and cgroup). Every agent start compiles and loads the BPF programs in its child process.",
    "Time stamps: the server notes when it queues each response (\"push\"); ready = first 200 "
    "from the agent's `/debug/ready`, polled every 50 ms; ACK times are the server's records.",
    "Raw map writes: `benchmarks/bpf_map_writes.py` (`write_mesh`) in a fresh interpreter writes the "
    "same frontend, service, endpoint and backend entries (same names and addresses) into an empty "
    "data path with one batched write series per map (`TypedMap.update_batch`), no agent and no xDS; "
    "this checkout's kmeshctl. It runs between the first syncs of the same size.",
    "One endpoint change in a big Service: one change at a time (the next once the agent ACKed the "
    "previous and 10 ms passed); latency as for churn (the observer is told as each change is sent); "
    "agent CPU = its process CPU clock (all threads) over the changes, less its idle rate measured "
    "for 1 s just before, divided by the number of changes.",
    "Churn latency: from the server queueing a change to every map write of the change being "
    "visible in the pinned maps, seen by a separate observer process that polls the changes "
    "sent so far through `kmeshctl.maps.DataplaneMaps` (about every 0.2 ms).",
    "Lost updates: every change must be observed, and after the last one the maps are compared "
    "entry by entry with the server's final state (addresses, service ids, ports, endpoint "
    "groups, no extra entries); the same comparison follows every first sync and the big-Service "
    "changes. It reads the maps with this checkout's kmeshctl.maps: an older commit whose maps have "
    "another layout (key/value sizes) is \"not checked (older map layout)\" (its observer reads them "
    "with that commit's own kmeshctl).",
    "connect(): `benchmarks/bpf_connect.py` (two network namespaces, real TCP, connect() timed "
    "in the client; the kernel's BPF run-time statistics for the hook's own cost).",
    "Absolute times depend on what else the machine runs (see the load average above); rows of "
    "one run (code versions interleaved) compare better than runs of different days.",
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default=",".join(PARTS), help="which parts to run: sync,churn,connect")
    p.add_argument("--sizes", default="100,1000,5000", help="services for the first sync")
    p.add_argument("--endpoints", type=int, default=20, help="endpoints per service")
    p.add_argument("--repeats", type=int, default=1, help="first-sync runs per size and code version")
    p.add_argument("--code-ref", help="run the code of this git ref (default: this checkout as it is)")
    p.add_argument("--baseline-ref", help="also run the first sync with the code of this git ref")
    p.add_argument("--member-endpoints", default="1000,10000",
                   help="endpoints of the one Service of the `member` part (comma-separated sizes)")
    p.add_argument("--member-changes", type=int, default=100, help="single-workload changes per size and code")
    p.add_argument("--churn-services", type=int, default=1000, help="services loaded during churn")
    p.add_argument("--churn-changes", type=int, default=200)
    p.add_argument("--churn-rate", type=float, default=50.0, help="changes per second")
    p.add_argument("--connect-sizes", default="10,5000", help="SMALL,LARGE services for connect()")
    p.add_argument("--connects", type=int, default=2000, help="connects per scenario per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", type=Path, help="results directory (default benchmarks/results/<today>)")
    p.add_argument("--run-id", help="suffix of every name this run creates (default: random)")
    p.add_argument("--note", default="", help="free text for the report (e.g. what else ran)")
    args = p.parse_args(argv)
    args.parts = _names(args.parts, PARTS, "--parts")
    args.sizes = _ints(args.sizes, "--sizes")
    args.connect_sizes = _ints(args.connect_sizes, "--connect-sizes")
    args.member_endpoints = _ints(args.member_endpoints, "--member-endpoints")
    if len(args.connect_sizes) != 2:
        p.error("--connect-sizes takes two numbers: SMALL,LARGE (e.g. 10,5000)")
    if min(args.sizes + args.connect_sizes + args.member_endpoints
           + [args.endpoints, args.repeats, args.churn_services, args.member_changes]) < 1 \
            or args.churn_rate <= 0 or args.churn_changes < 1:
        p.error("sizes, counts and the churn rate must be positive")
    if not member_changes_fit(args.member_endpoints, args.member_changes):
        p.error(f"--member-changes {args.member_changes} moves or removes more pods than "
                f"--member-endpoints {min(args.member_endpoints)} has: use fewer changes or more endpoints")
    return args


def member_changes_fit(sizes: list[int], count: int) -> bool:
    """Each change that moves or removes a pod needs a pod of its own (3 of every 4)."""
    return count - (count + 2) // 4 <= min(sizes)


def _ints(text: str, flag: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x]
    except ValueError:
        raise SystemExit(f"{flag} {text!r}: pass comma-separated integers") from None


def _names(text: str, allowed: tuple[str, ...], flag: str) -> list[str]:
    names = [x for x in text.split(",") if x]
    unknown = set(names) - set(allowed)
    if unknown:
        raise SystemExit(f"{flag}: unknown {', '.join(sorted(unknown))}; use {','.join(allowed)}")
    return names


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.machine())
    return (f"Linux {platform.release()}, {os.cpu_count()} CPUs ({model}), "
            f"Python {platform.python_version()}")


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def first_sync_steps(codes: list[Code], repeat: int, sync: bool, raw: bool) -> list[Optional[Code]]:
    """What one repeat of one size runs, in order: a code version's first sync, or None for
    the raw writes (between the first two syncs, so both versions have it as a neighbour).
    The versions' order alternates between repeats, which cancels drift."""
    order: list[Optional[Code]] = list(codes if repeat % 2 == 0 else reversed(codes)) if sync else []
    if raw:
        order.insert(1 if order else 0, None)
    return order


def run_first_sync(scratch: Scratch, codes: list[Code], args: argparse.Namespace,
                   sync: bool, raw: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The `sync` and `raw` runs, interleaved per size and repeat."""
    from benchmarks.controlplane.raw import raw_writes
    from benchmarks.controlplane.sync import first_sync

    sync_runs, raw_runs = [], []
    for services in args.sizes:
        for repeat in range(args.repeats):
            for code in first_sync_steps(codes, repeat, sync, raw):
                if code is None:
                    raw_runs.append(raw_writes(scratch, services, args.endpoints, repeat))
                    _print_raw(raw_runs[-1])
                else:
                    sync_runs.append(first_sync(scratch, code, services, args.endpoints, repeat))
                    _print_sync(sync_runs[-1], code)
    return sync_runs, raw_runs


def _print_sync(result: dict[str, Any], code: Code) -> None:
    print(f"sync {result['services']:>5} x {result['endpoints_per_service']} [{code.label}] push->ready "
          f"{result['push_to_ready_s']:.2f} s, start->ready {result['start_to_ready_s']:.2f} s, "
          f"{result['entries_per_s']:,} entries/s, agent HWM {result['agent_hwm_mib']:.0f} MiB, "
          f"loader HWM {result['loader_hwm_mib']:.0f} MiB, maps=server {result['maps_match_server']} "
          f"({result['verification']})", flush=True)


def _print_raw(result: dict[str, Any]) -> None:
    print(f"raw  {result['services']:>5} x {result['endpoints_per_service']} {result['map_entries']:,} entries "
          f"in {result['seconds']:.2f} s: {result['entries_per_s']:,} entries/s "
          f"({result['entries_per_s_with_ids']:,}/s with the id registry)", flush=True)


def run_member(scratch: Scratch, codes: list[Code], args: argparse.Namespace) -> list[dict[str, Any]]:
    from benchmarks.controlplane.member import member_changes

    runs = []
    for i, endpoints in enumerate(args.member_endpoints):
        for code in (codes if i % 2 == 0 else list(reversed(codes))):
            result = member_changes(scratch, code, endpoints, args.member_changes)
            runs.append(result)
            lat = result["latency_ms"]
            print(f"member 1 x {endpoints} [{code.label}] {result['changes']} changes: observed "
                  f"{result['observed']}, latency p50 {lat['p50']} ms, p99 {lat['p99']} ms, agent CPU "
                  f"{result['agent_cpu_ms_per_change']} ms/change, maps=server {result['maps_match_server']} "
                  f"({result['verification']})", flush=True)
    return runs


def run_churn(scratch: Scratch, code: Code, args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.controlplane.churn import churn

    result = churn(scratch, code, args.churn_services, args.endpoints, args.churn_changes, args.churn_rate)
    lat = result["latency_ms"]
    print(f"churn {result['changes']} changes at {args.churn_rate:g}/s: observed {result['observed']}, "
          f"lost {result['lost']}, p50 {lat['p50']} ms, p99 {lat['p99']} ms, "
          f"final maps = server {result['final_state_matches_server']}", flush=True)
    return result


def run_connect(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.controlplane.connect import connect_cost

    small, large = args.connect_sizes
    result = connect_cost(args.connects, args.rounds, small, large, args.endpoints)
    print(f"connect() to a VIP: median {result['vip_median_us']['small']:.1f} us with {small} services, "
          f"{result['vip_median_us']['large']:.1f} us with {large} (ratio {result['ratio_vip_median']})",
          flush=True)
    return result


def exported(scratch: Scratch, ref: str, label: str) -> Code:
    """The code of git ``ref`` in the run's scratch directory, removed at the end."""
    dest = scratch.workdir / label
    scratch.on_exit(lambda: shutil.rmtree(dest, ignore_errors=True))
    return export_ref(ref, dest, label)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("needs root (loads BPF, attaches to cgroups, creates network namespaces)")
    out = args.out or REPO_ROOT / "benchmarks" / "results" / date.today().isoformat()
    command = shell_line(["sudo", ".venv/bin/python", "benchmarks/controlplane/run.py", *argv])
    results: dict[str, Any] = {"meta": {"date": date.today().isoformat(), "command": command,
                                        "machine": machine(), "load_start": load_average(),
                                        "note": args.note, "how": HOW, "args": _jsonable(vars(args))}}
    with Scratch(args.run_id) as scratch:
        codes = [exported(scratch, args.code_ref, "current") if args.code_ref else current_code()]
        if args.baseline_ref:
            codes.append(exported(scratch, args.baseline_ref, "baseline"))
        results["meta"]["code"] = {c.label: c.ref for c in codes}
        if "sync" in args.parts or "raw" in args.parts:
            sync_runs, raw_runs = run_first_sync(scratch, codes, args, "sync" in args.parts, "raw" in args.parts)
            if sync_runs:
                results["sync"] = sync_runs
                results["sync_summary"] = report.sync_summary(sync_runs)
            if raw_runs:
                results["raw"] = raw_runs
                results["raw_summary"] = report.raw_summary(raw_runs, results.get("sync_summary", []))
        if "member" in args.parts:
            results["member"] = run_member(scratch, codes, args)
        if "churn" in args.parts:
            results["churn"] = run_churn(scratch, codes[0], args)
        if "connect" in args.parts:
            results["connect"] = run_connect(args)
    results["meta"]["load_end"] = load_average()
    try:
        md_path, json_path = report.write(out, results)
    except NotWritten as err:  # measured: printed all the same, then one line
        print(report.markdown(results))
        raise SystemExit(f"Error: {err.again(command, 'the benchmark')}") from None
    print(f"wrote {md_path} and {json_path}")


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in values.items()}


if __name__ == "__main__":
    main(sys.argv[1:])
