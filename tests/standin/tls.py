"""TLS for the stand-in API server, as a real kube-apiserver serves: HTTPS only.

kubectl (client-go's clientcmd), and kmeshctl like it, sends no credentials to an http://
server, so a stand-in on plain http could not check the bearer token of its kubeconfig.
Each test process makes one self-signed serving certificate (EC P-256, SAN IP 127.0.0.1
and DNS localhost) that is also its own CA: kubeconfigs carry it as
certificate-authority-data (`ca_pem`), tests that talk to the port themselves use
`client_context()`. Nothing is written to the repository; the key only lives in a
temporary file while the server context loads it.

`TlsConnection` is one accepted connection shared by several threads (a WebSocket
session reads in one thread while others write): an OpenSSL object must not be used by
two threads at once, so every SSL call on it is made under one lock, non-blocking, and
the waits for the socket happen outside that lock (a writer waiting for a slow reader
never stops the reads)."""

from __future__ import annotations

import base64
import datetime
import errno
import io
import ipaddress
import os
import select
import socket
import ssl
import tempfile
import threading
import time
from typing import Optional, Union

HANDSHAKE_TIMEOUT_S = 32.0  # kube-apiserver: ReadHeaderTimeout 32 s, which Go takes for the TLS handshake too
CLOSE_NOTIFY_TIMEOUT_S = 5.0  # Go's tls.Conn.Close gives its close_notify 5 s
_lock = threading.Lock()
_made: dict[str, object] = {}

