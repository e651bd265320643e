"""Load and latency with wrk (Debian's wrk 4.1; wrk2, which holds a fixed rate and
corrects for coordinated omission, is not packaged here).

Loads are keep-alive HTTP/1.1 from one wrk thread. "Paced" loads approximate a fixed
rate with wrk's per-connection think time (``delay()``: each connection waits after every
response), so the offered rate is about ``connections / (think_ms + latency)``; the
achieved rate is reported. The think time is drawn uniformly from 0..2 x ``think_ms``
(mean ``think_ms``; a fixed seed, so every path gets the same sequence): with a constant
one the connections stayed in lockstep, and paced-4k's 64 connections arrived as bursts of
64 requests every ~15 ms, so every path's latency was mostly queueing behind its own
burst instead of the cost of the path at 4,000 req/s. Closed-loop loads
send the next request as soon as the previous one returns (maximum throughput).
Latency is measured by wrk from the write of a request to its response, at 1 us
resolution; the think time is not part of it. Not corrected for coordinated omission.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kmeshctl.bench.procs import BenchError, pinned, require_tool
from kmeshctl.podnet import Pod

RESULT_TAG = "KMBENCH "
REQUEST_TIMEOUT_S = 2

DONE_FUNCTION = """\
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"min": %d, "mean": %.3f, "stdev": %.3f, "max": %d, ' ..
    '"p50": %d, "p90": %d, "p99": %d, "p99_9": %d}}\\n',
    "RESULT_TAG", summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9)))
end
""".replace("RESULT_TAG", RESULT_TAG)


PACING_SEED = 1
PACING = """\
math.randomseed({seed})
function delay()
  return math.random(0, {max_ms})
end
"""


@dataclass(frozen=True)
class LoadSpec:
    name: str
    connections: int
    think_ms: int  # mean think time; 0: closed loop
    description: str

    @property
    def paced(self) -> bool:
        return self.think_ms > 0

    def lua_script(self) -> str:
        pacing = PACING.format(seed=PACING_SEED, max_ms=2 * self.think_ms) if self.paced else ""
        return pacing + DONE_FUNCTION


LOADS: dict[str, LoadSpec] = {spec.name: spec for spec in (
    LoadSpec("paced-1k", 4, 3, "4 connections, 3 ms mean think time: about 1,000 req/s"),
    LoadSpec("paced-4k", 64, 15, "64 connections, 15 ms mean think time: about 4,000 req/s"),
    LoadSpec("closed-4", 4, 0, "4 connections, closed loop"),
    LoadSpec("max-64", 64, 0, "64 connections, closed loop: maximum throughput"),
)}


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    errors: dict[str, int]
    latency_us: dict[str, float]

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "duration_s": round(self.duration_s, 3),
                "rps": round(self.rps, 1), "errors": self.errors, "latency_us": self.latency_us}


def parse_wrk_output(stdout: str) -> WrkResult:
    for line in stdout.splitlines():
        if line.startswith(RESULT_TAG):
            data = json.loads(line[len(RESULT_TAG):])
            return WrkResult(
                requests=int(data["requests"]),
                duration_s=data["duration_us"] / 1e6,
                errors={k: int(v) for k, v in data["errors"].items()},
                latency_us={k: float(v) for k, v in data["latency_us"].items()},
            )
    raise BenchError(f"wrk printed no result line: {stdout.strip()[-300:]!r}")


def run_wrk(pod: Pod, url: str, load: LoadSpec, duration_s: float, cpus: str,
            workdir: Path) -> WrkResult:
    """One wrk run from ``pod`` against ``url``, pinned to ``cpus``."""
    binary = require_tool("wrk", "wrk")
    script = workdir / f"wrk-{load.name}.lua"
    script.write_text(load.lua_script())
    argv = pinned([binary, "-t1", f"-c{load.connections}", f"-d{max(1, round(duration_s))}s",
                   f"--timeout={REQUEST_TIMEOUT_S}s", "-s", str(script), url], cpus)
    result = pod.run(argv, timeout=duration_s + 30, check=False)
    if result.returncode != 0:
        raise BenchError(f"wrk against {url} exited {result.returncode}: "
                         f"{(result.stderr or result.stdout).strip()[-300:]}")
    return parse_wrk_output(result.stdout)
