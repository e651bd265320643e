"""A real interactive shell in a pseudo-terminal, for the completion tests: what the user
sees after typing a line and TAB."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import termios
import time
from pathlib import Path


def type_tab(argv: list[str], setup: list[str], line: str, cwd: Path, env: dict[str, str],
             tabs: int = 1) -> str:
    """The shell's output after ``setup`` (one command per line) and then ``line`` followed
    by ``tabs`` TABs (bash lists several candidates only on the second), read for 4 s."""
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        os.execvpe(argv[0], argv, env)
    output = b""

    def read(seconds: float) -> None:
        nonlocal output
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    output += os.read(fd, 65536)
                except OSError:
                    return

    try:
        read(1.0)
        for command in setup:
            os.write(fd, command.encode() + b"\n")
            read(2.0)
        output = b""
        os.write(fd, line.encode() + b"\t" * tabs)
        read(4.0)
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)
    return output.decode(errors="replace")


def run_in_terminal(argv: list[str], env: dict[str, str], columns: int | None = None,
                    timeout_s: float = 60.0) -> str:
    """What ``argv`` prints to a pseudo-terminal (``columns`` wide, as `stty cols N`, else the
    pty's default) until it exits or ``timeout_s`` passes, escape sequences left in."""
    pid, fd = pty.fork()
    if pid == 0:
        if columns is not None:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        os.execvpe(argv[0], argv, env)
    output = b""
    end = time.monotonic() + timeout_s
    try:
        while time.monotonic() < end:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk
    finally:
        os.waitpid(pid, 0)
        os.close(fd)
    return output.decode("utf-8", errors="replace")
