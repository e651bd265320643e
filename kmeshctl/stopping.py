"""A command stopped by a signal: SIGINT (Ctrl-C) or SIGTERM (kill, a CI timeout), told
apart so the exit code is 128 + the signal's number (130, 143), as a shell reports it."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


class Stopped(KeyboardInterrupt):
    """A KeyboardInterrupt, so every cleanup written for Ctrl-C runs for SIGTERM too; it
    exits 128 + the signal's number."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def how(self) -> str:
        return "Ctrl-C (SIGINT)" if self.signum == signal.SIGINT else signal.Signals(self.signum).name


def stopped_by(err: KeyboardInterrupt) -> Stopped:
    """``err`` as a Stopped: a plain KeyboardInterrupt is Ctrl-C's."""
    return err if isinstance(err, Stopped) else Stopped(signal.SIGINT)


@contextlib.contextmanager
def sigterm_stops() -> Iterator[None]:
    """While inside, SIGTERM raises Stopped(SIGTERM): it unwinds as Ctrl-C does (the CLI's
    own handler raises a plain KeyboardInterrupt, read as Ctrl-C's) but exits 143, not 130.
    Only the main thread may set a handler; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        raise Stopped(signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
