"""Signals a daemon's main loop waits for (the sandbox control plane's SIGHUP reload and
SIGTERM stop, the node agent's SIGTERM/SIGINT), delivered without a lock.

Python runs a signal handler in the main thread between two bytecodes, possibly while
that thread holds a lock: a handler that sets a threading.Event while the main thread is
inside that Event's wait() blocks on the Event's own lock forever (a burst of SIGHUPs did
exactly that to the sandbox control plane). Here a handler only writes the signal's
number to a non-blocking pipe (a system call, no Python lock); the loop reads the pipe.
"""

from __future__ import annotations

import os
import select
import signal
from types import FrameType
from typing import Iterable, Optional


class SignalPipe:
    """Handlers for ``signums`` that queue each signal; ``wait`` returns those received.

    Repeats of one signal while the loop is busy coalesce into one (a reload asked twice
    during a reload runs once more, not twice); a signal is never lost, as a full pipe
    already holds one of each kind that fits. Install from the main thread only
    (signal.signal's rule)."""

    def __init__(self, signums: Iterable[int]) -> None:
        self._read, self._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._previous = {signum: signal.signal(signum, self._queue) for signum in signums}

    def _queue(self, signum: int, _frame: Optional[FrameType]) -> None:
        try:
            os.write(self._write, bytes([signum]))
        except BlockingIOError:  # full: thousands queued already, the loop will see this kind
            pass

    def wait(self, timeout_s: float) -> list[int]:
        """The signals received since the last call, each once, in the order first
        received; waits up to ``timeout_s`` seconds for one ([] when none came)."""
        ready, _, _ = select.select([self._read], [], [], timeout_s)
        if not ready:
            return []
        received: list[int] = []
        while True:
            try:
                chunk = os.read(self._read, 4096)
            except BlockingIOError:
                break
            if not chunk:
                break
            for signum in chunk:
                if signum not in received:
                    received.append(signum)
        return received

    def close(self) -> None:
        """Put the previous handlers back and close the pipe."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        os.close(self._read)
        os.close(self._write)
