"""Table headers in a terminal are bold, except under NO_COLOR (set, not empty) or
TERM=dumb: plain there (kmeshctl.cli.tables.terminal_style)."""

from __future__ import annotations

import io

import pytest
from rich.table import Table

from kmeshctl.cli.tables import PipeFriendlyConsole

BOLD = "\x1b[1m"


def _printed(monkeypatch, **env: str) -> str:
    for name in ("NO_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    console = PipeFriendlyConsole(file=out, force_terminal=True, width=80)
    table = Table()
    table.add_column("NAME")
    table.add_column("STATUS", header_style="bold")
    table.add_row("h63a", "Running")
    console.print(table)
    return out.getvalue()


def test_headers_are_bold_in_a_plain_terminal(monkeypatch) -> None:
    assert BOLD in _printed(monkeypatch, TERM="xterm")


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"TERM": "dumb"}, {"NO_COLOR": "1", "TERM": "xterm"}])
def test_no_color_or_a_dumb_terminal_prints_plain_headers(env, monkeypatch) -> None:
    text = _printed(monkeypatch, **env)
    assert "\x1b[" not in text and "NAME" in text and "h63a" in text, repr(text)


def test_an_empty_no_color_is_not_set(monkeypatch) -> None:
    assert BOLD in _printed(monkeypatch, NO_COLOR="", TERM="xterm")
