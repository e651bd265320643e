"""A command stopped by a signal: SIGINT (Ctrl-C), SIGTERM (kill, a CI timeout) or SIGHUP
(a closed terminal), told apart so the exit code is 128 + the signal's number (130, 143,
129), as a shell reports it. One handler (_on_signal) for all of them: the CLI installs it
for the whole run (install, on its first line), sigterm_stops for a block of code run
outside the CLI; a command cleans up in `except KeyboardInterrupt`, and kmeshctl.cli.main
decides the exit code from the first signal the run received.

Imports nothing but built-in modules: the CLI imports this first, and until the handler
is installed a signal kills it without a word (signal.py alone, with enum, took 5 ms to
0.3 s on a loaded machine)."""

from __future__ import annotations

import _signal  # signal.py's C half: the same functions, without importing enum
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SIGINT, SIGTERM, SIGHUP = _signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP
STOP_SIGNALS = (SIGINT, SIGTERM, SIGHUP)


class Stopped(KeyboardInterrupt):
    """A KeyboardInterrupt, so every cleanup written for Ctrl-C runs for SIGTERM too; it
    exits 128 + the signal's number."""

    def __init__(self, signum: int = SIGINT) -> None:
        super().__init__(_name(signum))
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def how(self) -> str:
        return "Ctrl-C (SIGINT)" if self.signum == SIGINT else _name(self.signum)

    @property
    def line(self) -> str:
        """The error line of a command that says nothing more about its stop."""
        return f"Error: stopped by {self.how}"


_NAMES = {SIGINT: "SIGINT", SIGTERM: "SIGTERM", SIGHUP: "SIGHUP"}


def _name(signum: int) -> str:
    """Without importing signal.py: a Stopped is made while any module loads (enum too)."""
    if signum in _NAMES:
        return _NAMES[signum]
    import signal

    return signal.Signals(signum).name


# The signals _on_signal received, kept after their exception: that exception can be
# swallowed where no code may raise (logging's lock release, a __del__, an import's
# weakref callback), so a command checks here (check_not_stopped) before it reports
# success. _received: inside one sigterm_stops block; _of_run: since install (the CLI's
# exit code is the first one's).
_received: list[int] = []
_of_run: list[int] = []


def _on_signal(signum: int, _frame: object) -> None:
    _received.append(int(signum))
    _of_run.append(int(signum))
    raise Stopped(signum)


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
    return err if isinstance(err, Stopped) else Stopped(SIGINT)


def pass_on(err: KeyboardInterrupt) -> int:
    """The signal of ``err``, to pass on to a child that decides the exit code itself
    (`sandbox exec`, as a shell does): no longer a stop of kmeshctl's own."""
    signum = stopped_by(err).signum
    for record in (_received, _of_run):
        if signum in record:
            record.remove(signum)
    return signum


def first_of_run() -> Stopped | None:
    """The first signal received since install: what stopped the run, whatever came after."""
    return Stopped(_of_run[0]) if _of_run else None


def _replaceable(handler: object) -> bool:
    """A handler we may replace: nobody else's, and not SIG_IGN (nohup, a background job)."""
    return handler is None or handler in (_signal.default_int_handler, _signal.SIG_DFL, _on_signal)


def install() -> dict[int, Any]:
    """_on_signal for every stop signal nobody else handles; returns the handlers it
    replaced, for restore (none outside the main thread, where no handler can be set).
    Its first call of a run forgets earlier stops."""
    previous = {sig: _signal.getsignal(sig) for sig in STOP_SIGNALS}
    if not installed():
        _of_run.clear()
        _said.clear()
    try:
        for sig, handler in previous.items():
            if _replaceable(handler):
                _signal.signal(sig, _on_signal)
    except ValueError:  # not the main thread
        return {}
    _silence_swallowed_stops()
    return previous


def installed() -> bool:
    return _signal.getsignal(SIGTERM) is _on_signal


