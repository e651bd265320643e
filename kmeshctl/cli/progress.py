"""Progress lines on stderr for long work, with a heartbeat: when a step is silent for a
while (bcc compiling the data path, pods starting), a line says what is still running and
for how long, so a user never stares at a frozen terminal."""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional

import typer

HEARTBEAT_S = 10.0


def note(line: str, quiet: bool) -> None:
    """A line on stderr that is not an error (`Using sandbox ...`), unless ``quiet``: the
    run's -q (kmeshctl.cli.common.run_options), never kept here."""
    if not quiet:
        typer.echo(line, err=True)


def echo_coloured(line: str, colour: str) -> None:
    """``line`` on stderr in ``colour`` (a typer.colors name) where colour is allowed: never
    with NO_COLOR or TERM=dumb (kmeshctl.cli.tables.styled_terminal decides for every
    styled line), nor off a terminal (click strips it there)."""
    from kmeshctl.cli.tables import styled_terminal

    if styled_terminal():
        typer.secho(line, fg=colour, err=True)
    else:  # secho without a colour still ends the line with a reset code (\e[0m) on a terminal
        typer.echo(line, err=True)


class Progress:
    """Call it with a line; use as a context manager to get the heartbeat. Quiet: prints nothing."""

    def __init__(self, quiet: bool = False, indent: str = "  ", heartbeat_s: float = HEARTBEAT_S,
                 echo: Optional[Callable[[str], None]] = None) -> None:
        self.quiet = quiet
        self.indent = indent
        self.heartbeat_s = heartbeat_s
        self._echo = echo or (lambda line: typer.echo(line, err=True))
        self._last_line = ""
        self._last_at = time.monotonic()
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            self._last_line, self._last_at = line, time.monotonic()
        if not self.quiet:
            self._echo(f"{self.indent}{line}")

    def __enter__(self) -> "Progress":
        if not self.quiet:
            self._thread = threading.Thread(target=self._beat, name="progress-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1)

    def _beat(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                idle = time.monotonic() - self._last_at
                last = self._last_line
            if idle >= self.heartbeat_s:
                total = time.monotonic() - self._started
                after = f" after: {last}" if last else ""
                self._echo(f"{self.indent}... still working ({total:.0f} s so far){after}")
                with self._lock:
                    self._last_at = time.monotonic()
