"""Kind "a suggested fix works when pasted": the demo's too-few-requests fix of a run
with `--plot FILE` is a re-run that writes the same FILE, which that run just wrote; it
carries `--force`, or pasting it stops at once on the existing plot (exit 2).

No root: a sandbox record in a temporary state root, the request loop and the pushes to
the waypoint are tests/local_demo_doubles.py's."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import local_demo_doubles
import pytest
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_demo_local_port_route_and_pods import _docs, _sandbox


@pytest.fixture
def doubles(monkeypatch) -> dict[str, list]:
    return local_demo_doubles.install(monkeypatch)


def test_the_fix_of_a_run_with_plot_replaces_its_plot(state_root, no_env, doubles, capsys,  # noqa: F811
                                                      tmp_path: Path) -> None:
    _sandbox("f19p", _docs())
    plot = tmp_path / "split.png"
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "f19p", "-c", "5", "--plot", str(plot),
                         "-q", "-o", "json")
    fix = json.loads(out)["fix"]
    assert code == 1 and plot.exists() and fix, (out, err)
    words = shlex.split(fix)
    assert words[:3] == ["kmeshctl", "demo", "traffic-shift"] and "--force" in words, fix
    code, out, err = cli(capsys, *words[1:])
    assert code == 0 and json.loads(out)["passed"] is True, err


def test_a_run_with_force_typed_gets_it_once(state_root, no_env, doubles, capsys, tmp_path: Path) -> None:  # noqa: F811
    _sandbox("f19q", _docs())
    plot = tmp_path / "split.png"
    plot.write_bytes(b"an older plot")
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "f19q", "-c", "5", "--plot", str(plot),
                         "--force", "-q", "-o", "json")
    fix = json.loads(out)["fix"]
    assert code == 1 and shlex.split(fix).count("--force") == 1, fix
