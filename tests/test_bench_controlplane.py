"""The control-plane benchmark (benchmarks/controlplane) at tiny sizes on the real kernel
and the real agent: it must produce numbers, lose no update and leave nothing behind,
also when interrupted. No timing asserts (speed targets live in the benchmark output)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.controlplane.agentproc import Code  # noqa: E402
from benchmarks.controlplane.churn import plan_changes  # noqa: E402
from benchmarks.controlplane.run import first_sync_steps, member_changes_fit, parse_args  # noqa: E402
from benchmarks.controlplane.verify import NOT_CHECKED  # noqa: E402
from kmeshctl.nodecheck import cgroup2_root  # noqa: E402

RUN = [sys.executable, str(REPO_ROOT / "benchmarks" / "controlplane" / "run.py")]
TINY = ["--sizes", "10", "--endpoints", "3", "--member-endpoints", "20,40", "--member-changes", "8",
        "--churn-services", "10", "--churn-changes", "10",
        "--connect-sizes", "10,20", "--connects", "50", "--rounds", "1"]


@pytest.mark.root
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_tiny_run_has_numbers_and_loses_no_update(run_id: str, tmp_path: Path) -> None:
    rid = f"{run_id}a"
    done = subprocess.run(RUN + TINY + ["--baseline-ref", "HEAD", "--run-id", rid, "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=840)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((tmp_path / "controlplane.json").read_text())

    assert sorted(r["code"] for r in data["sync"]) == ["baseline", "current"]
    for run in data["sync"]:
        assert run["map_entries"] == 10 * (2 + 3 * 3)  # VIP + pod frontends, services, slots, backends
        assert_checked_or_older(run, run["maps_match_server"])
        assert run["start_to_ready_s"] > run["push_to_ready_s"] >= 0
        assert run["entries_per_s"] > 0 and run["agent_hwm_mib"] > 0 and run["loader_hwm_mib"] > 0

    (raw,) = data["raw"]
    assert raw["map_entries"] == 10 * (2 + 3 * 3) and raw["entries_per_s"] > 0
    assert [s["entries"] for s in raw["steps"]] == [10 + 30, 30, 30, 10, 10 + 30]
    (row,) = data["raw_summary"]
    assert set(row["agent"]) == {"current", "baseline"}
    (current,) = [r for r in data["sync_summary"] if r["code"] == "current"]
    assert row["agent"]["current"]["share_of_raw"] == pytest.approx(
        current["entries_per_s"] / row["raw_entries_per_s"], abs=0.001)

    member = data["member"]
    assert sorted((r["endpoints"], r["code"]) for r in member) == [
        (20, "baseline"), (20, "current"), (40, "baseline"), (40, "current")]
    for run in member:
        assert (run["changes"], run["observed"], run["lost"], run["nacks"]) == (8, 8, 0, 0)
        assert run["change_kinds"] == {"add": 2, "remove": 2, "update": 4}
        assert run["latency_ms"]["n"] == 8 and run["latency_ms"]["p50"] > 0
        assert run["agent_cpu_ms"] > 0
        assert run["agent_cpu_ms_per_change"] <= run["agent_cpu_ms_per_change_gross"]
        assert_checked_or_older(run, run["maps_match_server"])

    churn = data["churn"]
    assert (churn["changes"], churn["observed"], churn["lost"]) == (10, 10, 0)
    assert churn["final_state_matches_server"] and churn["verification"] == "checked", churn["problems"]
    assert churn["latency_ms"]["p50"] > 0 and churn["latency_ms"]["n"] == 10
    assert churn["send_to_ack_ms"]["n"] == 10

    connect = data["connect"]
    assert connect["vip_median_us"]["small"] > 0 and connect["vip_median_us"]["large"] > 0
    assert connect["ratio_vip_median"] > 0

    markdown = (tmp_path / "controlplane.md").read_text()
    assert "benchmarks/controlplane/run.py --sizes 10" in markdown
    assert "| 10 x 3 | current |" in markdown and "| 10 x 3 | baseline |" in markdown
    assert "## 2. First sync against the raw batched map-write rate" in markdown
    assert "## 3. One endpoint change in a big Service" in markdown
    assert "| 40 | current | 8 | 8 |" in markdown
    assert_nothing_left(rid)


def assert_checked_or_older(run: dict, matches: object) -> None:
    """This checkout's maps must equal the server's; an older commit's are compared too
    unless their layout differs (then "not checked", never a crash or a false "no")."""
    if run["code"] == "current":
        assert matches is True and run["verification"] == "checked", run["problems"]
    else:
        assert (matches, run["verification"]) in ((True, "checked"), (None, NOT_CHECKED)), run["problems"]


@pytest.mark.root
@pytest.mark.slow
def test_interrupted_run_leaves_nothing(run_id: str, tmp_path: Path) -> None:
    rid = f"{run_id}i"
    proc = subprocess.Popen(RUN + TINY + ["--parts", "churn", "--run-id", rid, "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: any(Path("/sys/fs/bpf").glob(f"kmcp-{rid}-*/km_frontend")), 240)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0, output
    assert not (tmp_path / "controlplane.json").exists()
    assert_nothing_left(rid)


def test_churn_touches_each_pod_once_and_mixes_kinds() -> None:
    changes = plan_changes(services=4, endpoints=3, count=12)
    kinds = [c.kind for c in changes]
    assert kinds.count("update") == 6 and kinds.count("add") == 3 and kinds.count("remove") == 3
    touched = [c.uid for c in changes]
    assert len(set(touched)) == len(touched)
    moved_to = [c.new_ip for c in changes if c.new_ip]
    assert len(set(moved_to)) == len(moved_to)
    with pytest.raises(SystemExit, match="--churn-changes"):
        plan_changes(services=1, endpoints=2, count=5)


def test_raw_runs_between_the_code_versions_and_alternates() -> None:
    current, baseline = Code("current", Path("/a"), "a"), Code("baseline", Path("/b"), "b")
    assert first_sync_steps([current, baseline], 0, sync=True, raw=True) == [current, None, baseline]
    assert first_sync_steps([current, baseline], 1, sync=True, raw=True) == [baseline, None, current]
    assert first_sync_steps([current], 0, sync=True, raw=False) == [current]
    assert first_sync_steps([current, baseline], 0, sync=False, raw=True) == [None]


def test_member_changes_must_fit_the_smallest_service() -> None:
    assert member_changes_fit([20, 40], 8) and member_changes_fit([6], 8)  # 6 of 8 move or leave
    assert not member_changes_fit([5, 1000], 8)
    with pytest.raises(SystemExit):
        parse_args(["--member-endpoints", "5,1000", "--member-changes", "8"])
    assert parse_args(["--parts", "raw,member"]).parts == ["raw", "member"]


def wait_for(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def assert_nothing_left(rid: str) -> None:
    tag = f"kmcp-{rid}"
    assert list(Path("/sys/fs/bpf").glob(f"{tag}-*")) == []
    assert list((cgroup2_root() or Path("/sys/fs/cgroup")).glob(f"{tag}-*")) == []
    assert not Path(f"/tmp/{tag}").exists()
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert tag not in ps