def restore(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        if handler is not None:
            _signal.signal(sig, handler)


def _silence_swallowed_stops() -> None:
    """A Stopped raised where Python cannot raise (a weakref callback while importing, a
    __del__) is recorded (first_of_run): no `Exception ignored in` traceback for it."""
    hook = sys.unraisablehook
    if getattr(hook, "stops_silenced", False):
        return

    def unraisable(info: Any) -> None:
        if not isinstance(info.exc_value, Stopped):
            hook(info)

    unraisable.stops_silenced = True  # type: ignore[attr-defined]
    sys.unraisablehook = unraisable


# Whether the run said why it stopped (its own line, e.g. `Error: stopped by SIGTERM:
# sandbox demo was not created`, or say_once's): it is said once.
_said: list[bool] = []


def note_output(text: str) -> None:
    """Notice a stop's line among what the run writes to stderr."""
    if not _said and any(line.startswith("Error: ") and ("stopped by Ctrl-C" in line or "stopped by SIG" in line)
                         for line in text.splitlines()):
        _said.append(True)


def said() -> bool:
    return bool(_said)


def say_once(stop: Stopped) -> None:
    """The stop's line on stderr, unless the run said one; straight to the descriptor
    when the stream fails (closed, or in the middle of a write the signal interrupted)."""
    if _said:
        return
    _said.append(True)
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 (a pipe gone, a flush under way: the line still goes)
        pass
    try:
        sys.stderr.write(f"{stop.line}\n")
        sys.stderr.flush()
    except Exception:  # noqa: BLE001
        try:
            os.write(2, f"{stop.line}\n".encode())
        except OSError:
            pass


def stop_in(err: BaseException) -> Stopped | None:
    """The stop ``err`` is, or was caused by (Python 3.11 turns a KeyboardInterrupt in a
    class body into `RuntimeError: Error calling __set_name__`)."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return stopped_by(seen)
        seen = seen.__cause__ or seen.__context__
    return None


class LetOut(BaseException):
    """A stop on its way past click and typer, which would make any KeyboardInterrupt a
    bare exit 130 (raised from the stop: stop_in finds it)."""


class past_click:  # noqa: N801 (a context manager: `with past_click():`)
    """Around click's parsing and a command's call: a stop the command lets out goes
    past click as LetOut, for the CLI to say and exit with (run_reporting_errors)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, _kind: object, err: BaseException | None, _trace: object) -> None:
        if isinstance(err, KeyboardInterrupt):
            raise LetOut() from err


def own_process() -> None:
    """For the kmeshctl program (not a test importing it): install, and a stop that
    reaches the top (a module's body while Python loads the commands) says its line and
    exits with 128 + the signal, instead of a traceback and Python's own exit code."""
    install()
    previous = sys.excepthook

    def top_level(kind: type[BaseException], err: BaseException, trace: Any) -> None:
        stop = stop_in(err)
        if stop is None:
            previous(kind, err, trace)
            return
        stop = first_of_run() or stop
        say_once(stop)
        os._exit(stop.exit_code)

    sys.excepthook = top_level


def stop_at_once() -> None:
    """After the command's work (its exit code decided): a signal now says its line
    (say_once) and exits at once with the run's code, rather than raise where nothing
    catches it."""
    def exit_now(signum: int, _frame: object) -> None:
        _of_run.append(int(signum))
        stop = first_of_run() or Stopped(signum)
        try:
            say_once(stop)
        finally:
            os._exit(stop.exit_code)

    for sig in STOP_SIGNALS:
        if _signal.getsignal(sig) is _on_signal:
            _signal.signal(sig, exit_now)


def exit_process(code: object) -> None:
    """Exit as Python's exit does (threads awaited, atexit calls run, output flushed),
    then at once: a signal in Python's own teardown (a tenth of a second on a loaded
    machine) would otherwise go unheard, or kill it with no line."""
    import atexit
    import threading

    shutdown = getattr(threading, "_shutdown", None)  # what Python's exit calls: waits for the threads
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    if code is not None and not isinstance(code, int):  # sys.exit("text"): the text, exit 1
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 (what Python's exit does: nothing more to report it to)
            pass
    os._exit(code or 0)


class sigterm_stops:  # noqa: N801 (used as a context manager: `with sigterm_stops():`)
    """While inside, SIGTERM raises Stopped(SIGTERM): it unwinds as Ctrl-C does but exits
    143, not 130; Ctrl-C and SIGHUP raise a Stopped of their own. Each is recorded too
    (received). Inside the CLI the handlers are already the run's; outside the main
    thread this does nothing."""

    def __enter__(self) -> None:
        _received.clear()
        self._previous = install()

    def __exit__(self, *_exc: object) -> None:
        restore(self._previous)
        _received.clear()
