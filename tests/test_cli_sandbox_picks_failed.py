"""Sandboxes a command picks by itself and sandboxes whose `up` failed (new-user pass,
helper h61): a failed one counts as existing (several: ask for the flag with a line to
paste, on every command that picks one), named it is refused with the fix, its AGE counts
from its `up`'s start and a bpffs directory that is gone is null; SIGTERM exits 143 on
the sandbox commands; a name defined twice names both files; `status -o wide` adds pids
and logs; the demo is suggested with --sandbox; pods not enrolled are warned about.
Records in a temporary state root, as in test_cli_kinds (no root, no real sandbox)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from kmeshctl import sandboxes
from kmeshctl.sandbox import sandbox as sandbox_mod
from kmeshctl.sandbox import state as state_mod
from test_cli_kinds import cli, no_env, state_root  # noqa: F401

REPO = Path(__file__).resolve().parent.parent


def _record(name: str, **fields: Any) -> state_mod.SandboxState:
    state = state_mod.SandboxState(name=name, phase=state_mod.PHASE_READY, agent={"admin": "127.0.0.1:1"},
                                   created_at=time.time() - 300, **fields)
    state.save()
    return state


def _failed(name: str, started: float) -> Path:
    logs = state_mod.failed_up_logs(name)
    logs.mkdir(parents=True)
    (logs / sandbox_mod.UP_END_FILE).write_text("failed\n")
    (logs / sandbox_mod.UP_START_FILE).write_text(f"{started}\n")
    return logs


# ------------------------------------------------------------------ 3. a failed sandbox counts


def test_with_a_ready_and_a_failed_sandbox_only_down_asks_which(state_root, capsys, no_env) -> None:
    """A failed `up`'s leftovers do not block picking the one sandbox up (h75: a note names
    them; see test_cli_sandbox_picking); `down` still asks, with a line to paste."""
    _record("h61a")
    _failed("h61c", time.time() - 35)
    code, out, err = cli(capsys, "sandbox", "down")
    assert code == 2 and not out, (code, err)
    assert "several sandboxes exist (h61a ready, h61c failed): pass --name NAME with the one to remove" in err, err
    for args in (("sandbox", "status"), ("dump", "maps"), ("demo", "traffic-shift", "--target", "local")):
        code, out, err = cli(capsys, *args)
        assert "several sandboxes" not in err and "h61c failed; remove it with " \
               "`kmeshctl sandbox down --name h61c`" in err, (args, err)
    assert sandboxes.names() == ["h61a"] and sandboxes.failed_up_names() == ["h61c"]  # nothing removed


def test_the_only_failed_sandbox_is_the_one_down_and_status_pick(state_root, capsys, no_env) -> None:
    _failed("h61c", time.time() - 35)
    code, out, err = cli(capsys, "sandbox", "status", "-o", "json")
    assert code == 1 and json.loads(out)["phase"] == "failed" and "Using sandbox h61c" in err, err
    code, out, err = cli(capsys, "sandbox", "down")
    assert code == 0 and "removed the logs" in out and not sandboxes.failed_up_names(), (out, err)


# ------------------------------------------------------------------ 4. a failed sandbox named


# one chain that makes it again and runs the command (tester 124 finding 8: `down` alone left
# a name that is not found)
FAILED = ("sandbox h61c failed (its up did not finish); make it again: `kmeshctl sandbox down --name h61c && "
          "kmeshctl sandbox up --name h61c && {again}`")


@pytest.mark.parametrize("args", [
    ("sandbox", "exec", "netutils", "--name", "h61c", "--", "true"),
    ("dump", "maps", "--sandbox", "h61c"),
    ("dump", "config", "--sandbox", "h61c"),
])
def test_a_failed_sandbox_named_says_it_failed_and_how_to_remove_it(args, state_root, capsys, no_env) -> None:
    _failed("h61c", time.time() - 35)
    code, out, err = cli(capsys, *args)
    again = " ".join(["kmeshctl", *args]) if args[0] == "dump" else "kmeshctl sandbox exec netutils --name h61c -- true"
    assert code == 1 and not out and err.strip() == f"Error: {FAILED.format(again=again)}", err


def test_a_failed_sandbox_ages_from_its_up_and_its_gone_bpffs_is_null(state_root, capsys, no_env) -> None:
    _failed("h61c", time.time() - 35)
    code, out, _ = cli(capsys, "sandbox", "list", "-o", "json")
    row = json.loads(out)[0]
    assert code == 0 and row["phase"] == "failed" and row["age"] in ("35s", "36s", "37s"), row
    assert row["bpffs"] is None, row
    code, out, _ = cli(capsys, "sandbox", "list", "-o", "wide")
    assert code == 0 and "h61c" in out


def test_bpffs_is_given_only_while_the_directory_exists(tmp_path: Path) -> None:
    assert sandboxes.bpffs_if_there(tmp_path) == str(tmp_path)
    assert sandboxes.bpffs_if_there(tmp_path / "gone") is None


# ------------------------------------------------------------------ 5. SIGTERM exits 143


def test_sigterm_raises_stopped_which_exits_143_and_ctrl_c_130() -> None:
    from kmeshctl.stopping import Stopped, sigterm_stops, stopped_by  # the one mechanism, sandbox commands too

    with pytest.raises(Stopped) as stopped:
        with sigterm_stops():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    assert isinstance(stopped.value, KeyboardInterrupt)  # the cleanup written for Ctrl-C runs
    assert stopped_by(stopped.value).exit_code == 143 == stopped.value.exit_code
    assert stopped_by(KeyboardInterrupt()).exit_code == 130


def test_a_sandbox_command_killed_by_sigterm_exits_143(tmp_path: Path) -> None:
    """`sandbox exec` of a sandbox that does not exist waits on nothing; `sandbox status` of
    a record whose process is a `sleep` we stop: the real console script, a real SIGTERM."""
    script = ("import os, signal, sys, time\n"
              "from kmeshctl.sandbox import sandbox as sb\n"
              "sb.require_root = lambda: None\n"
              "sb.status = lambda name: (os.kill(os.getpid(), signal.SIGTERM), time.sleep(5))\n"
              "from kmeshctl.sandbox import state as st\n"
              f"st.STATE_ROOT = __import__('pathlib').Path({str(tmp_path)!r})\n"
              "st.SandboxState(name='h61t', phase=st.PHASE_READY, created_at=time.time()).save()\n"
              "sys.argv = ['kmeshctl', 'sandbox', 'status', '--name', 'h61t']\n"
              "from kmeshctl.cli import main\nmain()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 143, (done.returncode, done.stderr)


# ------------------------------------------------------------------ 6. defined twice


def test_an_object_defined_twice_names_both_files(state_root, tmp_path, capsys, no_env, monkeypatch) -> None:
    monkeypatch.setattr(sandbox_mod, "require_root", lambda: None)
    fortio = REPO / "examples" / "fortio"
    code, _, err = cli(capsys, "sandbox", "up", "--name", "h61d", "-f", f"{fortio}/", "-f",
                       str(fortio / "fortio-route.yaml"))
    assert code == 2 and err.startswith(f"Error: -f {fortio / 'fortio-route.yaml'}: document "), err
    assert "Service default/fortio is defined twice (also in " in err and "the same file, given as" in err, err
    copy = tmp_path / "copy.yaml"
    copy.write_text((fortio / "fortio-route.yaml").read_text())
    code, _, err = cli(capsys, "sandbox", "up", "--name", "h61d", "-f", f"{fortio}/", "-f", str(copy))
    assert code == 2 and err.startswith(f"Error: -f {copy}: document "), err
    assert f"is defined twice (also in {fortio / 'fortio-route.yaml'}, document " in err and "; keep one" in err, err
    assert "Creating" not in err


# ------------------------------------------------------------------ 7. status -o wide


def _report() -> dict:
    process = {"component": "pod fortio-v1-0: fortio", "pid": 4242, "running": True, "log": "/run/x/fortio-v1-0.log"}
    daemon = {"component": "the node agent", "pid": 77, "running": True, "ready": True, "log": "/run/x/agent.log"}
    return {"name": "h61w", "phase": "ready", "ready": True, "problems": [], "notes": ["pods not enrolled ..."],
            "pods": [{"name": "fortio-v1-0", "namespace": "default", "ip": "10.244.0.3", "state": "Running",
                      "enrolled": True, "enrolledBy": "cni", "waypoint": False, "processes": [process]}],
            "services": [], "waypoints": [], "controlplane": dict(daemon, pid=76, log="/run/x/controlplane.log"),
            "agent": daemon}


def test_status_wide_adds_pids_and_logs(monkeypatch) -> None:
    from kmeshctl.cli import sandbox as cli_sandbox
    from kmeshctl.cli.common import OutputFormat

    printed: dict[str, str] = {}
    for output in (OutputFormat.table, OutputFormat.wide):
        console = Console(record=True, width=250)
        monkeypatch.setattr(cli_sandbox, "_console", lambda _o, c=console: c)
        cli_sandbox._print_status(_report(), output)
        printed[output.value] = console.export_text()
    assert "PIDS" not in printed["table"] and "/run/x/agent.log" not in printed["table"]
    assert "4242" in printed["wide"] and "/run/x/fortio-v1-0.log" in printed["wide"], printed["wide"]
    assert "log /run/x/agent.log" in printed["wide"] and "log /run/x/controlplane.log" in printed["wide"]
    assert "Note: pods not enrolled" in printed["table"]


# ------------------------------------------------------------------ 8. the demo is suggested with --sandbox


def test_every_demo_suggestion_uses_sandbox(state_root) -> None:
    assert sandboxes.for_sandbox("kmeshctl demo traffic-shift", "x") in ("kmeshctl demo traffic-shift",
                                                                         "kmeshctl demo traffic-shift --sandbox x")
    _record("other")
    assert sandboxes.for_sandbox("kmeshctl demo traffic-shift", "x") == "kmeshctl demo traffic-shift --sandbox x"
    source = "\n".join(p.read_text() for p in (REPO / "kmeshctl").rglob("*.py"))
    assert "demo traffic-shift --name" not in source


def test_up_hint_after_name_names_the_demo_with_sandbox(state_root, capsys, no_env, monkeypatch) -> None:
    """`sandbox up --name X` (the flag typed) ends with `demo traffic-shift --sandbox X`,
    never with the --name typed carried onto the demo."""
    from kmeshctl.cli import sandbox as cli_sandbox

    monkeypatch.setattr(sandbox_mod, "check_up", lambda name, files: None)
    monkeypatch.setattr(sandbox_mod, "up", lambda name, files, progress, plan: _record(name))
    monkeypatch.setattr(sandbox_mod, "unenrolled_note", lambda state: "")
    monkeypatch.setattr("kmeshctl.sandbox.demo_target.demo_missing", lambda state: "")
    monkeypatch.setattr(cli_sandbox, "check_input_path", lambda *a, **k: None)
    code, out, err = cli(capsys, "sandbox", "up", "--name", "h61u", "-q")
    assert code == 0, err
    assert "kmeshctl demo traffic-shift --sandbox h61u" in out and "traffic-shift --name" not in out, out


# ------------------------------------------------------------------ 2. pods not enrolled


MANIFESTS = """\
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: v1
kind: Namespace
metadata: {name: default, labels: {istio.io/dataplane-mode: Kmesh}}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec: {selector: {app: echo}, ports: [{port: 80, targetPort: 8080}]}
"""


def test_pods_not_enrolled_are_named_with_the_services_they_cannot_reach(state_root) -> None:
    pods = [state_mod.PodRecord("echo-0", "default", "echo", {"app": "echo"}, "10.244.0.2", "n1", "/c1"),
            state_mod.PodRecord("client-0", "plain", "client", {"app": "client"}, "10.244.0.3", "n2", "/c2")]
    state = _record("h61e", pods=pods, vips={"default/echo": "10.96.0.10"})
    state.manifests_file.write_text(MANIFESTS)
    note = sandbox_mod.unenrolled_note(state)
    assert "pods not enrolled in Kmesh (plain/client-0) cannot reach Services by ClusterIP (default/echo)" in note
    assert "no kube-proxy" in note
    state.pods = pods[:1]
    assert sandbox_mod.unenrolled_note(state) == ""
    docs = (REPO / "docs" / "sandbox.md").read_text()
    assert "No kube-proxy" in docs and "only for\n  enrolled pods" in docs
