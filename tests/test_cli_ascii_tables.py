"""Issue 14, kind "tables a terminal can draw", and the new-user review's "one table
style": in a terminal, whatever the locale, a table is plain columns (no box-drawing
characters, no ASCII borders either), so a non-UTF-8 locale (LANG=C LC_ALL=C) shows only
ASCII. Runs the real kmeshctl in a real pseudo-terminal (precheck's table against a
kubeconfig whose server refuses connections)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shell_pty import run_in_terminal
from test_cli_kinds import KMESHCTL, _dead_kubeconfig

BOX = set("┃━╇│")


@pytest.mark.parametrize("locale,ascii_only", [({"LANG": "C", "LC_ALL": "C"}, True),
                                               ({"LANG": "POSIX"}, True),
                                               ({"LC_ALL": "en_US.ISO-8859-1"}, True),
                                               ({"LANG": "C.UTF-8"}, False),
                                               ({"LC_ALL": "en_US.utf8"}, False)])
def test_a_table_in_a_terminal_is_plain_columns_in_every_locale(locale: dict, ascii_only: bool,
                                                                   tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL", "LC_CTYPE", "KUBECONFIG")}
    # wide enough for the table (the tmp kubeconfig path is one long word: narrower, precheck
    # prints one block per check rather than split it)
    env.update(locale, COLUMNS="200", TERM="xterm", HOME=str(tmp_path))
    shown = run_in_terminal([KMESHCTL, "--kubeconfig", str(_dead_kubeconfig(tmp_path / "dead")), "precheck"], env)
    assert "CHECK" in shown and "RESULT" in shown and "fail" in shown, shown
    assert not BOX & set(shown) and "-+-" not in shown and " | " not in shown, shown
    if ascii_only:
        assert shown.isascii() or not any(ord(c) > 127 for c in shown.replace("\ufffd", "")), shown
