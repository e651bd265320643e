"""Helpers shared by the BPF tests: a loaded data path on a private cgroup + bpffs dir, pods
on a private bridge, and the real TCP endpoints of bpf_podtool.py running inside them."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from kmeshctl.node import loader
from kmeshctl.maps import DataplaneMaps
from kmeshctl.nodecheck import cgroup2_root
from kmeshctl.podnet import Pod, PodNetwork, remove_cgroup_tree

PODTOOL = Path(__file__).with_name("bpf_podtool.py")
PYTHON = sys.executable


@dataclass
class LoadedEnv:
    bpf_fs: Path
    cgroup: Path
    dataplane: loader.Dataplane
    maps: DataplaneMaps

    def reload(self) -> loader.Dataplane:
        new = loader.load(self.bpf_fs, self.cgroup)
        self.dataplane.close()
        self.dataplane = new
        return new


def dataplane_paths(run_id: str, tag: str) -> tuple[Path, Path]:
    root = cgroup2_root()
    assert root is not None, "cgroup v2 not mounted"
    return Path(f"/sys/fs/bpf/kmtest-{run_id}-{tag}"), root / f"kmtest-{run_id}-{tag}"


def loaded_dataplane(run_id: str, tag: str, enable_bpf_log: bool = False
                     ) -> Iterator[LoadedEnv]:
    """Generator for a module fixture: load at a fresh cgroup; clean everything after."""
    bpf_fs, cgroup = dataplane_paths(run_id, tag)
    cgroup.mkdir(exist_ok=True)
    dataplane = None
    try:
        dataplane = loader.load(bpf_fs, cgroup, enable_bpf_log=enable_bpf_log)
        env = LoadedEnv(bpf_fs, cgroup, dataplane, DataplaneMaps(bpf_fs))
        yield env
        env.maps.close()
        env.dataplane.close()
    finally:
        loader.cleanup(bpf_fs, cgroup)
        remove_cgroup_tree(cgroup)


def pod_network(prefix: str, subnet: str, cgroup: Path) -> Iterator[PodNetwork]:
    net = PodNetwork(prefix, subnet, cgroup)  # type: ignore[arg-type]
    try:
        net.create()
        yield net
    finally:
        net.destroy()


class PodProcess:
    """A long-running bpf_podtool server in a pod; its stdout lines arrive in a queue."""

    def __init__(self, pod: Pod, *args: str) -> None:
        self.proc = pod.popen([PYTHON, str(PODTOOL), *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        first = self.next_line(timeout=15)
        assert first == "ready", f"{args} in {pod.name} did not start: {first!r}"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def next_line(self, timeout: float = 10) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            stderr = self.proc.stderr.read() if self.proc.poll() is not None else ""  # type: ignore[union-attr]
            raise AssertionError(f"no output within {timeout}s; stderr: {stderr}") from None

    def next_json(self, timeout: float = 10) -> dict[str, Any]:
        return json.loads(self.next_line(timeout))

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


def connect(pod: Pod, host: str, port: int, count: int = 1, send: str = "",
            timeout: float = 2.0, interval: float = 0.0, timed: bool = False
            ) -> list[dict[str, Any]]:
    """Make ``count`` real TCP connects from inside the pod; one result dict each
    (``timed``: with "seconds", how long each connect() call took)."""
    argv = [PYTHON, str(PODTOOL), "connect", host, str(port), "--count", str(count),
            "--timeout", str(timeout), "--interval", str(interval)]
    if send:
        argv += ["--send", send]
    if timed:
        argv.append("--timed")
    result = pod.run(argv, timeout=30 + count * (timeout + interval))
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def start_connect(pod: Pod, host: str, port: int, count: int, interval: float
                  ) -> subprocess.Popen:
    """Like ``connect`` but in the background; read the JSON lines from stdout."""
    argv = [PYTHON, str(PODTOOL), "connect", host, str(port), "--count", str(count),
            "--interval", str(interval)]
    return pod.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def udp_send(pod: Pod, host: str, port: int, text: str) -> dict[str, Any]:
    """connect() a UDP socket in the pod and send ``text`` once: {"peer": getpeername()}."""
    result = pod.run([PYTHON, str(PODTOOL), "udpsend", host, str(port), text], timeout=30)
    return json.loads(result.stdout)


def processes_in(netns: str | os.PathLike[str]) -> list[int]:
    """Pids of the processes whose network namespace is the one mounted at ``netns``."""
    target = os.stat(netns)
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            st = os.stat(f"/proc/{pid}/ns/net")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
            found.append(int(pid))
    return found
