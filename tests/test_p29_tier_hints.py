"""Pass-29 new-user findings on a real cluster (fixer F29-T1), in-process through
kmeshctl.cli.main (no cluster configured; a pasted kmeshctl line must get past parsing and
every flag check: the commands' own work is stubbed to exit 7):

- 4: a hint that says to leave out or respell another tool's flag gives the line to paste,
  the other flags typed kept (`uninstall -y --timeout 2m --dry-run`, `--wait=false` ->
  `--no-wait`, `-A` on a command with no all-namespaces form);
- 5: `waypoint list` in a narrow terminal keeps every name and address whole: the columns
  with no room are left out and named (as dump maps' tables), -o wide shows all.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from kmeshctl.cli.badinput import COMMAND_HABITS
from kmeshctl.cli.tables import cli_console
from kmeshctl.cli.waypoint import print_waypoints
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import _hint, _line, stubbed  # noqa: F401


@pytest.fixture
def offline(tmp_path: Path, monkeypatch, no_env) -> None:  # noqa: F811
    """No cluster configured: no ~/.kube/config, no $KUBECONFIG."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


# ------------------------------------------------------------------ 4. the line to paste


@pytest.mark.parametrize("words,said,line", [
    # --timeout left out of a --dry-run line since pass 47 (f47b: no effect with --dry-run, said so)
    (["uninstall", "-y", "--timeout", "2m", "--dry-run"], "uninstall does not ask: leave -y out",
     ["uninstall", "--dry-run"]),
    (["install", "--cluster-id", "c1", "--yes"], "install does not ask: leave --yes out",
     ["install", "--cluster-id", "c1"]),
    (["uninstall", "--purge", "--dry-run"], "leave --purge out", ["uninstall", "--dry-run"]),
    (["uninstall", "--ignore-not-found", "--dry-run"], "leave --ignore-not-found out", ["uninstall", "--dry-run"]),
    (["uninstall", "--wait", "--timeout", "2m"], "leave --wait out", ["uninstall", "--timeout", "2m"]),
    (["status", "-w", "-o", "json"], "leave -w out and re-run it", ["status", "-o", "json"]),
    (["waypoint", "list", "--watch", "-A"], "leave --watch out and re-run it", ["waypoint", "list", "-A"]),
    (["install", "--cluster-id", "c1", "--wait=false", "--timeout", "1m"], "write --wait or --no-wait",
     ["install", "--cluster-id", "c1", "--timeout", "1m", "--no-wait"]),
    (["waypoint", "apply", "-n", "app", "--name", "waypoint", "--wait=false"], "write --wait or --no-wait",
     ["waypoint", "apply", "-n", "app", "--name", "waypoint", "--no-wait"]),
    (["waypoint", "apply", "-n", "app", "--name", "waypoint", "--wait=true"], "write --wait or --no-wait",
     ["waypoint", "apply", "-n", "app", "--name", "waypoint", "--wait"]),
    (["waypoint", "apply", "-n", "app", "--no-wait=true"], "write --wait or --no-wait",
     ["waypoint", "apply", "-n", "app", "--no-wait"]),
    (["-A=true", "waypoint", "list"], "write -A to turn it on, leave it out for off", ["waypoint", "list", "-A"]),
    (["waypoint", "list", "-A=false", "-o", "wide"], "leave it out for off", ["waypoint", "list", "-o", "wide"]),
    (["status", "-A", "-o", "json"], "leave out -A", ["status", "-o", "json"]),
    (["node", "preflight", "--all-namespaces"], "leave out --all-namespaces", ["node", "preflight"]),
], ids=lambda value: " ".join(value) if isinstance(value, list) else "")
def test_a_hint_to_leave_out_or_respell_a_flag_gives_the_line(words, said, line, state_root, stubbed, capsys,
                                                              offline) -> None:  # noqa: F811
    assert said in _line(capsys, *words)
    assert _hint(capsys, *words) == ["kmeshctl", *line]  # pasted, it gets past every check


