"""Issue 14, ninth new-user pass, the kinds that need real sandboxes (real network
namespaces, cgroups, the bcc-compiled data path, Envoy; the CLI in-process through
kmeshctl.cli.main, or the console script in a real pty via `script`). The same kinds
without a sandbox: tests/test_cli_words_by_kind.py.

1 hyphenated names, and `down` of sandbox X leaves sandbox X-b whole; 2 the Try line of
an `up` without the demo's manifests; 3 an interrupted `down`: every command says
half-removed, and the pasted fix runs the demo; 4 `dump maps --bpf-fs DIR` of no
sandbox points at the sandboxes; 8 an interrupted `up`'s logs listed, and removed by
`down` (exit 0); 9 `sandbox exec` 126 / 127; 10 no line of `sandbox status`, the demo or
`dump config` ends in spaces in a 60-column pty, and no path is split."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from kmeshctl.podnet import NETNS_DIR
from kmeshctl.sandbox import pods as pods_mod
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox.manifests import default_files
from kmeshctl.sandbox.state import SandboxState, failed_up_logs
from test_cli_kinds import KMESHCTL, cli
from test_sandbox_interrupt import _then_sigterm

pytestmark = pytest.mark.root

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch) -> None:
    for name in ("KUBECONFIG", "KMESHCTL_SANDBOX_NAME", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def _netns(prefix: str) -> list[str]:
    return sorted(n.name for n in NETNS_DIR.iterdir() if n.name.startswith(prefix)) if NETNS_DIR.is_dir() else []


def _down(*names: str) -> None:
    for name in names:
        sb.down(name)
        shutil.rmtree(failed_up_logs(name), ignore_errors=True)


def _pasted(err: str) -> list[list[str]]:
    """The commands of the last backticked `kmeshctl ... && kmeshctl ...` of ``err``."""
    chain = re.findall(r"`(kmeshctl [^`]*)`", err)[-1]
    return [shlex.split(part)[1:] for part in chain.split(" && ")]


def _pty(command: str) -> list[str]:
    """``command``'s output lines in a real 60-column pty (`script`), style codes removed."""
    done = subprocess.run(["script", "-qc", f"stty cols 60; {command}", "/dev/null"], capture_output=True,
                          text=True, timeout=300, env={k: v for k, v in os.environ.items() if k != "COLUMNS"})
    return ANSI.sub("", done.stdout).replace("\r", "").split("\n")


# ------------------------------------------------------------------ 1, 2 names, the Try line


def test_hyphenated_names_work_and_a_prefix_name_never_removes_another(run_id: str, tmp_path: Path, capsys) -> None:
    short, longer = f"s41{run_id}", f"s41{run_id}-b"
    namespace_only = tmp_path / "ns-only.yaml"
    namespace_only.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n")
    try:
        for name in (longer, short):
            code, out, err = cli(capsys, "sandbox", "up", "--name", name, "-q", "-f", str(namespace_only))
            assert code == 0, err
        # 2: no fortio demo in it: the Try line offers only what works, and each works
        assert out.strip() == (f"Sandbox {short} is up. Try: kmeshctl sandbox status --name {short}; "
                               f"kmeshctl dump maps --sandbox {short}"), out
        for command in re.findall(r"kmeshctl ([^;]+)", out):
            code, _, err = cli(capsys, *command.split())
            assert code == 0, (command, err)
        assert _netns(f"ksbs41{run_id}_b-") == [f"ksbs41{run_id}_b-net"]
        code, out, err = cli(capsys, "sandbox", "down", "--name", short)
        assert code == 0, err
        # sandbox `short`'s `down` removed its namespaces by prefix: `longer`'s are whole
        assert _netns(f"ksbs41{run_id}-") == [] and _netns(f"ksbs41{run_id}_b-") == [f"ksbs41{run_id}_b-net"]
        code, out, err = cli(capsys, "sandbox", "status", "--name", longer, "-o", "json")
        assert code == 0 and json.loads(out)["ready"], (out, err)
    finally:
        _down(short, longer)
    assert _netns(f"ksbs41{run_id}") == []


# ------------------------------------------------------------------ 8. an interrupted up's logs


