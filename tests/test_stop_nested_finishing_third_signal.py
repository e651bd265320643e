"""f19c (r19 A): finishing blocks let one signal wait for the cleanup and cut it at the
next. A block opened inside one that already let a signal wait (the demo's finish, then
the sandbox target's weights restore) let the third wait again: a fourth was needed.
Now the inner block starts with that signal spared, so the next one cuts it."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from kmeshctl import stopping
from kmeshctl.cli import demo as cli_demo
from test_demo_second_signal_before_finish import _report
from test_stop_signals_during_cleanup import _restoring_target, _signal_self


def test_a_third_signal_cuts_a_block_opened_after_the_second_was_spared(capsys) -> None:
    done: list[str] = []
    with stopping.sigterm_stops():
        with pytest.raises(KeyboardInterrupt):
            with stopping.finishing("finishing f19c", armed=False):
                try:
                    _signal_self(signal.SIGTERM)  # the step's stop: starts the cleanup
                except KeyboardInterrupt:
                    _signal_self(signal.SIGHUP)  # waits for the cleanup
                    with stopping.finishing("restoring f19c", lambda: "the f19c weights were left at 0/100"):
                        _signal_self(signal.SIGINT)  # the third: the user wants out
                        done.append("restore finished")
                    done.append("outer cleanup finished")
                    raise
        assert "the f19c weights were left at 0/100" in stopping.stop_text(stopping.received())
    assert done == []
    assert "SIGINT: still restoring f19c" not in capsys.readouterr().err


def test_an_inner_block_with_no_further_signal_leaves_the_stop_to_the_outer_end() -> None:
    done: list[str] = []
    with stopping.sigterm_stops() as run:
        with pytest.raises(stopping.Stopped) as stopped:
            with stopping.finishing("finishing f19c"):
                _signal_self(signal.SIGTERM)  # spared by the outer block
                with stopping.finishing("restoring f19c"):
                    done.append("restore finished")
                done.append("outer cleanup finished")
    assert done == ["restore finished", "outer cleanup finished"]
    assert stopped.value.signum == signal.SIGTERM and run.first().signum == signal.SIGTERM


def test_an_inner_block_opened_before_any_spare_still_spares_one(capsys) -> None:
    done: list[str] = []
    with stopping.sigterm_stops():
        with pytest.raises(stopping.Stopped):
            with stopping.finishing("finishing f19c"):
                with stopping.finishing("restoring f19c"):
                    _signal_self(signal.SIGTERM)
                    done.append("restore finished")
                done.append("outer cleanup not reached: the inner end raised the stop")
    assert done == ["restore finished"]
    assert "SIGTERM: still restoring f19c" in capsys.readouterr().err


def test_the_demos_third_signal_cuts_the_sandbox_weights_restore(monkeypatch, tmp_path) -> None:
    from kmeshctl.sandbox import demo_target

    pushed: list[Any] = []

    def push(sandbox: str, vs: Any, weights: list[int], route: int) -> None:
        _signal_self(signal.SIGINT)  # the third signal, during the restore
        pushed.append(list(weights))  # reached only when it did not cut the restore short

    target = _restoring_target(monkeypatch, tmp_path, demo_target, push)

    def lost() -> str:
        _signal_self(signal.SIGHUP)  # the second, while the stop unwinds (before the restore)
        return ""

    monkeypatch.setattr(target, "prepare", lambda progress: _signal_self(signal.SIGTERM))
    monkeypatch.setattr(target, "lost", lost)
    with stopping.sigterm_stops():
        with pytest.raises(KeyboardInterrupt):
            cli_demo._run(target, _report(), [[50, 50]], verbose=False, quiet=True)  # type: ignore[arg-type]
    assert pushed == [], "the third signal did not cut the restore short"
