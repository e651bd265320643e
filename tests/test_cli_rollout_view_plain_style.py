"""install's live rollout view in a terminal follows the one table style of every command
(kmeshctl.cli.tables: no box-drawing characters) and honours NO_COLOR and TERM=dumb (no
bold, dim or colour codes; a dumb terminal gets the log's plain lines, it cannot redraw);
an unscheduled pod's node is `<none>` as in every other table. A merged KUBECONFIG that
names a context in two files lists it once in the --context error."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from kmeshctl import rollout
from kmeshctl.cli.tables import EMPTY

BOX = set("┃━│╇┏┓┗┛─┡┩")
SGR = re.compile(r"\x1b\[[0-9;]*m")  # select graphic rendition: bold, dim, colours


def _pod(node: str = "node-a", ready: bool = True) -> rollout.PodState:
    return rollout.PodState("kmesh-h86", "kmesh-system", node, "Running" if ready else "Pending", ready, 0, "img",
                            "" if ready else "Unschedulable: 0/2 nodes are available", "")


def _live_run(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> str:
    for name in ("NO_COLOR", "TERM", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    states = iter([rollout.RolloutState(True, 2, 1, 0, True, [_pod(), _pod("", False)]),
                   rollout.RolloutState(True, 2, 2, 2, True, [_pod(), _pod("node-b")])])
    monkeypatch.setattr(rollout, "read_rollout", lambda *a: next(states))
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    rollout.wait_for_rollout(None, "kmesh-system", "kmesh", 10, console=console, poll=0.01)
    return out.getvalue()


def test_the_live_view_draws_no_boxes(monkeypatch) -> None:
    text = _live_run(monkeypatch, {"TERM": "xterm-256color"})
    assert not BOX & set(text), text
    assert "NODE" in text and "DaemonSet kmesh-system/kmesh: desired 2  updated 2  ready 2" in text


def test_no_color_means_no_styles_at_all(monkeypatch) -> None:
    text = _live_run(monkeypatch, {"NO_COLOR": "1", "TERM": "xterm-256color"})
    assert not SGR.search(text), repr(text)
    assert not BOX & set(text), text


def test_a_dumb_terminal_gets_plain_lines(monkeypatch) -> None:
    text = _live_run(monkeypatch, {"TERM": "dumb"})
    assert "\x1b" not in text, repr(text)
    assert f"  pod kmesh-h86 on node {EMPTY}: not ready (Unschedulable)" in text, text
    assert all(line == line.rstrip() for line in text.splitlines()), text


def test_an_unscheduled_pod_is_on_node_none() -> None:
    lines = rollout.rollout_lines("kmesh-system", "kmesh", rollout.RolloutState(True, 1, 1, 0, True,
                                                                                  [_pod("", False)]))
    assert lines[1] == f"  pod kmesh-h86 on node {EMPTY}: not ready (Unschedulable)", lines
    assert " -:" not in "\n".join(lines)
    console = Console(file=io.StringIO(), width=100, record=True)
    console.print(rollout.pods_table([_pod("", False)]))
    assert EMPTY in console.export_text()


def test_a_context_in_two_merged_files_is_listed_once(tmp_path, monkeypatch) -> None:
    from kmeshctl.errors import UsageError
    from kmeshctl.kube import check_kubeconfig

    def config(path, server: str) -> str:
        path.write_text("apiVersion: v1\nkind: Config\n"
                        f"clusters: [{{name: c, cluster: {{server: '{server}'}}}}]\n"
                        "contexts: [{name: kmeshctl-h86, context: {cluster: c, user: u}}]\n"
                        "users: [{name: u, user: {}}]\ncurrent-context: kmeshctl-h86\n")
        return str(path)

    merged = f"{config(tmp_path / 'a', 'https://127.0.0.1:1')}:{config(tmp_path / 'b', 'https://127.0.0.1:2')}"
    with pytest.raises(UsageError) as info:
        check_kubeconfig(merged, "nosuch", explicit=False)
    assert "(contexts: kmeshctl-h86)" in str(info.value), info.value
    assert check_kubeconfig(merged, None, explicit=False).contexts == ["kmeshctl-h86"]
