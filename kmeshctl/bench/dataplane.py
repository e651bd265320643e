"""The data-plane comparison: every path under every load, repeated, interleaved.

Round r runs every load, and within a load every path, in an order rotated by r, so slow
drifts of a shared machine spread over all paths instead of hitting one. Each run is
checked: the proxies of its path forwarded bytes and no other proxy did.
"""

from __future__ import annotations

import platform
import re
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from kmeshctl.bench.procs import BenchError
from kmeshctl.bench.topology import (BenchTopology, CpuPlan, PathSpec, check_cpu_plan,
                                     check_paths, default_cpu_plan)
from kmeshctl.bench.wrk import LOADS, LoadSpec, WrkResult, run_wrk

DEFAULT_PATHS = ("direct", "kmesh-l4", "kmesh-waypoint", "ambient-style", "sidecar-style")
DEFAULT_LOADS = ("paced-1k", "paced-4k", "max-64")
WARMUP_LOAD = "closed-4"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    paths: tuple[str, ...] = DEFAULT_PATHS
    loads: tuple[str, ...] = DEFAULT_LOADS
    repeats: int = 5
    duration_s: int = 10
    warmup_s: int = 2
    cpus: CpuPlan = field(default_factory=default_cpu_plan)

    def check(self) -> list[PathSpec]:
        """Validate everything before anything is created."""
        if self.repeats < 1 or self.duration_s < 1 or self.warmup_s < 0:
            raise BenchError("--repeats and --duration must be >= 1 and --warmup >= 0",
                             exit_code=2)
        unknown = [name for name in self.loads if name not in LOADS]
        if unknown:
            raise BenchError(f"unknown load(s) {', '.join(unknown)}: choose from "
                             f"{', '.join(LOADS)}", exit_code=2)
        if not self.paths or not self.loads:
            raise BenchError("give at least one path and one load", exit_code=2)
        check_cpu_plan(self.cpus)
        return check_paths(list(self.paths))


@dataclass
class RunRecord:
    path: str
    load: str
    repeat: int
    result: WrkResult
    proxy_cpu_ms: float  # every Envoy on the path, during the run
    server_cpu_ms: float
    proxy_tx_bytes: dict[str, int]  # per proxy on the path

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "load": self.load, "repeat": self.repeat,
                **self.result.to_json(), "proxy_cpu_ms": round(self.proxy_cpu_ms, 3),
                "server_cpu_ms": round(self.server_cpu_ms, 3),
                "proxy_tx_bytes": self.proxy_tx_bytes}


def rotated(items: list[Any], by: int) -> list[Any]:
    by %= len(items)
    return items[by:] + items[:by]


def _cpu_ns(topology: BenchTopology, roles: tuple[str, ...]) -> tuple[int, int]:
    proxies = sum(topology.proxies[role].process.cpu_ns() for role in roles)
    server = topology.server.cpu_ns() if topology.server else 0
    return proxies, server


def _check_route(spec: PathSpec, tx_delta: dict[str, int]) -> None:
    """The path's proxies carried the traffic, and no other proxy did."""
    silent = [role for role in spec.proxies if tx_delta.get(role, 0) <= 0]
    leaked = [role for role, sent in tx_delta.items() if role not in spec.proxies and sent > 0]
    if silent or leaked:
        raise BenchError(f"path {spec.name} did not take its route (no traffic through: "
                         f"{silent or '-'}; unexpected traffic through: {leaked or '-'})")


