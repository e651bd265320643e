"""A command stopped by a signal: SIGINT (Ctrl-C), SIGTERM (kill, a CI timeout) or SIGHUP
(a closed terminal), told apart so the exit code is 128 + the signal's number (130, 143,
129), as a shell reports it. One handler (_on_signal) for all of them, for the length of
a sigterm_stops block: kmeshctl.cli.main runs the whole command in one, the kmeshctl
program installs it on its first line (own_process); a command cleans up in
`except KeyboardInterrupt`, says its own line with say(), and main decides the exit code
from the first signal of the run.

A cleanup that must not be cut short (what a stopped `sandbox up` made, removed; the
demo's weights, put back) runs in a `finishing` block: one signal there is recorded and
waits for its end; only the one after it stops the cleanup at once, and the run's line
then says what it left. A step a signal must not split (the stop's line and its record,
`sandbox up`'s claim of its name and the flag that it holds it) runs in a `held` block: a
signal there is handled at its end.

Once the command's work is done and its exit code decided, the process still has
Python's own exit ahead (threads joined, atexit calls run, output flushed: 180 to 460 ms
measured on a loaded machine): a signal there says the line, if none was said, and exits
at once with the run's code (stop_at_once); the atexit call own_process registered exits
with the code main decided (exiting), so no later signal can change it.

Imports nothing but built-in modules: the CLI imports this first, and until the handler
is installed a signal kills it without a word (signal.py alone, with enum, took 5 ms to
0.3 s on a loaded machine)."""

from __future__ import annotations

import _signal  # signal.py's C half: the same functions, without importing enum
import atexit
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

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


# Every stop signal _on_signal received, in order, kept after its exception: that can be
# swallowed where no code may raise (logging's lock release, a __del__, an import's weakref
# callback), so a command checks here (check_not_stopped) before it reports success. Never
# cleared: a run reads it from where its outermost block began (_open[0]), so a nested
# block forgets nothing; a signal passed on to a child (pass_on) becomes _PASSED_ON.
_of_run: list[int] = []
_PASSED_ON = 0  # signal 0 is no signal
# Where each open sigterm_stops block began in _of_run, outermost first (own_process's,
# at 0, is never closed: the kmeshctl program is one run).
_open: list[int] = []


def _on_signal(signum: int, _frame: object) -> None:
    if _holds(signum):
        return  # handled (recorded, raised) at the held block's end
    _of_run.append(int(signum))
    if _finishing and _finishing[-1].spares(int(signum)):
        return  # recorded: the cleanup goes on, the stop comes at its end
    raise Stopped(signum)


def _first_since(start: int) -> Stopped | None:
    return next((Stopped(signum) for signum in _of_run[start:] if signum != _PASSED_ON), None)


# Where the latest outermost sigterm_stops block began: its run's first stop is still the
# one a signal after the block ended exits with (stop_at_once).
_last_run = 0


def received() -> Stopped | None:
    """The first stop of the run (since its outermost sigterm_stops block began), even if
    its exception was lost: its line and its exit code are this one's, whatever came after."""
    return _first_since(_open[0]) if _open else None


def _run_first() -> Stopped | None:
    """received(), or once the run's outermost block ended, that run's first stop."""
    return _first_since(_open[0] if _open else _last_run)


first_of_run = received  # the CLI's name for the same question: what stopped the run


def check_not_stopped() -> None:
    """Raise the recorded stop (a safe point: the signal's own exception may have been
    swallowed where it was raised)."""
    stop = received()
    if stop is not None:
        raise stop


def stopped_by(err: KeyboardInterrupt) -> Stopped:
    """The stop a command stopped by ``err`` reports: the first of its run while one is
    open (a SIGTERM, then a SIGHUP that cut its cleanup short: SIGTERM's line and 143, the
    code main exits with), else ``err`` as a Stopped (a plain KeyboardInterrupt is Ctrl-C's)."""
    return received() or _as_stopped(err)


def _as_stopped(err: KeyboardInterrupt) -> Stopped:
    return err if isinstance(err, Stopped) else Stopped(SIGINT)


def pass_on(err: KeyboardInterrupt) -> int:
    """The signal of ``err``, to pass on to a child that decides the exit code itself
    (`sandbox exec`, as a shell does): no longer a stop of kmeshctl's own."""
    signum = _as_stopped(err).signum
    for index in range(len(_of_run) - 1, -1, -1):  # the latest: the one that raised ``err``
        if _of_run[index] == signum:
            _of_run[index] = _PASSED_ON
            break
    return signum


