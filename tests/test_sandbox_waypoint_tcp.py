"""Opaque TCP through the sandbox's waypoint (the cluster waypoint's configuration code):
a Service port named `tcp` is proxied as TCP, bytes unchanged, from the client pod via the
real eBPF redirect and the real Envoy to fortio's real TCP echo server (port 8078).
Before, such bytes got Envoy's `HTTP/1.1 400 Bad Request` and never reached the backend."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from kmeshctl.podnet import PodNetError
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox.containers import fortio_binary
from kmeshctl.sandbox.manifests import default_files
from kmeshctl.sandbox.state import SandboxState
from kmeshctl.sandbox.waypoint import EnvoyAdmin

pytestmark = pytest.mark.root

TCP_ECHO = """
apiVersion: v1
kind: Service
metadata:
  name: tcp-echo
  namespace: default
  labels:
    istio.io/use-waypoint: waypoint
spec:
  selector:
    app: fortio
  ports:
    - name: tcp
      port: 9000
      targetPort: 8078
"""
PAYLOAD = b"\x00\x01 not HTTP at all \xff\xfe\r\n\r\nGET / HTTP/1.1\r\n"
# Runs in the client pod: connect to VIP:PORT (the eBPF path takes it to the waypoint),
# send the payload, half-close, print what came back as hex.
ECHO_CLIENT = r"""
import socket, sys
vip, port, payload = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
with socket.create_connection((vip, port), timeout=5) as s:
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    data = b""
    while chunk := s.recv(4096):
        data += chunk
print(data.hex())
"""


@pytest.fixture(scope="module")
def tcp_sandbox(run_id: str, tmp_path_factory: pytest.TempPathFactory):
    if fortio_binary() is None:
        pytest.skip("needs the real fortio (its TCP echo server); bash scripts/setup.sh links it into .venv/bin")
    extra = tmp_path_factory.mktemp("manifests") / "tcp-echo.yaml"
    extra.write_text(TCP_ECHO)
    name = f"u{run_id}"
    sb.up(name, [*default_files(), Path(extra)])
    yield name
    sb.down(name)


def test_opaque_tcp_is_proxied_bytes_unchanged(tcp_sandbox: str) -> None:
    state = SandboxState.load(tcp_sandbox)
    client = sb.find_pod(state, "netutils")
    vip = state.vips["default/tcp-echo"]
    admin = EnvoyAdmin(state.envoy_admin_socket(state.waypoint_infos()[0]))
    stat = "tcp.inbound_vip_9000_tcp-echo.default_tcp.downstream_cx_total"
    before = admin.stats(stat).get(stat, 0)
    # Right after `up` connections are sometimes reset for a while (seen in full-suite runs
    # on a loaded machine, not reproduced alone; the failure message carries Envoy's
    # counters to tell where): retry for up to 30 s.
    deadline, attempts = time.monotonic() + 30, 0
    while True:
        attempts += 1
        try:
            result = client.run([sys.executable, "-c", ECHO_CLIENT, vip, "9000", PAYLOAD.hex()], timeout=30)
            break
        except PodNetError:
            if time.monotonic() > deadline:
                raise AssertionError(f"no echo through the waypoint after {attempts} attempts; Envoy: "
                                     f"{_envoy_counters(admin)}") from None
            time.sleep(0.5)
    assert bytes.fromhex(result.stdout.split()[-1]) == PAYLOAD, result.stdout + result.stderr
    # The echo came through the waypoint's TCP proxy (not around it): its chain counted it.
    assert before + 1 <= admin.stats(stat)[stat] <= before + attempts


def test_the_http_port_beside_it_still_routes_by_weight(tcp_sandbox: str) -> None:
    state = SandboxState.load(tcp_sandbox)
    client = sb.find_pod(state, "netutils")
    vip = state.vips["default/fortio"]
    result = client.run(["curl", "-sS", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", f"http://{vip}:80/"],
                        timeout=30)
    assert result.stdout == "200"


def _envoy_counters(admin: EnvoyAdmin) -> dict:
    """The waypoint's non-zero TCP, listener and upstream counters (why a connection closed)."""
    wanted = ("tcp.", "listener.", "cluster.")
    return {k: v for k, v in admin.stats("").items()
            if k.startswith(wanted) and v and any(w in k for w in ("cx", "fail", "reset", "no_filter", "rq_"))}
