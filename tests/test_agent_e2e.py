"""`kmeshctl node run` end to end on the real kernel: the agent (a real subprocess)
follows an in-test delta ADS server and keeps real TCP from an enrolled client pod
correct through adds, removals, NACKs, waypoints, a server restart and an agent restart."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Iterator, Optional

import pytest

from bpf_testlib import PodProcess, connect, dataplane_paths, pod_network
from kmeshctl import config_dump, dump, unixsock
from kmeshctl.node import loader
from kmeshctl.podnet import PodNetwork, remove_cgroup_tree
from kmeshctl.xds import WORKLOAD_ADDRESS_TYPE
from kmeshctl.xds.builders import addresses, service, waypoint_address, workload
from kmeshctl.xds.server import XdsServer

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parent.parent
KMESHCTL = str(REPO / ".venv" / "bin" / "kmeshctl")
SUBNET = "10.78.0.0/24"
VIP = "10.78.0.200"
VIP_TLV = "10.78.0.201"
VIP_PROXY = "10.78.0.202"
HOST = "echo.default.svc.cluster.local"
KEY = f"default/{HOST}"
TLV_PORT = 15019
PROXY_PORT = 15021
PPV2_SIGNATURE = bytes.fromhex("0d0a0d0a000d0a515549540a")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uid(name: str) -> str:
    return f"Kubernetes//Pod/default/{name}"


class AgentProcess:
    """`kmeshctl node run` as the DaemonSet would run it (plaintext xDS, local enrollment)."""

    def __init__(self, xds: str, bpf_fs: Path, cgroup: Path, log_path: Path, *extra: str) -> None:
        self.admin_port, self.metrics_port = free_port(), free_port()
        self.log_path = log_path
        # state-changing admin actions (enroll, logger levels) are served only here
        self.admin_socket = log_path.parent / f"{log_path.stem}-admin" / "admin.sock"
        argv = [KMESHCTL, "node", "run", "--xds-address", xds, "--xds-insecure",
                "--bpf-fs", str(bpf_fs), "--cgroup2-path", str(cgroup), "--enrollment", "local",
                "--admin-port", str(self.admin_port), "--metrics-port", str(self.metrics_port),
                "--admin-socket", str(self.admin_socket),
                "--node-name", "node-1", "--log-level", "debug", *extra]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log_path.open("ab"))

    def http(self, path: str, method: str = "GET", port: Optional[int] = None) -> tuple[int, str]:
        if method != "GET" and port is None:
            return self._over_socket(path, method)
        url = f"http://127.0.0.1:{port or self.admin_port}{path}"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def _over_socket(self, path: str, method: str) -> tuple[int, str]:
        status, body = unixsock.request(self.admin_socket, method, path, timeout=10)
        return status, body.decode()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"agent exited: {self.log_path.read_text()[-3000:]}"
            try:
                if self.http("/debug/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"agent not ready in {timeout}s: {self.log_path.read_text()[-3000:]}")

    def terminate(self) -> int:
        self.proc.terminate()
        return self.proc.wait(timeout=20)


class Env:
    def __init__(self, net: PodNetwork, server: XdsServer, agent: AgentProcess, bpf_fs: Path,
                 cgroup: Path, tmp: Path) -> None:
        self.net, self.server, self.agent = net, server, agent
        self.bpf_fs, self.cgroup, self.tmp = bpf_fs, cgroup, tmp
        self.client = net.pods["client"]

    def publish(self, *items) -> None:
        self.server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(*items))
        assert self.server.wait_acked(WORKLOAD_ADDRESS_TYPE, 20)

    def replies(self, host: str, count: int, port: int = 80) -> Counter:
        results = connect(self.client, host, port, count=count)
        return Counter(r["reply"] if r["ok"] else r["error"] for r in results)


def echo_workload(net: PodNetwork, name: str) -> object:
    return workload(uid(name), str(net.pods[name].ip), {KEY: [(80, 8080)]})


def echo_service(**kw) -> object:
    return service("default", HOST, VIP, [(80, 8080)], **kw)


@pytest.fixture(scope="module")
def env(run_id: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("agent")
    bpf_fs, cgroup = dataplane_paths(run_id, "agent")
    cgroup.mkdir(exist_ok=True)
    servers: list[PodProcess] = []
    server = XdsServer()
    xds = server.add_listener("127.0.0.1:0")
    server.start()
    current: Optional[Env] = None
    agent: Optional[AgentProcess] = None
    try:
        for net in pod_network(f"km{run_id}a", SUBNET, cgroup):
            for name in ("client", "be1", "be2", "wp"):
                net.add_pod(name)
            for name in ("be1", "be2"):
                servers.append(PodProcess(net.pods[name], "serve", name, "8080"))
            server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(
                echo_service(), echo_workload(net, "be1"), echo_workload(net, "be2")))
            agent = AgentProcess(xds, bpf_fs, cgroup, tmp / "agent.log")
            agent.wait_ready()
            status, body = agent.http(f"/enroll?netns={net.pods['client'].netns_path}&pod=client", "POST")
            assert status == 200, body
            current = Env(net, server, agent, bpf_fs, cgroup, tmp)
            try:
                yield current
            finally:
                for proc in servers:
                    proc.stop()
    finally:
        for running in {id(a): a for a in (agent, current and current.agent) if a}.values():
            if running.proc.poll() is None:
                running.proc.kill()
                running.proc.wait()
        for srv in {id(s): s for s in (server, current and current.server) if s}.values():
            srv.stop()
        loader.cleanup(bpf_fs, cgroup)
        remove_cgroup_tree(cgroup)


def test_vip_reaches_both_workloads(env: Env) -> None:
    replies = env.replies(VIP, 40)
    assert set(replies) == {"be1:8080", "be2:8080"}, replies


def test_unenrolled_pod_is_left_alone(env: Env) -> None:
    results = connect(env.net.pods["wp"], VIP, 80, timeout=1)
    assert not results[0]["ok"]  # nothing listens on the VIP itself


def test_removed_workload_gets_no_new_connections(env: Env) -> None:
    env.server.remove_resources(WORKLOAD_ADDRESS_TYPE, [uid("be2")])
    assert env.server.wait_acked(WORKLOAD_ADDRESS_TYPE, 20)
    assert env.replies(VIP, 20) == Counter({"be1:8080": 20})
    groups = _endpoint_backends(env)
    assert groups == [uid("be1")]  # dense: one slot left
    env.publish(echo_workload(env.net, "be2"))
    assert set(env.replies(VIP, 30)) == {"be1:8080", "be2:8080"}


def test_nack_keeps_last_good_state_and_traffic(env: Env) -> None:
    bad = echo_service()
    bad.ports.add(service_port=81, target_port=70000)
    env.server.set_resources(WORKLOAD_ADDRESS_TYPE, addresses(bad))
    nack = env.server.wait_nacked(WORKLOAD_ADDRESS_TYPE, 20)
    assert nack is not None and "target_port 70000 is over 65535" in nack.error_message
    assert set(env.replies(VIP, 20)) == {"be1:8080", "be2:8080"}
    env.publish(echo_service())  # back to the good version


def test_service_waypoint_gets_kmesh_tlv(env: Env) -> None:
    sink = PodProcess(env.net.pods["wp"], "sink", str(TLV_PORT))
    try:
        # the waypoint by address (istiod's hbone port 15008): a known workload without an
        # application tunnel, reached at the kmesh TLV port 15019
        wp_ip = str(env.net.pods["wp"].ip)
        env.publish(workload(uid("wp"), wp_ip, {}),
                    service("default", "tlv.default.svc.cluster.local", VIP_TLV, [(80, 8080)],
                            waypoint=waypoint_address(wp_ip, 15008)))
        [result] = connect(env.client, VIP_TLV, 80, send="hello")
        assert result["ok"], result
        data = bytes.fromhex(sink.next_json()["data"])
        assert data == b"\x01" + (6).to_bytes(4, "big") + socket.inet_aton(VIP_TLV) + \
            (80).to_bytes(2, "big") + b"\xfe" + b"\0\0\0\0" + b"hello"
    finally:
        sink.stop()


def test_proxy_protocol_waypoint_from_application_tunnel(env: Env) -> None:
    sink = PodProcess(env.net.pods["wp"], "sink", str(PROXY_PORT))
    wp_ip = str(env.net.pods["wp"].ip)
    try:
        env.publish(
            workload(uid("wp"), wp_ip, {}, proxy_protocol_port=PROXY_PORT),
            service("default", "pp.default.svc.cluster.local", VIP_PROXY, [(80, 8080)],
                    waypoint=waypoint_address(wp_ip, 15008)))
        [result] = connect(env.client, VIP_PROXY, 80, send="hello")
        assert result["ok"], result
        src, src_port = result["local"]
        data = bytes.fromhex(sink.next_json()["data"])
        assert data == PPV2_SIGNATURE + b"\x21\x11" + (12).to_bytes(2, "big") + \
            socket.inet_aton(src) + socket.inet_aton(VIP_PROXY) + src_port.to_bytes(2, "big") + \
            (80).to_bytes(2, "big") + b"hello"
    finally:
        sink.stop()


def test_admin_and_metrics_endpoints(env: Env) -> None:
    status, body = env.agent.http("/debug/config_dump/dual-engine")
    cache = json.loads(body)
    assert status == 200 and KEY in {f"{s['namespace']}/{s['hostname']}" for s in cache["services"]}
    assert [e["pod"] for e in cache["enrolled"]] == ["client"]
    status, body = env.agent.http("/debug/config_dump/bpf/dual-engine")
    assert status == 200 and json.loads(body) == dump.dump_json(env.bpf_fs)
    assert cache["node"] == {"name": "node-1", "locality_source": "unknown", "locality": None}  # no Kubernetes
    status, body = env.agent.http("/version")
    assert status == 200 and json.loads(body)["mode"] == "dual-engine"
    status, body = env.agent.http("/debug/loggers")
    assert status == 200 and json.loads(body)["kmeshctl"] == "debug"  # --log-level debug
    status, text = env.agent.http("/status/metric", port=env.agent.metrics_port)
    lines = set(text.splitlines())
    assert "kmesh_xds_connected 1.0" in lines
    assert 'kmesh_bpf_map_capacity{map="km_service"} 5000.0' in lines
    assert 'kmesh_bpf_map_entries{map="km_manage"} 1.0' in lines
    assert "kmesh_enrolled_pods 1.0" in lines
    assert "kmesh_bpf_map_write_errors_total 0.0" in lines


def test_dump_config_cli_shows_the_cache(env: Env) -> None:
    port = str(env.agent.admin_port)
    as_json = subprocess.run([KMESHCTL, "dump", "config", "--admin-port", port, "-o", "json"],
                             capture_output=True, text=True, check=True)
    raw = json.loads(env.agent.http("/debug/config_dump/dual-engine")[1])
    assert json.loads(as_json.stdout) == config_dump.cache_output(raw)  # the agent's fields in camelCase
    table = subprocess.run([KMESHCTL, "dump", "config", "--admin-port", port], capture_output=True,
                           text=True, check=True, env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"})
    assert "default/echo.default.svc.cluster.local" in table.stdout and "80->8080" in table.stdout
    assert uid("be1") in table.stdout and "enrolled locally: client" in table.stdout
    assert "node node-1: locality unknown\n" in table.stdout


def test_agent_bpf_dump_renders_like_dump_maps(env: Env) -> None:
    from rich.console import Console

    from kmeshctl.config_dump import print_maps_json_as_tables

    from_agent, from_maps = Console(record=True, width=200), Console(record=True, width=200)
    print_maps_json_as_tables(json.loads(env.agent.http("/debug/config_dump/bpf/dual-engine")[1]), None,
                              from_agent)
    dump.print_tables(env.bpf_fs, None, from_maps)
    agent_text = from_agent.export_text()
    assert agent_text == from_maps.export_text()
    assert "echo.default.svc.cluster.local" in agent_text


def test_server_restart_resyncs_removals_made_while_away(env: Env) -> None:
    address = env.server.addresses[0]
    published = env.server.resources(WORKLOAD_ADDRESS_TYPE)
    env.server.stop()
    deadline = time.monotonic() + 10
    while "kmesh_xds_connected 0.0" not in env.agent.http("/status/metric", port=env.agent.metrics_port)[1]:
        assert time.monotonic() < deadline, "the agent did not notice the stream went away"
        time.sleep(0.1)
    assert env.agent.http("/debug/ready")[0] == 200  # still ready: the maps keep serving the last state
    # While the agent is disconnected be1 goes away: only be2 is published after the restart.
    restarted = XdsServer()
    restarted.add_listener(address)
    restarted.set_resources(WORKLOAD_ADDRESS_TYPE, {n: a for n, a in published.items() if n != uid("be1")})
    restarted.start()
    env.server = restarted
    assert restarted.wait_acked(WORKLOAD_ADDRESS_TYPE, 40)
    stream = restarted.streams()[0]
    assert uid("be1") in stream.initial_versions[WORKLOAD_ADDRESS_TYPE]
    assert env.replies(VIP, 20) == Counter({"be2:8080": 20})
    env.publish(echo_workload(env.net, "be1"))


def test_sigterm_leaves_traffic_flowing_and_next_agent_takes_over(env: Env) -> None:
    assert env.agent.terminate() == 0
    assert loader.is_loaded(env.bpf_fs)
    first_log = env.agent.log_path.read_text()
    assert "level=info logger=kmeshctl.agent event=signal name=SIGTERM" in first_log
    assert "event=agent_stopped programs_and_maps=left_in_place" in first_log
    assert set(env.replies(VIP, 20)) == {"be1:8080", "be2:8080"}  # no agent running
    # Changes made while no agent runs are applied by the next one (full reconcile).
    env.server.remove_resources(WORKLOAD_ADDRESS_TYPE, [uid("be2")])
    env.agent = AgentProcess(env.server.addresses[0], env.bpf_fs, env.cgroup, env.tmp / "agent2.log",
                             "--enable-bpf-log")
    env.agent.wait_ready()
    assert env.replies(VIP, 20) == Counter({"be1:8080": 20})
    assert _endpoint_backends(env) == [uid("be1")]
    log_text = (env.tmp / "agent2.log").read_text()
    assert "event=dataplane_loaded" in log_text and "replaced=True" in log_text
    deadline = time.monotonic() + 5  # the BPF log reports each connect decision
    while "event=bpf_connect" not in log_text and time.monotonic() < deadline:
        time.sleep(0.2)
        log_text = (env.tmp / "agent2.log").read_text()
    assert f"-> {env.net.pods['be1'].ip}:8080" in log_text, log_text[-2000:]


def test_ctrl_c_stops_the_agent_with_130_and_leaves_the_data_path(env: Env) -> None:
    env.agent.wait_ready()
    env.agent.proc.send_signal(signal.SIGINT)
    assert env.agent.proc.wait(timeout=20) == 130  # interrupted, as every kmeshctl command
    assert loader.is_loaded(env.bpf_fs)
    assert "event=signal name=SIGINT" in env.agent.log_path.read_text()
    env.agent = AgentProcess(env.server.addresses[0], env.bpf_fs, env.cgroup, env.tmp / "agent3.log")
    env.agent.wait_ready()


def _endpoint_backends(env: Env) -> list[str]:
    maps = dump.dump_json(env.bpf_fs, "km_endpoint")["km_endpoint"]
    return sorted(e["value"]["backend_name"] for e in maps if e["key"]["service_name"] == KEY)