# What Go's net/http server answers a client that speaks plain HTTP to its TLS port
# (crypto/tls's RecordHeaderError: the first bytes look like an HTTP method).
HTTP_TO_HTTPS_ANSWER = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
_HTTP_STARTS = (b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO", b"PATCH", b"DELET")


def _certificate() -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) of this process, made on first use."""
    with _lock:
        if "cert" not in _made:
            from cryptography import x509
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "standin-apiserver")])
            now = datetime.datetime.now(datetime.timezone.utc)
            ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
            cert = (
                x509.CertificateBuilder()
                .subject_name(name).issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                            x509.DNSName("localhost")]), critical=False)
                .add_extension(ski, critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
                .sign(key, hashes.SHA256())
            )
            _made["cert"] = (cert.public_bytes(serialization.Encoding.PEM),
                             key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return _made["cert"]  # type: ignore[return-value]


def ca_pem() -> bytes:
    """The serving certificate, which is its own CA (a kubeconfig's certificate-authority-data)."""
    return _certificate()[0]


def ca_data() -> str:
    """``ca_pem`` in base64, as a kubeconfig's certificate-authority-data holds it."""
    return base64.b64encode(ca_pem()).decode()


def server_context() -> ssl.SSLContext:
    """The one server context of this process (an SSLContext is safe to share)."""
    cert, key = _certificate()
    with _lock:
        if "server" not in _made:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            with tempfile.TemporaryDirectory(prefix="standin-tls-") as home:
                path = os.path.join(home, "serving.pem")
                with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
                    handle.write(key + cert)
                context.load_cert_chain(path)
            _made["server"] = context
        return _made["server"]  # type: ignore[return-value]


def client_context() -> ssl.SSLContext:
    """A client context that trusts the stand-in (and nothing else)."""
    return ssl.create_default_context(cadata=ca_pem().decode())


def connect(port: int, timeout: float = 10.0) -> ssl.SSLSocket:
    """A TLS connection to the stand-in on 127.0.0.1:``port``, the certificate checked."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return client_context().wrap_socket(sock, server_hostname="127.0.0.1")


def accept(sock: socket.socket) -> Optional["TlsConnection"]:
    """The server side of an accepted connection, handshake done (in the caller's thread);
    None when the client went away or refused the certificate (closed quietly). A client
    that speaks plain HTTP gets Go's 400 answer first, as from kube-apiserver."""
    sock.settimeout(HANDSHAKE_TIMEOUT_S)
    try:
        start = sock.recv(5, socket.MSG_PEEK)
        if start in _HTTP_STARTS:
            _answer_plain_http(sock)
            return None
        tls = server_context().wrap_socket(sock, server_side=True)
    except (OSError, ValueError):  # ssl.SSLError is an OSError: a refused certificate, a bad hello
        sock.close()
        return None
    return TlsConnection(tls)


def _answer_plain_http(sock: socket.socket) -> None:
    """Go's 400 answer, then the request read away before the close (a close with unread
    data is a reset, which would lose the answer)."""
    sock.sendall(HTTP_TO_HTTPS_ANSWER)
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(1.0)
    try:
        for _ in range(16):
            if not sock.recv(65536):
                break
    except OSError:
        pass
    sock.close()


class TlsConnection:
    """An accepted TLS connection that several threads may read and write (one reader,
    any number of writers): each SSL call under one lock, the socket non-blocking; a
    whole `sendall` under a second lock so writers' data never interleaves."""

    def __init__(self, sock: ssl.SSLSocket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self._ssl_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closed = False  # close_notify sent: reads see the end, writes fail

    def fileno(self) -> int:
        return self.sock.fileno()

    def setsockopt(self, *args: int) -> None:
        self.sock.setsockopt(*args)

    def recv(self, size: int) -> bytes:
        buffer = bytearray(size)
        return bytes(buffer[:self.recv_into(buffer)])

    def recv_into(self, buffer: Union[bytearray, memoryview]) -> int:
        while True:
            with self._ssl_lock:
                if self._closed:
                    return 0
                try:
                    return self.sock.recv_into(buffer)
                except ssl.SSLWantReadError:
                    want = select.POLLIN
                except ssl.SSLWantWriteError:
                    want = select.POLLOUT
                except ValueError as err:  # closed by another thread
                    raise OSError(errno.EBADF, str(err)) from None
            self._wait(want)

    def sendall(self, data: Union[bytes, bytearray, memoryview]) -> None:
        with self._write_lock, memoryview(data) as view, view.cast("B") as left:
            sent = 0
            while sent < len(left):
                with self._ssl_lock:
                    if self._closed:
                        raise BrokenPipeError(errno.EPIPE, "the TLS connection was closed")
                    try:
                        sent += self.sock.send(left[sent:])
                        continue
                    except ssl.SSLWantWriteError:
                        want = select.POLLOUT
                    except ssl.SSLWantReadError:
                        want = select.POLLIN
                    except ValueError as err:
                        raise OSError(errno.EBADF, str(err)) from None
                self._wait(want)

    def _wait(self, events: int) -> None:
        fd = self.sock.fileno()
        if fd < 0:
            raise OSError(errno.EBADF, "the connection is closed")
        poller = select.poll()  # not select(): a busy test process has fds past FD_SETSIZE
        poller.register(fd, events | select.POLLERR | select.POLLHUP)
        poller.poll(1000)  # bounded: a connection closed meanwhile is seen on the next try

    def shutdown(self, how: int = socket.SHUT_RDWR) -> None:
        """Shut the TCP connection with no TLS close_notify (wakes a blocked reader): what a
        client sees when the server or a load balancer before it goes away. The socket's own
        shutdown, which leaves the SSL object alone (SSLSocket.shutdown drops it under a reader)."""
        try:
            socket.socket.shutdown(self.sock, how)
        except (OSError, ValueError):
            pass

    def close_notify(self) -> None:
        """End the TLS session as Go's tls.Conn.Close does: a close_notify alert, sent within
        CLOSE_NOTIFY_TIMEOUT_S, the peer's own not waited for. A client reading on then sees
        a clean end; a bare TCP close is an unexpected EOF, which Python's ssl (OpenSSL 3,
        OP_IGNORE_UNEXPECTED_EOF) raises as SSLZeroReturnError instead of returning b""."""
        deadline = time.monotonic() + CLOSE_NOTIFY_TIMEOUT_S
        # After a whole write in progress, never inside one; a writer stuck on a peer that
        # reads nothing gets no alert after it (as Go's deadline), only the end.
        if not self._write_lock.acquire(timeout=CLOSE_NOTIFY_TIMEOUT_S):
            self._mark_closed()
            return
        try:
            while not self._alert_sent() and time.monotonic() < deadline:
                self._wait(select.POLLOUT)
            self._mark_closed()
        finally:
            self._write_lock.release()

    def _alert_sent(self) -> bool:
        """One try at the close_notify; False while it waits for room in the socket."""
        with self._ssl_lock:
            if self._closed:
                return True
            try:
                self.sock.unwrap()
            except ssl.SSLWantWriteError:
                return False
            except (OSError, ValueError):  # WantRead: sent, the peer's own not here yet
                pass
            self._closed = True
            return True

    def _mark_closed(self) -> None:
        with self._ssl_lock:
            self._closed = True

    def close(self) -> None:
        self.close_notify()
        self.shutdown(socket.SHUT_WR)
        with self._ssl_lock:
            self.sock.close()

    def reader(self) -> io.BufferedReader:
        return io.BufferedReader(_Raw(self))

    def writer(self) -> "_Writer":
        return _Writer(self)


class _Raw(io.RawIOBase):
    def __init__(self, connection: TlsConnection) -> None:
        self.connection = connection

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Union[bytearray, memoryview]) -> int:  # type: ignore[override]
        return self.connection.recv_into(buffer)


class _Writer(io.BufferedIOBase):
    """socketserver's _SocketWriter over a TlsConnection: each write goes out at once."""

    def __init__(self, connection: TlsConnection) -> None:
        self.connection = connection

    def writable(self) -> bool:
        return True

    def write(self, data: Union[bytes, bytearray, memoryview]) -> int:  # type: ignore[override]
        self.connection.sendall(data)
        with memoryview(data) as view:
            return view.nbytes
