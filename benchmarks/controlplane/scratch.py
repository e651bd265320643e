"""Unique names for one benchmark run and removal of everything it creates (agent
processes, pinned BPF objects, cgroups, log files), also when a part fails or the run
is interrupted (Ctrl-C, SIGTERM).

Names: ``kmcp-<run id>-<label>`` for bpffs directories (``/sys/fs/bpf/``) and cgroups
(under the cgroup v2 mount); logs go to ``/tmp/kmcp-<run id>/``, kept only when the run
fails (not when it is interrupted).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Callable, Iterator, Optional

from kmeshctl.node import loader
from kmeshctl.nodecheck import ensure_cgroup2

BPF_FS_ROOT = Path("/sys/fs/bpf")


@dataclass(frozen=True)
class Slot:
    """Where one data path lives: its bpffs directory and the cgroup it is attached to."""

    label: str
    bpf_fs: Path
    cgroup: Path


def stop_process_group(proc: subprocess.Popen, timeout: float = 30.0) -> Optional[object]:
    """SIGTERM ``proc`` (a session leader), wait, then SIGKILL whatever is left of its
    process group. Returns the wait4 resource usage of ``proc`` (None if already reaped)."""
    if proc.returncode is not None:
        return None
    try:
        proc.send_signal(signal.SIGTERM)
    except ProcessLookupError:
        pass
    usage = _wait4(proc, timeout)
    if usage is None:
        _kill_group(proc.pid)
        usage = _wait4(proc, None)
    _kill_group(proc.pid)  # children it left behind
    return usage


def _wait4(proc: subprocess.Popen, timeout: Optional[float]) -> Optional[object]:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            pid, status, usage = os.wait4(proc.pid, 0 if deadline is None else os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere (Popen.poll)
            return None
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage
        if deadline is not None and time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Scratch:
    """One run's names and leftovers. Use as a context manager around the whole run."""

    def __init__(self, run_id: Optional[str] = None) -> None:
        self.run_id = run_id or secrets.token_hex(3)
        self.tag = f"kmcp-{self.run_id}"
        self.workdir = Path(tempfile.gettempdir()) / self.tag
        self._slots: dict[str, Slot] = {}
        self._processes: dict[int, subprocess.Popen] = {}
        self._cleanups: list[Callable[[], None]] = []
        self._previous_sigterm: object = None

    # ----- lifecycle -----------------------------------------------------------------

    def __enter__(self) -> "Scratch":
        self.workdir.mkdir(parents=True, exist_ok=False)
        self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupt)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        masked = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.release_all()
            failed = exc_type is not None and not issubclass(exc_type, KeyboardInterrupt)  # type: ignore[arg-type]
            if failed and any(self.workdir.iterdir()):
                print(f"benchmark failed; agent logs kept in {self.workdir}", flush=True)
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)
        finally:
            for sig, handler in masked.items():
                signal.signal(sig, handler)
            signal.signal(signal.SIGTERM, self._previous_sigterm)  # type: ignore[arg-type]

    def release_all(self) -> None:
        for proc in list(self._processes.values()):
            self.stop(proc)
        for slot in list(self._slots.values()):
            self.release(slot)
        while self._cleanups:
            self._cleanups.pop()()

    # ----- things to remove ----------------------------------------------------------

    @contextmanager
    def slot(self, label: str) -> Iterator[Slot]:
        """A fresh bpffs directory name and cgroup for one data path, removed on exit."""
        name = f"{self.tag}-{label}"
        slot = Slot(label, BPF_FS_ROOT / name, ensure_cgroup2() / name)
        slot.cgroup.mkdir()
        self._slots[label] = slot
        try:
            yield slot
        finally:
            self.release(slot)

    def release(self, slot: Slot) -> None:
        if self._slots.pop(slot.label, None) is None:
            return
        loader.cleanup(slot.bpf_fs, slot.cgroup)
        if slot.cgroup.exists():
            slot.cgroup.rmdir()

    def popen(self, argv: list[str], **kwargs: object) -> subprocess.Popen:
        """Start a process in its own session (Ctrl-C reaches only the benchmark, which
        then stops it in order), remembered until ``stop``."""
        proc = subprocess.Popen(argv, start_new_session=True, **kwargs)  # type: ignore[call-overload]
        self._processes[proc.pid] = proc
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 30.0) -> Optional[object]:
        usage = stop_process_group(proc, timeout)
        self._processes.pop(proc.pid, None)
        return usage

    def on_exit(self, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` when the run ends (last registered runs first)."""
        self._cleanups.append(cleanup)

    def log_path(self, label: str) -> Path:
        return self.workdir / f"{label}.log"


def _raise_interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")
