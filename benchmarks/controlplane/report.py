"""The results as JSON and as a markdown table with the command that produced them."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any, Optional

SYNC_MEDIANS = ("start_to_ready_s", "push_to_ready_s", "stream_to_ack_s", "push_to_ack_s", "entries_per_s",
                "agent_apply_s", "agent_hwm_mib", "agent_rss_mib", "loader_hwm_mib", "tree_max_mib")


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
                               "maps_match_server": all_match([r["maps_match_server"] for r in group])}
        for key in SYNC_MEDIANS:
            values = [r[key] for r in group if r.get(key) is not None]
            row[key] = round(statistics.median(values), 3) if values else None
        rows.append(row)
    return rows


def all_match(values: list[Optional[bool]]) -> Optional[bool]:
    """False if any run differed, None if none was checked, else True."""
    if any(v is False for v in values):
        return False
    return None if all(v is None for v in values) else True


def raw_summary(raws: list[dict[str, Any]], sync_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per size: medians of the raw write rates, and each code's first-sync rate as a
    share of the raw rate (``share_of_raw``: agent entries/s / raw entries/s)."""
    groups: dict[int, list[dict]] = {}
    for run in raws:
        groups.setdefault(run["services"], []).append(run)
    rows = []
    for services, group in groups.items():
        raw = statistics.median(r["entries_per_s"] for r in group)
        row: dict[str, Any] = {
            "services": services, "endpoints_per_service": group[0]["endpoints_per_service"],
            "map_entries": group[0]["map_entries"], "runs": len(group), "raw_entries_per_s": round(raw),
            "raw_entries_per_s_with_ids": round(statistics.median(r["entries_per_s_with_ids"] for r in group)),
            "agent": {}}
        for sync in sync_rows:
            if sync["services"] == services and sync["entries_per_s"]:
                row["agent"][sync["code"]] = {"entries_per_s": sync["entries_per_s"],
                                              "share_of_raw": round(sync["entries_per_s"] / raw, 3)}
        rows.append(row)
    return rows


def member_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The member runs, with each code's CPU per change relative to its smallest size."""
    smallest: dict[str, dict] = {}
    for run in sorted(runs, key=lambda r: r["endpoints"]):
        smallest.setdefault(run["code"], run)
    rows = []
    for run in runs:
        base = smallest[run["code"]]
        growth = (run["agent_cpu_ms_per_change"] / base["agent_cpu_ms_per_change"]
                  if base["agent_cpu_ms_per_change"] else None)
        rows.append(run | {"cpu_growth": round(growth, 2) if growth is not None else None,
                           "vs_endpoints": base["endpoints"]})
    return rows


def write(out: Path, results: dict[str, Any]) -> tuple[Path, Path]:
    """Both files or neither (kmeshctl.cli.outpaths.NotWritten: a full disk, --out gone)."""
    from kmeshctl.cli.outpaths import write_files

    json_path, md_path = out / "controlplane.json", out / "controlplane.md"
    write_files("--out", out, {json_path: (json.dumps(results, indent=2) + "\n").encode(),
                               md_path: markdown(results).encode()}, make_dir=True)
    return md_path, json_path


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [f"# kmeshctl control-plane scale ({meta['date']})", "",
             "Command (repository root, as root):", "", f"    {meta['command']}", "",
             f"Machine: {meta['machine']}. Code: current = `{meta['code']['current']}`"
             + (f", baseline = `{meta['code']['baseline']}`" if meta["code"].get("baseline") else "") + ".",
             f"CPU: 1-minute load average {meta['load_start']} at the start, {meta['load_end']} at the end"
             + (f". {meta['note']}" if meta.get("note") else "."), ""]
    sections = []
    if results.get("sync"):
        sections.append(_sync_section(results))
    if results.get("raw"):
        sections.append(_raw_section(results))
    if results.get("member"):
        sections.append(_member_section(results["member"]))
    if results.get("churn"):
        sections.append(_churn_section(results["churn"]))
    if results.get("connect"):
        sections.append(_connect_section(results["connect"]))
    for number, (title, body) in enumerate(sections, start=1):
        lines += [f"## {number}. {title}", ""] + body
    lines += ["## How", ""] + [f"- {item}" for item in meta["how"]] + [""]
    return "\n".join(lines)


