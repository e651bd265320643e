"""Traffic capture the way meshes do it without eBPF: nftables REDIRECT rules inside a
pod's network namespace (Istio uses the equivalent iptables rules). One table per pod,
added when a path is measured and deleted after, so other paths never pay for conntrack
or NAT."""

from __future__ import annotations

from dataclasses import dataclass

from kmeshctl.bench.procs import PROXY_UID, require_tool
from kmeshctl.podnet import Pod

TABLE = "kmbench"


@dataclass(frozen=True)
class OutboundCapture:
    """Connects from the pod to ``vip:port`` go to a local proxy port instead; the
    proxies' own connections (uid 1337) are exempt."""

    vip: str
    port: int
    to_port: int

    def ruleset(self) -> str:
        return (f"table ip {TABLE} {{\n"
                "  chain output {\n"
                "    type nat hook output priority -100; policy accept;\n"
                f"    ip daddr {self.vip} tcp dport {self.port} meta skuid != {PROXY_UID} "
                f"redirect to :{self.to_port}\n"
                "  }\n}\n")


@dataclass(frozen=True)
class InboundCapture:
    """Connections arriving at the pod on ``port`` go to a local proxy port instead."""

    port: int
    to_port: int

    def ruleset(self) -> str:
        return (f"table ip {TABLE} {{\n"
                "  chain prerouting {\n"
                "    type nat hook prerouting priority -100; policy accept;\n"
                f"    tcp dport {self.port} redirect to :{self.to_port}\n"
                "  }\n}\n")


def apply_capture(pod: Pod, capture: OutboundCapture | InboundCapture) -> None:
    nft = require_tool("nft", "nftables")
    pod.run([nft, "-f", "-"], input=capture.ruleset(), timeout=10)


def remove_capture(pod: Pod) -> None:
    """Delete the pod's capture table (no-op when there is none)."""
    nft = require_tool("nft", "nftables")
    pod.run([nft, "delete", "table", "ip", TABLE], timeout=10, check=False)


def flush_connections(pod: Pod) -> None:
    """Abort every established TCP connection in the pod (``ss -K``, sock_destroy).

    Run between paths: proxies keep pooled upstream connections, and one made while a
    capture table existed (NATed to a local proxy) or before it existed (not NATed) would
    otherwise carry the next path's traffic along the previous path's route."""
    ss = require_tool("ss", "iproute2")
    pod.run([ss, "-K", "-t", "state", "established"], timeout=10)
