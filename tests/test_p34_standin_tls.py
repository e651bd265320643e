"""The stand-in API server serves HTTPS, as kube-apiserver does (kubectl, and kmeshctl
like it, sends no credentials to an http:// server): a per-process self-signed
certificate for 127.0.0.1 and localhost, its own CA, in the kubeconfigs it writes; the
handshake in the request's own thread; exec and port-forward sessions that read and
write one TLS connection from several threads without using its SSL object from two at
once (tests/standin/tls.py)."""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from kubernetes.stream import portforward, stream

from standin import StandinApiServer, tls
from test_standin_exec_portforward import api, echo_port, pod  # noqa: F401 (fixtures)


def version(server: StandinApiServer, timeout: float = 5.0) -> int:
    request = urllib.request.Request(server.url + "/version", headers={"Authorization": "Bearer standin-token"})
    with urllib.request.urlopen(request, timeout=timeout, context=tls.client_context()) as answer:
        return answer.status


def test_https_with_a_certificate_for_127_0_0_1_and_localhost_in_its_kubeconfig(api, tmp_path: Path) -> None:
    server, core = api
    assert server.url == f"https://127.0.0.1:{server.port}"
    cluster = yaml.safe_load(server.write_kubeconfig(tmp_path / "kc.yaml").read_text())["clusters"][0]["cluster"]
    assert cluster["certificate-authority-data"] == tls.ca_data() and cluster["server"] == server.url
    assert [p["metadata"]["name"] for p in core.list_namespaced_pod("ns").to_dict()["items"]] == ["p"]
    with tls.connect(server.port) as sock:
        names = sock.getpeercert()["subjectAltName"]
        assert ("IP Address", "127.0.0.1") in names and ("DNS", "localhost") in names
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    with tls.client_context().wrap_socket(raw, server_hostname="localhost"):
        pass
    assert version(server) == 200


def test_plain_http_is_answered_as_go_answers_it(api) -> None:
    server, _ = api
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/version", timeout=5)
    assert refused.value.code == 400 and refused.value.read() == b"Client sent an HTTP request to an HTTPS server.\n"
    assert version(server) == 200


def test_a_client_that_refuses_the_certificate_is_closed_quietly(api, capfd) -> None:
    server, _ = api
    with pytest.raises(urllib.error.URLError) as refused:  # the system's CAs only
        urllib.request.urlopen(server.url + "/version", timeout=5, context=ssl.create_default_context())
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
    assert version(server) == 200
    assert server.handler_errors == [] and capfd.readouterr().err == ""


def test_a_silent_or_slow_client_holds_up_no_other(api) -> None:
    server, _ = api
    silent = socket.create_connection(("127.0.0.1", server.port), timeout=5)  # never says hello
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    slow.sendall(b"\x16\x03\x01")  # the start of a TLS record, then nothing
    try:
        started = time.monotonic()
        for _ in range(3):
            assert version(server, timeout=3) == 200
        assert time.monotonic() - started < 3
    finally:
        silent.close()
        slow.close()


def test_port_forward_moves_megabytes_both_ways_at_once(api, echo_port: int) -> None:  # noqa: F811
    """The session reads the client's frames in one thread while the pod side's pump writes
    in another, on one TLS connection: all of it arrives, in order, both ways."""
    server, core = api
    forward = portforward(core.connect_get_namespaced_pod_portforward, "p", "ns", ports=str(echo_port))
    sock = forward.socket(echo_port)
    sock.settimeout(30)
    data = os.urandom(1_500_000).hex().encode()  # 3 MB each way

    def send() -> None:
        for start in range(0, len(data), 50_000):
            sock.sendall(data[start:start + 50_000])

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    received = bytearray()
    while len(received) < len(data):
        chunk = sock.recv(1 << 20)
        assert chunk, len(received)
        received += chunk
    sender.join(30)
    assert bytes(received) == data.upper()
    assert forward.error(echo_port) is None
    forward.close()
    assert server.handler_errors == []


def test_exec_streams_stdin_and_stdout_at_once(api) -> None:
    """Exec's stdin is read from the connection while stdout is written to it."""
    server, core = api
    response = stream(core.connect_get_namespaced_pod_exec, "p", "ns", command=["cat"], stdin=True, stdout=True,
                      stderr=True, tty=False, _preload_content=False)
    sent, out = b"", ""
    for round_ in range(200):
        line = os.urandom(2_000).hex() + "\n"
        response.write_stdin(line)
        sent += line.encode()
        response.update(timeout=0)
        out += response.read_stdout(timeout=0) if response.peek_stdout() else ""
    response.close_channel(0)
    deadline = time.monotonic() + 30
    while response.is_open() and time.monotonic() < deadline:
        response.update(timeout=1)
        if response.peek_stdout():
            out += response.read_stdout()
    assert out == sent.decode() and response.returncode == 0
    assert server.handler_errors == []


def _read_to_the_end(sock: ssl.SSLSocket) -> bytes:
    """Everything the server sends; an unexpected EOF (a TCP close without close_notify)
    raises ssl.SSLZeroReturnError here (OpenSSL 3 with OP_IGNORE_UNEXPECTED_EOF)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_closed_connection_ends_with_close_notify_as_go_closes_it(api) -> None:
    """The real API server's Go TLS connection sends close_notify on close: a client that
    reads on after the answer sees a clean end, not SSLZeroReturnError (seen once in CI as
    `TLS/SSL connection has been closed (EOF)` on an exec under load)."""
    server, _ = api
    with tls.connect(server.port) as sock:
        sock.sendall(b"GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer standin-token\r\n"
                     b"Connection: close\r\n\r\n")
        assert _read_to_the_end(sock).startswith(b"HTTP/1.1 200 ")
    assert server.handler_errors == []


def test_a_finished_exec_ends_its_websocket_with_close_notify(api) -> None:
    """After exec's status and close frames the server closes the TLS session cleanly: a
    client still reading gets b"" (kubernetes' ws_client takes that as closed)."""
    server, _ = api
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    with tls.connect(server.port) as sock:
        sock.sendall(f"GET /api/v1/namespaces/ns/pods/p/exec?command=true&stdout=true HTTP/1.1\r\n"
                     f"Host: 127.0.0.1\r\nAuthorization: Bearer standin-token\r\nUpgrade: websocket\r\n"
                     f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                     f"Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n".encode())
        data = _read_to_the_end(sock)
    assert data.startswith(b"HTTP/1.1 101 ") and b'"status": "Success"' in data, data[:300]
    assert data.endswith(b"\x88\x02\x03\xe8"), data[-20:]  # the close frame (1000), then the clean end
