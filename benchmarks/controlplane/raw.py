"""Part `raw`: the raw batched map-write rate of the same entries a first sync of
S services x E endpoints writes (frontend, service, endpoint and backend entries, same
names and addresses), through kmeshctl.maps' batched writes with no agent in between:
benchmarks/bpf_map_writes.py (`write_mesh`) in a fresh interpreter of its own, into an
empty data path loaded for it by a short-lived child (as the agent loads its own). Uses
this checkout's kmeshctl. run.py interleaves it with the first-sync runs.

Reported: entries/s of the four data-path maps (the issue's "raw" figure) and, since the
agent also allocates an id per name, the same with the id registry's batched writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.controlplane.scratch import Scratch

REPO_ROOT = Path(__file__).resolve().parents[2]
MAP_WRITES = REPO_ROOT / "benchmarks" / "bpf_map_writes.py"
LOAD = "import sys; from kmeshctl.node import loader; loader.load(sys.argv[1], sys.argv[2]).close()"
TIMEOUT_S = 900


def raw_writes(scratch: Scratch, services: int, endpoints: int, run: int) -> dict[str, Any]:
    label = f"raw{services}-{run}"
    with scratch.slot(label) as slot:
        _child(scratch, [sys.executable, "-c", LOAD, str(slot.bpf_fs), str(slot.cgroup)], f"{label}-load")
        out = _child(scratch, [sys.executable, str(MAP_WRITES), "--bpf-fs", str(slot.bpf_fs), "--json",
                               "--no-single", "--services", str(services), "--endpoints", str(endpoints)], label)
    result = json.loads(out.strip().splitlines()[-1])
    return {"services": services, "endpoints_per_service": endpoints, "run": run,
            "map_entries": result["total"]["entries"],
            "entries_per_s": result["total"]["entries_per_s"], "seconds": result["total"]["seconds"],
            "entries_per_s_with_ids": result["total_with_ids"]["entries_per_s"],
            "seconds_with_ids": result["total_with_ids"]["seconds"], "steps": result["steps"]}


def _child(scratch: Scratch, argv: list[str], label: str) -> str:
    """Run ``argv`` with this checkout's kmeshctl; its stdout (stderr kept in the run's logs)."""
    log = scratch.log_path(label)
    with log.open("wb") as err:
        proc = scratch.popen(argv, cwd=REPO_ROOT, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        try:
            out, _ = proc.communicate(timeout=TIMEOUT_S)
        finally:
            scratch.stop(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"{label}: {argv[1] if argv[1] != '-c' else 'loading the data path'} "
                           f"failed (exit {proc.returncode}); log: {log}")
    return out.decode()
