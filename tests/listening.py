"""Closing a test server's listening socket while a thread waits in accept() on it."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Iterator


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


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A loopback port (yielded) that accepts connections and never answers; every
    connection and the listener are closed at the end. For waits on an API that hangs."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    worker = threading.Thread(target=accept, daemon=True)
    worker.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        worker.join(2)
        for conn in held:
            conn.close()
        listener.close()
