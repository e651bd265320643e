"""The data-plane benchmark: every path once, briefly, on the real kernel, Envoy, nginx and
wrk (no timing asserts: numbers must exist, errors must be zero, routes must hold); plus
the pure parts (wrk output, bootstraps, capture rules, medians and targets)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kmeshctl.bench import report
from kmeshctl.bench.capture import InboundCapture, OutboundCapture
from kmeshctl.bench.dataplane import BenchConfig, RunRecord, run_dataplane
from kmeshctl.bench.envoy import bootstrap
from kmeshctl.bench.procs import BENCH_NICE, BenchError, pinned
from kmeshctl.bench.topology import NAME_PREFIX, CpuPlan, PATHS, envoy_roles, leftover_run_ids
from kmeshctl.bench.wrk import LOADS, WrkResult, parse_wrk_output

REPO_ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- real run


@pytest.mark.root
@pytest.mark.slow
def test_every_path_carries_load_with_zero_errors(run_id: str, tmp_path: Path) -> None:
    config = BenchConfig(paths=tuple(PATHS), loads=("paced-1k",), repeats=1, duration_s=2,
                         warmup_s=1)
    records, env = run_dataplane(config, run_id=run_id)

    assert sorted(r.path for r in records) == sorted(PATHS)
    for record in records:
        lat = record.result.latency_us
        assert record.result.requests > 100, record.to_json()
        assert record.result.error_count == 0, record.to_json()
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"], record.to_json()
        spec = PATHS[record.path]
        assert set(record.proxy_tx_bytes) == set(spec.proxies)
        assert all(sent > 0 for sent in record.proxy_tx_bytes.values()), record.to_json()
        assert (record.proxy_cpu_ms > 0) == bool(spec.proxies), record.to_json()

    files = report.write_results(tmp_path, records, env, "pytest")
    data = json.loads(files["json"].read_text())
    assert set(data["summary"]["paced-1k"]) == set(PATHS)
    assert "| kmesh-waypoint |" in files["markdown"].read_text()
    assert files["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _assert_nothing_left(run_id)


def _assert_nothing_left(run_id: str) -> None:
    assert run_id not in leftover_run_ids()
    assert list(Path("/run/netns").glob(f"{NAME_PREFIX}{run_id}-*")) == []
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert f"{NAME_PREFIX}-{run_id}" not in ps


# ---------------------------------------------------------------- validation


def test_bad_path_is_a_usage_error_before_anything_is_made() -> None:
    with pytest.raises(BenchError, match="unknown path") as err:
        BenchConfig(paths=("direct", "teleport")).check()
    assert err.value.exit_code == 2


def test_cpu_lists_are_checked() -> None:
    with pytest.raises(BenchError, match="not like"):
        BenchConfig(cpus=CpuPlan("0", "x")).check()
    with pytest.raises(BenchError, match="not available here"):
        BenchConfig(cpus=CpuPlan("0", "4096")).check()


def test_cli_rejects_unknown_load() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kmeshctl", "bench", "dataplane", "--loads", "huge"],
        capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 2
    assert "--loads huge: huge is not an accepted value; use a comma-separated list of" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- pure parts


def test_wrk_result_line_is_parsed() -> None:
    out = ("Running 2s test\n"
           'KMBENCH {"requests": 2000, "duration_us": 2000000, "bytes": 1, "errors": '
           '{"connect": 0, "read": 0, "write": 0, "status": 3, "timeout": 1}, "latency_us": '
           '{"min": 40, "mean": 80.5, "stdev": 9.1, "max": 900, "p50": 75, "p90": 99, '
           '"p99": 210, "p99_9": 600}}\n')
    result = parse_wrk_output(out)
    assert result.rps == 1000.0
    assert result.error_count == 4
    assert result.latency_us["p99"] == 210.0


def test_only_paced_loads_define_a_think_time() -> None:
    # mean 3 ms, drawn from 0..6 ms so that connections do not move in lockstep
    assert "function delay()\n  return math.random(0, 6)\nend" in LOADS["paced-1k"].lua_script()
    assert "math.randomseed(" in LOADS["paced-4k"].lua_script()
    assert "delay" not in LOADS["max-64"].lua_script()
    assert "latency:percentile(99)" in LOADS["max-64"].lua_script()


def test_waypoint_reads_proxy_v2_and_the_ambient_stand_in_sends_it(tmp_path: Path) -> None:
    roles = envoy_roles("10.244.0.3", "10.244.0.4")
    waypoint = bootstrap(roles["waypoint"][1], tmp_path / "a.sock")
    listener = waypoint["static_resources"]["listeners"][0]
    assert [f["name"] for f in listener["listener_filters"]] == [
        "envoy.filters.listener.proxy_protocol"]
    ztunnel = bootstrap(roles["ztunnel-client"][1], tmp_path / "b.sock")
    cluster = ztunnel["static_resources"]["clusters"][0]
    assert cluster["transport_socket"]["typed_config"]["config"] == {"version": "V2"}
    assert waypoint["admin"]["address"]["pipe"]["path"] == str(tmp_path / "a.sock")


@pytest.mark.root
def test_bench_processes_run_pinned_at_high_priority_with_their_own_pid() -> None:
    probe = ("import json, os; print(json.dumps([os.getpid(), os.nice(0), "
             "sorted(os.sched_getaffinity(0)), open('/proc/self/autogroup').read().split()[-1]]))")
    proc = subprocess.Popen(pinned([sys.executable, "-c", probe], "0"), stdout=subprocess.PIPE,
                            text=True)
    out, _ = proc.communicate(timeout=30)
    pid, nice, cpus, autogroup_nice = json.loads(out)
    assert pid == proc.pid  # CPU accounting reads /proc/<pid of the Popen>
    assert (nice, cpus, int(autogroup_nice)) == (BENCH_NICE, [0], BENCH_NICE)


def test_capture_rules_exempt_the_proxy_uid() -> None:
    out = OutboundCapture("10.96.0.11", 80, 15001).ruleset()
    assert "ip daddr 10.96.0.11 tcp dport 80 meta skuid != 1337 redirect to :15001" in out
    assert "hook prerouting" in InboundCapture(80, 15006).ruleset()


def _record(path: str, repeat: int, p50: float, p99: float) -> RunRecord:
    latency = {"min": 1, "mean": p50, "stdev": 1, "max": p99 * 2, "p50": p50, "p90": p50 * 1.5,
               "p99": p99, "p99_9": p99 * 1.5}
    zero = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    return RunRecord(path, "paced-1k", repeat, WrkResult(1000, 1.0, zero, latency), 10.0, 5.0, {})


def test_medians_ratios_and_targets() -> None:
    records = [
        _record("direct", 0, 100, 200), _record("direct", 1, 120, 220), _record("direct", 2, 110, 210),
        _record("kmesh-l4", 0, 118, 208), _record("kmesh-l4", 1, 116, 260),
        _record("kmesh-l4", 2, 117, 209),
        _record("kmesh-waypoint", 0, 300, 600), _record("ambient-style", 0, 500, 1000),
        _record("sidecar-style", 0, 600, 1000),
    ]
    summary = report.summarize(records)
    assert summary["paced-1k"]["direct"].latency_us["p50"] == 110
    assert summary["paced-1k"]["kmesh-l4"].latency_us["p99"] == 209
    assert summary["paced-1k"]["direct"].proxy_cpu_us_per_req == 10.0
    checks = {c.target: c for c in report.check_targets(summary)}
    p50 = checks["kmesh-l4 p50 within 5% of direct"]
    assert not p50.met and p50.shortfall == "1.4 points over"  # 117 / 110: +6.4%
    assert checks["kmesh-l4 p99 within 5% of direct"].met  # 209/210
    assert checks["kmesh-waypoint p99 >= 30% lower than ambient-style"].met  # 40% lower
    sidecar = checks["kmesh-waypoint p99 >= 50% lower than sidecar-style"]
    assert not sidecar.met and sidecar.shortfall == "10.0 points short"


@pytest.mark.root
@pytest.mark.slow
def test_cleanup_after_a_killed_run(run_id: str) -> None:
    crash_id = f"{int(run_id, 16) ^ 0xFFFFFF:06x}"  # a second id for this run
    script = ("from kmeshctl.bench.dataplane import BenchConfig, run_dataplane\n"
              "run_dataplane(BenchConfig(paths=('direct', 'kmesh-l4'), loads=('paced-1k',), "
              f"repeats=1, duration_s=60, warmup_s=1), progress=print, run_id='{crash_id}')\n")
    proc = subprocess.Popen([sys.executable, "-u", "-c", script], stdout=subprocess.PIPE,
                            text=True, cwd=REPO_ROOT)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # killed in the middle of a measured run
            if line.startswith("warm-up kmesh-l4"):
                break
        time.sleep(1)
        assert crash_id in leftover_run_ids()
    finally:
        proc.kill()
        proc.wait()
    result = subprocess.run([sys.executable, "-m", "kmeshctl", "bench", "cleanup", "--run-id", crash_id],
                            capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert f"removed benchmark run {crash_id}" in result.stdout
    _assert_nothing_left(crash_id)
    assert not Path(f"/sys/fs/bpf/{NAME_PREFIX}-{crash_id}").exists()
