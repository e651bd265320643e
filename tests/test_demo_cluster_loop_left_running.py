"""The cluster demo's request loop never outlives the demo in the client pod. A real
kubelet leaves an exec'd command running when the client closes the stream (and need not
close its stdin): the stand-in is made to do the same here (its default kills the
command's process group). Against it the demo's stop execs the kill of its loop (by the
per-run marker the loop's guard writes), a demo killed without a word (SIGKILL) leaves a
loop that ends itself once the heartbeat stops, and the next run's start ends loops left
running, with a marker or (an older kmeshctl's) without, and says so."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from kmeshctl import demo, demo_cluster, kube
from kmeshctl.demo_cluster import LOOP_MARKER_PREFIX, ClusterTarget, guarded
from kmeshctl.kube import connect
from kmeshctl.sandbox.manifests import default_files, load
from demo_mesh_seed import seed_mesh
from demo_older_loop import older_loop
from standin import HostNetworkBackend, StandinApiServer, istio_crds, namespace, node
from standin import streams

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "fortio"
# Answers instead of sending: no request leaves this host.
ANSWERS = 'i=0; while :; do i=$((i + 1)); echo "$i 0 200 1"; sleep 0.05; done\n'


class RecordingPod(HostNetworkBackend):
    """The netutils pod: runs what is exec'd on this host, the request loop's curl
    replaced by answers (its guard kept), and records every argv."""

    def __init__(self) -> None:
        self.argvs: list[list[str]] = []
        self.started: list[subprocess.Popen] = []

    def exec(self, argv: list[str], **popen: Any) -> subprocess.Popen:
        self.argvs.append(argv)
        if argv[:2] == ["sh", "-c"] and "\nurl=$1" in argv[2]:
            argv = ["sh", "-c", argv[2][:argv[2].index("\nurl=$1")] + "\n" + ANSWERS, *argv[3:]]
        process = super().exec(argv, **popen)
        self.started.append(process)
        return process


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _alive(pid)


@pytest.fixture()
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ClusterTarget, RecordingPod]]:
    # a real kubelet: the client going away does not end the command
    monkeypatch.setattr(streams.ExecSession, "abort", lambda self: self.ws.shutdown())
    server = StandinApiServer(crds=istio_crds())
    server.deployment_controller = "ready"
    server.controller_delay = 0.05
    server.put(namespace("default"))
    server.put(node("node-a"))
    seed_mesh(server)
    # a ClusterIP of this test's own: a sweep run by another test on this host (its pod's
    # /proc is the host's) matches loops by their URL
    server.ips.pin("default", "fortio", f"10.96.118.{random.randint(2, 250)}")
    server.start()
    pod = RecordingPod()
    try:
        client = connect(kube.KubeTarget(str(server.write_kubeconfig(tmp_path / "kubeconfig"))))
        docs = [d for f in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
        found = ClusterTarget(client, docs, ("default", "fortio"), settle_s=0, ready_timeout_s=10)
        found.loop_dir = str(tmp_path / "pod-tmp")  # the pod's /tmp
        found.proc_dir = str(tmp_path / "pod-proc")  # its /proc: only what a test puts there
        os.makedirs(found.loop_dir)
        os.makedirs(found.proc_dir)
        found.prepare(lambda _: None)
        server.back_pod("default", found._client_pod, pod)
        yield found, pod
    finally:
        for process in pod.started:  # only what this test started
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        server.stop()


def _markers(target: ClusterTarget) -> list[str]:
    return sorted(n for n in os.listdir(target.loop_dir) if not n.endswith(".beat"))


def _no_markers(target: ClusterTarget) -> bool:
    deadline = time.monotonic() + 3  # the guard removes it right after the loop ended
    while _markers(target) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _markers(target) == []


def _loop_pid(target: ClusterTarget) -> int:
    deadline = time.monotonic() + 5
    while not _markers(target) and time.monotonic() < deadline:
        time.sleep(0.05)
    [marker] = _markers(target)
    return int(Path(target.loop_dir, marker).read_text().split()[0])


def test_a_demo_stopped_mid_phase_kills_its_loop_in_the_pod(target) -> None:
    cluster, pod = target
    subject = demo.demo_subject(load(default_files()))
    seen: list[int] = []

    def on_request(_phase: int, result: demo.RequestResult, _version: Any) -> None:
        seen.append(_loop_pid(cluster) if not seen else seen[0])
        if len(seen) == 5:
            raise KeyboardInterrupt  # Ctrl-C (SIGTERM is Stopped, a KeyboardInterrupt too)

    with pytest.raises(KeyboardInterrupt):
        demo.run_traffic_shift(cluster, subject, 1500, [[90, 10]], on_request, lambda *a: None)
    loop = seen[0]
    kills = [a for a in pod.argvs if a[:3] == ["sh", "-c", demo_cluster.KILL_LOOP]]
    assert len(kills) == 1 and Path(kills[0][4]).name.startswith(LOOP_MARKER_PREFIX)
    assert _wait_gone(loop, 3), "the loop still runs in the pod after the demo stopped"
    assert _markers(cluster) == []


def test_a_loop_whose_demo_was_killed_ends_itself_once_the_heartbeat_stops(target, monkeypatch) -> None:
    cluster, pod = target
    cluster.loop_orphan_s = 2
    lines = cluster.run_loop(demo.loop_argv(cluster.service_url(), 1500))
    assert next(lines).split()[0] == "1"
    loop = _loop_pid(cluster)
    monkeypatch.setattr(demo_cluster, "_quietly", lambda action: None)  # SIGKILL: no stop, no beat
    lines.close()
    assert _alive(loop)
    assert _wait_gone(loop, 8), "the orphaned loop did not end without the demo's heartbeat"
    assert _no_markers(cluster)


def test_the_next_run_ends_loops_left_running_and_says_so(target) -> None:
    cluster, pod = target
    url = cluster.service_url()
    # a guarded loop whose demo is gone: stdin open, no heartbeat, a long orphan limit
    marker = f"{cluster.loop_dir}/{LOOP_MARKER_PREFIX}0123456789-1"
    argv = guarded(["sh", "-c", ANSWERS, "sh", url], marker, 600)
    left = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True)
    # an older kmeshctl's loop: no guard, no marker, exactly the loop script's argv
    old = older_loop(Path(cluster.loop_dir).parent, url)
    try:
        deadline = time.monotonic() + 5
        while not os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in (left.pid, old.pid):  # the pod's /proc shows these two only
            os.symlink(f"/proc/{pid}", f"{cluster.proc_dir}/{pid}")
        said: list[str] = []
        cluster._end_left_loops(said.append)
        assert [line for line in said if line.startswith("ended 2 request loops an earlier demo left running in "
                                                         f"pod default/{cluster._client_pod}")] != []
        assert left.wait(5) is not None and old.wait(5) is not None
        assert _markers(cluster) == []
        said.clear()
        cluster._end_left_loops(said.append)  # none left: nothing said
        assert said == []
    finally:
        for process in (left, old):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
