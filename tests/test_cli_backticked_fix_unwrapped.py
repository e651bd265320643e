"""A suggested command is never split across lines in a terminal (tester M2): a backticked
fix longer than the terminal goes whole on its own line, so copying it pastes one command.

Real parts: the demo's summary printer (kmeshctl.cli.demo._print_summary, its cli_console)
in a pseudo-terminal 60 / 80 columns wide, COLUMNS set as a shell sets it; click's help
wrapper as kmeshctl installs it. No sandbox is started."""

from __future__ import annotations

import os
import re
import sys
import textwrap

import pytest

from kmeshctl.cli.tables import WholeWordsWrapper
from shell_pty import run_in_terminal

LONG = "kmeshctl demo traffic-shift --sandbox t114-abcdef-demo --weights 80/20,50/50 -q -c 24"
SHORT = "kmeshctl demo traffic-shift -c 24"

# The FAIL line of a demo whose every phase passed on too few requests, printed for real.
_PRINT = textwrap.dedent("""
    import sys
    from kmeshctl import demo
    from kmeshctl.cli.common import OutputFormat
    from kmeshctl.cli.demo import _print_summary
    reason = "too few requests to judge (need at least 24 for these weights): `" + sys.argv[1] + "`"
    report = demo.DemoReport("local", 3, [], where="t114-abcdef-demo", reason=reason,
                             stopped="Ctrl-C")
    _print_summary(report, None, OutputFormat.table)
""")
_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")


def _printed(command: str, columns: int) -> str:
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "xterm"}
    out = run_in_terminal([sys.executable, "-c", _PRINT, command], env, columns=columns)
    return _ESCAPES.sub("", out).replace("\r\n", "\n")


@pytest.mark.parametrize("columns", [60, 80])
@pytest.mark.parametrize("command", [LONG, SHORT])
def test_a_fix_is_one_line_in_a_terminal(command: str, columns: int) -> None:
    out = _printed(command, columns)
    assert "FAIL: target local t114-abcdef-demo" in out, out
    assert any(f"`{command}`" in line for line in out.splitlines()), out
    for line in out.splitlines():
        if f"`{command}`" not in line:
            assert len(line) <= columns, out  # the words around it still fit the terminal
    if len(command) + 2 > columns:
        assert f"`{command}`" in out.splitlines(), out  # longer than the terminal: alone on its line


def test_text_wrapped_by_textwrap_keeps_a_command_whole() -> None:
    text = f"Too few requests; run `{LONG}` again. Then `{SHORT}`/`{SHORT} -q`."
    lines = WholeWordsWrapper(width=40).wrap(text)
    assert f"`{LONG}`" in lines, lines
    assert any(f"`{SHORT}`/`{SHORT} -q`" in line for line in lines), lines
    assert all(len(line) <= 40 for line in lines if "`" not in line), lines


def test_help_keeps_a_command_whole_when_it_fits_a_line() -> None:
    """Help stays within its width (an option's help column is narrow): a command fitting a
    line is never split; a longer one starts a line of its own and wraps at its spaces."""
    import kmeshctl.cli  # noqa: F401  (installs click's wrapper)
    from typer._click import _textwrap

    lines = _textwrap.TextWrapper(width=40).wrap(f"To fix it: run `{SHORT}` then look again at the output.")
    assert any(f"`{SHORT}`" in line for line in lines) and all(len(line) <= 40 for line in lines), lines
    lines = _textwrap.TextWrapper(width=40).wrap(f"Too few: `{LONG}` again.")
    assert lines[0] == "Too few:" and lines[1].startswith("`kmeshctl demo") and all(len(x) <= 40 for x in lines)


def test_an_unclosed_backtick_wraps_as_words() -> None:
    lines = WholeWordsWrapper(width=20).wrap("a stray ` here and then many more words follow")
    assert all(len(line) <= 20 for line in lines), lines