def test_an_on_off_flag_left_out_keeps_the_word_after_it() -> None:
    """kubectl's -w, istioctl's -y take no value: the word after one is no value of theirs."""
    from kmeshctl.cli.badinput import command_habit_hint

    assert command_habit_hint("kmeshctl status", "-w", ["status", "-w", "mine"]).endswith("`kmeshctl status mine`")
    assert command_habit_hint("kmeshctl sandbox exec", "-c", ["sandbox", "exec", "-c", "app", "web", "--", "ls"]
                              ).endswith("`kmeshctl sandbox exec web -- ls`")


def test_a_value_that_is_no_true_or_false_gets_both_lines(state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, "enable-ns", "default", "--wait=maybe")
    assert line.endswith("write --wait or --no-wait, `kmeshctl enable-ns default --wait` or "
                         "`kmeshctl enable-ns default --no-wait` (see 'kmeshctl enable-ns --help')"), line


def test_every_habit_that_says_leave_it_out_has_the_line() -> None:
    """The kind: each COMMAND_HABITS text telling the user to leave the flag out names the line."""
    leaves = re.compile(r"leave (?:\{flag\} |it )?out|leave out")
    texts = {key: hint for key, hint in COMMAND_HABITS.items() if isinstance(hint, str) and leaves.search(hint)}
    assert texts and all("{without}" in hint for hint in texts.values()), \
        [key for key, hint in texts.items() if "{without}" not in hint]


# ------------------------------------------------------------------ 5. waypoint list: names whole


ROWS = [SimpleNamespace(namespace="t29c-app", name="waypoint", managed=True, ready_pods=1, pods=[1],
                        addresses=["waypoint.t29c-app.svc.cluster.local"], services=["t29c-app/fortio"],
                        gateway_reason=""),
        SimpleNamespace(namespace="default", name="east-waypoint", managed=False, ready_pods=0, pods=[1],
                        addresses=["east-waypoint.default.svc.cluster.local"],
                        services=["default/reviews", "default/ratings"], gateway_reason="")]
NAMES = ["t29c-app", "waypoint", "waypoint.t29c-app.svc.cluster.local", "t29c-app/fortio", "default",
         "east-waypoint", "east-waypoint.default.svc.cluster.local", "default/reviews", "default/ratings"]


def _printed(width: int | None, wide: bool = False) -> str:
    out = io.StringIO()
    settings = {"width": width} if width else {}
    print_waypoints(ROWS, cli_console(wide=wide, file=out, force_terminal=True, color_system=None, **settings))
    return out.getvalue()


@pytest.mark.parametrize("width", [40, 60, 70, 90, 120])
def test_waypoint_list_never_splits_a_name_or_address(width: int) -> None:
    text = _printed(width)
    table, _, note = text.partition("(not shown at this width: ")
    words = {w.rstrip(",") for w in table.split()}
    shown = [n for n in NAMES if n in words]
    split = [n for n in NAMES if n not in words and re.split(r"(?<=[/.])", n)[0] in words]  # `waypoint.` + ...
    assert not split, text
    assert {"t29c-app", "waypoint", "default", "east-waypoint"} <= set(shown), text  # the keys: always
    for header in ("ISTIOD ADDRESS", "SERVICES"):  # a column not shown is named under the table
        assert header in table or header in " ".join(note.split()), text
    assert all(len(line) <= width for line in text.splitlines()), text


def test_waypoint_list_names_the_columns_left_out_at_60() -> None:
    text = _printed(60)
    assert "ISTIOD ADDRESS" not in text.partition("(")[0], text
    assert " ".join(text.split("(", 1)[1].split()) == \
        "not shown at this width: ISTIOD ADDRESS, SERVICES; -o wide shows every column)", text


def test_waypoint_list_wide_shows_every_column_whole() -> None:
    lines = _printed(None, wide=True).splitlines()
    assert len(lines) == 3 and "not shown" not in "".join(lines), lines
    for name in NAMES:
        assert name in " ".join(lines), lines


def test_waypoint_list_piped_is_one_row_a_line() -> None:
    out = io.StringIO()
    print_waypoints(ROWS, cli_console(file=out))
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and all(n in out.getvalue() for n in NAMES), lines
