"""The start-up sweep (demo_cluster.SWEEP) calls a loop's marker stale only once its
heartbeat stood still for the guard's own limit (the run's loop_orphan_s, LOOP_ORPHAN_S):
a concurrent demo paused for less (Ctrl-Z, a stalled connection) keeps its loop, which its
guard would have kept too. A marker whose beat moves ends the wait early; one that stays
still for the limit is ended as before."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from kmeshctl.demo_cluster import LOOP_MARKER_PREFIX, ClusterTarget, guarded
from test_demo_cluster_loop_left_running import ANSWERS, _alive, _markers
from test_demo_cluster_sweep_kills_only_its_loops import standin  # noqa: F401 - the fixture

LIMIT_S = 6  # the run's loop_orphan_s here (LOOP_ORPHAN_S is 15 s: the same, scaled down)


class GuardedLoop:
    """A guarded loop of another run in the pod (this host, seen in the pod's /proc), its
    heartbeat fed from here until ``pause`` (seconds without a beat from then on)."""

    def __init__(self, cluster: ClusterTarget, guard_limit: int) -> None:
        self.marker = f"{cluster.loop_dir}/{LOOP_MARKER_PREFIX}f20d{os.getpid()}-1"
        argv = guarded(["sh", "-c", ANSWERS, "sh", cluster.service_url()], self.marker, guard_limit)
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                        start_new_session=True)
        self._quiet_until = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()
        os.symlink(f"/proc/{self.process.pid}", f"{cluster.proc_dir}/{self.process.pid}")
        self._wait_marker()

    def _wait_marker(self) -> None:
        deadline = time.monotonic() + 5
        while not os.path.exists(f"{self.marker}.beat") and time.monotonic() < deadline:
            time.sleep(0.05)

    def _beat(self) -> None:
        while not self._done.wait(0.3):
            if time.monotonic() >= self._quiet_until and self.process.poll() is None:
                try:
                    self.process.stdin.write(b"\n")  # type: ignore[union-attr]
                    self.process.stdin.flush()  # type: ignore[union-attr]
                except OSError:
                    return

    def pause(self, seconds: float) -> None:
        self._quiet_until = time.monotonic() + seconds

    def stop(self) -> None:
        self._done.set()
        self._thread.join(2)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture()
def prepared(standin) -> Iterator[ClusterTarget]:  # noqa: F811
    _, _, target = standin
    cluster = target()
    cluster.prepare(lambda _: None)
    cluster.loop_orphan_s = LIMIT_S
    yield cluster


def _sweep(cluster: ClusterTarget, said: list[str] | None = None) -> tuple[list[str], float]:
    said = [] if said is None else said
    started = time.monotonic()
    cluster._end_left_loops(said.append)
    return [line for line in said if line.startswith("ended")], time.monotonic() - started


def test_a_concurrent_demo_paused_for_less_than_the_limit_keeps_its_loop(prepared) -> None:
    loop = GuardedLoop(prepared, LIMIT_S)
    try:
        time.sleep(1)
        loop.pause(LIMIT_S - 2)  # Ctrl-Z for 4 s, then fg: its own guard keeps the loop
        ended, _ = _sweep(prepared)
        assert ended == [], "the sweep ended the loop of a demo paused for less than the guard's limit"
        assert _alive(loop.process.pid) and os.path.exists(loop.marker)
    finally:
        loop.stop()


def test_a_beating_marker_ends_the_wait_early(prepared) -> None:
    prepared.loop_orphan_s = 12
    loop = GuardedLoop(prepared, 12)
    try:
        ended, took = _sweep(prepared)
        assert ended == [] and took < 6, f"the sweep waited {took:.1f}s for a loop whose demo beats"
        assert _alive(loop.process.pid)
    finally:
        loop.stop()


def test_a_marker_still_for_the_limit_is_ended_only_then(prepared) -> None:
    loop = GuardedLoop(prepared, 600)  # its guard would wait far longer: the sweep ends it
    try:
        loop.pause(3600)
        said: list[str] = []
        ended, took = _sweep(prepared, said)
        assert said and said[0].startswith(f"waiting up to {LIMIT_S}s for the heartbeat of a request loop"), (said, took)
        assert [line for line in ended if line.startswith("ended 1 request loop an earlier demo left")], ended
        assert took >= LIMIT_S, f"the sweep called the marker stale after {took:.1f}s, before the limit"
        assert loop.process.wait(5) is not None and _markers(prepared) == []
    finally:
        loop.stop()


def test_a_marker_whose_pid_runs_no_guard_goes_at_once(prepared) -> None:
    marker = Path(prepared.loop_dir, f"{LOOP_MARKER_PREFIX}f20dgone-1")
    victim = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        marker.write_text(f"{victim.pid}\n")
        Path(f"{marker}.beat").write_text("7\n")
        os.symlink(f"/proc/{victim.pid}", f"{prepared.proc_dir}/{victim.pid}")
        ended, took = _sweep(prepared)
        assert ended == [] and took < 3 and _alive(victim.pid)
        assert not marker.exists() and not Path(f"{marker}.beat").exists()
    finally:
        victim.kill()
        victim.wait()
