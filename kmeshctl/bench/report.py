"""Medians over repeats, ratios to ``direct``, the issue's targets, and the three outputs:
markdown table, JSON, PNG chart."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from kmeshctl.bench.dataplane import RunRecord

PERCENTILES = ("p50", "p90", "p99", "p99_9")
# What write_results puts in --out: `bench dataplane` refuses a folder holding any (without --force).
RESULT_FILES = {"markdown": "dataplane.md", "json": "dataplane.json", "chart": "dataplane.png"}
BASELINE = "direct"

NOTES = (
    "Load generator: wrk 4.1 (wrk2 is not packaged for this Debian). It does not correct for "
    "coordinated omission. Paced loads approximate a rate with per-connection think time "
    "(wrk `delay()`, drawn uniformly from 0 to twice the mean so that connections do not "
    "arrive in lockstep bursts), so a slower path is offered a slightly lower rate; the "
    "achieved rate is in the table. Latency is measured from the write of a request to its response, 1 us "
    "resolution, keep-alive HTTP/1.1, one wrk thread.",
    "ambient-style uses Envoy TCP proxies as stand-ins for ztunnel (no ztunnel here, no HBONE, "
    "no mTLS); they run in the client and server pods' network namespaces like ztunnel's "
    "in-pod redirection, captured with nftables REDIRECT; the client-side one sends PROXY v2 "
    "to the same waypoint Envoy the kmesh-waypoint path uses.",
    "sidecar-style captures with nftables REDIRECT rules inside the client pod (output) and "
    "server pod (prerouting), proxies exempt by uid 1337 like Istio; no mTLS on any path.",
    "Every Envoy: real Envoy, --concurrency 1, static bootstrap, 1 MiB per-connection buffer "
    "limit (the default), no access log. Proxy CPU is user+system time of the path's Envoy "
    "processes (/proc/<pid>/task/*/schedstat); kernel work done in softirq context is "
    "charged to whatever ran on that CPU.",
    "kmesh paths: the product's eBPF programs (cgroup connect4 + sockops + sk_msg) attached at "
    "the bench's cgroup, maps written with the product's map writer (no node agent); the "
    "client netns is enrolled only during kmesh runs, capture tables exist only during "
    "their own path's runs.",
)


@dataclass
class Summary:
    path: str
    load: str
    runs: int
    rps: float
    latency_us: dict[str, float]  # medians
    errors: int  # total over runs
    proxy_cpu_us_per_req: float
    server_cpu_us_per_req: float

    def to_json(self) -> dict[str, Any]:
        return {"runs": self.runs, "rps": round(self.rps, 1),
                "latency_us": {k: round(v, 1) for k, v in self.latency_us.items()},
                "errors": self.errors,
                "proxy_cpu_us_per_req": round(self.proxy_cpu_us_per_req, 2),
                "server_cpu_us_per_req": round(self.server_cpu_us_per_req, 2)}


def _per_request(ms: float, requests: int) -> float:
    return ms * 1000 / requests if requests else 0.0


def summarize(records: Sequence[RunRecord]) -> dict[str, dict[str, Summary]]:
    """``{load: {path: Summary}}`` with medians over the repeats, in run order."""
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for record in records:
        groups.setdefault((record.load, record.path), []).append(record)
    out: dict[str, dict[str, Summary]] = {}
    for (load, path), runs in groups.items():
        median = statistics.median
        out.setdefault(load, {})[path] = Summary(
            path=path, load=load, runs=len(runs),
            rps=median(r.result.rps for r in runs),
            latency_us={p: median(r.result.latency_us[p] for r in runs)
                        for p in (*PERCENTILES, "mean")},
            errors=sum(r.result.error_count for r in runs),
            proxy_cpu_us_per_req=median(_per_request(r.proxy_cpu_ms, r.result.requests)
                                        for r in runs),
            server_cpu_us_per_req=median(_per_request(r.server_cpu_ms, r.result.requests)
                                         for r in runs),
        )
    return out


def ratio(value: float, base: float) -> float | None:
    return value / base if base else None


@dataclass
class TargetCheck:
    load: str
    target: str
    measured: str
    met: bool
    shortfall: str  # how far from the target when missed, else ""

    def to_json(self) -> dict[str, Any]:
        return {"load": self.load, "target": self.target, "measured": self.measured,
                "met": self.met, "shortfall": self.shortfall}


def _within(load: str, paths: dict[str, Summary], pct: str, limit: float) -> TargetCheck | None:
    if "kmesh-l4" not in paths or BASELINE not in paths:
        return None
    r = ratio(paths["kmesh-l4"].latency_us[pct], paths[BASELINE].latency_us[pct])
    if r is None:
        return None
    over = (r - 1) * 100
    met = over <= limit
    return TargetCheck(load, f"kmesh-l4 {pct} within {limit:.0f}% of direct",
                       f"{over:+.1f}% vs direct", met,
                       "" if met else f"{over - limit:.1f} points over")


def _lower(load: str, paths: dict[str, Summary], other: str, want: float) -> TargetCheck | None:
    if "kmesh-waypoint" not in paths or other not in paths:
        return None
    wp, ref = paths["kmesh-waypoint"].latency_us["p99"], paths[other].latency_us["p99"]
    if not ref:
        return None
    lower = (1 - wp / ref) * 100
    met = lower >= want
    return TargetCheck(load, f"kmesh-waypoint p99 >= {want:.0f}% lower than {other}",
                       f"{lower:.1f}% lower ({wp:.0f} vs {ref:.0f} us)", met,
                       "" if met else f"{want - lower:.1f} points short")


def check_targets(summary: dict[str, dict[str, Summary]]) -> list[TargetCheck]:
    checks: list[TargetCheck | None] = []
    for load, paths in summary.items():
        checks += [_within(load, paths, "p50", 5), _within(load, paths, "p99", 5),
                   _lower(load, paths, "ambient-style", 30),
                   _lower(load, paths, "sidecar-style", 50)]
    return [c for c in checks if c is not None]


# ---------------------------------------------------------------- markdown


def _fmt_ratio(value: float, base: float) -> str:
    r = ratio(value, base)
    return f"{r:.2f}x" if r is not None else "-"


def _latency_table(load: str, paths: dict[str, Summary]) -> list[str]:
    base = paths.get(BASELINE)
    lines = [
        f"### {load}",
        "",
        "| path | req/s | p50 us | p90 us | p99 us | p99.9 us | p50 / direct | p99 / direct "
        "| p99 - direct us | proxy CPU us/req | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in paths.values():
        lat = s.latency_us
        p50r = _fmt_ratio(lat["p50"], base.latency_us["p50"]) if base else "-"
        p99r = _fmt_ratio(lat["p99"], base.latency_us["p99"]) if base else "-"
        diff = f"{lat['p99'] - base.latency_us['p99']:+.0f}" if base else "-"
        lines.append(f"| {s.path} | {s.rps:,.0f} | {lat['p50']:.0f} | {lat['p90']:.0f} | "
                     f"{lat['p99']:.0f} | {lat['p99_9']:.0f} | {p50r} | {p99r} | {diff} | "
                     f"{s.proxy_cpu_us_per_req:.1f} | {s.errors} |")
    return lines + [""]


def _target_table(checks: list[TargetCheck]) -> list[str]:
    lines = ["| load | target | measured | result |", "|---|---|---|---|"]
    for c in checks:
        result = "met" if c.met else f"missed ({c.shortfall})"
        lines.append(f"| {c.load} | {c.target} | {c.measured} | {result} |")
    return lines + [""]


# What the Targets section says when no target compares the paths run (`--paths direct`).
NO_TARGET = ("No target applies to these paths: the targets compare kmesh-l4 with direct, and kmesh-waypoint "
             "with ambient-style and sidecar-style.")


def markdown(summary: dict[str, dict[str, Summary]], checks: list[TargetCheck],
             env: dict[str, Any], command: str) -> str:
    lines = [
        f"# Data-plane benchmark ({env.get('date', '')})",
        "",
        f"Command: `{command}`",
        "",
        f"Medians of {env.get('repeats')} runs of {env.get('duration_s')} s per path and load, "
        "paths interleaved (order rotated every round). Same client pod, server pod (nginx), "
        "load; only the path differs.",
        "",
        f"- Machine: kernel {env.get('kernel')}; {env.get('cpus')}",
        f"- Tools: {env.get('load_generator')}; {env.get('envoy')}; {env.get('server')}",
        "",
        "Paths:",
        "",
        *[f"- `{name}`: {text}" for name, text in env.get("paths", {}).items()],
        "",
        "Loads:",
        "",
        *[f"- `{name}`: {text}" for name, text in env.get("loads", {}).items()],
        "",
        "## Latency",
        "",
    ]
    for load, paths in summary.items():
        lines += _latency_table(load, paths)
    lines += ["## Targets (reported, not asserted)", "", *(_target_table(checks) if checks else [NO_TARGET, ""]),
              "## Notes", ""]
    lines += [f"- {note}" for note in NOTES]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- JSON and chart


def to_json(records: Sequence[RunRecord], summary: dict[str, dict[str, Summary]],
            checks: list[TargetCheck], env: dict[str, Any], command: str) -> dict[str, Any]:
    return {
        "command": command,
        "environment": env,
        "summary": {load: {path: s.to_json() for path, s in paths.items()}
                    for load, paths in summary.items()},
        "targets": [c.to_json() for c in checks],
        "runs": [r.to_json() for r in records],
    }


def chart(summary: dict[str, dict[str, Summary]], title: str) -> bytes:
    """One panel per load: p50 / p90 / p99 bars per path, as PNG bytes."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    loads = list(summary)
    fig, axes = plt.subplots(1, len(loads), figsize=(5.5 * len(loads), 4.8), squeeze=False)
    shown = ("p50", "p90", "p99")
    width = 0.8 / len(shown)
    for ax, load in zip(axes[0], loads):
        paths = list(summary[load].values())
        for i, pct in enumerate(shown):
            xs = [j + (i - 1) * width for j in range(len(paths))]
            ax.bar(xs, [s.latency_us[pct] for s in paths], width, label=pct)
        ax.set_xticks(range(len(paths)))
        ax.set_xticklabels([s.path for s in paths], rotation=25, ha="right")
        ax.set_ylabel("latency (us)")
        ax.set_title(load)
        ax.grid(axis="y", alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, dpi=110, format="png")
    plt.close(fig)
    return image.getvalue()


def write_results(out_dir: Path, records: Sequence[RunRecord], env: dict[str, Any], command: str,
                  flag: str = "--out", make_parents: bool = True) -> dict[str, Path]:
    """Write dataplane.md / .json / .png into ``out_dir`` (made, with its missing parents
    when ``make_parents``), all three or none (kmeshctl.cli.outpaths.NotWritten names
    ``flag``); returns their paths."""
    from kmeshctl.cli.outpaths import write_files

    summary = summarize(records)
    checks = check_targets(summary)
    files = {kind: out_dir / name for kind, name in RESULT_FILES.items()}
    document = json.dumps(to_json(records, summary, checks, env, command), indent=2) + "\n"
    title = f"kmeshctl data-plane latency, median of {env.get('repeats')} runs ({env.get('date', '')[:10]})"
    write_files(flag, out_dir, {files["markdown"]: markdown(summary, checks, env, command).encode(),
                                files["json"]: document.encode(),
                                files["chart"]: chart(summary, title)}, make_dir=make_parents)
    return files