def _replaceable(handler: object) -> bool:
    """A handler we may replace: nobody else's, not SIG_IGN (nohup, a background job), and
    not one set from C (getsignal() is None: it could not be put back)."""
    return handler in (_signal.default_int_handler, _signal.SIG_DFL, _on_signal)


class _Previous:
    """What install replaced, for restore."""

    def __init__(self, handlers: dict[int, Any], unraisablehook: Any = None) -> None:
        self.handlers = handlers
        self.unraisablehook = unraisablehook


def on_main_thread() -> bool:
    """Whether this is the main thread, the only one where handlers are set and a run is
    (without importing threading: not imported, there is no other thread to be on)."""
    threading = sys.modules.get("threading")
    return threading is None or threading.current_thread() is threading.main_thread()


def install() -> _Previous:
    """_on_signal for every stop signal nobody else handles; returns what it replaced, for
    restore (nothing outside the main thread, where none can be set)."""
    if not on_main_thread():  # decided first: with no handler to replace, signal() would not tell
        return _Previous({})
    previous = {sig: _signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig, handler in previous.items():
        if _replaceable(handler):
            _signal.signal(sig, _on_signal)
    return _Previous(previous, _silence_swallowed_stops())


def installed() -> bool:
    """Whether a SIGTERM now raises Stopped (_on_signal is its handler)."""
    return _signal.getsignal(SIGTERM) is _on_signal


def restore(previous: _Previous) -> None:
    """Put back the handlers (and sys.unraisablehook) that install replaced."""
    for sig, handler in previous.handlers.items():
        if handler is not None:  # one set from C: install left it in place
            _signal.signal(sig, handler)
    if previous.unraisablehook is not None and getattr(sys.unraisablehook, "stops_silenced", False):
        sys.unraisablehook = previous.unraisablehook


def _silence_swallowed_stops() -> Any:
    """A Stopped raised where Python cannot raise (a weakref callback while importing, a
    __del__) is recorded (received): no `Exception ignored in` traceback for it. Returns
    the hook it replaced (None: already silenced)."""
    hook = sys.unraisablehook
    if getattr(hook, "stops_silenced", False):
        return None

    def unraisable(info: Any) -> None:
        if not isinstance(info.exc_value, Stopped):
            hook(info)

    unraisable.stops_silenced = True  # type: ignore[attr-defined]
    sys.unraisablehook = unraisable
    return hook


# Whether the run said why it stopped (a command's own line, e.g. `Error: stopped by
# SIGTERM: sandbox demo was not created`, or say_once's): it is said once.
_said = False
# What the run made that a stop from now on leaves in place (leaves): said in its line.
_left = ""


def leaves(what: str) -> None:
    """From now on the run's work is done and a stop no longer undoes it: its line says
    ``what`` it leaves (`sandbox demo is up; remove it with ...`), not only `stopped by`,
    which would read as if nothing had been made."""
    global _left
    _left = what


def left() -> str:
    """What the run leaves in place (leaves; '' when it said nothing), for a command whose
    stop is also written elsewhere than its line (a -o json document's `error`)."""
    return _left


def stop_text(stop: Stopped) -> str:
    """`stopped by SIGTERM`, with what the run leaves in place once it said so (leaves)."""
    return f"stopped by {stop.how}" + (f": {_left}" if _left else "")


def said() -> bool:
    """Whether the run has said its stop's line."""
    return _said


def say(message: str) -> None:
    """`Error: MESSAGE` on stderr, the one line of a stopped command (it names the stop),
    with what the run leaves (leaves) when MESSAGE does not say it, recorded so that none
    is said after it; straight to the descriptor when the stream fails (closed). A signal
    while it is said (held) is handled once it is said and recorded: no line twice."""
    global _said
    if _left and _left not in message:  # what the run leaves, whichever command's wording
        message = f"{message}; {_left}"
    line = f"Error: {message}\n"
    # Signals held while it is written and recorded: a second one (timeout's to the group, a
    # Ctrl-C pressed again) raises once it is said, which would otherwise write it twice (raised
    # as the write returned, the fallback wrote it again) or have the next handler say one more.
    with held():
        try:
            sys.stdout.flush()
        except BaseException:  # noqa: BLE001 (a pipe gone, a flush under way: the line still goes)
            pass
        try:
            sys.stderr.write(line)
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001 (a stream that fails, a write under way: the descriptor)
            try:
                os.write(2, line.encode())
            except OSError:
                pass
        _said = True


# How many held blocks are open, and the signals that came in them (handled at the end of
# the outermost one). Not a blocked signal mask: a signal for the process then goes to
# another thread, and Python runs its handler on the main thread all the same.
_holding = 0
_held_signals: list[int] = []


def _holds(signum: int) -> bool:
    """Whether a held block is open: ``signum`` is then handled at its end."""
    if _holding:
        _held_signals.append(int(signum))
    return bool(_holding)


class held:  # noqa: N801 (a context manager: `with held():`)
    """Around a step a stop must not split (a line and its record, a claim and its result):
    a signal in it is handled at its end, by the handler then in place (a Stopped raised
    there, or stop_at_once's exit). On the main thread only (only there do handlers run)."""

    def __enter__(self) -> held:
        global _holding
        self._main_thread = on_main_thread()
        if self._main_thread:
            _holding += 1
        return self

    def __exit__(self, *_exc: object) -> None:
        global _holding
        if not self._main_thread:
            return
        _holding -= 1
        if _holding or not _held_signals:
            return
        signums = list(_held_signals)
        _held_signals.clear()
        for signum in signums:
            handler = _signal.getsignal(signum)
            if callable(handler):
                handler(signum, None)
            elif handler == _signal.SIG_DFL:  # the caller's default put back meanwhile: what it does
                _signal.raise_signal(signum)


def say_once(stop: Stopped) -> None:
    """The stop's line (`Error: stopped by SIGTERM`, see stop_text), unless the run said one."""
    if not _said:
        say(stop_text(stop))


def stop_in(err: BaseException) -> Stopped | None:
    """The stop ``err`` is, or was raised from: LetOut, and Python 3.11's `RuntimeError:
    Error calling __set_name__` for a KeyboardInterrupt in a class body. Not an exception
    raised while handling one (a bug in a cleanup): that is its own error."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return stopped_by(seen)
        seen = seen.__cause__
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


_owned = False  # own_process ran: this process is the kmeshctl program
_exit_code: int | None = None  # what the program exits with, once main decided it (exiting)


def owns_process() -> bool:
    """Whether this process is the kmeshctl program (own_process ran), not a program that
    imports the CLI (a test): only then may kmeshctl end the process itself."""
    return _owned


def own_process() -> None:
    """For the kmeshctl program (not a test importing it): its exit code is the one main
    decided (exiting), whatever Python's own exit meets; the stop handlers for the whole
    process; a stop that reaches the top (a module's body while Python loads the commands)
    says its line and exits 128 + the signal, not a traceback and Python's own exit code."""
    global _owned
    if _owned:
        return
    _owned = True
    # atexit calls the last registered first: this one runs after every call registered
    # later (all of kmeshctl's and its libraries'); one registered before (sitecustomize,
    # a program that imported kmeshctl first) never runs, for this one ends the process.
    atexit.register(_exit_at_end)
    _open.append(len(_of_run))
    install()
    previous = sys.excepthook

    def top_level(kind: type[BaseException], err: BaseException, trace: Any) -> None:
        escaped = stop_in(err)
        stop = received() or escaped
        if stop is not None:  # first: a signal while the traceback prints exits with the run's code
            stop_at_once()
        if escaped is None:
            previous(kind, err, trace)  # a bug, a stop's cleanup's too: its traceback
        if stop is not None:
            say_once(stop)
            exiting(stop.exit_code)

    sys.excepthook = top_level


def exiting(code: object) -> None:
    """The code the kmeshctl program exits with (a Python exit's: None 0, a text 1), from
    its last atexit call; nothing in a process that is not kmeshctl's."""
    global _exit_code
    if _owned:
        _exit_code = code if isinstance(code, int) else 0 if code is None else 1


def _exit_at_end() -> None:
    """Once the threads are joined and every atexit call registered after own_process's
    ran (not those registered before it: os._exit ends the process here), exit with the
    code main decided, before a signal in the rest of Python's teardown could go unheard
    or kill it with no line."""
    if _exit_code is None:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 (as Python's exit: nothing more to report it to)
            pass
    os._exit(_exit_code)


def stop_at_once() -> None:
    """After the command's work (its exit code decided): a signal now says its line
    (say_once) and exits at once with the run's code, rather than raise where nothing
    catches it."""
    def exit_now(signum: int, _frame: object) -> None:
        if _holds(signum):
            return  # a line being said: at its end
        _of_run.append(int(signum))
        stop = _run_first() or Stopped(signum)
        try:
            say_once(stop)
        finally:
            os._exit(stop.exit_code)

    for sig in STOP_SIGNALS:
        if _signal.getsignal(sig) is _on_signal:
            _signal.signal(sig, exit_now)


class sigterm_stops:  # noqa: N801 (used as a context manager: `with sigterm_stops():`)
    """While inside, SIGTERM raises Stopped(SIGTERM): it unwinds as Ctrl-C does but exits
    143, not 130; Ctrl-C and SIGHUP raise a Stopped of their own. Each is recorded too
    (received). Inside the CLI the handlers are already the run's; outside the main
    thread this does nothing. The outermost block begins a run: its stops, its line."""

    def __enter__(self) -> sigterm_stops:
        global _said, _left, _last_run
        start = len(_of_run)  # before the handlers: a signal as they are set is this block's
        self._main_thread = on_main_thread()  # only there are handlers and a run
        self._previous = install()
        if self._main_thread:
            if not _open:
                _said, _left, _last_run = False, "", start
            _open.append(start)
        self.start = _open[0] if _open else len(_of_run)
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            restore(self._previous)
        finally:  # a signal while restoring must not leave the block open: later runs would be its
            if self._main_thread:
                _open.pop()

    def first(self) -> Stopped | None:
        """The first stop of the run this block is part of, after it ended too."""
        return _first_since(self.start)


class _Finishing:
    """One open finishing block (see finishing)."""

    def __init__(self, what: str, left: str | Callable[[], str], armed: bool) -> None:
        self.what, self.left, self.armed = what, left, armed
        self.spared: int | None = None  # the signal it let the cleanup go on after
        self.inherited = False  # spared by an enclosing block: that block's end raises it
        self.cut = False  # a signal after that one stopped the cleanup

    def inherit(self, enclosing: list[_Finishing]) -> None:
        """Opened while an enclosing block already spared a signal: that was the one let
        wait, so the next signal cuts this block short rather than wait again."""
        spared = next((b.spared for b in reversed(enclosing) if b.spared is not None), None)
        if spared is not None:
            self.armed, self.spared, self.inherited = True, spared, True

    def spares(self, signum: int) -> bool:
        """Whether the signal ``signum`` waits for the cleanup's end (the first once the
        block is armed; the next one stops it at once, cut)."""
        if not self.armed:
            self.armed = True  # this stop starts the cleanup: the next signal waits for it
            return False
        if self.spared is not None:
            self.cut = True
            return False
        self.spared = signum
        _note(f"{_name(signum)}: still {self.what}; a further signal stops at once and leaves it unfinished")
        return True

    def left_text(self) -> str:
        return self.left() if callable(self.left) else self.left


# The open finishing blocks, innermost last: only it decides on a signal.
_finishing: list[_Finishing] = []


class finishing:  # noqa: N801 (a context manager: `with finishing(...):`)
    """Around a cleanup a stop must not cut short (``what`` it does: `removing what
    sandbox demo made`): one signal inside is recorded (the run's line and exit code stay
    its first stop's) and the cleanup goes on; at its end that stop is raised (the run's
    first), unless an exception already leaves the block. The next signal stops it at once
    (a user who really wants out): the run's line then says ``left`` (a text or a callable
    giving it, asked then: `sandbox demo is half-created; remove it with ...`). A block
    opened inside one that already let a signal wait lets none wait: the next one cuts it.
    ``armed=False``: around a step and its cleanup, for the step's own first stop to
    raise (and start the cleanup) and only the following one to wait. On the main thread
    only (elsewhere no signal arrives)."""

    def __init__(self, what: str, left: str | Callable[[], str] = "", armed: bool = True) -> None:
        self._block = _Finishing(what, left, armed)
        self._main_thread = on_main_thread()

    def __enter__(self) -> finishing:
        if self._main_thread:
            self._block.inherit(_finishing)
            _finishing.append(self._block)
        return self

    def arm(self) -> None:
        """The cleanup starts (a failure, not a stop, started it): the next signal waits."""
        self._block.armed = True

    def __exit__(self, kind: object, err: BaseException | None, _trace: object) -> None:
        if not self._main_thread:
            return
        _finishing.remove(self._block)
        if self._block.cut:
            _leaves_unfinished(self._block)
        elif err is None and self._block.spared is not None and not self._block.inherited:
            raise _run_first() or Stopped(self._block.spared)


def _leaves_unfinished(block: _Finishing) -> None:
    """A stop cut the cleanup short: the run's line says what it left (leaves)."""
    try:
        left = block.left_text()
    except Exception:  # noqa: BLE001 (what is left cannot be read: the line says the cleanup did not finish)
        left = ""
    leaves(left or f"{block.what} did not finish")


def _note(text: str) -> None:
    """A line on stderr from a signal handler: straight to the descriptor when the stream
    is in the middle of a write the signal interrupted."""
    line = f"{text}\n"
    try:
        sys.stderr.write(line)
        sys.stderr.flush()
    except Exception:  # noqa: BLE001
        try:
            os.write(2, line.encode())
        except OSError:
            pass
