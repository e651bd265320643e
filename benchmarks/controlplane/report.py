"""The results as JSON and as a markdown table with the command that produced them."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any, Optional

SYNC_MEDIANS = ("start_to_ready_s", "push_to_ready_s", "stream_to_ack_s", "entries_per_s",
                "agent_hwm_mib", "agent_rss_mib", "loader_hwm_mib", "tree_max_mib")


def sync_summary(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians per (services, code), in the order first seen."""
    groups: dict[tuple[int, str], list[dict]] = {}
    for run in runs:
        groups.setdefault((run["services"], run["code"]), []).append(run)
    rows = []
    for (services, code), group in groups.items():
        row: dict[str, Any] = {"services": services, "code": code, "runs": len(group),
                               "endpoints_per_service": group[0]["endpoints_per_service"],
                               "map_entries": group[0]["map_entries"],
                               "maps_match_server": all(r["maps_match_server"] for r in group)}
        for key in SYNC_MEDIANS:
            values = [r[key] for r in group if r.get(key) is not None]
            row[key] = round(statistics.median(values), 3) if values else None
        rows.append(row)
    return rows


def write(out: Path, results: dict[str, Any]) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "controlplane.json", out / "controlplane.md"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.write_text(markdown(results))
    return md_path, json_path


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [f"# kmeshctl control-plane scale ({meta['date']})", "",
             "Command (repository root, as root):", "", f"    {meta['command']}", "",
             f"Machine: {meta['machine']}. Code: current = `{meta['code']['current']}`"
             + (f", baseline = `{meta['code']['baseline']}`" if meta["code"].get("baseline") else "") + ".",
             f"CPU: 1-minute load average {meta['load_start']} at the start, {meta['load_end']} at the end"
             + (f". {meta['note']}" if meta.get("note") else "."), ""]
    if results.get("sync"):
        lines += _sync_section(results)
    if results.get("churn"):
        lines += _churn_section(results["churn"])
    if results.get("connect"):
        lines += _connect_section(results["connect"])
    lines += ["## How", ""] + [f"- {item}" for item in meta["how"]] + [""]
    return "\n".join(lines)


def _sync_section(results: dict[str, Any]) -> list[str]:
    rows = results["sync_summary"]
    runs = max(r["runs"] for r in rows)
    lines = ["## 1. xDS -> maps: first sync", "",
             f"Medians of {runs} run(s) per row" + (", code versions interleaved" if len({r['code'] for r in rows}) > 1 else "")
             + ". Map entries = frontend + service + endpoint + backend entries written.", "",
             "| services x endpoints | code | map entries | start -> ready (s) | push -> ready (s) | "
             "stream -> ACK (s) | entries/s (push -> ready) | agent VmHWM (MiB) | agent VmRSS (MiB) | "
             "BPF loader child VmHWM (MiB) | maps = server |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['services']:,} x {r['endpoints_per_service']} | {r['code']} | {r['map_entries']:,} | "
                     f"{_f(r['start_to_ready_s'], 2)} | {_f(r['push_to_ready_s'], 2)} | {_f(r['stream_to_ack_s'], 2)} | "
                     f"{_int(r['entries_per_s'])} | {_f(r['agent_hwm_mib'], 0)} | {_f(r['agent_rss_mib'], 0)} | "
                     f"{_f(r['loader_hwm_mib'], 0)} | {'yes' if r['maps_match_server'] else '**no**'} |")
    lines += [""] + _speedup_lines(rows) + [
        "Memory: *agent VmHWM* is the peak resident set of the agent process alone (read from "
        "/proc after the first sync), *VmRSS* its resident set then; the *BPF loader child* is the "
        "short-lived process the agent starts to compile and load the programs (its VmHWM sampled "
        "every 20 ms). The JSON also has `tree_max_mib` (wait4 ru_maxrss: the larger of the two peaks).", ""]
    return lines