def _sync_section(results: dict[str, Any]) -> tuple[str, list[str]]:
    rows = results["sync_summary"]
    runs = max(r["runs"] for r in rows)
    lines = [f"Medians of {runs} run(s) per row" + (", code versions interleaved" if len({r['code'] for r in rows}) > 1 else "")
             + ". Map entries = frontend + service + endpoint + backend entries written. Ready is polled every "
             "50 ms, so push -> ready of the small sizes is coarse; push -> ACK comes from the server's own "
             "records (the agent ACKs once the maps are written).", "",
             "| services x endpoints | code | map entries | start -> ready (s) | push -> ready (s) | "
             "stream -> ACK (s) | push -> ACK (s) | agent: receipt -> ACK (s) | entries/s (push -> ready) | "
             "agent VmHWM (MiB) | agent VmRSS (MiB) | BPF loader child VmHWM (MiB) | maps = server |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['services']:,} x {r['endpoints_per_service']} | {r['code']} | {r['map_entries']:,} | "
                     f"{_f(r['start_to_ready_s'], 2)} | {_f(r['push_to_ready_s'], 2)} | {_f(r['stream_to_ack_s'], 2)} | "
                     f"{_f(r.get('push_to_ack_s'), 2)} | {_f(r.get('agent_apply_s'), 2)} | "
                     f"{_int(r['entries_per_s'])} | {_f(r['agent_hwm_mib'], 0)} | {_f(r['agent_rss_mib'], 0)} | "
                     f"{_f(r['loader_hwm_mib'], 0)} | {_match(r['maps_match_server'])} |")
    lines += [""] + _speedup_lines(rows) + [
        "Memory: *agent VmHWM* is the peak resident set of the agent process alone (read from "
        "/proc after the first sync), *VmRSS* its resident set then; the *BPF loader child* is the "
        "short-lived process the agent starts to compile and load the programs (its VmHWM sampled "
        "every 20 ms). The JSON also has `tree_max_mib` (wait4 ru_maxrss: the larger of the two peaks). "
        "*agent: receipt -> ACK*: the agent's own time for the response, from the received bytes to its "
        "ACK (its `/debug/xds` `lastApplySeconds`; empty for code that does not report it); push -> ACK "
        "less this is the server's encoding and the transfer.", ""]
    return "xDS -> maps: first sync", lines


def _raw_section(results: dict[str, Any]) -> tuple[str, list[str]]:
    rows = results["raw_summary"]
    codes = [c for c in ("current", "baseline") if any(c in r["agent"] for r in rows)]
    head = "| services x endpoints | map entries | raw entries/s | raw with id registry |"
    rule = "|---|---:|---:|---:|"
    for code in codes:
        head += f" agent ({code}) entries/s | {code} / raw |"
        rule += "---:|---:|"
    lines = [f"Medians of {max(r['runs'] for r in rows)} run(s) per size. *Raw*: the same frontend, service, "
             "endpoint and backend entries written by `benchmarks/bpf_map_writes.py` with one batched write "
             "series per map and nothing else, run between the first syncs of the same size; *with id "
             "registry* adds the batched allocation of one id per service and workload, which the agent "
             "does too. *Agent*: the first-sync rate of section 1 (entries / (push -> ready)). "
             "Target (issue 10): the current agent at >= 50% of raw.", "", head, rule]
    for r in rows:
        line = (f"| {r['services']:,} x {r['endpoints_per_service']} | {r['map_entries']:,} | "
                f"{_int(r['raw_entries_per_s'])} | {_int(r['raw_entries_per_s_with_ids'])} |")
        for code in codes:
            agent = r["agent"].get(code)
            line += (f" {_int(agent['entries_per_s'])} | {agent['share_of_raw'] * 100:.0f}% |" if agent
                     else " n/a | n/a |")
        lines.append(line)
    return "First sync against the raw batched map-write rate", lines + [""]


