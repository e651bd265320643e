"""Helper h89, kind "styles where none were asked for": rich highlighted stray tokens
(a `(`, numbers, addresses) on a terminal, and under NO_COLOR kept bold and italic. Now
every Console is made with highlight=False, and NO_COLOR (or TERM=dumb) means no escape
sequence at all.

Real parts: the real console script on a real pseudo-terminal (so rich sees a terminal)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from rich.text import Text

from kmeshctl.cli.tables import cli_console

KMESHCTL = str(Path(sys.executable).with_name("kmeshctl"))


def _on_a_terminal(args: list[str], env: dict[str, str]) -> bytes:
    leader, follower = pty.openpty()
    process = subprocess.Popen([KMESHCTL, *args], stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks)


@pytest.mark.parametrize("args", [["sandbox", "list"], ["help"], ["sandox"], ["version", "--client"]],
                         ids=["list", "help", "error", "version"])
@pytest.mark.parametrize("variable", [("NO_COLOR", "1"), ("TERM", "dumb")], ids=["NO_COLOR", "dumb"])
def test_no_escape_sequence_when_colour_is_off(args: list[str], variable: tuple[str, str]) -> None:
    env = {**os.environ, "TERM": "xterm-256color", variable[0]: variable[1], "KMESHCTL_SANDBOX_NAME": ""}
    out = _on_a_terminal(args, env)
    assert b"\x1b" not in out, out


def test_a_console_highlights_nothing_and_no_color_drops_bold(monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    console = cli_console(force_terminal=True, width=80)
    with console.capture() as captured:
        console.print(Text("Split check (binomial test) 10.0.0.1:80 p=0.03", style="bold"))
    assert "\x1b" not in captured.get(), repr(captured.get())
    monkeypatch.delenv("NO_COLOR")
    console = cli_console(force_terminal=True, width=80)
    with console.capture() as captured:
        console.print("Split check (binomial test) 10.0.0.1:80 (pid 2001)")
    assert "\x1b" not in captured.get(), repr(captured.get())  # nothing styled: nothing highlighted
