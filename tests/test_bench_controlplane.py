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

from benchmarks.controlplane.churn import plan_changes  # noqa: E402
from kmeshctl.nodecheck import cgroup2_root  # noqa: E402

RUN = [sys.executable, str(REPO_ROOT / "benchmarks" / "controlplane" / "run.py")]
TINY = ["--sizes", "10", "--endpoints", "3", "--churn-services", "10", "--churn-changes", "10",
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
        assert run["maps_match_server"], run["problems"]
        assert run["start_to_ready_s"] > run["push_to_ready_s"] >= 0
        assert run["entries_per_s"] > 0 and run["agent_hwm_mib"] > 0 and run["loader_hwm_mib"] > 0

    churn = data["churn"]
    assert (churn["changes"], churn["observed"], churn["lost"]) == (10, 10, 0)
    assert churn["final_state_matches_server"], churn["problems"]
    assert churn["latency_ms"]["p50"] > 0 and churn["latency_ms"]["n"] == 10
    assert churn["send_to_ack_ms"]["n"] == 10

    connect = data["connect"]
    assert connect["vip_median_us"]["small"] > 0 and connect["vip_median_us"]["large"] > 0
    assert connect["ratio_vip_median"] > 0

    markdown = (tmp_path / "controlplane.md").read_text()
    assert "benchmarks/controlplane/run.py --sizes 10" in markdown
    assert "| 10 x 3 | current |" in markdown and "| 10 x 3 | baseline |" in markdown
    assert_nothing_left(rid)


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
