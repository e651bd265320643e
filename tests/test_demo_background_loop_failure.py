"""f19c (r19 B): the loop that sends requests while the weights change runs on its own
thread. When it failed (exec refused, pod gone, loop killed) the thread died with a
traceback on stderr, the run reported the change's requests as measured, and the stop
file made for a loop that had ended stayed in /tmp. Now its error is raised by the
run (as the phase loop's would be: a lost target is a stop, anything else the error) and
no stop file is left behind.

The fake target runs no shell: its loop does what REQUEST_LOOP does with the stop file
(ends when it exists, removes it at its end); stop files go to the test's tmp_path."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from kmeshctl import demo
from kmeshctl.errors import KmeshctlError
from kmeshctl.sandbox.manifests import default_files, load

REFUSED = "cannot exec in pod default/netutils-f19c (the API server answered 404)"


class _Target:
    """The phase loops send their count; the background loop (count 0) does ``background``:
    `ok` (until its stop file, then removes it), `refused` (raises at once), `killed`
    (ends after 3 results, removing nothing), `killed-after-stop` (raises once the stop
    file exists, leaving it)."""

    name, description = "cluster", "fake f19c"

    def __init__(self, tmp: Path, background: str, lost: str = "") -> None:
        self.tmp, self.background, self._lost = tmp, background, lost
        self.stop_files: list[Path] = []
        self.weights: list[list[int]] = []

    def service_url(self) -> str:
        return "http://127.0.0.1:9/"

    def _path(self, path: str) -> Path:
        return self.tmp / Path(path).name

    def touch(self, path: str) -> None:
        self._path(path).touch()
        self.stop_files.append(self._path(path))

    def set_weights(self, weights: list[int]) -> None:
        self.weights.append(list(weights))

    def lost(self) -> str:
        return self._lost

    def run_loop(self, argv: list[str]) -> Iterator[str]:
        count, stop, seconds = int(argv[5]), self._path(argv[6]), int(argv[7])
        if count:
            yield from (f"{i} 0 200 {1 if i % 10 else 2}" for i in range(1, count + 1))
        elif seconds == 0:  # no request, no time: the loop only removes its stop file
            stop.unlink(missing_ok=True)
        else:
            yield from self._background(stop)

    def _background(self, stop: Path) -> Iterator[str]:
        if self.background == "refused":
            raise KmeshctlError(REFUSED)
        i = 0
        while not stop.exists() and not (self.background == "killed" and i == 3):
            i += 1
            yield f"{i} 0 200 1"
            time.sleep(0.01)
        if self.background == "killed-after-stop":
            raise KmeshctlError("sh in pod default/netutils-f19c failed: command terminated with exit code 137")
        if self.background == "ok":
            stop.unlink(missing_ok=True)


def _shift(target: _Target) -> demo.DemoReport:
    subject = demo.demo_subject(load(default_files()))
    return demo.run_traffic_shift(target, subject, 20, [[90, 10], [50, 50]],  # type: ignore[arg-type]
                                  lambda *a: None, lambda *a: None)


@pytest.fixture
def thread_errors(monkeypatch) -> list[BaseException]:
    """The exceptions any thread died of (Python would print each as a traceback)."""
    seen: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    return seen


def _left(target: _Target) -> list[str]:
    return [p.name for p in target.stop_files if p.exists()]


def test_a_refused_background_loop_fails_the_run_with_its_error_and_leaves_no_stop_file(
        tmp_path, thread_errors) -> None:
    target = _Target(tmp_path, "refused")
    started = time.monotonic()
    with pytest.raises(KmeshctlError, match="API server answered 404"):
        _shift(target)
    assert thread_errors == []
    assert target.weights == [], "the weights were switched with no traffic to measure the change"
    assert _left(target) == [] and list(tmp_path.iterdir()) == []
    assert time.monotonic() - started < 3, "the change waited for a loop that had already failed"


def test_a_refused_background_loop_of_a_lost_target_stops_the_run_naming_it(tmp_path, thread_errors) -> None:
    target = _Target(tmp_path, "refused", lost="sandbox f19c went away during the demo")
    report = _shift(target)
    assert report.stopped.startswith("sandbox f19c went away during the demo (")
    assert thread_errors == [] and list(tmp_path.iterdir()) == []


def test_a_background_loop_killed_after_its_stop_file_was_made_has_it_removed(tmp_path, thread_errors) -> None:
    target = _Target(tmp_path, "killed-after-stop")
    with pytest.raises(KmeshctlError, match="exit code 137"):
        _shift(target)
    assert thread_errors == []
    assert target.stop_files and _left(target) == []


def test_a_background_loop_that_ended_before_the_stop_gets_no_stop_file(tmp_path, thread_errors) -> None:
    target = _Target(tmp_path, "killed")
    report = _shift(target)
    assert report.phases[1].change is not None and report.phases[1].change.requests == 3
    assert thread_errors == [] and target.stop_files == [] and list(tmp_path.iterdir()) == []


def test_a_background_loop_that_runs_is_stopped_by_its_stop_file_and_counted(tmp_path, thread_errors) -> None:
    target = _Target(tmp_path, "ok")
    report = _shift(target)
    change: Any = report.phases[1].change
    assert target.weights == [[50, 50]] and change.requests > 0
    assert len(target.stop_files) == 1 and _left(target) == []
    assert thread_errors == []
