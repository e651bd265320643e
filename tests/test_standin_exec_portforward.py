"""`pods/exec` and `pods/portforward` of the stand-in API server, spoken to by the
`kubernetes` Python client (what kmeshctl uses) and, for the WebSocket framing itself,
by raw frames. Pods here are backed by the host (as a hostNetwork pod is): real
processes, real TCP on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException
from kubernetes.stream import portforward, stream

from listening import close_listener
from standin import TOKEN, HostNetworkBackend, StandinApiServer, core_v1_client, namespace
from standin import tls
from standin.websocket import accept_key, unmask


def pod(name: str, containers: tuple[str, ...] = ("app",), node: str = "node-1") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"nodeName": node, "containers": [{"name": c, "image": "x"} for c in containers]},
            "status": {"phase": "Running"}}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[StandinApiServer, k8s.CoreV1Api]]:
    server = StandinApiServer().start()
    server.put(namespace("ns"))
    server.put(pod("p"))
    server.back_pod("ns", "p", HostNetworkBackend())
    try:
        yield server, core_v1_client(server, tmp_path)
    finally:
        server.stop()


def run(core: k8s.CoreV1Api, argv: list[str], name: str = "p", **kw):
    response = stream(core.connect_get_namespaced_pod_exec, name, "ns", command=argv, stdout=True,
                      stderr=True, stdin=kw.pop("stdin", False), tty=False, _preload_content=False, **kw)
    return response


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A real TCP server on 127.0.0.1 answering each connection's bytes upper-cased."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    def answer(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data.upper())

    accepting = threading.Thread(target=serve, daemon=True)
    accepting.start()
    yield listener.getsockname()[1]
    close_listener(listener, accepting)


# -- exec -------------------------------------------------------------------------------------


def test_exec_streams_stdout_and_stderr_apart_and_reports_the_exit_code(api) -> None:
    _, core = api
    response = run(core, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    response.run_forever(timeout=10)
    assert response.subprotocol == "v5.channel.k8s.io"  # the client's first choice
    assert (response.read_stdout(), response.read_stderr()) == ("out\n", "err\n")
    assert response.returncode == 3
    ok = stream(core.connect_get_namespaced_pod_exec, "p", "ns", command=["echo", "hello"],
                stdout=True, stderr=True, stdin=False, tty=False)
    assert ok == "hello\n"


def test_exec_error_channel_carries_a_status(api) -> None:
    _, core = api
    response = run(core, ["sh", "-c", "exit 7"])
    response.run_forever(timeout=10)
    status = json.loads(response.read_channel(3))
    assert status == {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                      "message": "command terminated with non-zero exit code: error executing command "
                                 "[sh -c exit 7], exit code 7",
                      "details": {"causes": [{"reason": "ExitCode", "message": "7"}]}}
    done = run(core, ["true"])
    done.run_forever(timeout=10)
    assert json.loads(done.read_channel(3)) == {"metadata": {}, "status": "Success"}
    missing = run(core, ["no-such-command-here"])
    missing.run_forever(timeout=10)
    failure = json.loads(missing.read_channel(3))
    assert failure["reason"] == "InternalError" and "no-such-command-here" in failure["message"]


def test_exec_stdin_and_its_v5_close_signal(api) -> None:
    _, core = api
    response = run(core, ["sh", "-c", "tr a-z A-Z; echo done"], stdin=True)
    response.write_stdin("hello ")
    response.write_stdin(b"bytes\n")
    response.close_channel(0)  # v5: end of stdin, the command sees EOF
    response.run_forever(timeout=10)
    assert response.read_stdout() == "HELLO BYTES\ndone\n"
    assert response.returncode == 0


def test_a_client_that_goes_away_ends_the_command(api) -> None:
    _, core = api
    response = run(core, ["sh", "-c", "echo $$; exec sleep 60"])
    pid = int(response.readline_stdout(timeout=10))
    os.kill(pid, 0)
    response.close()
    deadline = time.monotonic() + 10
    while not ended(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ended(pid)


def ended(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # exited, not yet reaped
    except OSError:
        return True


def test_exec_errors_before_the_upgrade_are_the_real_servers(api) -> None:
    server, core = api
    server.put(pod("two", ("a", "b")))
    server.back_pod("ns", "two", HostNetworkBackend())
    server.put(pod("unbacked"))
    server.put({**pod("pending"), "spec": {"containers": [{"name": "app", "image": "x"}]}})
    cases = {
        "missing": "404 Not Found",
        "two": "a container name must be specified for pod two, choose one of: [a b]",
        "unbacked": 'container not found (\\"app\\")',
        "pending": "pod pending does not have a host assigned",
    }
    for name, expected in cases.items():
        with pytest.raises(ApiException) as failed:
            run(core, ["true"], name=name)
        assert expected in str(failed.value), name
    chosen = stream(core.connect_get_namespaced_pod_exec, "two", "ns", command=["echo", "b"], container="b",
                    stdout=True, stderr=False, stdin=False, tty=False)
    assert chosen == "b\n"


# -- port-forward -------------------------------------------------------------------------------


def test_port_forward_reaches_a_real_tcp_port_of_the_pod(api, echo_port: int) -> None:
    _, core = api
    forward = portforward(core.connect_get_namespaced_pod_portforward, "p", "ns", ports=str(echo_port))
    sock = forward.socket(echo_port)
    sock.settimeout(10)
    sock.sendall(b"hello")
    assert sock.recv(100) == b"HELLO"
    big = os.urandom(300_000).hex().encode()  # several WebSocket frames each way
    sock.sendall(big)
    received = b""
    while len(received) < len(big):
        received += sock.recv(1 << 20)
    assert received == big.upper()
    assert forward.error(echo_port) is None
    forward.close()


def test_port_forward_several_ports_and_a_refused_one(api, echo_port: int) -> None:
    _, core = api
    closed = socket.create_server(("127.0.0.1", 0))
    refused = closed.getsockname()[1]
    closed.close()
    forward = portforward(core.connect_get_namespaced_pod_portforward, "p", "ns", ports=f"{echo_port},{refused}")
    good, bad = forward.socket(echo_port), forward.socket(refused)
    good.settimeout(10)
    bad.settimeout(10)
    assert bad.recv(10) == b""  # the client closes the port's socket on an error message
    assert "Connection refused" in forward.error(refused)
    assert f"error forwarding port {refused} to pod p" in forward.error(refused)
    good.sendall(b"still works")
    assert good.recv(100) == b"STILL WORKS"
    forward.close()


def test_port_forward_ends_when_the_pod_side_closes(api) -> None:
    _, core = api
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def greet_and_close() -> None:
        conn, _ = listener.accept()
        conn.sendall(b"bye")
        conn.close()

    threading.Thread(target=greet_and_close, daemon=True).start()
    forward = portforward(core.connect_get_namespaced_pod_portforward, "p", "ns", ports=str(port))
    sock = forward.socket(port)
    sock.settimeout(10)
    received = b""
    while chunk := sock.recv(100):
        received += chunk
    assert received == b"bye"  # then EOF: the stand-in closed the WebSocket
    listener.close()


def test_port_forward_needs_a_port(api) -> None:
    server, _ = api
    answer = raw_upgrade(server, "/api/v1/namespaces/ns/pods/p/portforward", "v4.channel.k8s.io")
    assert answer.startswith(b"HTTP/1.1 400") and b'query parameter \\"port\\" is required' in answer


# -- the WebSocket layer itself -------------------------------------------------------------------


def raw_request(server: StandinApiServer, path: str, headers: str) -> bytes:
    """One request on a fresh connection; the whole answer (head and Content-Length body)."""
    sock = tls.connect(server.port)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n{headers}\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
        data += sock.recv(65536)
    sock.close()
    return data


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def raw_upgrade(server: StandinApiServer, path: str, protocol: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return raw_request(server, path, f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                                     f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {protocol}\r\n")


class RawClient:
    """Hand-made frames, to check the server's side of RFC 6455."""

    def __init__(self, server: StandinApiServer, path: str, protocol: str) -> None:
        self.sock = tls.connect(server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Sec-WebSocket-Protocol: {protocol}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n").encode())
        self.buffer = b""
        head = self._until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        assert f"Sec-WebSocket-Accept: {accept_key(key)}".encode() in head
        assert f"Sec-WebSocket-Protocol: {protocol}".encode() in head

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self.buffer += self.sock.recv(65536)
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def _exact(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def send(self, opcode: int, payload: bytes, fin: bool = True, masked: bool = True) -> None:
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if masked else payload
        header = bytes([(0x80 if fin else 0) | opcode, (0x80 if masked else 0) | len(payload)])
        self.sock.sendall(header + (mask if masked else b"") + body)

    def frame(self) -> tuple[int, bytes]:
        first, second = self._exact(2)
        assert not second & 0x80, "server frames are never masked"
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._exact(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._exact(8))[0]
        return first & 0x0F, self._exact(length)


def test_fragments_pings_and_the_close_handshake(api) -> None:
    server, _ = api
    client = RawClient(server, "/api/v1/namespaces/ns/pods/p/exec?command=cat&stdin=true&stdout=true",
                       "v4.channel.k8s.io")
    client.send(0x1, b"\x00hel", fin=False)  # text message, first fragment: channel 0 (stdin)
    client.send(0x9, b"are you there")  # a ping between fragments
    client.send(0x0, b"lo", fin=True)  # continuation
    assert client.frame() == (0xA, b"are you there")  # pong with the same payload
    assert client.frame() == (0x2, b"\x01hello")  # stdout, binary
    client.send(0x8, struct.pack("!H", 1000))  # close: cat is killed, the server answers the close
    opcode, payload = client.frame()
    while opcode != 0x8:
        opcode, payload = client.frame()
    assert struct.unpack("!H", payload[:2])[0] == 1000
    client.sock.close()


def test_unmasked_client_frames_are_a_protocol_error(api) -> None:
    server, _ = api
    client = RawClient(server, "/api/v1/namespaces/ns/pods/p/exec?command=cat&stdin=true&stdout=true",
                       "v4.channel.k8s.io")
    client.send(0x2, b"\x00data", masked=False)
    opcode, payload = client.frame()
    assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1002


def test_handshake_rules(api) -> None:
    server, _ = api
    path = "/api/v1/namespaces/ns/pods/p/exec?command=true&stdout=true"
    refused = raw_upgrade(server, path, "v9.channel.k8s.io")
    assert refused.startswith(b"HTTP/1.1 400") and b"requested protocol(s) are not supported" in refused
    assert b"Upgrade request required" in raw_request(server, path, "")
    # RFC 6455 section 1.3's example handshake, and masking (section 5.3).
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert unmask(bytes([0x7F ^ 0x37, 0x9F ^ 0xFA, 0x4D ^ 0x21]), bytes([0x37, 0xFA, 0x21, 0x3D])) == \
        bytes([0x7F, 0x9F, 0x4D])
