"""Pods as netns + cgroup on a private bridge: reachability, isolation, cleanup."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

import pytest

from kmeshctl.podnet import NETNS_DIR, PodNetwork

pytestmark = pytest.mark.root

CGROUP_ROOT = Path("/sys/fs/cgroup/unified")


@pytest.fixture
def network(run_id: str):
    net = PodNetwork(
        prefix=f"km{run_id}pn",
        subnet=ipaddress.IPv4Network("10.251.0.0/24"),
        cgroup_parent=CGROUP_ROOT / f"kmtest-{run_id}-podnet",
    )
    net.create()
    yield net
    net.destroy()
    if net.cgroup_parent.exists():
        net.cgroup_parent.rmdir()


def test_pods_reach_each_other_over_the_bridge(network: PodNetwork) -> None:
    server = network.add_pod("server")
    client = network.add_pod("client")
    listener = server.popen(["python3", "-c", (
        "import socket;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
        "s.bind(('0.0.0.0',8080));s.listen();c,a=s.accept();c.sendall(a[0].encode());c.close()")])
    try:
        reply = client.run(["python3", "-c", (
            "import socket,time\n"
            "for _ in range(100):\n"
            "  try:\n"
            f"    c=socket.create_connection(('{server.ip}',8080),timeout=1);break\n"
            "  except OSError: time.sleep(0.05)\n"
            "print(c.recv(64).decode())")])
        assert reply.stdout.strip() == str(client.ip)
    finally:
        listener.kill()
        listener.wait()


def test_processes_land_in_the_pod_cgroup(network: PodNetwork) -> None:
    pod = network.add_pod("app")
    proc = pod.popen(["sleep", "30"])
    try:
        procs = (pod.cgroup / "cgroup.procs").read_text().split()
        assert str(proc.pid) in procs
    finally:
        proc.kill()
        proc.wait()


def test_pod_has_no_route_outside(network: PodNetwork) -> None:
    pod = network.add_pod("lonely")
    routes = pod.run(["ip", "route"]).stdout
    assert "default via 10.251.0.1" in routes
    host_routes = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
    assert "10.251.0." not in host_routes


def test_netns_cookies_differ_per_pod(network: PodNetwork) -> None:
    a, b = network.add_pod("a"), network.add_pod("b")
    assert a.netns_cookie() != b.netns_cookie()
    assert a.netns_cookie() == a.netns_cookie()


def test_destroy_removes_everything_even_from_a_fresh_object(network: PodNetwork) -> None:
    pod = network.add_pod("doomed")
    proc = pod.popen(["sleep", "30"])
    orphan_view = PodNetwork(network.prefix, network.subnet, network.cgroup_parent)
    orphan_view.destroy()
    proc.wait(timeout=5)
    assert not any(p.name.startswith(network.prefix) for p in NETNS_DIR.iterdir())
    assert not pod.cgroup.exists()


def test_pod_commands_survive_a_busy_grpc_process(network: PodNetwork) -> None:
    """gRPC's fork handlers aborted about 1 in 100 pod commands spawned with a preexec_fn
    while a gRPC server ran in the same process; pod commands now spawn with vfork."""
    grpc = pytest.importorskip("grpc")
    from concurrent import futures

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=5)
        pod = network.add_pod("grpcbusy")
        codes = [pod.run(["true"], check=False).returncode for _ in range(400)]
        assert codes == [0] * 400, f"{len([c for c in codes if c])} of 400 failed: {set(codes)}"
        inside = pod.run(["cat", "/proc/self/cgroup"]).stdout
        assert inside.strip().endswith(str(pod.cgroup.relative_to(CGROUP_ROOT))), inside
    finally:
        channel.close()
        server.stop(None)
