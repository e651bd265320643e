"""The cluster demo's start-up sweep (demo_cluster.SWEEP) ends only loops of its own kind:
a stale marker's pid only while that pid still runs the marker's guard (a pid reused by
another process since stays), and an older kmeshctl's unguarded loop only by its exact argv
(`sh -c REQUEST_LOOP sh URL ...` for this Service's URL). The stand-in's pods run on this
host, their /proc the host's: a stand-in run never takes a local sandbox's Service VIP
(10.96.0.0/24), so a sandbox demo's loop on this host is never taken for its own."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from kmeshctl import demo, demo_cluster, kube
from kmeshctl.demo_cluster import CLIENT_APP, ClusterTarget
from kmeshctl.kube import connect
from kmeshctl.params import SANDBOX_SERVICE_SUBNET
from demo_mesh_seed import seed_mesh
from demo_older_loop import older_loop
from standin import StandinApiServer, istio_crds, namespace, node
from standin import streams
from test_demo_cluster_loop_left_running import EXAMPLES, RecordingPod, _alive, _markers, _wait_gone


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:  # only what this test started
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture()
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[StandinApiServer, RecordingPod, Any]]:
    monkeypatch.setattr(streams.ExecSession, "abort", lambda self: self.ws.shutdown())  # a real kubelet
    server = StandinApiServer(crds=istio_crds())
    server.deployment_controller = "ready"
    server.controller_delay = 0.05
    server.put(namespace("default"))
    server.put(node("node-a"))
    seed_mesh(server)
    pod = RecordingPod()
    server.pod_backend_resolver = lambda p: pod if (p["metadata"].get("labels") or {}).get("app") == CLIENT_APP \
        else None
    server.start()
    client = connect(kube.KubeTarget(str(server.write_kubeconfig(tmp_path / "kubeconfig"))))
    docs = [d for f in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]

    def target(own_dirs: bool = True) -> ClusterTarget:
        found = ClusterTarget(client, docs, ("default", "fortio"), settle_s=0, ready_timeout_s=10)
        if own_dirs:
            found.loop_dir, found.proc_dir = str(tmp_path / "pod-tmp"), str(tmp_path / "pod-proc")
            os.makedirs(found.loop_dir, exist_ok=True)
            os.makedirs(found.proc_dir, exist_ok=True)
        return found

    try:
        yield server, pod, target
    finally:
        _stop(pod.started)
        server.stop()


def test_a_stand_in_run_leaves_a_local_sandbox_demos_loop_on_this_host_alone(standin, tmp_path: Path) -> None:
    server, pod, target = standin
    # a local sandbox demo's loops (its Service VIPs are 10.96.0.x), seen in this host's /proc
    sandbox = [older_loop(tmp_path, f"http://10.96.0.{n}:80/") for n in range(10, 14)]
    try:
        cluster = target(own_dirs=False)  # the pod's /proc is this host's, as in most stand-in tests
        said: list[str] = []
        cluster.prepare(said.append)
        assert ipaddress.IPv4Address(cluster._cluster_ip) not in ipaddress.IPv4Network(SANDBOX_SERVICE_SUBNET)
        time.sleep(0.3)
        assert all(_alive(p.pid) for p in sandbox), "a stand-in run killed a local sandbox demo's loop"
        assert not [line for line in said if line.startswith("ended")]
    finally:
        _stop(sandbox)


def test_only_the_exact_loop_of_an_older_kmeshctl_for_this_service_is_ended(standin, tmp_path: Path) -> None:
    server, pod, target = standin
    cluster = target()
    cluster.prepare(lambda _: None)
    url = cluster.service_url()
    older = older_loop(tmp_path, url)
    # the loop's markers and the Service's URL, but not its argv: no loop of this demo's
    lookalike = subprocess.Popen(["sh", "-c", "while :; do sleep 1; done # END_OF_HEADERS", "sh", url, "1500"],
                                 stdout=subprocess.DEVNULL, start_new_session=True)
    other_service = older_loop(tmp_path, url.replace(":80/", ":8080/"))
    try:
        time.sleep(0.5)  # the older loop's curl subshells: children with its argv
        for process in (older, lookalike, other_service):
            os.symlink(f"/proc/{process.pid}", f"{cluster.proc_dir}/{process.pid}")
        said: list[str] = []
        cluster._end_left_loops(said.append)
        assert [line for line in said if line.startswith("ended 1 request loop an earlier demo left running")]
        assert _wait_gone(older.pid, 3)
        assert _alive(lookalike.pid) and _alive(other_service.pid)
    finally:
        _stop([older, lookalike, other_service])


def test_a_stale_markers_pid_taken_by_another_process_is_not_killed(standin, monkeypatch) -> None:
    server, pod, target = standin
    cluster = target()
    cluster.prepare(lambda _: None)
    victim = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        # a demo SIGKILLed mid-phase: no stop, no beat; the pod's processes killed (the
        # stand-in's default abort is not patched here for this loop: kill it ourselves)
        monkeypatch.setattr(demo_cluster, "_quietly", lambda action: None)
        lines = cluster.run_loop(demo.loop_argv(cluster.service_url(), 1500))
        next(lines)
        [marker] = [Path(cluster.loop_dir, n) for n in _markers(cluster)]
        loop = int(marker.read_text().split()[0])
        lines.close()
        os.killpg(os.getpgid(loop), signal.SIGKILL)  # the guard too: the marker stays behind
        assert _wait_gone(loop, 3) and marker.exists()
        marker.write_text(f"{victim.pid}\n")  # that pid another process's since
        os.symlink(f"/proc/{victim.pid}", f"{cluster.proc_dir}/{victim.pid}")
        said: list[str] = []
        cluster._end_left_loops(said.append)
        time.sleep(0.3)
        assert _alive(victim.pid), "the sweep killed a process that is no demo loop"
        assert not marker.exists() and not Path(f"{marker}.beat").exists()
        assert not [line for line in said if line.startswith("ended")]
    finally:
        victim.kill()
        victim.wait()
