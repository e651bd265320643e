"""Closing a test server's listening socket while a thread waits in accept() on it."""

from __future__ import annotations

import socket
import threading


def close_listener(listener: socket.socket, accepting: threading.Thread, join_s: float = 5.0) -> None:
    """Wake ``accepting`` (blocked in ``listener.accept()``), wait for it, then close.

    close() alone does not wake a thread blocked in accept(): the thread stays in the call
    with the socket's fd number, and when the call is restarted (the process stopped and
    continued, traced, frozen and thawed) the kernel looks the number up again, by then a
    later server's listener, and the old thread takes and drops that server's client (an
    EOF in its TLS handshake: the suite's flake of sessions 28-29). shutdown() makes the
    blocked accept() fail at once."""
    try:
        listener.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # never listened, or already shut
    accepting.join(join_s)
    listener.close()