def test_an_interrupted_ups_logs_are_listed_and_down_removes_them_saying_so(run_id: str, capsys,
                                                                             monkeypatch) -> None:
    name = f"s41{run_id}u"
    logs = failed_up_logs(name)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(sb, "_start_control_plane", _then_sigterm(sb._start_control_plane))
            code, _, err = cli(capsys, "sandbox", "up", "--name", name)
        assert code == 143 and logs.is_dir(), err  # SIGTERM: 128 + 15
        code, out, _ = cli(capsys, "sandbox", "list", "-o", "json")
        row = next(r for r in json.loads(out) if r["name"] == name)
        assert row["phase"] == "failed" and f"`kmeshctl sandbox down --name {name}` removes them" in row["problems"][0]
        code, out, err = cli(capsys, "sandbox", "down", "--name", name)
        assert code == 0 and out.strip() == (f"Sandbox {name} did not exist; removed the logs its failed `sandbox up` "
                                             f"left in {logs}."), (out, err)
        assert not logs.exists()
    finally:
        _down(name)


# ------------------------------------------------------------------ 9, 4, 10, 3 on one fortio sandbox


def _exec_codes(name: str, capsys) -> None:
    for command, code, words in ((["/etc/passwd"], 126, "/etc/passwd: not executable"),
                                 (["/"], 126, "/: a directory"),
                                 ([f"nosuchcmd{name}"], 127, f"nosuchcmd{name}: command not found on this host"),
                                 (["/nonexistent-s41/x"], 127, "/nonexistent-s41/x: does not exist on this host"),
                                 (["sh", "-c", "exit 2"], 2, "")):
        got, out, err = cli(capsys, "sandbox", "exec", "netutils", "--name", name, "--", *command)
        assert got == code and words in err, (command, got, err)
        assert not words or len(err.strip().splitlines()) == 1, err


def _dump_points_at_sandboxes(name: str, run_id: str, capsys) -> None:
    empty = Path(f"/sys/fs/bpf/s41test-{run_id}")
    empty.mkdir()
    try:
        code, out, err = cli(capsys, "dump", "maps", "--bpf-fs", str(empty))
    finally:
        empty.rmdir()
    assert code == 1 and not out and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"Error: no map of the data path is pinned in {empty}; "), err
    assert "`kmeshctl dump maps --sandbox " in err and "`kmeshctl sandbox list -o wide`" in err, err
    assert "--bpf-fs" not in err.partition(";")[2], err  # the pasted command is no refusal


def _narrow_lines_end_in_no_spaces(name: str) -> None:
    admin = f"unix:/run/kmeshctl/sandbox-{name}/envoy-admin-default-waypoint.sock"
    for command in (f"{KMESHCTL} sandbox status --name {name}", f"{KMESHCTL} demo traffic-shift --name {name} -c 12",
                    f"{KMESHCTL} dump config --sandbox {name}"):
        lines = _pty(command)
        assert not [line for line in lines if line != line.rstrip()], (command, lines)
        if "status" in command:
            assert admin in lines, lines  # whole, on a line of its own
        if "demo" in command:
            assert "Phase 1: 12 requests, 0 failed" in lines and "PASS" in "\n".join(lines), lines


def test_exec_codes_dump_hints_narrow_lines_then_an_interrupted_down_and_its_pasted_fix(run_id: str, capsys,
                                                                                       monkeypatch) -> None:
    name = f"s41{run_id}-f"
    sb.up(name, default_files())
    try:
        _exec_codes(name, capsys)
        _dump_points_at_sandboxes(name, run_id, capsys)
        _narrow_lines_end_in_no_spaces(name)
        with monkeypatch.context() as patch:
            patch.setattr(pods_mod, "remove_pods", _then_sigterm(pods_mod.remove_pods))
            code, _, err = cli(capsys, "sandbox", "down", "--name", name)
        assert code == 143 and SandboxState.load(name).phase == "removing", err
        half = f"sandbox {name} is half-removed (a `sandbox down` did not finish): run `kmeshctl sandbox down --name {name}"
        for args in (["dump", "maps", "--sandbox", name], ["dump", "config", "--sandbox", name],
                     ["sandbox", "exec", "netutils", "--name", name, "--", "true"], ["sandbox", "up", "--name", name]):
            code, out, err = cli(capsys, *args)
            assert code == 1 and not out and f"Error: {half}" in err, (args, err)
        code, out, err = cli(capsys, "demo", "traffic-shift", "--name", name, "-c", "20")  # 20: enough to judge 90/10
        assert code == 1 and f"Error: {half} && kmeshctl sandbox up --name {name} && kmeshctl demo traffic-shift " \
                             f"--name {name} -c 20`" in err, err  # the sandbox flag as typed, its typed flags kept
        for command in _pasted(err):  # the fix, pasted: it finishes the down, makes it again, runs the demo
            code, out, err = cli(capsys, *command)
            assert code == 0, (command, err)
        assert "PASS: target local" in out, out
    finally:
        _down(name)
    assert _netns(f"ksbs41{run_id}_f-") == []