def _member_section(runs: list[dict[str, Any]]) -> tuple[str, list[str]]:
    rows = member_rows(runs)
    first = rows[0]
    kinds = ", ".join(f"{n} {k}" for k, n in first["change_kinds"].items())
    lines = [f"One Service with N endpoints loaded; {first['changes']} single-workload changes per row "
             f"({kinds}), one at a time (the next after the previous ACK). Latency: server send -> every "
             "map write of the change visible in the pinned maps. *Agent CPU per change*: the agent "
             "process's CPU time over the changes less its idle rate, / changes. *Growth*: CPU per change "
             "relative to the same code's smallest N (about 1x: the work does not grow with N).", "",
             "| endpoints in the Service | code | changes | observed | latency p50 (ms) | p99 (ms) | max (ms) | "
             "send -> ACK p50 (ms) | agent CPU per change (ms) | growth | agent idle CPU (ms/s) | maps = server |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lat = r["latency_ms"]
        growth = f"{r['cpu_growth']:.2f}x vs {r['vs_endpoints']:,}" if r["endpoints"] != r["vs_endpoints"] \
            and r["cpu_growth"] is not None else ""
        lines.append(f"| {r['endpoints']:,} | {r['code']} | {r['changes']} | {r['observed']} | {_f(lat['p50'], 2)} | "
                     f"{_f(lat['p99'], 2)} | {_f(lat['max'], 2)} | {_f(r['send_to_ack_ms']['p50'], 2)} | "
                     f"{_f(r['agent_cpu_ms_per_change'], 2)} | {growth} | {_f(r['agent_idle_cpu_ms_per_s'], 2)} | "
                     f"{_match(r['maps_match_server'])} |")
    return "One endpoint change in a big Service", lines + [""]


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


def _churn_section(c: dict[str, Any]) -> tuple[str, list[str]]:
    lat, ack = c["latency_ms"], c["send_to_ack_ms"]
    lines = [f"{c['services']:,} services x {c['endpoints_per_service']} endpoints loaded; {c['changes']} changes "
             f"sent at {c['rate_per_s']:g}/s (achieved {c['achieved_rate_per_s']}/s, latest send "
             f"{c['max_send_lag_ms']} ms behind schedule); kinds: "
             + ", ".join(f"{n} {k}" for k, n in c["change_kinds"].items()) + ".", "",
             "| changes | observed | lost | latency p50 (ms) | p99 (ms) | max (ms) | send -> ACK p50 (ms) | "
             "send -> ACK p99 (ms) | final maps = server, no NACK |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
             f"| {c['changes']} | {c['observed']} | {c['lost']} | {_f(lat['p50'], 2)} | {_f(lat['p99'], 2)} | "
             f"{_f(lat['max'], 2)} | {_f(ack['p50'], 2)} | {_f(ack['p99'], 2)} | "
             f"{_match(c['final_state_matches_server'])} |", "",
             "By kind (p50 / p99 ms): " + "; ".join(
                 f"{k} {_f(v['p50'], 2)} / {_f(v['p99'], 2)}" for k, v in c["latency_ms_by_kind"].items()) + ".", ""]
    return "Churn: endpoint changes while loaded", lines


def _connect_section(c: dict[str, Any]) -> tuple[str, list[str]]:
    small, large = c["services_small"], c["services_large"]
    return "connect() cost vs services in the maps", [
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


def _match(value: Optional[bool]) -> str:
    return "not checked (older map layout)" if value is None else "yes" if value else "**no**"


def _f(value: Optional[float], digits: int) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _int(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _pct(new: Optional[float], old: Optional[float]) -> str:
    if not new or not old:
        return "n/a"
    return f"{(new - old) / old * 100:+.0f}%"
