"""A second signal that lands after the demo's first stop but before its target's finish
(while the stop unwinds) waits for the finish, which puts the weights back; the run's stop
stays the first signal's. Before, it cut the finish short: the weights stayed as the demo
set them, and the line named the second signal (seen on a real sandbox: TERM, then HUP
5 ms later, exit 129)."""

from __future__ import annotations

import os
import signal
import time
from typing import Callable

import pytest

from kmeshctl import demo, stopping
from kmeshctl.cli import demo as cli_demo


def _signal_self(signum: int) -> None:
    """A real signal to ourselves, its handler run before this returns (or raising)."""
    os.kill(os.getpid(), signum)
    time.sleep(0.05)


class _StoppedTarget:
    """A target stopped (SIGTERM) while it prepares; its finish is hit by ``then`` (more
    signals) before it puts the weights back."""

    def __init__(self, then: list[int]) -> None:
        self.then, self.finished = then, False

    def prepare(self, progress: Callable[[str], None]) -> None:
        _signal_self(signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the run")

    def finish(self, progress: Callable[[str], None]) -> None:
        for signum in self.then:
            _signal_self(signum)
        self.finished = True


def _report() -> demo.DemoReport:
    report = demo.DemoReport.__new__(demo.DemoReport)
    report.subject = object()  # _run only checks it is there before preparing
    return report


def test_a_second_signal_before_the_finish_waits_for_it_and_the_first_stop_is_the_runs() -> None:
    target = _StoppedTarget(then=[signal.SIGHUP])
    with stopping.sigterm_stops():
        with pytest.raises(KeyboardInterrupt) as stopped:
            cli_demo._run(target, _report(), [[50, 50]], verbose=False, quiet=True)  # type: ignore[arg-type]
        assert stopping.stopped_by(stopped.value).signum == signal.SIGTERM
    assert target.finished


def test_a_third_signal_cuts_the_finish_short() -> None:
    target = _StoppedTarget(then=[signal.SIGHUP, signal.SIGINT])
    with stopping.sigterm_stops():
        with pytest.raises(KeyboardInterrupt) as stopped:
            cli_demo._run(target, _report(), [[50, 50]], verbose=False, quiet=True)  # type: ignore[arg-type]
        assert stopping.stopped_by(stopped.value).signum == signal.SIGTERM
    assert not target.finished
