"""The real node agent (`kmeshctl node run`) as a process under test: started from a
chosen copy of the code, polled for readiness, its memory read from /proc and its CPU
time from its process CPU clock.

Memory, three numbers (all from the kernel, in MiB):
- ``agent_hwm``: VmHWM of the agent process itself (peak resident set), read at ready;
- ``loader_hwm``: VmHWM of the agent's short-lived child that compiles and loads the BPF
  programs, sampled every 20 ms while it runs (so a lower bound by at most 20 ms of growth);
- ``tree_max``: ru_maxrss from wait4() when the agent exits: the largest peak of the agent
  and every child it reaped (exact, but only the maximum of the two).
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from benchmarks.controlplane.scratch import Scratch, Slot

REPO_ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("kmeshctl", "bpf", "templates", "examples")
READY_POLL_S = 0.05
SAMPLE_S = 0.02


@dataclass(frozen=True)
class Code:
    """The kmeshctl an agent runs: this checkout (``current``) or an exported git ref."""

    label: str
    root: Path
    ref: str

    @property
    def is_checkout(self) -> bool:
        """This checkout as it is (its maps have this kmeshctl.maps' layout)."""
        return self.root == REPO_ROOT


def current_code() -> Code:
    return Code("current", REPO_ROOT, _describe("HEAD") + (" + uncommitted changes" if _dirty() else ""))


def export_ref(ref: str, dest: Path, label: str) -> Code:
    """Copy of the code at git ``ref`` (package, BPF sources, templates) under ``dest``."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", "--format=tar", ref, *CODE_DIRS],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"git ref {ref}: git archive failed: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest)  # our own repository's archive
    return Code(label, dest, _describe(ref))


def _describe(ref: str) -> str:
    out = subprocess.run(["git", "-C", str(REPO_ROOT), "log", "-1", "--format=%h %s", ref],
                         capture_output=True, text=True, check=False)
    text = out.stdout.strip() or ref
    return text if len(text) <= 72 else text[:71] + "…"


def _dirty() -> bool:
    out = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                         capture_output=True, text=True, check=False)
    return bool(out.stdout.strip())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kib(pid: int, field: str) -> Optional[int]:
    """A ``VmXxx`` field of /proc/PID/status in KiB (None when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def cpu_ns(pid: int) -> Optional[int]:
    """CPU time (user + system, every thread, also exited ones) of process ``pid`` in ns,
    from its process CPU clock (Linux: clock id ``~pid << 3 | CPUCLOCK_SCHED``); None
    when the process is gone."""
    try:
        return time.clock_gettime_ns((~pid << 3) | 2)
    except OSError:
        return None


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


class ChildPeakSampler(threading.Thread):
    """Largest VmHWM seen among the agent's children (the BPF loader) until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(name="child-hwm", daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self.children_seen: set[int] = set()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(SAMPLE_S):
            for child in children(self.pid):
                self.children_seen.add(child)
                self.peak_kib = max(self.peak_kib, status_kib(child, "VmHWM") or 0)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


class AgentProcess:
    """One `kmeshctl node run` with plaintext xDS and local enrollment, in ``slot``."""

    def __init__(self, scratch: Scratch, code: Code, xds_address: str, slot: Slot) -> None:
        self.scratch = scratch
        self.code = code
        self.admin_port = free_port()
        argv = [sys.executable, "-m", "kmeshctl", "node", "run", "--xds-address", xds_address,
                "--xds-insecure", "--bpf-fs", str(slot.bpf_fs), "--cgroup2-path", str(slot.cgroup),
                "--enrollment", "local", "--admin-port", str(self.admin_port),
                "--metrics-port", str(free_port()), "--log-level", "warning"]
        self.log = scratch.log_path(slot.label)
        env = dict(os.environ, PYTHONPATH=str(code.root))
        self.started_at = time.monotonic_ns()
        with self.log.open("wb") as log:
            # cwd: `python -m` puts it first on sys.path, so it picks the code that runs
            self.proc = scratch.popen(argv, cwd=code.root, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=log)
        self.sampler = ChildPeakSampler(self.proc.pid)
        self.sampler.start()
        self.tree_max_kib: Optional[int] = None

    def wait_ready(self, timeout: float) -> int:
        """Poll /debug/ready; the monotonic time (ns) of the first 200."""
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.admin_port}/debug/ready"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the agent exited ({self.proc.returncode}); log: {self.log}")
            try:
                with urllib.request.urlopen(url, timeout=5) as reply:
                    if reply.status == 200:
                        return time.monotonic_ns()
            except OSError:
                pass
            time.sleep(READY_POLL_S)
        raise RuntimeError(f"agent not ready within {timeout:.0f} s; log: {self.log}")

    def last_apply_seconds(self, type_url: str) -> Optional[float]:
        """The agent's own time for its last xDS response of ``type_url``, receipt to ACK
        (its /debug/xds ``lastApplySeconds``; None for code that does not report it)."""
        url = f"http://127.0.0.1:{self.admin_port}/debug/xds"
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                return (json.load(reply).get("lastApplySeconds") or {}).get(type_url)
        except (OSError, ValueError):
            return None

    def cpu_ns(self) -> int:
        """CPU time the agent process has used so far (ns)."""
        used = cpu_ns(self.proc.pid)
        if used is None:
            raise RuntimeError(f"the agent exited ({self.proc.poll()}); log: {self.log}")
        return used

    def memory_mib(self) -> dict[str, float]:
        self.sampler.stop()
        return {"agent_rss_mib": _mib(status_kib(self.proc.pid, "VmRSS")),
                "agent_hwm_mib": _mib(status_kib(self.proc.pid, "VmHWM")),
                "loader_hwm_mib": _mib(self.sampler.peak_kib)}

    def stop(self) -> None:
        if self.sampler.is_alive():
            self.sampler.stop()
        usage = self.scratch.stop(self.proc)
        if usage is not None:
            self.tree_max_kib = usage.ru_maxrss  # type: ignore[attr-defined]

    def __enter__(self) -> "AgentProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _mib(kib: Optional[int]) -> float:
    return round((kib or 0) / 1024, 1)
