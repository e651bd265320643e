"""A minimal WebSocket server side (RFC 6455), enough for the Kubernetes channel
protocols: the opening handshake, framing, client masking, fragmentation, ping/pong
and the closing handshake."""

from __future__ import annotations

import base64
import binascii
import hashlib
import socket
import struct
import threading
from typing import TYPE_CHECKING, BinaryIO, Optional

if TYPE_CHECKING:
    from .tls import TlsConnection

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
NORMAL_CLOSURE, PROTOCOL_ERROR, INVALID_DATA, MESSAGE_TOO_BIG = 1000, 1002, 1007, 1009
MAX_MESSAGE = 16 * 1024 * 1024


class HandshakeError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def check_upgrade(method: str, headers: "dict[str, str] | object") -> str:
    """Validate a client's opening handshake; returns its Sec-WebSocket-Key."""
    get = headers.get  # type: ignore[attr-defined]
    if method != "GET":
        raise HandshakeError(400, "a WebSocket upgrade must be a GET")
    if (get("Upgrade") or "").lower() != "websocket" or "upgrade" not in (get("Connection") or "").lower():
        raise HandshakeError(400, "Upgrade request required")
    if get("Sec-WebSocket-Version") != "13":
        raise HandshakeError(426, "only WebSocket version 13 is supported")
    key = get("Sec-WebSocket-Key") or ""
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError(key)
    except (binascii.Error, ValueError):
        raise HandshakeError(400, f"bad Sec-WebSocket-Key {key!r}") from None
    return key


def choose_protocol(offered_header: Optional[str], supported: list[str]) -> Optional[str]:
    """The first protocol the client offers that the server supports (client preference),
    as the Kubernetes stream servers choose; None when nothing matches."""
    offered = [p.strip() for p in (offered_header or "").split(",") if p.strip()]
    return next((p for p in offered if p in supported), None)


class ConnectionClosed(Exception):
    pass


class WebSocket:
    """One server-side connection after a successful handshake. `receive` must be called
    from one thread only; `send` is safe from several. Over TLS, ``sock`` is the request's
    tls.TlsConnection and ``reader`` reads through it: the reading thread and the writing
    ones never use the connection's SSL object at once (OpenSSL's objects are not safe for
    that), and `shutdown` (from any thread) shuts the TCP connection under them."""

    def __init__(self, sock: "socket.socket | TlsConnection", reader: BinaryIO) -> None:
        self.sock = sock
        self.reader = reader
        self._write_lock = threading.Lock()
        self.close_sent = False
        self.close_received = False

    # -- writing -----------------------------------------------------------------------

    def send(self, payload: bytes, opcode: int = BINARY) -> None:
        """One unfragmented, unmasked frame (servers never mask)."""
        header = bytes([0x80 | opcode])
        length = len(payload)
        if length < 126:
            header += bytes([length])
        elif length < 1 << 16:
            header += bytes([126]) + struct.pack("!H", length)
        else:
            header += bytes([127]) + struct.pack("!Q", length)
        with self._write_lock:
            if self.close_sent:
                raise ConnectionClosed("close frame already sent")
            self.sock.sendall(header + payload)
            if opcode == CLOSE:
                self.close_sent = True

    def send_close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        try:
            self.send(struct.pack("!H", code) + reason.encode()[:123], CLOSE)
        except (ConnectionClosed, OSError):
            pass

    # -- reading -----------------------------------------------------------------------

    def receive(self) -> Optional[tuple[int, bytes]]:
        """The next data message (opcode TEXT or BINARY, payload); None once the peer closed
        (after answering its close frame) or the connection ended."""
        message_opcode: Optional[int] = None
        parts: list[bytes] = []
        while True:
            frame = self._read_frame()
            if frame is None:
                return None
            fin, opcode, payload = frame
            if opcode >= CLOSE:
                if not self._control(opcode, payload):
                    return None
                continue
            if opcode == CONTINUATION:
                if message_opcode is None:
                    return self._fail(PROTOCOL_ERROR, "continuation frame without a message")
            elif message_opcode is not None:
                return self._fail(PROTOCOL_ERROR, "new message inside a fragmented one")
            else:
                message_opcode = opcode
            parts.append(payload)
            if sum(len(p) for p in parts) > MAX_MESSAGE:
                return self._fail(MESSAGE_TOO_BIG, "message too big")
            if fin:
                data = b"".join(parts)
                if message_opcode == TEXT:
                    try:
                        data.decode("utf-8")
                    except UnicodeDecodeError:
                        return self._fail(INVALID_DATA, "text message is not UTF-8")
                return message_opcode, data

    def _control(self, opcode: int, payload: bytes) -> bool:
        """Handle a control frame; False when the connection is closing."""
        if opcode == PING:
            self.send(payload, PONG)
            return True
        if opcode == PONG:
            return True
        self.close_received = True
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else NORMAL_CLOSURE
        self.send_close(code if len(payload) >= 2 else NORMAL_CLOSURE)
        return False

    def _read_frame(self) -> Optional[tuple[bool, int, bytes]]:
        head = self._read_exact(2)
        if head is None:
            return None
        fin, rsv, opcode = bool(head[0] & 0x80), head[0] & 0x70, head[0] & 0x0F
        masked, length = bool(head[1] & 0x80), head[1] & 0x7F
        if rsv or opcode not in (CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG):
            return self._fail(PROTOCOL_ERROR, "reserved bits or unknown opcode")
        if not masked:
            return self._fail(PROTOCOL_ERROR, "client frames must be masked")
        if opcode >= CLOSE and (length > 125 or not fin):
            return self._fail(PROTOCOL_ERROR, "bad control frame")
        if length >= 126:
            extended = self._read_exact(2 if length == 126 else 8)
            if extended is None:
                return None
            length = struct.unpack("!H" if len(extended) == 2 else "!Q", extended)[0]
        if length > MAX_MESSAGE:
            return self._fail(MESSAGE_TOO_BIG, "frame too big")
        mask = self._read_exact(4)
        payload = self._read_exact(length) if length else b""
        if mask is None or payload is None:
            return None
        return fin, opcode, unmask(payload, mask)

    def _read_exact(self, count: int) -> Optional[bytes]:
        try:
            data = self.reader.read(count)
        except OSError:
            return None
        return data if data is not None and len(data) == count else None

    def _fail(self, code: int, reason: str) -> None:
        self.send_close(code, reason)
        return None

    def shutdown(self) -> None:
        """End the connection (from any thread): over TLS a close_notify first, as the real
        API server's Go TLS connection sends on close, then the TCP shutdown that wakes the
        reading thread."""
        close_notify = getattr(self.sock, "close_notify", None)
        if close_notify is not None:
            close_notify()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def unmask(payload: bytes, mask: bytes) -> bytes:
    if not payload:
        return payload
    repeated = (mask * (len(payload) // 4 + 1))[:len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(payload), "big")