def _speedup_lines(rows: list[dict[str, Any]]) -> list[str]:
    by = {(r["services"], r["code"]): r for r in rows}
    out = []
    for (services, code), r in by.items():
        base = by.get((services, "baseline"))
        if code != "current" or base is None:
            continue
        out.append(f"- {services:,} services: push -> ready {_f(base['push_to_ready_s'], 2)} s (baseline) -> "
                   f"{_f(r['push_to_ready_s'], 2)} s (current), {_pct(r['push_to_ready_s'], base['push_to_ready_s'])}; "
                   f"agent VmHWM {_f(base['agent_hwm_mib'], 0)} -> {_f(r['agent_hwm_mib'], 0)} MiB")
    return (["Current vs baseline (medians; `git diff BASELINE CURRENT -- kmeshctl bpf` shows what "
             "differs):", ""] + out + [""]) if out else []


def _churn_section(c: dict[str, Any]) -> list[str]:
    lat, ack = c["latency_ms"], c["send_to_ack_ms"]
    lines = ["## 2. Churn: endpoint changes while loaded", "",
             f"{c['services']:,} services x {c['endpoints_per_service']} endpoints loaded; {c['changes']} changes "
             f"sent at {c['rate_per_s']:g}/s (achieved {c['achieved_rate_per_s']}/s, latest send "
             f"{c['max_send_lag_ms']} ms behind schedule); kinds: "
             + ", ".join(f"{n} {k}" for k, n in c["change_kinds"].items()) + ".", "",
             "| changes | observed | lost | latency p50 (ms) | p99 (ms) | max (ms) | send -> ACK p50 (ms) | "
             "send -> ACK p99 (ms) | final maps = server, no NACK |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
             f"| {c['changes']} | {c['observed']} | {c['lost']} | {_f(lat['p50'], 2)} | {_f(lat['p99'], 2)} | "
             f"{_f(lat['max'], 2)} | {_f(ack['p50'], 2)} | {_f(ack['p99'], 2)} | "
             f"{'yes' if c['final_state_matches_server'] else '**no**'} |", "",
             "By kind (p50 / p99 ms): " + "; ".join(
                 f"{k} {_f(v['p50'], 2)} / {_f(v['p99'], 2)}" for k, v in c["latency_ms_by_kind"].items()) + ".", ""]
    return lines


def _connect_section(c: dict[str, Any]) -> list[str]:
    small, large = c["services_small"], c["services_large"]
    return ["## 3. connect() cost vs services in the maps", "",
            f"`benchmarks/bpf_connect.py`: {c['rounds']} rounds x {c['connects_per_scenario_per_round']} connects "
            f"per scenario, {c['endpoints_per_service']} endpoints per service.", "",
            "| services in maps | connect() to a VIP, median (us) | p99 (us) | no hook, median (us) | "
            "km_connect4 in kernel (ns/run) |",
            "|---:|---:|---:|---:|---:|",
            f"| {small:,} | {_f(c['vip_median_us']['small'], 1)} | {_f(c['vip_p99_us']['small'], 1)} | "
            f"{_f(c['no_hook_median_us']['small'], 1)} | {_f(c['prog_ns_per_run']['small'], 0)} |",
            f"| {large:,} | {_f(c['vip_median_us']['large'], 1)} | {_f(c['vip_p99_us']['large'], 1)} | "
            f"{_f(c['no_hook_median_us']['large'], 1)} | {_f(c['prog_ns_per_run']['large'], 0)} |",
            f"| ratio {large:,} / {small:,} | {_f(c['ratio_vip_median'], 2)}x | {_f(c['ratio_vip_p99'], 2)}x | | "
            f"{_f(c['ratio_prog_ns'], 2)}x |", "",
            f"The sizes run one after the other ({small:,} services first, then the maps are filled up to "
            f"{large:,}), so drift of the machine shows in the ratio; scenarios alternate within each size. "
            "The in-kernel time of the hook is the steadiest of these numbers.", ""]


def _f(value: Optional[float], digits: int) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _int(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _pct(new: Optional[float], old: Optional[float]) -> str:
    if not new or not old:
        return "n/a"
    return f"{(new - old) / old * 100:+.0f}%"
