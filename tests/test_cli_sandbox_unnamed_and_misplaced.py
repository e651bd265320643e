"""Lows (h88): what sandbox commands given no --name say and do; a pod typed after `--`;
-A on `sandbox down`. The help says exactly what happens without --name; `exec -- POD
COMMAND` is refused before any `Using sandbox` note with the line to type; `down -A`
points to --all (and `-A --help` is help); `down` given no name says which sandbox it
removes, and --force on a demo's sandbox needs its name."""

from __future__ import annotations

import re

import pytest

from kmeshctl import sandboxes
from kmeshctl.sandbox import lock as lock_mod
from kmeshctl.sandbox import sandbox as sandbox_mod
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_cli_newuser import _record

PODS = (("waypoint", True), ("fortio-v1-0", False), ("netutils-0", False))


def _help_text(out: str) -> str:
    return " ".join(out.split())


@pytest.mark.parametrize("command", ["status", "exec", "down"])
def test_the_name_help_says_what_happens_without_one(command: str, capsys, no_env) -> None:
    code, out, _ = cli(capsys, "sandbox", command, "--help")
    text = _help_text(out)
    assert code == 0 and "else 'kmesh'" not in text, text
    assert "default: $KMESHCTL_SANDBOX_NAME, else the only" in text, text
    assert "several: an error listing them" in text and "(none: an error" in text, text


def test_what_the_help_says_is_what_happens(state_root, capsys, no_env) -> None:
    code, _, err = cli(capsys, "sandbox", "status")
    assert code == 1 and "no sandbox is up" in err, err
    _record("h88a")
    _record("h88b")
    code, _, err = cli(capsys, "sandbox", "status")
    assert code == 2 and "several sandboxes exist (h88a ready, h88b ready)" in err, err


def test_a_pod_typed_after_the_dashes_gets_the_line_to_type_and_no_note(state_root, capsys, no_env) -> None:
    _record("h88e", PODS)
    code, out, err = cli(capsys, "sandbox", "exec", "--", "netutils", "true")
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, err
    assert "Using sandbox" not in err, err
    assert err.startswith("Error: POD is required before `--` (kmeshctl sandbox exec POD -- COMMAND...): "
                          "`kmeshctl sandbox exec netutils -- true`"), err
    code, _, err = cli(capsys, "sandbox", "exec", "-n", "default", "--name", "h88e", "--", "netutils-0", "ip", "addr")
    assert "`kmeshctl sandbox exec netutils-0 -n default --name h88e -- ip addr`" in err, err


def test_a_command_after_the_dashes_is_not_taken_for_a_pod(state_root, capsys, no_env) -> None:
    _record("h88e", PODS)
    code, _, err = cli(capsys, "sandbox", "exec", "--", "ip", "addr")
    assert code == 2 and "the pods of sandbox h88e: waypoint, fortio-v1-0, netutils-0" in err, err
    assert "Using sandbox" not in err and "`kmeshctl sandbox exec ip" not in err, err


def test_the_fixed_line_works(state_root, capsys, monkeypatch, no_env) -> None:
    _record("h88e", PODS)
    ran: list[tuple] = []
    monkeypatch.setattr(sandbox_mod, "exec_in_pod", lambda *a: ran.append(a) or 0)
    _, _, err = cli(capsys, "sandbox", "exec", "--", "netutils", "true")
    line = re.search(r"`kmeshctl ([^`]*)`", err).group(1).split()
    code, _, err = cli(capsys, *line)
    assert code == 0 and ran == [("h88e", "netutils", ["true"], None)], err


def test_down_all_namespaces_points_to_all_and_its_help_is_help(capsys, no_env) -> None:
    code, out, err = cli(capsys, "sandbox", "down", "-A")
    assert code == 2 and not out and "`kmeshctl sandbox down --all` removes every sandbox" in err, err
    for line in (["sandbox", "down", "-A", "--help"], ["sandbox", "down", "--all-namespaces", "--help"]):
        code, out, err = cli(capsys, *line)
        assert code == 0 and out.startswith("Usage: kmeshctl sandbox down") and not err, (line, err)


@pytest.fixture
def fake_down(monkeypatch) -> list[str]:
    removed: list[str] = []
    monkeypatch.setattr(sandbox_mod, "down", lambda name, progress, force=False: removed.append(name) or True)
    return removed


def test_down_given_no_name_says_which_one_even_the_default(state_root, capsys, no_env, fake_down) -> None:
    _record(state_mod.DEFAULT_NAME)
    code, out, err = cli(capsys, "sandbox", "down")
    assert code == 0 and fake_down == ["kmesh"] and "Using sandbox kmesh (the only one up" in err, err


def test_down_force_given_no_name_keeps_a_demos_sandbox(state_root, capsys, no_env, fake_down) -> None:
    _record("h88d")
    demo = lock_mod.Holder(1, state_mod.process_start_time(1), lock_mod.DEMO)  # a live process: pid 1
    lock_mod.lock_path("h88d").parent.mkdir(parents=True, exist_ok=True)
    lock_mod.lock_path("h88d").write_text(
        '{"pid": %d, "started": "%s", "command": "%s"}' % (demo.pid, demo.started, demo.command))
    code, out, err = cli(capsys, "sandbox", "down", "--force")
    assert code == 2 and not fake_down and "in use by a `demo traffic-shift` (pid 1)" in err, err
    assert "`kmeshctl sandbox down --name h88d --force`" in err, err
    code, _, err = cli(capsys, "sandbox", "down", "--name", "h88d", "--force")
    assert code == 0 and fake_down == ["h88d"], err
    assert sandboxes.names() == ["h88d"]  # (the fake down removes nothing)
