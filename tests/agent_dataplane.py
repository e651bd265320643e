"""The node agent's translation (workload cache -> MapSync -> maps) in front of the real
eBPF data path: workload API resources as istiod sends them go through the agent's own
MapSync into the pinned maps of a data path loaded at this run's cgroup, and real TCP
connects from a pod (network namespace) show where they land. Used by the tests of
issue 10 items 3-5 (waypoint landing, named ports, dual stack)."""

from __future__ import annotations

import ipaddress
import json
import queue
import subprocess
import time
from typing import Iterator

from bpf_testlib import LoadedEnv, PodProcess, loaded_dataplane, pod_network
from kmeshctl.node.ids import IdRegistry
from kmeshctl.node.mapsync import MapSync, NodeInfo
from kmeshctl.xds.convert import models
from kmeshctl.podnet import Pod, PodNetwork
from kmeshctl.node.workload_cache import WorkloadCache
from kmeshctl.xds.builders import addresses

PPV2_SIGNATURE = bytes.fromhex("0d0a0d0a000d0a515549540a")


class AgentEnv:
    """Pods on a private bridge, the data path at their cgroup, and the agent's MapSync
    writing into its maps; ``put`` / ``remove`` apply resources like an xDS response."""

    def __init__(self, dp: LoadedEnv, net: PodNetwork, subnet6: str, node: NodeInfo) -> None:
        self.dp = dp
        self.net = net
        self.subnet6 = ipaddress.IPv6Network(subnet6)
        self.maps = dp.maps
        self.cache = WorkloadCache()
        self.ids = IdRegistry(dp.maps)
        self.sync = MapSync(dp.maps, self.ids, self.cache, node)
        self.servers: list[PodProcess] = []

    @property
    def pods(self) -> dict[str, Pod]:
        return self.net.pods

    def ip(self, name: str) -> str:
        return str(self.pods[name].ip)

    def ip6(self, name: str) -> str:
        """The pod's IPv6 address (same host part as its IPv4 one), once ``add_ipv6``."""
        return str(self.subnet6[int(self.pods[name].ip) & 0xFF])

    def add_ipv6(self, name: str) -> None:
        subprocess.run(["ip", "-n", self.pods[name].netns, "addr", "add",
                        f"{self.ip6(name)}/{self.subnet6.prefixlen}", "dev", "eth0", "nodad"],
                       check=True)

    def put(self, *items) -> None:
        self.sync.apply(self.cache.apply_addresses(models(addresses(*items)), []))

    def remove(self, *names: str) -> None:
        self.sync.apply(self.cache.apply_addresses({}, list(names)))

    def serve(self, pod: str, *args: str) -> PodProcess:
        server = PodProcess(self.pods[pod], *args)
        self.servers.append(server)
        return server

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def agent_env(run_id: str, tag: str, subnet: str, subnet6: str, pods: list[str],
              node: NodeInfo = NodeInfo(node_name="node-1")) -> Iterator[AgentEnv]:
    """Generator for a module fixture: data path, pods, MapSync; ``client`` is enrolled."""
    for dp in loaded_dataplane(run_id, tag):
        for net in pod_network(f"km{run_id}{tag[:2]}", subnet, dp.cgroup):
            env = AgentEnv(dp, net, subnet6, node)
            for name in pods:
                net.add_pod(name)
            try:
                dp.maps.enroll(net.pods["client"].netns_cookie())
                yield env
            finally:
                env.stop()


def drain(sinks: dict[str, PodProcess], count: int, timeout: float = 10) -> list[tuple[str, dict]]:
    """``count`` connection records from any of the sinks: (sink name, record)."""
    got: list[tuple[str, dict]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        for name, sink in sinks.items():
            try:
                got.append((name, json.loads(sink.lines.get(timeout=0.05))))
            except queue.Empty:
                pass
    return got


def nothing_more(sinks: dict[str, PodProcess], wait: float = 0.3) -> None:
    time.sleep(wait)
    for name, sink in sinks.items():
        assert sink.lines.empty(), f"{name} got an unexpected connection: {sink.lines.get()}"


def kmesh_tlv(dst: str, port: int) -> bytes:
    ip = ipaddress.ip_address(dst)
    length = 6 if ip.version == 4 else 18
    return (b"\x01" + length.to_bytes(4, "big") + ip.packed + port.to_bytes(2, "big")
            + b"\xfe" + b"\0\0\0\0")


def proxy_v2(src: str, src_port: int, dst: str, dst_port: int) -> bytes:
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    family, length = (b"\x11", 12) if d.version == 4 else (b"\x21", 36)
    return (PPV2_SIGNATURE + b"\x21" + family + length.to_bytes(2, "big") + s.packed + d.packed
            + src_port.to_bytes(2, "big") + dst_port.to_bytes(2, "big"))