def measure(topology: BenchTopology, spec: PathSpec, load: LoadSpec, duration_s: int,
            repeat: int) -> RunRecord:
    """One wrk run over one path, with CPU time and route check."""
    assert topology.workdir is not None
    topology.activate(spec)
    try:
        tx_before = topology.proxy_tx_bytes()
        cpu_before = _cpu_ns(topology, spec.proxies)
        result = run_wrk(topology.pod("client"), topology.url(spec), load, duration_s,
                         topology.cpus.client, topology.workdir)
        cpu_after = _cpu_ns(topology, spec.proxies)
        tx_after = topology.proxy_tx_bytes()
    finally:
        topology.deactivate(spec)
    topology.check_alive()
    tx_delta = {role: tx_after[role] - tx_before[role] for role in tx_after}
    _check_route(spec, tx_delta)
    return RunRecord(
        path=spec.name, load=load.name, repeat=repeat, result=result,
        proxy_cpu_ms=(cpu_after[0] - cpu_before[0]) / 1e6,
        server_cpu_ms=(cpu_after[1] - cpu_before[1]) / 1e6,
        proxy_tx_bytes={role: tx_delta[role] for role in spec.proxies},
    )


def _warm_up(topology: BenchTopology, specs: list[PathSpec], seconds: int,
             progress: Progress) -> None:
    """A short unrecorded run per path: first-request costs, and a route check."""
    for spec in specs:
        record = measure(topology, spec, LOADS[WARMUP_LOAD], max(1, seconds), repeat=-1)
        if record.result.requests == 0 or record.result.error_count:
            count = f"{record.result.requests} request" + ("" if record.result.requests == 1 else "s")
            raise BenchError(f"path {spec.name} fails: {count}, errors {record.result.errors}")
        progress(f"warm-up {spec.name}: {record.result.rps:,.0f} req/s, route ok")


def run_plan(topology: BenchTopology, specs: list[PathSpec], config: BenchConfig,
             progress: Progress) -> list[RunRecord]:
    loads = [LOADS[name] for name in config.loads]
    total = config.repeats * len(loads) * len(specs)
    records: list[RunRecord] = []
    for repeat in range(config.repeats):
        for load in loads:
            for spec in rotated(specs, repeat):
                record = measure(topology, spec, load, config.duration_s, repeat)
                records.append(record)
                lat = record.result.latency_us
                progress(f"[{len(records)}/{total}] {load.name:9} {spec.name:15} "
                         f"{record.result.rps:9,.0f} req/s  p50 {lat['p50']:6.0f} us  "
                         f"p99 {lat['p99']:6.0f} us  errors {record.result.error_count}")
    return records


def environment(config: BenchConfig, topology: BenchTopology) -> dict[str, Any]:
    """What the numbers were measured on and with."""
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "kernel": platform.release(),
        "cpus": config.cpus.describe(),
        "load_generator": _tool_version(["wrk", "-v"], r"wrk \S+"),
        "envoy": "envoy " + _tool_version([_envoy_path(), "--version"], r"\d+\.\d+\.\d+"),
        "server": _tool_version(["nginx", "-v"], r"nginx/\S+"),
        "duration_s": config.duration_s,
        "repeats": config.repeats,
        "loads": {name: LOADS[name].description for name in config.loads},
        "paths": {spec.name: spec.description for spec in topology.paths},
    }


def _envoy_path() -> str:
    from kmeshctl.bench.envoy import envoy_binary

    return envoy_binary()


def _tool_version(argv: list[str], pattern: str) -> str:
    """The part of a tool's version output matching ``pattern``."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    found = re.search(pattern, result.stdout + result.stderr)
    return found.group(0) if found else "unknown"


def run_dataplane(config: BenchConfig, progress: Progress = lambda _: None,
                  run_id: str | None = None) -> tuple[list[RunRecord], dict[str, Any]]:
    """Set up, warm up, run every configuration, tear down (also on failure).
    ``run_id`` names everything created (see ``topology.NAME_PREFIX``)."""
    specs = config.check()
    topology = BenchTopology(specs, cpus=config.cpus)
    if run_id:
        topology.run_id = run_id
    started = time.monotonic()
    progress(f"setting up pods, nginx and {len(topology.needed_roles())} Envoy proxies "
             f"(run {topology.run_id})")
    topology.up()
    try:
        env = environment(config, topology)
        _warm_up(topology, specs, config.warmup_s, progress)
        records = run_plan(topology, specs, config, progress)
    finally:
        topology.down()
    env["wall_time_s"] = round(time.monotonic() - started, 1)
    return records, env
