"""Issue 14 (helper h69), kind "assumes a little-endian host": the sandbox's readiness
reads LISTEN sockets from /proc/net/tcp(6), where the kernel prints an address as its
32-bit words, each read in the host's byte order, in hex. The decoding follows
sys.byteorder: 127.0.0.1 is `0100007F` on x86 and `7F000001` on a big-endian host.

Real parts: kmeshctl.sandbox.pods' parser on /proc text of both byte orders (the little-
endian lines as this host's kernel writes them; the big-endian ones as such a host's
would), and this host's own /proc/net/tcp with a socket listening on loopback."""

from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path

import pytest

from kmeshctl.sandbox import pods

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
# ip -> the hex /proc shows for it: per byte order, each 32-bit word of the address as that host reads it
ADDRESSES = {
    "127.0.0.1": {"little": "0100007F", "big": "7F000001"},
    "10.244.0.3": {"little": "0300F40A", "big": "0AF40003"},
    "::1": {"little": "00000000000000000000000001000000", "big": "00000000000000000000000000000001"},
    "::ffff:10.244.0.3": {"little": "0000000000000000FFFF00000300F40A", "big": "00000000000000000000FFFF0AF40003"},
    "fd00::a:1": {"little": "000000FD" "00000000" "00000000" "01000A00", "big": "FD000000" "00000000" "00000000" "000A0001"},
}


@pytest.mark.parametrize("order", ["little", "big"])
@pytest.mark.parametrize("text", list(ADDRESSES))
def test_an_address_decodes_in_either_byte_order(text: str, order: str) -> None:
    assert pods._proc_address(ADDRESSES[text][order], order) == ipaddress.ip_address(text)


@pytest.mark.parametrize("order", ["little", "big"])
def test_listens_in_follows_the_hosts_byte_order(order: str, monkeypatch) -> None:
    monkeypatch.setattr(sys, "byteorder", order)
    pod_ip = ipaddress.IPv4Address("10.244.0.3")
    listening = HEADER + f"   0: {ADDRESSES['10.244.0.3'][order]}:1F90 00000000:0000 0A 0 0 0 0 0 0 1\n"
    assert pods.listens_in(listening, pod_ip, 8080)
    assert not pods.listens_in(listening, pod_ip, 8081)
    mapped = HEADER + f"   0: {ADDRESSES['::ffff:10.244.0.3'][order]}:1F90 0:0 0A 0 0 0 0 0 0 1\n"
    assert pods.listens_in(mapped, pod_ip, 8080)
    other = HEADER + f"   0: {ADDRESSES['127.0.0.1'][order]}:1F90 00000000:0000 0A 0 0 0 0 0 0 1\n"
    assert not pods.listens_in(other, pod_ip, 8080)  # bound to another address


def test_this_hosts_own_proc_net_tcp_is_read_right() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        text = Path("/proc/self/net/tcp").read_text()
        assert pods.listens_in(text, ipaddress.IPv4Address("127.0.0.1"), port), text
