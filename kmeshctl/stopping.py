"""A command stopped by a signal: SIGINT (Ctrl-C) or SIGTERM (kill, a CI timeout), told
apart so the exit code is 128 + the signal's number (130, 143), as a shell reports it.
The one mechanism of every command that cleans up when stopped: the demo, uninstall and
the sandbox commands."""

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


# The signal a sigterm_stops handler received, kept after its exception: that exception
# can be swallowed where no code may raise (logging's lock release, a __del__), so a
# command checks here (check_not_stopped) before it reports success.
_received: list[int] = []


def received() -> Stopped | None:
    """The stop a signal asked for inside sigterm_stops, even if its exception was lost."""
    return Stopped(_received[-1]) if _received else None


def check_not_stopped() -> None:
    """Raise the recorded stop (a safe point: the signal's own exception may have been
    swallowed where it was raised)."""
    stop = received()
    if stop is not None:
        raise stop


def stopped_by(err: KeyboardInterrupt) -> Stopped:
    """``err`` as a Stopped: a plain KeyboardInterrupt is Ctrl-C's."""
    return err if isinstance(err, Stopped) else Stopped(signal.SIGINT)


@contextlib.contextmanager
def sigterm_stops() -> Iterator[None]:
    """While inside, SIGTERM raises Stopped(SIGTERM): it unwinds as Ctrl-C does (the CLI's
    own handler raises a plain KeyboardInterrupt, read as Ctrl-C's) but exits 143, not 130;
    Ctrl-C and SIGHUP raise a Stopped of their own. Each is recorded too (received). Only
    the main thread may set a handler; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        _received.append(int(signum))
        raise Stopped(signum)

    _received.clear()
    previous = signal.signal(signal.SIGTERM, stop)
    # Ctrl-C and SIGHUP (a closed terminal) too, where nobody set a handler of their own
    others = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGHUP)}
    ours = [sig for sig, was in others.items() if was in (signal.default_int_handler, signal.SIG_DFL)]
    for sig in ours:
        signal.signal(sig, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        for sig in ours:
            signal.signal(sig, others[sig])
        _received.clear()
