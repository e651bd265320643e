"""A real interactive shell in a pseudo-terminal, for the completion tests: what the user
sees after typing a line and TAB."""

from __future__ import annotations

import os
import pty
import select
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
