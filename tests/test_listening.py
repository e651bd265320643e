"""close_listener leaves no thread in accept() on a closed listener's fd number (the cause
of the suite's TLS-EOF flake: such a thread, restarted, took a later stand-in's client)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from listening import close_listener


def _blocked_accept(listener: socket.socket) -> threading.Thread:
    entered = threading.Event()

    def accept() -> None:
        entered.set()
        try:
            listener.accept()
        except OSError:
            pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    entered.wait(5)
    _wait_in_accept(thread)
    return thread


def _wait_in_accept(thread: threading.Thread, limit_s: float = 5.0) -> None:
    """Until the thread sits in the accept4 (288) or accept (43) system call (x86-64)."""
    syscall = Path(f"/proc/self/task/{thread.native_id}/syscall")
    deadline = time.monotonic() + limit_s
    while syscall.read_text().split()[0] not in ("288", "43"):
        assert time.monotonic() < deadline, syscall.read_text()
        time.sleep(0.01)


def test_the_accepting_thread_has_left_accept_when_the_listener_is_closed() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    thread = _blocked_accept(listener)
    close_listener(listener, thread)
    assert not thread.is_alive() and listener.fileno() == -1  # close() alone: still in accept()
